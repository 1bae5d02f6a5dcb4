"""The app's search (S): the form, the search card (counts, best, scatter with the budget line), opening the best
design as an unsaved one, the job's events and command line, and one real search through the real runner."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select
from textual_plotext import PlotextPlot

from designer import designfile
from designer.boards import load_catalogue
from designer.design import Design
from designer.layers import Conv2D, Dense, Flatten, MaxPool
from designer.search.loop import DoneEvent, TrialEvent
from tests.search.conftest import write_tiny_npz
from tests.tui.conftest import SIZE
from tui.app import DesignerApp
from tui.cli.search import add_search_command
from tui.jobs.events import FakeRunner, Finished
from tui.jobs.process import ProcessRunner
from tui.jobs.search import Ended, SearchPlan, SearchSettings, SearchTranslator, command_args, finished, plan_for
from tui.screens.path_prompt import PathScreen
from tui.screens.search_form import SearchFormScreen
from tui.widgets.job_card import JobCard
from tui.widgets.search_card import SearchCard

MakeApp = Callable[..., DesignerApp]
SnapCompare = Callable[..., bool]

SMALL = Design(name="Small", layers=(Conv2D(filters=8, kernel=(3, 3), activation="relu"), MaxPool(), Flatten(),
                                     Dense(units=3, activation="softmax")), input_shape=(8, 8, 3), classes=3)
"""A 3-class design on 8x8x3 images: the seed of the searches here."""

KIB = 1024


def _trial(number: int, state: str, flash_kib: float, ram_kib: float, accuracy: float | None, design: str = "",
           reason: str = "") -> TrialEvent:
    return TrialEvent(study="demo", number=number, state=state, fits=state != "infeasible",
                      flash_bytes=int(flash_kib * KIB), ram_bytes=int(ram_kib * KIB), latency_ms=1.0,
                      accuracy=accuracy, design=design or f"trial-{number:04d}.toml", reason=reason,
                      failed=["flash"] if state == "infeasible" else [])


def search_script(folder: Path) -> tuple[list[Any], Design]:
    """A search job's events as the real runner yields them, mid-run after five trials; trial 3 is the best
    (its TOML is written in ``folder``)."""
    best = Design(name="Small-t3", layers=(Conv2D(filters=16, kernel=(3, 3), activation="relu"), MaxPool(),
                                           Flatten(), Dense(units=3, activation="softmax")),
                  input_shape=(8, 8, 3), classes=3)
    best_path = folder / "trial-0003.toml"
    designfile.save(best, best_path)
    trials = [
        _trial(0, "complete", 180.0, 40.0, 0.52),
        _trial(1, "infeasible", 1400.0, 90.0, None, reason="flash 1,433,600 B > 1,048,576 B"),
        _trial(2, "pruned", 420.0, 60.0, 0.31),
        _trial(3, "complete", 610.0, 72.0, 0.68, design=str(best_path)),
        _trial(4, "infeasible", 1250.0, 210.0, None, reason="flash, ram"),
    ]
    done = DoneEvent(trials=[{"number": t.number, "state": t.state, "fits": t.fits, "flash_bytes": t.flash_bytes,
                              "ram_bytes": t.ram_bytes, "accuracy": t.accuracy, "design": t.design} for t in trials],
                     best={"design": str(best_path), "accuracy": 0.68, "flash_bytes": 610 * KIB,
                           "ram_bytes": 72 * KIB}, pareto=[])
    plan = SearchPlan(study="demo", trials=8, board="32L4R9IDISCOVERY", flash_budget_bytes=1024 * KIB,
                      ram_budget_bytes=192 * KIB)
    return [plan, *trials, done, Finished(True, f"study demo: best 68.0% val acc: {best_path}")], best


async def _settle(pilot: Pilot[Any]) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def _start_search(pilot: Pilot[Any], **values: str) -> JobCard:
    """S, fill the form, Enter; returns the job's card."""
    app: DesignerApp = pilot.app  # type: ignore[assignment]
    await pilot.press("S")
    await pilot.pause()
    assert isinstance(app.screen, SearchFormScreen)
    for key, value in values.items():
        app.screen.query_one(f"#s-{key}", Input).value = value
    for field in app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()
    (card,) = app.jobs.cards
    return card


async def _wait(pilot: Pilot[Any], done: Callable[[], bool], timeout_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not done():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await pilot.pause(0.1)


def test_search_card_mid_run(snap_compare: SnapCompare, make_app: MakeApp, tmp_path: Path) -> None:
    script, _best = search_script(tmp_path)
    runner = FakeRunner({"search": script}, hold={"search"})

    async def run(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        card = await _start_search(pilot)
        assert isinstance(card, SearchCard)
        await _wait(pilot, lambda: len(card.trials) == 5 and card.best_number == 3, 10)
        card.focus()
        await pilot.pause()
    assert snap_compare(make_app(SMALL, runner=runner), terminal_size=SIZE, run_before=run)


async def test_s_form_start_events_and_enter_opens_the_best_unsaved(make_app: MakeApp, tmp_path: Path) -> None:
    script, best = search_script(tmp_path)
    runner = FakeRunner({"search": script}, hold={"search"})
    app = make_app(SMALL, runner=runner, path=str(tmp_path / "small.toml"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("S")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, SearchFormScreen)
        # Validated like the other forms: the error names the field, Search stays disabled.
        for key, value, error in (("trials", "0", "trials must be at least 1"), ("max_flash", "256Q", "max flash"),
                                  ("data", str(tmp_path / "gone.npz"), "no such file"),
                                  ("max_latency_ms", "fast", "max latency ms: expected a number")):
            old = form.query_one(f"#s-{key}", Input).value
            form.query_one(f"#s-{key}", Input).value = value
            await pilot.pause()
            assert error in str(form.query_one("#form-error").render()), key
            assert form.query_one("#apply").disabled
            form.query_one(f"#s-{key}", Input).value = old
        form.query_one("#s-trials", Input).value = "8"
        form.query_one("#s-max_flash", Input).value = "1M"
        form.query_one("#s-objective", Select).value = "accuracy-flash"
        await pilot.pause()
        assert form.value() == SearchSettings(trials=8, max_flash=1024 * KIB, objective="accuracy-flash")
        await pilot.press("enter")
        await pilot.pause()
        ((kind, design, options),) = runner.started
        assert (kind, design) == ("search", SMALL)
        assert options["trials"] == 8 and options["max_flash"] == 1024 * KIB and options["board"] == app.board.name
        (card,) = app.jobs.cards
        assert isinstance(card, SearchCard)
        await _wait(pilot, lambda: card.best_number == 3 and len(card.trials) == 5, 10)
        assert card.counts == {"complete": 2, "infeasible": 2, "pruned": 1}
        assert card.finished_trials == 5 and card.fraction == pytest.approx(5 / 8)
        assert "5/8 done: 2 trained · 1 pruned · 2 infeasible" in str(card.query_one(".search-counts").render())
        assert "68.0%" in str(card.query_one(".search-best").render())
        assert card.query(PlotextPlot) and card.status == "running"
        card.focus()
        await pilot.press("v")
        assert card.axis == "ram"
        await pilot.press("enter")  # on the card: open the best, not edit a layer
        await pilot.pause()
        assert app.design == best and app.path is None and "trial 3" in app.status
        assert app.screen is app.main
        assert app.focused is app.table
        await pilot.press("u")  # the design that was being edited is one undo away
        assert app.design == SMALL
        runner.release(card.job_id)
        await _wait(pilot, lambda: card.status == "done", 10)


async def test_save_as_moved_to_w_and_the_keys_say_so(make_app: MakeApp) -> None:
    app = make_app(SMALL, runner=FakeRunner({}))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, PathScreen)
        await pilot.press("escape")
        await pilot.press("question_mark")
        await pilot.pause()
        keys = dict(app.screen.key_bindings)  # type: ignore[attr-defined]
        assert keys["S"] == "Search designs that fit the board" and keys["w"].startswith("Save as")
        await pilot.press("escape")
        await pilot.press("S")  # a runner without search jobs: a card says why, no form
        await pilot.pause()
        (card,) = app.jobs.cards
        assert card.status == "unavailable" and "search" in card.message


def test_settings_and_command_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        SearchSettings(epochs=0)
    with pytest.raises(ValueError, match="objective"):
        SearchSettings(objective="speed")
    settings = SearchSettings(trials=4, epochs=1, limit=64, max_ram=96 * KIB, residual=True, study="s1")
    options = {**settings.options(), "board": "NUCLEO-F446RE", "runtime": "tflm", "dtype": "int8",
               "compression": "high", "path": None}
    plan = plan_for(SMALL, options)
    f446 = load_catalogue(include_user=False).find("NUCLEO-F446RE")
    assert plan == SearchPlan("s1", 4, "NUCLEO-F446RE", f446.flash_bytes, min(f446.ram_bytes, 96 * KIB))
    args = command_args(plan, options, "seed.toml", str(tmp_path))
    assert args[:4] == ["search", "--json", "--from", "seed.toml"]
    pairs = dict(zip(args[4::2], args[5::2], strict=False))
    assert pairs["--study"] == "s1" and pairs["--runtime"] == "tflm" and pairs["--max-ram"] == str(96 * KIB)
    assert "--residual" in args and "--max-flash" not in args
    # Batch size, seed and storage only when given: a joined study keeps its own batch size.
    assert not {"--batch-size", "--seed", "--storage"} & set(args)
    given = {**options, "batch_size": 16, "seed": 5, "storage": "sqlite:///studies.db"}
    parser = argparse.ArgumentParser()
    add_search_command(parser.add_subparsers())
    parsed = parser.parse_args(command_args(plan, given, "seed.toml", str(tmp_path)))
    assert (parsed.batch_size, parsed.seed, parsed.storage, parsed.trials) == (16, 5, "sqlite:///studies.db", 4)
    with pytest.raises(ValueError, match="seed must be in"):
        SearchSettings(seed=-1)
    with pytest.raises(ValueError, match="batch size must be at least 1"):
        SearchSettings(batch_size=0)


async def test_the_search_form_passes_batch_size_seed_and_storage(make_app: MakeApp, tmp_path: Path) -> None:
    runner = FakeRunner({"search": [Finished(True, "ok")]})
    app = make_app(SMALL, runner=runner)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await _start_search(pilot, data="cifar10", batch_size="32", seed="9", storage="sqlite:///s.db")
        (_, _, options), = runner.started
        assert (options["batch_size"], options["seed"], options["storage"]) == (32, 9, "sqlite:///s.db")
        await pilot.press("S")
        await pilot.pause()
        form = app.screen
        form.query_one("#s-seed", Input).value = "x"
        await pilot.pause()
        assert "seed: expected an integer, received 'x'" in str(form.query_one("#form-error").render())
    # A board made in the app is not in the catalogue the command reads: said before anything starts.
    with pytest.raises(ValueError, match="custom board"):
        plan_for(SMALL, {**options, "board": "my board"})
    assert plan_for(SMALL, {**options, "study": ""}).study.startswith("Small-")


def test_translation_ends_with_the_best_design() -> None:
    plan = SearchPlan("s", 2, "NUCLEO-F446RE", 512 * KIB, 128 * KIB)
    translate = SearchTranslator(plan)
    trial = _trial(0, "complete", 10, 5, 0.5, design="t0.toml")
    assert translate(trial) == [trial]
    done = DoneEvent(trials=[], best={"design": "t0.toml", "accuracy": 0.5, "flash_bytes": 10 * KIB,
                                      "ram_bytes": 5 * KIB}, pareto=[])
    assert translate(done) == [done]
    (ok,) = translate(Ended(0))
    assert ok.ok and "50.0%" in ok.summary and "t0.toml" in ok.summary
    stopped = finished(plan, Ended(130, "stopped; continue with: ..."), None)
    assert not stopped.ok and "stopped" in stopped.summary and "'s'" in stopped.summary
    assert finished(plan, Ended(2, "--data x.npz: no such file"), None) == Finished(False, "--data x.npz: no such file")


async def test_a_custom_board_cannot_be_searched(make_app: MakeApp, tmp_path: Path) -> None:
    from dataclasses import replace

    board = replace(load_catalogue(include_user=False).default, name="my board")
    runner = ProcessRunner(runs_dir=tmp_path / "runs", jobs_dir=tmp_path / "jobs")
    app = make_app(SMALL, runner=runner, board=board)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await _start_search(pilot)
        (card,) = app.jobs.cards
        assert card.status == "unavailable" and "custom board" in card.message
        assert "custom board" in app.status


@pytest.mark.slow
async def test_a_real_search_through_the_real_runner(make_app: MakeApp, tmp_path: Path) -> None:
    """S with the real runner: the search command in a child process trains the first candidate, k stops it
    during the second, and Enter opens the best trial's design file."""
    data = write_tiny_npz(tmp_path / "tiny.npz")
    runner = ProcessRunner(runs_dir=tmp_path / "runs", jobs_dir=tmp_path / "jobs")
    app = make_app(SMALL, runner=runner)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        card = await _start_search(pilot, data=str(data), trials="3", epochs="1", study="ui")
        assert isinstance(card, SearchCard)
        await _wait(pilot, lambda: any(t.state == "complete" for t in card.trials) or card.status != "running",
                    120)
        assert card.status == "running", card.lines
        await pilot.press("k")
        await _wait(pilot, lambda: card.status != "running", 60)
        assert card.status == "failed" and "stopped" in card.lines[-1], card.lines
        assert card.best is not None and Path(card.best["design"]).is_file()
        assert Path(card.best["design"]).parent == tmp_path / "runs" / "search-ui"
        card.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.design == designfile.load(card.best["design"]) and app.path is None


def test_the_search_ui_loads_neither_optuna_nor_tensorflow() -> None:
    code = ("import sys, tui.jobs.search, tui.screens.search_form, tui.widgets.search_card, tui.jobs.process; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'optuna', 'tensorflow', 'keras', 'sqlalchemy'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.strip() == "[]"
