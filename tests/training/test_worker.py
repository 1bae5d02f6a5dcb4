"""The worker run in-process with injected streams: events, run folder, failures, cancel, resume, throttling."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from designer.training import runs
from designer.training.protocol import (
    EpochEnd,
    EpochStart,
    Event,
    Failed,
    Finished,
    Log,
    Progress,
    Started,
    TrainConfig,
)
from designer.training.recipe import RECIPE_TABLE, Cancelled, Monitor, learning_rate_schedule
from designer.training.worker import EXIT_FAILED, EXIT_OK, Worker

from .conftest import Recorder, write_image_folder, write_npz

# Keras' own model.save() trips a NumPy 2 deprecation inside Keras; nothing of ours.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _run(config: TrainConfig, hook: object = None) -> tuple[int, list[Event], Worker]:
    out = Recorder()
    worker = Worker(config, out)
    if hook is not None:
        out.hooks.append(lambda event: hook(event, worker))  # type: ignore[operator]
    code = worker.run()
    return code, out.events(), worker


def _kinds(events: list[Event]) -> list[str]:
    return [e.event for e in events if not isinstance(e, (Log, Progress))]


def test_npz_run_emits_events_and_fills_the_run_folder(tmp_path: Path, design_file: Path, npz_data: Path) -> None:
    config = TrainConfig(design=str(design_file), data=str(npz_data), epochs=2, batch_size=8, seed=3,
                         out_dir=str(tmp_path / "runs"))
    code, events, _ = _run(config)
    assert code == EXIT_OK
    assert _kinds(events) == ["started", "epoch_start", "epoch_end", "epoch_start", "epoch_end", "finished"]
    started = events[[e.event for e in events].index("started")]
    assert isinstance(started, Started)
    assert (started.steps_per_epoch, started.train_images, started.test_images, started.seed) == (8, 58, 16, 3)
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress and progress[0].step == 1 and progress[0].steps == 8 and progress[0].images_per_s > 0
    final = events[-1]
    assert isinstance(final, Finished) and final.ok and final.status == "completed"
    run_dir = Path(final.run_dir)
    for name in ("design.toml", "config.json", "best.keras", "last.keras", "history.csv", "history.json",
                 "metrics.json", "status.json"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics == final.metrics
    assert metrics["class_names"] == ["0", "1", "2"] and len(metrics["confusion_matrix"]) == 3
    assert sum(map(sum, metrics["confusion_matrix"])) == 16 and 0 <= metrics["test_accuracy"] <= 1
    config_json = json.loads((run_dir / "config.json").read_text())
    assert config_json["preprocessing"]["rescale"] == pytest.approx(1 / 255)
    assert config_json["config"]["seed"] == 3 and config_json["data"]["class_names"] == ["0", "1", "2"]
    assert config_json["config"]["recipe"] == "default" and config_json["recipe"]["name"] == "default"
    assert config_json["recipe"]["augment"] is True and config_json["recipe"]["schedule"] == "cosine"
    assert started.recipe == config_json["recipe"]["description"]
    assert set(config_json["versions"]) == {"python", "tensorflow", "keras", "numpy", "cnn-designer"}
    assert [r["epoch"] for r in runs.read_history(run_dir)] == [1, 2]
    summary = runs.best_run_for("tiny", tmp_path / "runs")
    assert summary is not None and summary.test_accuracy == metrics["test_accuracy"]


def test_image_folder_run(tmp_path: Path, design_file: Path) -> None:
    root = write_image_folder(tmp_path / "imgs", per_class=4)
    config = TrainConfig(design=str(design_file), data=str(root), epochs=1, batch_size=4, seed=1,
                         augment=True, out_dir=str(tmp_path / "runs"))
    code, events, _ = _run(config)
    assert code == EXIT_OK and isinstance(events[-1], Finished) and events[-1].ok
    assert events[-1].metrics["class_names"] == ["c0", "c1", "c2"]


def test_corrupt_image_ends_in_a_failed_event_naming_the_file(tmp_path: Path, design_file: Path) -> None:
    root = write_image_folder(tmp_path / "imgs", per_class=2)
    bad = root / "test" / "c2" / "zz.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    code, events, _ = _run(TrainConfig(design=str(design_file), data=str(root), epochs=1,
                                       out_dir=str(tmp_path / "runs")))
    assert code == EXIT_FAILED
    final = events[-1]
    assert isinstance(final, Failed) and f"cannot decode image {bad}" in final.reason
    assert json.loads((Path(final.run_dir) / "status.json").read_text())["status"] == "failed"


def test_wrong_class_count_ends_in_a_failed_event(tmp_path: Path, design_file: Path) -> None:
    data = write_npz(tmp_path / "five.npz", classes=5)
    code, events, _ = _run(TrainConfig(design=str(design_file), data=str(data), epochs=1,
                                       out_dir=str(tmp_path / "runs")))
    assert code == EXIT_FAILED
    assert isinstance(events[-1], Failed)
    assert "the data has 5 classes" in events[-1].reason and "the design has classes=3" in events[-1].reason


def test_unknown_design_ends_in_a_failed_event(tmp_path: Path) -> None:
    code, events, _ = _run(TrainConfig(design=str(tmp_path / "missing.toml"), out_dir=str(tmp_path)))
    assert code == EXIT_FAILED and isinstance(events[-1], Failed) and "cannot read design file" in events[-1].reason


def test_cancel_mid_epoch_keeps_a_checkpoint(tmp_path: Path, design_file: Path, npz_data: Path) -> None:
    def cancel_in_epoch_2(event: Event, worker: Worker) -> None:
        if isinstance(event, EpochStart) and event.epoch == 2:
            worker.cancel()  # checked after each step: epoch 2 stops after its first step

    config = TrainConfig(design=str(design_file), data=str(npz_data), epochs=5, batch_size=4, seed=1,
                         out_dir=str(tmp_path / "runs"))
    code, events, _ = _run(config, cancel_in_epoch_2)
    assert code == EXIT_OK
    final = events[-1]
    assert isinstance(final, Finished) and final.status == "cancelled" and not final.ok
    assert final.epochs_completed == 1
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1]
    assert all(e.step == 1 for e in events if isinstance(e, Progress) and e.epoch == 2)  # stopped mid-epoch
    run_dir = Path(final.run_dir)
    assert (run_dir / "last.keras").is_file()
    assert json.loads((run_dir / "status.json").read_text())["status"] == "cancelled"
    assert not (run_dir / "metrics.json").exists()


def test_cancel_during_validation_records_the_epoch_so_resume_does_not_retrain_it(
        tmp_path: Path, design_file: Path, npz_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from designer.training import worker as worker_module
    from designer.training.recipe import keras_callback

    def cancelling_in_validation(monitor: Monitor) -> object:
        callback = keras_callback(monitor)

        def on_test_batch_end(batch: int, logs: object = None) -> None:
            monitor.cancel.set()  # as a Ctrl-C would, while epoch 1 validates

        callback.on_test_batch_end = on_test_batch_end  # type: ignore[method-assign]
        return callback

    monkeypatch.setattr(worker_module, "keras_callback", cancelling_in_validation)
    config = TrainConfig(design=str(design_file), data=str(npz_data), epochs=3, batch_size=16, seed=1,
                         out_dir=str(tmp_path / "runs"))
    code, events, _ = _run(config)
    final = events[-1]
    assert code == EXIT_OK and isinstance(final, Finished) and final.status == "cancelled"
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1] and final.epochs_completed == 1
    run_dir = Path(final.run_dir)
    assert [r["epoch"] for r in runs.read_history(run_dir)] == [1]
    assert runs.read_history(run_dir)[0]["val_accuracy"] is not None
    monkeypatch.undo()
    _, events, _ = _run(TrainConfig(design="", resume=str(run_dir), data=str(npz_data), epochs=2))
    assert [e.epoch for e in events if isinstance(e, EpochStart)] == [2]


def test_label_smoothing_and_the_seed_recipe_train(tmp_path: Path, design_file: Path, npz_data: Path) -> None:
    config = TrainConfig(design=str(design_file), data=str(npz_data), epochs=1, batch_size=16, seed=1,
                         recipe="seed", label_smoothing=0.1, out_dir=str(tmp_path / "runs"))
    code, events, _ = _run(config)
    assert code == EXIT_OK and isinstance(events[-1], Finished) and events[-1].ok
    assert 0 <= events[-1].metrics["test_accuracy"] <= 1
    recorded = json.loads((Path(events[-1].run_dir) / "config.json").read_text())["recipe"]
    assert (recorded["name"], recorded["label_smoothing"], recorded["weight_decay"]) == ("seed", 0.1, 0.0)


def test_resume_continues_the_epochs(tmp_path: Path, design_file: Path, npz_data: Path) -> None:
    first = TrainConfig(design=str(design_file), data=str(npz_data), epochs=1, batch_size=16, seed=2,
                        out_dir=str(tmp_path / "runs"))
    _, events, _ = _run(first)
    run_dir = events[-1].run_dir  # type: ignore[attr-defined]
    code, events, _ = _run(TrainConfig(design="", resume=run_dir, data=str(npz_data), epochs=3))
    assert code == EXIT_OK
    started = next(e for e in events if isinstance(e, Started))
    assert started.initial_epoch == 1 and started.epochs == 3 and started.seed == 2 and started.batch_size == 16
    assert [e.epoch for e in events if isinstance(e, EpochStart)] == [2, 3]
    history = runs.read_history(Path(run_dir))
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert isinstance(events[-1], Finished) and events[-1].epochs_completed == 3
    # The first run's cosine ended at 0; the resumed job's schedule spans its 3 epochs, at its restored step.
    schedule = learning_rate_schedule(RECIPE_TABLE["default"], steps_per_epoch=4, epochs=3)
    assert [r["lr"] for r in history[1:]] == pytest.approx([float(schedule(4)), float(schedule(8))], rel=1e-4)
    assert history[1]["lr"] > 1e-3


def test_progress_is_throttled_to_five_per_second(tmp_path: Path) -> None:
    dt = 1 / 64  # seconds per step, exact in binary so the throttle's comparisons are exact
    now = [0.0]
    emitted: list[Event] = []
    monitor = Monitor(emit=emitted.append, cancel=threading.Event(), run_dir=tmp_path, epochs=2, steps=100,
                      batch_size=10, train_images=1000, history=[], clock=lambda: now[0])
    monitor.epoch_begin(0, 1e-3)
    for batch in range(100):
        now[0] = (batch + 1) * dt
        monitor.train_batch_end(batch, {"loss": 1.0, "accuracy": 0.5})
    progress = [e for e in emitted if isinstance(e, Progress)]
    assert [p.step for p in progress] == [1, 14, 27, 40, 53, 66, 79, 92]  # 13 steps = 0.203 s apart
    assert len(progress) <= 5 * 100 * dt + 1
    assert progress[-1].images_per_s == pytest.approx(640.0)
    assert progress[-1].eta_s == pytest.approx((8 + 100) * dt, abs=0.05)
    monitor.cancel.set()
    with pytest.raises(Cancelled):
        monitor.train_batch_end(100, {})


def test_a_cancel_line_on_stdin_cancels(design_file: Path) -> None:
    import io

    from designer.training.worker import _watch_stdin

    worker = Worker(TrainConfig(design=str(design_file)), Recorder())
    _watch_stdin(io.StringIO("hello\n"), worker)  # end of input is not a cancel
    assert not worker.cancel_event.is_set()
    _watch_stdin(io.StringIO("status\ncancel\n"), worker)
    assert worker.cancel_event.is_set()


def test_cifar10_offline_ends_in_a_failed_event_that_says_what_to_do(
        tmp_path: Path, design_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.error

    from keras.src.backend import config as keras_config
    from keras.src.utils import file_utils

    def no_network(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path / "keras"))
    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    code, events, _ = _run(TrainConfig(design=str(design_file), out_dir=str(tmp_path / "runs")))
    assert code == EXIT_FAILED and isinstance(events[-1], Failed)
    assert events[-1].reason.startswith("CIFAR-10 is not cached in ")
    assert "there is no network: pass --data PATH (an image folder, .tar.gz/.zip of one, or an .npz)" in \
        events[-1].reason
