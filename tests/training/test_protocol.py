"""Protocol: every event and the config round-trip through one JSON line; bad lines fail clearly."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from designer.training.protocol import (
    EVENT_TYPES,
    EpochEnd,
    EpochStart,
    Event,
    Failed,
    Finished,
    Log,
    Progress,
    ProtocolError,
    Started,
    TrainConfig,
    decode_event,
    encode_event,
)

EXAMPLES: list[Event] = [
    Started(design="Model2", run_dir="runs/Model2-20250101-000000", epochs=200, initial_epoch=3,
            steps_per_epoch=704, batch_size=64, train_images=45000, val_images=5000, test_images=10000,
            class_names=["airplane", "automobile"], params=49642, strategy="mirrored", replicas=2, seed=42),
    EpochStart(epoch=4, epochs=200),
    Progress(epoch=4, step=120, steps=704, loss=1.25, accuracy=0.5, images_per_s=812.5, eta_s=3600.0),
    Progress(epoch=1, step=1, steps=1, loss=None, accuracy=None, images_per_s=0.0, eta_s=None),
    EpochEnd(epoch=4, epochs=200, loss=1.0, accuracy=0.6, val_loss=1.1, val_accuracy=0.58, lr=0.0005,
             train_s=55.5, images_per_s=810.0, best=True),
    Log(message="loading data: cifar10", level="info"),
    Finished(ok=True, status="completed", run_dir="runs/x", epochs_completed=200,
             metrics={"test_accuracy": 0.77, "confusion_matrix": [[1, 0], [0, 1]], "class_names": ["a", "b"]}),
    Finished(ok=False, status="cancelled", run_dir="runs/x", epochs_completed=3),
    Failed(reason="cannot decode image data/train/cat/1.png: Unknown image file format", run_dir="runs/x",
           detail="Traceback ..."),
]


def test_every_event_kind_has_an_example() -> None:
    assert {type(e) for e in EXAMPLES} == set(EVENT_TYPES.values())


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.event)
def test_round_trip(event: Event) -> None:
    line = encode_event(event)
    assert "\n" not in line
    assert json.loads(line)["event"] == event.event
    assert decode_event(line) == event


def test_non_finite_floats_become_null_so_lines_are_strict_json() -> None:
    line = encode_event(Progress(epoch=1, step=1, steps=2, loss=float("nan"), accuracy=float("inf"),
                                 images_per_s=1.0, eta_s=None))
    assert "NaN" not in line and "Infinity" not in line
    back = decode_event(line)
    assert isinstance(back, Progress) and back.loss is None and back.accuracy is None


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    assert decode_event('{"event": "log", "message": "hi", "level": "info", "new": 1}') == Log("hi")


@pytest.mark.parametrize("line, words", [
    ("not json", "not a JSON line"),
    ("[1, 2]", "not an event object"),
    ('{"event": "explode"}', "unknown event 'explode'"),
    ('{"event": "epoch_start", "epoch": 1}', "bad 'epoch_start' event"),
])
def test_bad_lines_raise_protocol_error(line: str, words: str) -> None:
    with pytest.raises(ProtocolError, match=words):
        decode_event(line)


def test_config_round_trip_and_defaults() -> None:
    config = TrainConfig(design="model2", data="data.npz", epochs=200, batch_size=64, learning_rate=3e-4,
                         augment=True, seed=5, out_dir="out", resume=None, strategy="mirrored", early_stopping=5,
                         reduce_lr=3, limit=5000, cpu_devices=2)
    assert TrainConfig.from_json(config.to_json()) == config
    default = TrainConfig(design="model2")
    # data None: cifar10 for a new run (prepare_run fills it in), the run's own data for a resume
    assert (default.data, default.batch_size, default.recipe) == (None, 64, "default")
    # None: the recipe decides (designer.training.recipe.resolve_recipe)
    assert (default.learning_rate, default.augment, default.weight_decay, default.label_smoothing) == (None,) * 4


@pytest.mark.parametrize("text, words", [
    ('{"design": "m", "colour": "red"}', "unknown training config keys: colour"),
    ("{}", "needs 'design'"),
    ('{"design": "m", "batch_size": 0}', "batch_size must be >= 1, received 0"),
    ('{"design": "m", "strategy": "tpu"}', "strategy must be one of default, mirrored, multi-worker; received 'tpu'"),
    ("nope", "not JSON"),
])
def test_bad_configs_name_the_problem(text: str, words: str) -> None:
    with pytest.raises(ProtocolError, match=words):
        TrainConfig.from_json(text)


def test_training_client_side_modules_import_no_tensorflow() -> None:
    code = ("import sys, designer.training, designer.training.protocol, designer.training.runs, "
            "designer.training.client, designer.training.archives, tui.cli.train; "
            "bad = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_fraction_done_counts_only_the_epochs_left() -> None:
    from designer.training.client import fraction_done

    started = EXAMPLES[0]
    assert isinstance(started, Started)  # epochs 200, initial_epoch 3, 704 steps per epoch
    assert fraction_done(started, 4, 0) == 0.0
    assert fraction_done(started, 4, 704) == pytest.approx(1 / 197)
    assert fraction_done(started, 200, 704) == 1.0
