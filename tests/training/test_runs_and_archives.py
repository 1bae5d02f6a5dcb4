"""Run folders (creation, history files, best_run_for, resume checks) and cached archive extraction."""

from __future__ import annotations

import os
import shutil
import tarfile
import time
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from designer.design import DesignError
from designer.training import runs
from designer.training.archives import extract_cached, unwrap
from designer.training.protocol import TrainConfig

from .conftest import tiny_design


def test_run_dirs_are_unique_and_named_after_the_design(tmp_path: Path) -> None:
    now = datetime(2025, 1, 2, 3, 4, 5)
    first = runs.create_run_dir(tmp_path, "My Model/2", now)
    second = runs.create_run_dir(tmp_path, "My Model/2", now)
    assert first.name == "My_Model_2-20250102-030405"
    assert second.name == "My_Model_2-20250102-030405-2"


def test_history_is_written_as_json_and_csv(tmp_path: Path) -> None:
    rows = [{"epoch": 1, "loss": 1.5, "accuracy": 0.4, "val_loss": None, "val_accuracy": 0.3, "lr": 0.001,
             "train_s": 2.0}]
    runs.write_history(tmp_path, rows)
    assert runs.read_history(tmp_path) == rows
    lines = (tmp_path / runs.HISTORY_CSV).read_text().splitlines()
    assert lines == ["epoch,loss,accuracy,val_loss,val_accuracy,lr,train_s", "1,1.5,0.4,,0.3,0.001,2.0"]


def _fake_run(base: Path, name: str, design: str, test_acc: float | None, val_accs: list[float]) -> Path:
    run = base / name
    run.mkdir(parents=True)
    runs.write_json(run / runs.CONFIG_FILE, {"config": {}, "design_name": design})
    runs.write_history(run, [{"epoch": i + 1, "val_accuracy": v} for i, v in enumerate(val_accs)])
    if test_acc is not None:
        runs.write_json(run / runs.METRICS_FILE, {"test_accuracy": test_acc, "test_loss": 1.0})
        runs.write_status(run, "completed", len(val_accs))
    else:
        runs.write_status(run, "cancelled", len(val_accs))
    return run


def test_best_run_for_picks_the_best_measured_accuracy(tmp_path: Path) -> None:
    _fake_run(tmp_path, "a", "Model2", 0.70, [0.6, 0.69])
    best = _fake_run(tmp_path, "b", "Model2", 0.77, [0.75])
    _fake_run(tmp_path, "c", "Model2", None, [0.5])  # cancelled: counts by its val_accuracy
    _fake_run(tmp_path, "d", "Model5", 0.90, [0.9])
    (tmp_path / "not-a-run").mkdir()
    summary = runs.best_run_for("Model2", tmp_path)
    assert summary is not None and summary.run_dir == best and summary.accuracy == 0.77
    assert summary.status == "completed" and summary.epochs_completed == 1
    assert runs.best_run_for("Model9", tmp_path) is None
    assert runs.best_run_for("Model2", tmp_path / "missing") is None
    cancelled = runs.load_run(tmp_path / "c")
    assert cancelled is not None and cancelled.accuracy == 0.5 and cancelled.test_accuracy is None


def test_prepare_run_snapshots_the_design(tmp_path: Path, design_file: Path) -> None:
    config, design = runs.prepare_run(TrainConfig(design=str(design_file), out_dir=str(tmp_path / "runs")))
    run_dir = Path(str(config.run_dir))
    assert run_dir.parent == tmp_path / "runs" and run_dir.name.startswith("tiny-")
    assert design == tiny_design()
    assert (run_dir / runs.DESIGN_FILE).is_file()


def test_prepare_run_resolves_presets_and_rejects_unknown_designs(tmp_path: Path) -> None:
    _, design = runs.prepare_run(TrainConfig(design="model2", out_dir=str(tmp_path)))
    assert design.name == "Model2"
    with pytest.raises(DesignError, match="neither a preset"):
        runs.prepare_run(TrainConfig(design="model99", out_dir=str(tmp_path)))


def test_resume_needs_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(runs.RunError, match="no last.keras"):
        runs.prepare_run(TrainConfig(design="", resume=str(tmp_path)))


def _folder(root: Path) -> Path:
    for split in ("train", "test"):
        (root / "wrapper" / split / "cat").mkdir(parents=True)
        (root / "wrapper" / split / "cat" / "0.png").write_bytes(b"png")
    return root / "wrapper"


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_archives_extract_once_and_unwrap_their_top_folder(tmp_path: Path, kind: str) -> None:
    wrapper = _folder(tmp_path / "src")
    archive = tmp_path / f"data.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for p in wrapper.rglob("*"):
                zf.write(p, p.relative_to(wrapper.parent))
    else:
        with tarfile.open(archive, "w:gz") as tf:
            tf.add(wrapper, arcname="wrapper")
    cache = tmp_path / "cache"
    dest = extract_cached(archive, cache)
    root = unwrap(dest)
    assert root == dest / "wrapper" and (root / "train" / "cat" / "0.png").read_bytes() == b"png"
    marker_time = (dest / ".extracted").stat().st_mtime_ns
    assert extract_cached(archive, cache) == dest  # cached: not extracted again
    assert (dest / ".extracted").stat().st_mtime_ns == marker_time
    os.utime(archive, (time.time() + 10, time.time() + 10))  # a changed archive gets a new folder
    assert extract_cached(archive, cache) != dest
    shutil.rmtree(cache)


def test_a_broken_archive_is_a_clear_error(tmp_path: Path) -> None:
    from designer.training.archives import ArchiveError

    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not an archive")
    with pytest.raises(ArchiveError, match="bad.tar.gz: cannot extract archive"):
        extract_cached(bad, tmp_path / "cache")
    assert not any((tmp_path / "cache").iterdir())
