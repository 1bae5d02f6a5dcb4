"""What ``cnn-designer export`` refuses, before any step runs: one line, exit 2, every user file kept.

The refusals run on the cheap path (the runner passed in must never be called, and a fresh interpreter shows
TensorFlow is not even imported); the exports that are allowed (an empty folder, our own earlier bundle) run
for real.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from designer.designfile import save as save_design
from designer.export.bundle import BUNDLE_KIND, export_bundle
from designer.export.protocol import ExportRequest, Failed
from designer.outdir import MANIFEST_NAME, check_out_dir, read_manifest
from designer.training.protocol import Event
from tests.export.conftest import TINY
from tui.cli.export import LOG_NAME, WorkerLog, _follow, add_export_command, run_export_command

ROOT = Path(__file__).resolve().parents[2]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cnn-designer")
    add_export_command(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def _never(request: ExportRequest) -> Iterator[Event]:
    raise AssertionError(f"the export started although it should have been refused: {request}")


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert run_export_command(_parse(argv), _never) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.fixture
def user_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    (folder / "sub").mkdir(parents=True)
    (folder / "thesis.tex").write_text("years of work")
    (folder / "sub" / "data.bin").write_bytes(bytes(range(256)))
    return folder


def test_a_folder_of_user_files_is_refused_and_kept(user_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(user_folder)
    line = _refused(["export", "model2", "--out", str(user_folder)], capsys)
    assert f"refusing to write into {user_folder}: it holds 'sub'" in line
    assert f"--out {user_folder}/NAME" in line
    assert _snapshot(user_folder) == before
    assert sorted(os.listdir(user_folder.parent)) == ["work"]  # no scratch folder, no log beside it either


def test_a_foreign_report_json_is_not_a_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "report.json").write_text('{"schema": 1, "mine": true}')
    line = _refused(["export", "model2", "--out", str(folder)], capsys)
    assert "it holds 'report.json' and is not a cnn-designer folder" in line
    assert _snapshot(folder) == {"report.json": b'{"schema": 1, "mine": true}'}


def test_dot_and_a_symlink_to_a_user_folder_are_refused(user_folder: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(user_folder)
    (tmp_path / "link").symlink_to(user_folder)
    monkeypatch.chdir(user_folder)
    for out in (".", str(tmp_path / "link")):
        line = _refused(["export", "model2", "--out", out], capsys)
        assert f"refusing to write into {user_folder}: it holds" in line
    assert _snapshot(user_folder) == before and (tmp_path / "link").is_symlink()


def test_unknown_source_is_one_line_and_leaves_no_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logs_before = set(Path(tempfile.gettempdir()).glob("cnn-designer-export-*"))
    line = _refused(["export", "model55", "--out", str(tmp_path / "b")], capsys)
    assert line.startswith("cnn-designer export: 'model55' is not a run folder, a .toml design file or a preset")
    assert set(Path(tempfile.gettempdir()).glob("cnn-designer-export-*")) == logs_before
    assert list(tmp_path.iterdir()) == []


def test_refusals_come_before_tensorflow_loads(user_folder: Path) -> None:
    """In a fresh interpreter, as a user runs it: exit 2, one line, TensorFlow never imported."""
    before = _snapshot(user_folder)
    code = ("import sys; from tui.cli import main\n"
            f"codes = [main(['export', 'model2', '--out', {str(user_folder)!r}]), main(['export', 'model55'])]\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was loaded'\n"
            "print(codes)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=user_folder,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[2, 2]"
    assert len(done.stderr.strip().splitlines()) == 2, done.stderr
    assert _snapshot(user_folder) == before


def _fake_run(tmp_path: Path, config: dict) -> Path:
    """A run folder that resolves (design.toml, a best.keras that is never loaded, config.json)."""
    run = tmp_path / "run"
    run.mkdir()
    save_design(TINY, run / "design.toml")
    (run / "best.keras").write_bytes(b"not loaded before the checks pass")
    (run / "config.json").write_text(json.dumps(config))
    return run


@pytest.mark.parametrize(("config", "fragments"), [
    ({"config": {"data": "/elsewhere/data.tar.gz", "cache_dir": "/etc"}},
     ["config.json's config.data = '/elsewhere/data.tar.gz' lies outside the run folder", "pass --data PATH"]),
    ({"config": {"data": "../../outside.npz"}}, ["config.data = '../../outside.npz' lies outside the run"]),
    ({"config": {"data": "cifar10", "seed": "abc"}}, ["config.json: key 'config.seed'", 'received "abc"']),
    ({"config": {"data": "cifar10", "validation_split": 7}}, ["key 'config.validation_split'", "received 7"]),
    ({"config": {"data": "cifar10"}, "preprocessing": {"rescale": -1}}, ["key 'preprocessing.rescale'"]),
    ({"config": {"data": "cifar10"}, "preprocessing": "x/255"}, ["key 'preprocessing': expected a JSON object"]),
    ({"config": {"data": ["a"]}}, ["key 'config.data': expected a non-empty one-line string"]),
    ({"config": {"data": "cifar10"}, "data": {"class_names": [1, 2, 3]}}, ["key 'data.class_names'"]),
])
def test_a_runs_config_json_is_untrusted_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], config: dict,
                                               fragments: list[str]) -> None:
    run = _fake_run(tmp_path, config)
    line = _refused(["export", str(run), "--out", str(tmp_path / "b")], capsys)
    for fragment in fragments:
        assert fragment in line
    assert sorted(os.listdir(tmp_path)) == ["run"]


def test_cache_dir_in_config_json_is_never_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Export extracts a run's archive only into the default cache, whatever config.json says."""
    import designer.training.datasets as datasets
    from designer.export.source import resolve_source, run_data

    run = _fake_run(tmp_path, {"config": {"data": "data.tar.gz", "cache_dir": str(tmp_path / "evil"), "seed": 3}})
    seen: dict = {}

    def spy(spec: str, *args: object, **kwargs: object) -> object:
        seen.update(kwargs, spec=spec)
        raise datasets.DataError("stop here")

    monkeypatch.setattr(datasets, "load_data", spy)
    with pytest.raises(Exception, match="stop here"):
        run_data(resolve_source(str(run)), data=None, calibration_images=5, eval_images=5, seed=0)
    assert seen["spec"] == str(run / "data.tar.gz") and seen["seed"] == 3
    assert "cache_dir" not in seen and not (tmp_path / "evil").exists()


def test_a_failed_export_keeps_its_log_in_the_output_folder(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "b"
    log = WorkerLog()
    log.write("Traceback: the converter said no\n")
    code = _follow(iter([Failed("the converter said no")]), _parse(["export", "model2"]), target, log)
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"cnn-designer export: the converter said no (worker log: {target / LOG_NAME})"]
    assert (target / LOG_NAME).read_text() == "Traceback: the converter said no\n"
    assert read_manifest(target).files.keys() == {LOG_NAME}  # type: ignore[union-attr]
    assert check_out_dir(target, BUNDLE_KIND) == target.resolve()  # the next export may replace it


@pytest.mark.slow
def test_export_into_an_empty_folder_then_over_its_own_bundle(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bundle"
    out.mkdir()
    request = ExportRequest(source="model4", out_dir=str(out), calibration_images=5, eval_images=5, stedgeai=False)
    export_bundle(request)
    first = read_manifest(out)
    assert first is not None and "report.json" in first.files and (out / MANIFEST_NAME).is_file()
    (out / LOG_NAME).write_text("an old log")  # a failed export's log, claimed in the manifest
    from designer.outdir import add_to_manifest

    add_to_manifest(out, BUNDLE_KIND, [LOG_NAME])
    export_bundle(request)  # replaces our own bundle: the old files go, nobody else's were there
    assert {p.name for p in out.iterdir()} == set(first.files) | {MANIFEST_NAME}
    assert sorted(os.listdir(tmp_path)) == ["bundle"]
    (out / "my-notes.txt").write_text("mine")
    capsys.readouterr()  # what the converter printed
    line = _refused(["export", "model4", "--out", str(out)], capsys)
    assert "'my-notes.txt' is not a file cnn-designer wrote there" in line
    assert (out / "my-notes.txt").read_text() == "mine" and (out / "report.json").is_file()


def test_metrics_json_is_checked_but_a_diverged_accuracy_is_no_error(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from designer.export.source import resolve_source

    run = _fake_run(tmp_path, {"config": {"data": "cifar10"}})
    (run / "metrics.json").write_text('{"test_accuracy": NaN, "unknown": [1, 2]}')
    assert resolve_source(str(run)).metrics == {}
    (run / "metrics.json").write_text('{"test_accuracy": "99%"}')
    line = _refused(["export", str(run), "--out", str(tmp_path / "b")], capsys)
    assert "metrics.json: key 'test_accuracy': expected a number in [0, 1], received \"99%\"" in line
