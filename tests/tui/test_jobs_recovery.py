"""Unit tests of the job-runner fakes, the recovery file and the notebook rows (no textual involved)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from designer.boards import load_catalogue
from designer.design import Design
from presets import load_preset, preset_ids
from tests.tui.conftest import write_run
from tui.budget import Settings
from tui.editing import bump, delete_layer
from tui.files.recovery import RecoveryFile, state_dir
from tui.jobs.events import (
    FakeRunner,
    Finished,
    JobRunner,
    JobUnavailable,
    Log,
    Metric,
    Progress,
    UnavailableRunner,
)
from tui.notebook_rows import collect_rows, measured_accuracies, sort_rows, to_markdown


async def _collect(runner: FakeRunner, job_id: str) -> list[object]:
    return [event async for event in runner.events(job_id)]


def test_fake_runner_replays_its_script() -> None:
    script = [Progress(0.5, "half"), Log("line"), Metric("loss", 1, 0.5), Finished(True, "ok")]
    runner = FakeRunner({"train": script})
    assert isinstance(runner, JobRunner)
    job = runner.start("train", load_preset("model1"), {"dtype": "int8"})
    assert asyncio.run(_collect(runner, job)) == script
    assert runner.started[0][0] == "train" and runner.started[0][2] == {"dtype": "int8"}
    assert runner.unavailable_reason("export") is not None
    with pytest.raises(JobUnavailable, match="no export runner"):
        runner.start("export", load_preset("model1"), {})


def test_fake_runner_cancel_ends_with_failure() -> None:
    runner = FakeRunner({"train": [Progress(0.1), Finished(True)]}, hold=True)
    job = runner.start("train", load_preset("model1"), {})
    runner.cancel(job)
    events = asyncio.run(_collect(runner, job))
    assert events[-1] == Finished(False, "cancelled")


def test_unavailable_runner_says_why() -> None:
    runner = UnavailableRunner()
    assert isinstance(runner, JobRunner)
    assert "no train runner" in runner.unavailable_reason("train")
    with pytest.raises(JobUnavailable):
        runner.start("train", load_preset("model1"), {})


def test_recovery_round_trip(tmp_path: Path) -> None:
    rec = RecoveryFile(tmp_path / "state")
    assert rec.read() is None
    design = bump(load_preset("model5"), 6, -1)
    rec.write(design, "my.toml")
    got = rec.read()
    assert got is not None and got.path == "my.toml"
    assert got.design.layers == design.layers
    rec.clear()
    assert rec.read() is None and not rec.design_path.exists()


def test_recovery_keeps_invalid_designs(tmp_path: Path) -> None:
    rec = RecoveryFile(tmp_path)
    broken = delete_layer(load_preset("model5"), 18)  # no flatten: shape inference fails, the file is fine
    rec.write(broken, None)
    got = rec.read()
    assert got is not None and got.design.layers == broken.layers and got.path is None


def test_recovery_ignores_garbage(tmp_path: Path) -> None:
    rec = RecoveryFile(tmp_path)
    tmp_path.joinpath("recovery.toml").write_text("not = [toml", encoding="utf-8")
    assert rec.read() is None


def test_state_dir_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CNN_DESIGNER_STATE_DIR", str(tmp_path))
    assert state_dir() == tmp_path
    monkeypatch.delenv("CNN_DESIGNER_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_dir() == tmp_path / "xdg" / "cnn-designer"


def test_measured_accuracy_is_the_best_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_run(runs / "Model5-1", "Model5", 0.8)
    write_run(runs / "Model5-2", "Model5", 0.85)
    write_run(runs / "Model2-1", "Model2", None, val_accuracy=0.6)  # cancelled: its best val_accuracy
    (runs / "broken").mkdir()
    (runs / "broken" / "config.json").write_text("{broken")
    assert measured_accuracies(runs) == {"Model5": pytest.approx(85.0), "Model2": pytest.approx(60.0)}
    assert measured_accuracies(tmp_path / "none") == {}


def test_notebook_rows_sort_and_markdown(tmp_path: Path) -> None:
    designs = tmp_path / "designs"
    designs.mkdir()
    from designer.designfile import save

    save(Design("Mine", load_preset("model2").layers), designs / "mine.toml")
    (designs / "junk.toml").write_text("name = 3")
    board = load_catalogue(include_user=False).default
    rows = collect_rows(board, Settings(runtime="tflm"), designs_dir=designs, runs_dir=tmp_path / "runs",
                        current=delete_layer(load_preset("model5"), 18))
    assert [r.name for r in rows[: len(preset_ids())]] == [load_preset(p).name for p in preset_ids()]
    assert rows[-2].name == "Mine" and rows[-2].source == "mine.toml"
    assert rows[-1].source == "current" and rows[-1].error and rows[-1].cells()[5] == "invalid"
    by_params = sort_rows(rows, "params")
    params = [r.params for r in by_params if r.params is not None]
    assert params == sorted(params) and by_params[-1].params is None
    md = to_markdown(by_params, board, Settings(runtime="tflm"))
    assert md.splitlines()[2].startswith("| Design | Source | Params |")
    assert "| Model5 | preset | 552,362 |" in md
