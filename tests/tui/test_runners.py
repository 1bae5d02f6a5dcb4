"""The real job runner (tui.jobs.process.ProcessRunner) driven through the app: T and E end to end with the real
workers on tiny data, a killed worker, the one-at-a-time queue, the forms' memory, and event translation.

The end-to-end tests train a 3-class 16x16 design on 64 random images for one epoch and export an untrained
design with 8 calibration images, so each costs about the time TensorFlow takes to load in the worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import Input, Select

from designer.design import Design
from designer.layers import Conv2D, Dense, Flatten, MaxPool
from designer.training import protocol as tp
from tests.tui.conftest import SIZE
from tui.app import DesignerApp
from tui.jobs.events import FakeRunner, Finished, Log, Metric, Progress, Queued
from tui.jobs.process import ProcessRunner, _TrainTranslator, _translate_export
from tui.jobs.settings import SettingsStore, TrainSettings, trained_run_for
from tui.notebook_rows import measured_accuracies
from tui.screens.export_form import ExportFormScreen
from tui.screens.train_form import TrainFormScreen
from tui.widgets.train_curves import TrainCurves

MakeApp = Callable[..., DesignerApp]

TINY = Design(name="Tiny", layers=(Conv2D(filters=4, kernel=(3, 3), activation="relu"), MaxPool(), Flatten(),
                                   Dense(units=3, activation="softmax")), input_shape=(16, 16, 3), classes=3)
"""A 3-class design on 16x16x3 images (~1.3k params)."""

JOB_TIMEOUT_S = 150.0


@pytest.fixture
def tiny_npz(tmp_path: Path) -> Path:
    """64 random 16x16x3 training images and 16 test images, 3 classes."""
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(path, x_train=rng.integers(0, 255, (64, 16, 16, 3), dtype=np.uint8), y_train=rng.integers(0, 3, 64),
             x_test=rng.integers(0, 255, (16, 16, 16, 3), dtype=np.uint8), y_test=rng.integers(0, 3, 16))
    return path


def real_runner(tmp_path: Path, **kwargs: object) -> ProcessRunner:
    return ProcessRunner(runs_dir=tmp_path / "runs", jobs_dir=tmp_path / "jobs",
                         export_defaults={"calibration_images": 8, "eval_images": 8, "stedgeai": False},
                         **kwargs)  # type: ignore[arg-type]


async def wait_for(pilot: object, done: Callable[[], bool], timeout_s: float = JOB_TIMEOUT_S) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not done():
        assert loop.time() < deadline, "timed out waiting for the job"
        await pilot.pause(0.1)  # type: ignore[attr-defined]


async def fill_train_form(pilot: object, app: DesignerApp, **values: str) -> None:
    await pilot.press("t")  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    assert isinstance(app.screen, TrainFormScreen)
    for key, value in values.items():
        app.screen.query_one(f"#t-{key}", Input).value = value
    await pilot.pause()  # type: ignore[attr-defined]


async def test_train_with_the_real_worker(make_app: MakeApp, tmp_path: Path, tiny_npz: Path) -> None:
    app = make_app(TINY, runner=real_runner(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await fill_train_form(pilot, app, data=str(tiny_npz), epochs="1", batch_size="16")
        await pilot.press("enter")
        await pilot.pause()
        (card,) = app.jobs.cards
        assert card.kind == "train"
        await wait_for(pilot, lambda: card.status not in ("queued", "running"))
        assert card.status == "done", card.lines
        assert card.progress_events >= 3 and card.fraction == 1.0
        assert "epoch 1/1" in card.progress_text
        assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(card.metrics)
        assert card.query(TrainCurves)
        assert card.lines[-1].startswith("test accuracy")
        assert "best epoch 1" in card.summary and "run folder" in card.summary
        assert card.report.endswith("worker.log") and Path(card.report).is_file()
        assert app.design == TINY
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("Tiny-") and (run_dir / "metrics.json").is_file()
    # The notebook and the export form now see the measured run.
    assert "Tiny" in measured_accuracies(tmp_path / "runs")
    assert trained_run_for(TINY, tmp_path / "runs") is not None


async def test_export_untrained_with_the_real_worker(make_app: MakeApp, tmp_path: Path) -> None:
    app = make_app(TINY, runner=real_runner(tmp_path))
    out = tmp_path / "bundle"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ExportFormScreen)
        assert "UNTRAINED" in str(app.screen.query_one("#export-source").render())
        app.screen.query_one("#x-out", Input).value = str(out)
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        (card,) = app.jobs.cards
        await wait_for(pilot, lambda: card.status not in ("queued", "running"))
        assert card.status == "done", card.lines
        assert "UNTRAINED" in card.lines[-1] and str(out) in card.lines[-1]
        # The bundle's figures, as the CLI prints them, and its report to open.
        assert "int8 .tflite" in card.summary and "TFLM arena (CMSIS-NN) derived" in card.summary
        assert "top-1 agreement" in card.summary and f"fits {app.board.name}:" in card.summary
        assert card.report == str(out / "report.md") and Path(card.report).is_file()
        assert card.progress_events >= 8 and card.fraction == 1.0
        assert any(line.startswith("quantize:") for line in card.lines)
    for name in ("model_int8.tflite", "tiny_data.c", "tiny_ops.h", "report.json"):
        assert (out / name).is_file(), name
    assert not (tmp_path / "jobs" / card.job_id).exists()  # the scratch design and log go once it worked


async def test_killed_worker_fails_and_leaves_the_design(make_app: MakeApp, tmp_path: Path,
                                                         tiny_npz: Path) -> None:
    runner = real_runner(tmp_path)
    app = make_app(TINY, runner=runner)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await fill_train_form(pilot, app, data=str(tiny_npz), epochs="1")
        await pilot.press("enter")
        await pilot.pause()
        (card,) = app.jobs.cards
        await wait_for(pilot, lambda: runner.pid(card.job_id) is not None, 30)
        os.kill(runner.pid(card.job_id), signal.SIGKILL)  # type: ignore[arg-type]
        await wait_for(pilot, lambda: card.status != "running", 30)
        assert card.status == "failed"
        assert "stopped by signal 9" in card.lines[-1] and "worker.log" in card.lines[-1]
        assert app.is_running and app.design == TINY and not app.dirty
        await pilot.press("minus")  # the app still edits
        await pilot.pause()
        assert app.design != TINY


FAKE_WORKER = '''\
import json, sys
config = json.loads(sys.argv[sys.argv.index("--config") + 1])
def emit(**event):
    print(json.dumps(event), flush=True)
emit(event="started", design="Tiny", run_dir=config["run_dir"], epochs=1, initial_epoch=0, steps_per_epoch=4,
     batch_size=16, train_images=64, val_images=6, test_images=16, class_names=["a", "b", "c"], params=1)
for line in sys.stdin:
    if line.strip() == "cancel":
        emit(event="finished", ok=False, status="cancelled", run_dir=config["run_dir"], epochs_completed=0)
        break
'''


@pytest.fixture
def fake_python(tmp_path: Path) -> str:
    """An interpreter stand-in that speaks the training protocol and waits for ``cancel`` on stdin."""
    script = tmp_path / "fake-python"
    script.write_text(f"#!{sys.executable}\n" + FAKE_WORKER)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


async def test_jobs_queue_one_at_a_time(make_app: MakeApp, tmp_path: Path, fake_python: str) -> None:
    runner = real_runner(tmp_path, python=fake_python)
    app = make_app(TINY, runner=runner)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for _ in range(3):
            await pilot.press("t")
            await pilot.pause()
            app.screen.query_one("#t-data", Input).value = "cifar10"  # nothing found here, cifar10 not cached
            await pilot.press("enter")
            await pilot.pause()
        first, second, third = app.jobs.cards
        await wait_for(pilot, lambda: runner.pid(first.job_id) is not None and third.status == "queued", 10)
        assert (first.status, second.status, third.status) == ("running", "queued", "queued")
        assert runner.pid(second.job_id) is None and "waiting for 2 jobs" in third.progress_text
        await pilot.press("k")  # cancels the newest: the third, before it ever starts
        await wait_for(pilot, lambda: third.status == "failed", 10)
        assert third.lines[-1] == "cancelled before it started" and runner.pid(third.job_id) is None
        runner.cancel(first.job_id)
        await wait_for(pilot, lambda: first.status == "failed" and runner.pid(second.job_id) is not None, 10)
        assert first.lines[-1].startswith("cancelled after 0 finished epoch(s)")
        assert second.status == "running"
        await pilot.press("k")
        await wait_for(pilot, lambda: second.status == "failed", 10)
        await pilot.press("k")
        await pilot.pause()
        assert app.status == "no job to cancel"


async def test_forms_remember_the_last_values(make_app: MakeApp, tmp_path: Path, tiny_npz: Path) -> None:
    runner = FakeRunner({"train": [Finished(True)], "export": [Finished(True)]})
    app = make_app(TINY, runner=runner)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await fill_train_form(pilot, app, data=str(tiny_npz), epochs="3", batch_size="8", learning_rate="0.01")
        app.screen.query_one("#t-augment").value = "on"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        assert runner.started[0][2] | {"data": str(tiny_npz), "epochs": 3, "batch_size": 8,
                                       "learning_rate": 0.01, "augment": True} == runner.started[0][2]
        await pilot.press("t")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, TrainFormScreen)
        assert form.value() == TrainSettings(str(tiny_npz), epochs=3, batch_size=8, learning_rate=0.01, augment=True)
        form.query_one("#t-epochs", Input).value = "zero"
        await pilot.pause()
        assert "epochs: expected an integer" in str(form.query_one("#form-error").render())
        await pilot.press("escape")
        await pilot.pause()

        await pilot.press("e")
        await pilot.pause()
        export = app.screen
        assert isinstance(export, ExportFormScreen)
        assert export.value().out_dir == str(Path("exports") / "tiny")
        export.query_one("#x-out", Input).value = str(tmp_path / "bundles" / "first")
        export.query_one("#x-compression", Select).value = "low"
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        _, _, options = runner.started[1]
        assert (options["out_dir"], options["compression"], options["source"]) == (
            str(tmp_path / "bundles" / "first"), "low", None)
        await pilot.press("e")
        await pilot.pause()
        again = app.screen
        assert isinstance(again, ExportFormScreen)
        assert again.value().out_dir == str(tmp_path / "bundles" / "tiny")
        assert again.value().compression == "low" and again.value().board == app.board.name
    assert SettingsStore(tmp_path / "state").train().epochs == 3


def test_a_deleted_dataset_falls_back_to_the_defaults(tmp_path: Path, tiny_npz: Path) -> None:
    store = SettingsStore(tmp_path / "state")
    store.save_train(TrainSettings(str(tiny_npz), epochs=2))
    assert store.train().epochs == 2
    tiny_npz.unlink()
    assert store.train() == TrainSettings()
    (tmp_path / "state" / "job_settings.json").write_text("{broken")
    assert store.train() == TrainSettings()


def test_settings_from_before_the_recipe_follow_it(tmp_path: Path, tiny_npz: Path) -> None:
    # The form used to send lr 0.001 and augment off itself: a file from then holds those whether the user
    # chose them or not. As the old defaults they load as the recipe's; anything else was chosen and stays.
    state = tmp_path / "state"
    state.mkdir()
    old = {"data": str(tiny_npz), "epochs": 40, "batch_size": 64, "learning_rate": 0.001, "augment": False,
           "validation_split": 0.1, "seed": None, "early_stopping": 0, "reduce_lr": 0, "limit": None,
           "strategy": "default", "cpu_devices": 1, "resume": ""}
    (state / "job_settings.json").write_text(json.dumps({"train": old}))
    loaded = SettingsStore(state).train()
    assert (loaded.epochs, loaded.learning_rate, loaded.augment, loaded.recipe) == (40, None, None, "default")
    (state / "job_settings.json").write_text(json.dumps({"train": {**old, "learning_rate": 0.01, "augment": True}}))
    assert (SettingsStore(state).train().learning_rate, SettingsStore(state).train().augment) == (0.01, True)
    # Saved now, an explicit 0.001 is the user's and is kept.
    SettingsStore(state).save_train(TrainSettings(str(tiny_npz), learning_rate=0.001, augment=False))
    assert (SettingsStore(state).train().learning_rate, SettingsStore(state).train().augment) == (0.001, False)
    SettingsStore(state).save_train(TrainSettings(str(tiny_npz), epochs=5))
    assert SettingsStore(state).train() == TrainSettings(str(tiny_npz), epochs=5)
    # A damaged value (hand-edited, another version's) gives the defaults, not a job the worker refuses.
    (state / "job_settings.json").write_text(json.dumps({"train": {**old, "augment": "yes"}}))
    assert SettingsStore(state).train() == TrainSettings()


def test_training_events_translate() -> None:
    started = tp.Started(design="Tiny", run_dir="runs/t", epochs=2, initial_epoch=0, steps_per_epoch=4,
                         batch_size=16, train_images=64, val_images=6, test_images=16, class_names=["a"],
                         params=9)
    translate = _TrainTranslator()
    out = [e for event in (
        started, tp.EpochStart(1, 2),
        tp.Progress(1, 2, 4, 1.1, 0.25, 50.0, 65.0),
        tp.EpochEnd(1, 2, 1.0, 0.3, 1.2, None, 0.001, 1.0, 60.0, best=True),
        tp.Log("hello", "warning"),
        tp.Finished(ok=True, status="completed", run_dir="runs/t", epochs_completed=2,
                    metrics={"test_accuracy": 0.5}),
    ) for e in translate(event)]
    assert isinstance(out[0], Log) and "9 params" in out[0].line
    progress = [e for e in out if isinstance(e, Progress)]
    assert progress[1] == Progress(0.25, "epoch 1/2 step 2/4 loss 1.100 acc 25.0% 50 img/s ETA 1:05")
    assert progress[2].fraction == 0.5
    assert [e for e in out if isinstance(e, Metric)] == [Metric("loss", 1, 1.0), Metric("accuracy", 1, 0.3),
                                                         Metric("val_loss", 1, 1.2)]
    assert Log("warning: hello") in out
    assert out[-1] == Finished(True, "test accuracy 50.0% after 2 epoch(s)\nbest epoch 1\nrun folder runs/t")
    assert _TrainTranslator()(tp.Failed("out of memory")) == [Finished(False, "out of memory")]


def test_export_events_translate() -> None:
    from designer.export import protocol as xp

    assert _translate_export(xp.Step("convert", 2, 8)) == [Progress(1 / 8, "step 2/8: convert…")]
    done = _translate_export(xp.Step("convert", 2, 8, True, 1.25, "40 kB"))
    assert done == [Progress(2 / 8, "step 2/8: convert done"), Log("convert: 1.2 s — 40 kB")]
    assert _translate_export(xp.Log("UNTRAINED DESIGN: ...", "warning")) == []
    (finished,) = _translate_export(xp.Exported("out/b", True, ["UNTRAINED DESIGN: x", "int8 drops 5 points"]))
    assert finished.ok and finished.summary.startswith("UNTRAINED") and "1 warning(s): int8 drops 5 points" in \
        finished.summary
    assert finished.report == str(Path("out/b") / "report.md")
    assert _translate_export(xp.Failed("no space")) == [Finished(False, "no space")]
    assert isinstance(Queued(), Queued)


def test_runner_modules_load_no_tensorflow() -> None:
    code = textwrap.dedent("""
        import sys
        import tui.jobs.process, tui.jobs.settings, tui.screens.train_form, tui.screens.export_form
        print([m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")])
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.strip() == "[]"
