"""Where a run is written (never over files it did not write) and a run folder's files read as untrusted input."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from designer import designfile
from designer.training import runs
from designer.training.checks import DataError
from designer.training.protocol import TrainConfig
from tui.cli.train import EXIT_BAD_INPUT, add_train_command, run_train_command

from .conftest import tiny_design, write_npz


def _user_files(folder: Path) -> dict[str, bytes]:
    """A folder of someone's files, named like the files a run writes."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {name: f"user's {name}".encode() for name in ("config.json", "status.json", "design.toml", "notes.txt")}
    for name, body in files.items():
        (folder / name).write_bytes(body)
    return files


def _unchanged(folder: Path, files: dict[str, bytes]) -> bool:
    return all((folder / name).read_bytes() == body for name, body in files.items())


def test_out_dir_with_user_files_gets_a_new_run_folder_beside_them(tmp_path: Path, design_file: Path) -> None:
    files = _user_files(tmp_path / "mine")
    config, _ = runs.prepare_run(TrainConfig(design=str(design_file), out_dir=str(tmp_path / "mine")))
    run_dir = Path(str(config.run_dir))
    assert run_dir.parent == tmp_path / "mine" and run_dir.name.startswith("tiny-")
    assert sorted(p.name for p in run_dir.iterdir()) == ["design.toml", "status.json"]
    assert config.data == "cifar10"  # no data given: CIFAR-10
    assert _unchanged(tmp_path / "mine", files)


def test_out_dot_and_a_symlinked_out_dir_behave_like_the_folder(tmp_path: Path, design_file: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "target"
    files = _user_files(target)
    (tmp_path / "link").symlink_to(target, target_is_directory=True)
    monkeypatch.chdir(target)
    made = [Path(str(runs.prepare_run(TrainConfig(design=str(design_file), out_dir=out))[0].run_dir))
            for out in (".", str(tmp_path / "link"), str(target))]
    assert [p.resolve().parent for p in made] == [target] * 3
    assert len({p.resolve() for p in made}) == 3  # three new folders, none reused
    assert _unchanged(target, files)


def test_out_that_is_a_file_is_refused_in_one_line(tmp_path: Path, design_file: Path,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("keep me")
    parser = argparse.ArgumentParser()
    add_train_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", str(design_file), "--data", "cifar10", "--out", str(tmp_path / "afile")])
    assert run_train_command(args) == EXIT_BAD_INPUT
    assert capfd.readouterr().err.splitlines() == [
        f"cnn-designer train: {tmp_path / 'afile'}: not a folder; --out names the folder run folders are created in"]
    assert (tmp_path / "afile").read_text() == "keep me"


def test_bad_data_leaves_no_run_folder(tmp_path: Path, design_file: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"")
    with pytest.raises(DataError, match="bad.npz: cannot be read"):
        runs.prepare_run(TrainConfig(design=str(design_file), data=str(bad), out_dir=str(tmp_path / "runs")))
    assert not (tmp_path / "runs").exists()


# --- a run folder given by the caller (the protocol's run_dir) ------------------------------------------------

def test_a_given_run_dir_must_be_new_empty_or_prepared_for_the_job(tmp_path: Path, design_file: Path) -> None:
    fresh, _ = runs.prepare_run(TrainConfig(design=str(design_file), run_dir=str(tmp_path / "new" / "run")))
    assert (tmp_path / "new" / "run" / "design.toml").is_file()
    (tmp_path / "empty").mkdir()
    runs.prepare_run(TrainConfig(design=str(design_file), run_dir=str(tmp_path / "empty")))
    (tmp_path / "new" / "run" / "worker.log").write_text("the client opened the log")
    again, _ = runs.prepare_run(fresh)  # the worker prepares the same folder again: it is the job's own
    assert again.run_dir == fresh.run_dir


def test_a_given_run_dir_with_user_files_is_refused_and_kept(tmp_path: Path, design_file: Path) -> None:
    files = _user_files(tmp_path / "mine")
    with pytest.raises(runs.RunError, match=r"refusing to write into .*mine: it holds 'config.json' and is not a "
                                            r"cnn-designer folder .*nothing was changed\. Choose a new or empty "
                                            r"folder, e.g\. run_dir .*mine/NAME"):
        runs.prepare_run(TrainConfig(design=str(design_file), run_dir=str(tmp_path / "mine")))
    assert _unchanged(tmp_path / "mine", files) and len(list((tmp_path / "mine").iterdir())) == 4


def test_a_given_run_dir_that_holds_a_run_is_refused(tmp_path: Path, design_file: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    designfile.save(tiny_design(), run_dir / runs.DESIGN_FILE)
    runs.write_json(run_dir / runs.CONFIG_FILE, {"config": {"design": "x"}})
    runs.write_status(run_dir, "completed", 3)
    with pytest.raises(runs.RunError, match=r"run: already holds a run \(status completed\).*--resume"):
        runs.prepare_run(TrainConfig(design=str(design_file), run_dir=str(run_dir)))
    (tmp_path / "afile").write_text("keep")
    with pytest.raises(runs.RunError, match="afile: it exists and is not a folder"):
        runs.prepare_run(TrainConfig(design=str(design_file), run_dir=str(tmp_path / "afile")))
    assert (tmp_path / "afile").read_text() == "keep"


def test_a_given_run_dir_is_the_folder_its_symlink_or_dot_names(tmp_path: Path, design_file: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")  # followed, as export follows it: a new folder
    config, _ = runs.prepare_run(TrainConfig(design=str(design_file), run_dir=str(tmp_path / "dangling")))
    assert config.run_dir == str(tmp_path / "nowhere") and (tmp_path / "nowhere" / "design.toml").is_file()
    files = _user_files(tmp_path / "mine")
    (tmp_path / "link").symlink_to(tmp_path / "mine")
    monkeypatch.chdir(tmp_path / "mine")
    for given in (".", str(tmp_path / "link")):
        with pytest.raises(runs.RunError, match=f"refusing to write into {tmp_path / 'mine'}: it holds"):
            runs.prepare_run(TrainConfig(design=str(design_file), run_dir=given))
    assert _unchanged(tmp_path / "mine", files) and len(list((tmp_path / "mine").iterdir())) == 4


# --- resume: config.json is untrusted --------------------------------------------------------------------------

def _run_folder(tmp_path: Path, config: object) -> Path:
    run_dir = tmp_path / "runs" / "tiny-1"
    run_dir.mkdir(parents=True)
    designfile.save(tiny_design(), run_dir / runs.DESIGN_FILE)
    (run_dir / runs.LAST_MODEL).write_bytes(b"a checkpoint")
    (run_dir / runs.CONFIG_FILE).write_text(json.dumps(config))
    return run_dir


def test_resume_follows_no_path_from_config_json(tmp_path: Path) -> None:
    data = write_npz(tmp_path / "d.npz")
    elsewhere = tmp_path / "elsewhere"
    stored = {"design": str(elsewhere / "evil.toml"), "data": str(data), "batch_size": 8, "seed": 5,
              "out_dir": str(elsewhere), "run_dir": str(elsewhere), "resume": str(elsewhere),
              "cache_dir": str(elsewhere / "cache"), "not_a_setting": "ignored"}
    run_dir = _run_folder(tmp_path, {"config": stored, "design_name": "tiny"})
    with pytest.raises(runs.RunError) as info:  # the data set outside the run is not read unasked
        runs.prepare_run(TrainConfig(design="", resume=str(run_dir), epochs=4))
    assert str(info.value) == (f"{run_dir / 'config.json'}: data = {str(data)!r} lies outside the run folder, so "
                               "it is not read unasked; pass --data PATH to resume with that data set")
    config, design = runs.prepare_run(TrainConfig(design="", resume=str(run_dir), data=str(data), epochs=4))
    assert (config.run_dir, config.resume, config.design) == (str(run_dir), str(run_dir),
                                                              str(run_dir / runs.DESIGN_FILE))
    assert config.out_dir == str(run_dir.parent) and config.cache_dir is None  # the new request's cache
    assert (config.data, config.batch_size, config.seed, config.epochs) == (str(data), 8, 5, 4)
    assert design == tiny_design() and not elsewhere.exists()


@pytest.mark.parametrize(("saved", "read"), [("cifar10", "cifar10"), ("d.npz", "{run}/d.npz"),
                                            ("{run}/d.npz", "{run}/d.npz"), ("{run}/../tiny-1/d.npz", None)])
def test_resume_reads_data_inside_the_run_folder_unasked(tmp_path: Path, saved: str, read: str | None) -> None:
    run_dir = tmp_path / "runs" / "tiny-1"
    _run_folder(tmp_path, {"config": {"data": saved.format(run=run_dir)}})
    write_npz(run_dir / "d.npz")
    config, _ = runs.prepare_run(TrainConfig(design="", resume=str(run_dir)))
    assert config.data == (read or saved).format(run=run_dir)


@pytest.mark.parametrize("saved", ["../d.npz", "/etc/hostname", "{run}/link/d.npz"])
def test_resume_refuses_saved_data_that_leads_out_of_the_run(tmp_path: Path, saved: str) -> None:
    run_dir = tmp_path / "runs" / "tiny-1"
    _run_folder(tmp_path, {"config": {"data": saved.format(run=run_dir)}})
    (run_dir / "link").symlink_to(tmp_path, target_is_directory=True)
    write_npz(tmp_path / "d.npz")
    with pytest.raises(runs.RunError, match="lies outside the run folder, so it is not read unasked; pass --data"):
        runs.prepare_run(TrainConfig(design="", resume=str(run_dir)))


@pytest.mark.parametrize(("stored", "message"), [
    ({"config": {"batch_size": "64"}}, "batch_size must be an integer, received '64'"),
    ({"config": {"data": ["a.npz"]}}, "data must be a string or null, received ['a.npz']"),
    ({"config": {"limit": 0}}, "limit must be >= 1 (training images), received 0"),
    ({"config": {"seed": 2**70}}, "seed must be in 0..2147483647, received 1180591620717411303424"),
])
def test_resume_names_the_file_key_and_value_of_a_bad_config_json(tmp_path: Path, stored: object,
                                                                  message: str) -> None:
    run_dir = _run_folder(tmp_path, stored)
    with pytest.raises(runs.RunError) as info:
        runs.prepare_run(TrainConfig(design="", resume=str(run_dir)))
    assert str(info.value) == f"{run_dir / runs.CONFIG_FILE}: cannot resume: {message}"


@pytest.mark.parametrize("stored", [[1, 2], {"config": "x"}, "[" * 100_000])
def test_resume_refuses_a_config_json_that_is_not_a_run_config(tmp_path: Path, stored: object) -> None:
    run_dir = _run_folder(tmp_path, {})
    (run_dir / runs.CONFIG_FILE).write_text(stored if isinstance(stored, str) else json.dumps(stored))
    with pytest.raises(runs.RunError, match='not a run folder \\(no readable config.json with a "config" object\\)'):
        runs.prepare_run(TrainConfig(design="", resume=str(run_dir)))


def test_hostile_run_files_do_not_break_the_run_listing(tmp_path: Path) -> None:
    run_dir = _run_folder(tmp_path, {"config": {}, "design_name": "tiny"})
    (run_dir / runs.STATUS_FILE).write_text("[1]")
    (run_dir / runs.METRICS_FILE).write_text('{"test_accuracy": "0.99", "test_loss": 1e999}')
    (run_dir / runs.HISTORY_JSON).write_text('[{"epoch": 1, "val_accuracy": "high"}, 7, '
                                             '{"epoch": 2, "val_accuracy": 0.5, "loss": true, "extra": 1}]')
    summary = runs.load_run(run_dir)
    assert summary is not None
    assert (summary.status, summary.test_accuracy, summary.test_loss) == ("unknown", None, None)
    assert summary.best_val_accuracy == 0.5 and summary.epochs_completed == 2
    assert runs.read_history(run_dir)[1] == {"epoch": 2, "loss": None, "accuracy": None, "val_loss": None,
                                             "val_accuracy": 0.5, "lr": None, "train_s": None}
    assert runs.best_run_for("tiny", tmp_path / "runs") == summary


def test_the_files_a_run_writes_never_follow_a_planted_symlink(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    os.symlink(victim, run_dir / runs.STATUS_FILE)
    runs.write_status(run_dir, "running", 0)  # atomic replace: the link is replaced, not written through
    assert victim.read_text() == "precious" and not (run_dir / runs.STATUS_FILE).is_symlink()


@pytest.mark.parametrize(("data", "command"), [
    ("my data/d.npz", "cnn-designer train --resume 'runs/t 1' --data 'my data/d.npz' --epochs N"),
    ("cifar10", "cnn-designer train --resume 'runs/t 1' --epochs N"),
])
def test_a_cancelled_run_says_how_to_resume_it_with_its_data(data: str, command: str) -> None:
    import io

    from rich.console import Console

    from designer.training.protocol import Finished
    from tui.cli.train import _View

    out = io.StringIO()
    _View(Console(file=out, width=300), resume_data=data).show(
        Finished(ok=False, status="cancelled", run_dir="runs/t 1", epochs_completed=1))
    assert out.getvalue().strip().endswith(f"Continue with: {command}")
