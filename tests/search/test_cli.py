"""``cnn-designer search`` end to end: bad input (exit 2, one line), a real search with the real training
worker on a tiny .npz that is stopped with Ctrl-C and continued, and a real pruned candidate."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest

from designer import designfile
from designer.footprint import estimate
from designer.search import storage
from designer.search.loop import Plan, Search, record_of
from designer.search.objective import Budget, directions
from designer.search.space import family_space
from designer.search.trainer import WorkerTrainer
from designer.training import runs
from tests.search.conftest import TINY, cli, cli_env, popen
from tui.cli import main

MAX_FLASH = 64 * 1024


def _bad(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["search", *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and err.startswith("cnn-designer")
    return err


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, tiny_npz: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = ["--out", str(tmp_path)]
    assert "no-such-board" in _bad(capsys, "--board", "no-such-board", *out)
    assert "256Q" in _bad(capsys, "--max-flash", "256Q", *out)
    assert "--trials" in _bad(capsys, "--trials", "0", *out)
    assert "missing.npz" in _bad(capsys, "--data", str(tmp_path / "missing.npz"), *out)
    assert "classes" in _bad(capsys, "--data", str(tiny_npz), *out)  # the family's 10 classes vs 3
    assert "--input" in _bad(capsys, "--from", "model2", "--input", "8x8x3", *out)
    assert "nosuch" in _bad(capsys, "--from", "nosuch", *out)
    assert list(tmp_path.iterdir()) == []  # bad input leaves nothing behind
    # A study remembers its settings: joining it with another board is refused, naming both.
    study = ["--study", "fixed", *out, "--data", str(tiny_npz), *TINY]
    assert main(["search", *study, "--trials", "1", "--max-flash", "1K", "--json"]) == 0  # all infeasible: fast
    capsys.readouterr()
    err = _bad(capsys, *study, "--board", "NUCLEO-H743ZI2")
    assert "fixed" in err and "--board" in err


def _events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _wait_for(condition: Any, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.2)


def _check_runs_fit(folder: Path) -> list[Path]:
    """Every training run of a search folder trained a design that fits (re-estimated here)."""
    trained = sorted((folder / storage.RUNS_DIR).glob("*/design.toml"))
    for path in trained:
        fp = estimate(designfile.load(path), runtime="tflm", dtype="int8")
        assert fp.flash_bytes <= MAX_FLASH, path
    return trained


@pytest.mark.slow
def test_search_stop_and_continue(tmp_path: Path, tiny_npz: Path) -> None:
    args = ["search", *TINY, "--data", str(tiny_npz), "--out", str(tmp_path), "--study", "s", "--seed", "3",
            "--max-flash", "64K"]
    folder = tmp_path / "search-s"
    first = popen(*args, "--trials", "4", "--json")
    # Ctrl-C once the first candidate that fits is training.
    _wait_for(lambda: any((folder / storage.RUNS_DIR).glob("*/worker.log")), 120)
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    assert "continue with: cnn-designer search --study s" in err
    events = _events(out)
    assert events[-1]["event"] == "done" and events[-2]["state"] == "cancelled"
    interrupted = events[-2]["number"]

    again = cli(*args, "--trials", "4")  # the table view this time
    assert again.returncode == 0, again.stderr
    assert "best:" in again.stdout and "Study s" in again.stdout
    study = optuna.load_study(study_name="s", storage=storage.default_storage(folder))
    trials = study.trials
    finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 4
    retry = next(t for t in trials if t.number > interrupted)
    assert retry.params == trials[interrupted].params  # the interrupted candidate ran again first
    trained = _check_runs_fit(folder)
    assert trained  # something fitted and trained: the budget check above is not vacuous
    for t in trials:
        record = record_of(t)
        assert Path(record["design"]).is_file()
        if record["state"] == "infeasible":
            assert record["flash_bytes"] > MAX_FLASH and "flash" in record["failed"] and "run_dir" not in record
        elif record["state"] == "complete":
            assert 0.0 <= record["accuracy"] <= 1.0
            assert runs.load_run(record["run_dir"]).status == "completed"


@pytest.mark.slow
def test_a_real_candidate_is_pruned_after_its_first_epoch(tmp_path: Path, tiny_npz: Path) -> None:
    plan = Plan(study="p", folder=tmp_path / "search-p", space=family_space((8, 8, 3), 3),
                budget=Budget(storage_board(), "tflm", "int8"), objective="accuracy", trials=1)
    plan.folder.mkdir(parents=True)
    study = storage.open_study(storage.default_storage(plan.folder), "p", directions("accuracy"), {},
                               plan.space.to_dict(), seed=0)
    study.pruner = optuna.pruners.ThresholdPruner(lower=1.01)  # no accuracy reaches it: prune at epoch 1
    trainer = WorkerTrainer(data=str(tiny_npz), out_dir=str(plan.folder / "runs"), epochs=2, seed=0)
    events: list[Any] = []
    asyncio.run(Search(study, plan, trainer, events.append).run())
    assert [e.state for e in events] == ["pruned"]
    run = runs.load_run(events[0].run_dir)
    assert run.status == "cancelled" and run.epochs_completed < 2  # the worker was stopped, not finished
    assert list(study.trials[0].intermediate_values) == [1]


def storage_board() -> Any:
    from designer.boards import find_board

    return find_board("NUCLEO-F446RE")


def test_the_search_process_loads_no_tensorflow(tmp_path: Path, tiny_npz: Path) -> None:
    # Candidates train in worker processes; the search itself (Optuna, estimates, storage) must stay light.
    script = ("import sys\nfrom tui.cli import main\n"
              f"code = main(['search', *{TINY!r}, '--data', {str(tiny_npz)!r}, '--out', {str(tmp_path)!r}, "
              "'--trials', '1', '--max-flash', '1K', '--json'])\n"
              "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'textual'))\n"
              "print('HEAVY', code, heavy, file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=cli_env(),
                            timeout=120)
    assert "HEAVY 0 []" in result.stderr, result.stderr
