"""The export protocol: requests and events round-trip through JSON lines; bad lines are named."""

from __future__ import annotations

import pytest

from designer.export.protocol import (
    EVENT_TYPES,
    Exported,
    ExportRequest,
    Failed,
    Log,
    ProtocolError,
    Step,
    decode_event,
    encode_event,
)


@pytest.mark.parametrize("event", [
    Step("convert", 2, 8), Step("measure", 4, 8, True, 0.25, "int8 arena 1000 B"), Log("hello", "warning"),
    Exported("/tmp/x", True, ["UNTRAINED"], {"arena": {"config_bytes": 2048}}), Failed("no data", "/r", "tb"),
])
def test_events_round_trip(event: object) -> None:
    line = encode_event(event)  # type: ignore[arg-type]
    assert "\n" not in line
    assert decode_event(line) == event


def test_every_event_type_is_registered() -> None:
    assert set(EVENT_TYPES) == {"step", "log", "exported", "failed"}


def test_request_round_trip() -> None:
    req = ExportRequest(source="runs/x", out_dir="o", board="NUCLEO-F401RE", compression="low", data="d.npz",
                        calibration_images=10, eval_images=20, stedgeai=False, seed=3)
    assert ExportRequest.from_json(req.to_json()) == req


@pytest.mark.parametrize(("text", "match"), [
    ("nope", "not JSON"), ("[]", "JSON object"),
    ('{"source": "a", "colour": 1}', "unknown export request keys: colour"),
    ("{}", "needs 'source'"), ('{"source": "a", "compression": "max"}', "compression must be one of"),
    ('{"source": "a", "calibration_images": 0}', "calibration_images must be >= 1"),
])
def test_bad_requests(text: str, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        ExportRequest.from_json(text)


@pytest.mark.parametrize(("line", "match"), [
    ("{", "not a JSON line"), ('{"event": "epoch_end"}', "unknown export event"),
    ('{"event": "step"}', "bad 'step' event"),
])
def test_bad_lines(line: str, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        decode_event(line)
