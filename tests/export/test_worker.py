"""The export worker in-process: events for success, a clear failure, a bug, and a bad request."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

from designer.export.protocol import Exported, ExportRequest, Failed, Log, Step, decode_event
from designer.export.source import ExportError
from designer.export.worker import main, run
from designer.training.protocol import Event


def _collect(export: object) -> tuple[int, list[Event]]:
    events: list[Event] = []
    code = run(ExportRequest(source="model2"), events.append, export)  # type: ignore[arg-type]
    return code, events


def test_success_emits_steps_warnings_and_exported(tmp_path: Path) -> None:
    def fake(request: ExportRequest, on_step: object, on_log: object) -> object:
        on_step("convert", False, 0.0, "")  # type: ignore[operator]
        on_step("convert", True, 1.5, "5 kB")  # type: ignore[operator]
        report = {"design": "d", "untrained": True, "warnings": ["UNTRAINED DESIGN: x"], "arena": {"a": 1}}
        return SimpleNamespace(out_dir=tmp_path, report=report)

    code, events = _collect(fake)
    assert code == 0
    assert events == [Step("convert", 2, 8), Step("convert", 2, 8, True, 1.5, "5 kB"),
                      Log("UNTRAINED DESIGN: x", "warning"),
                      Exported(str(tmp_path), True, ["UNTRAINED DESIGN: x"], {"design": "d", "arena": {"a": 1}})]


def test_export_error_is_a_failed_event() -> None:
    def fake(*_: object) -> object:
        raise ExportError("no usable data set")

    code, events = _collect(fake)
    assert (code, events) == (1, [Failed("no usable data set")])


def test_a_bug_is_reported_with_its_traceback() -> None:
    def fake(*_: object) -> object:
        raise KeyError("oops")

    code, events = _collect(fake)
    assert code == 2 and isinstance(events[0], Failed)
    assert "unexpectedly: KeyError" in events[0].reason and "Traceback" in events[0].detail


def test_bad_request_line() -> None:
    out = io.StringIO()
    assert main(['{"source": "model2", "compression": "max"}'], stdout=out) == 2
    event = decode_event(out.getvalue().strip())
    assert isinstance(event, Failed) and "compression must be one of" in event.reason


def test_sigterm_cancels_and_leaves_nothing_behind(tmp_path: Path) -> None:
    """The real worker, cancelled as the app and the CLI cancel it (SIGTERM) while it converts."""
    import signal
    import subprocess

    from designer.export.client import worker_command, worker_env

    out = tmp_path / "bundle"
    request = ExportRequest(source="model4", out_dir=str(out), calibration_images=10, eval_images=10,
                            stedgeai=False)
    proc = subprocess.Popen(worker_command(request), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=worker_env(), text=True)
    assert proc.stdout is not None
    events: list[Event] = []
    for line in proc.stdout:
        events.append(decode_event(line))
        if events[-1] == Step("convert", 2, 8):  # the model is built; the scratch folder holds the export
            assert [p.name for p in tmp_path.iterdir() if ".partial-" in p.name]
            proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 1
    assert isinstance(events[-1], Failed) and "cancelled" in events[-1].reason
    assert list(tmp_path.iterdir()) == []  # no bundle, no scratch folder
