"""Pilot tests of boards, files, recovery, the notebook view, jobs, help, the palette and quitting."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from textual.widgets import DataTable, Input

from designer.design import Design
from designer.designfile import load
from designer.layers import Conv2D
from presets import preset_ids
from tests.tui.conftest import SIZE, write_run
from tui.app import DesignerApp
from tui.editing import bump
from tui.files.recovery import RecoveryFile
from tui.jobs.events import FakeRunner, Finished, Log, Metric, Progress
from tui.screens.board_picker import BoardPickerScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.custom_board import CustomBoardScreen
from tui.screens.help import HelpScreen
from tui.screens.notebook import NotebookScreen
from tui.screens.path_prompt import PathScreen
from tui.widgets.job_card import JobCard

MakeApp = Callable[..., DesignerApp]

TRAIN_SCRIPT = [Progress(0.25, "epoch 1/4"), Metric("val_accuracy", 1, 0.41), Log("loss 1.52"),
                Progress(0.5, "epoch 2/4"), Metric("val_accuracy", 2, 0.55), Finished(True, "accuracy 55.0 %")]
EXPORT_SCRIPT = [Progress(0.3, "converting"), Log("stedgeai: error: cannot open model"),
                 Finished(False, "stedgeai failed (exit 1)")]


async def test_board_picker_switches_board_and_ram_goes_red(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("b")
        picker = app.screen
        assert isinstance(picker, BoardPickerScreen)
        table = picker.query_one(DataTable)
        verdicts = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)}
        assert len(verdicts) == len(app.boards)
        assert verdicts["NUCLEO-F446RE"] == "flash and RAM over" and verdicts["32L4R9IDISCOVERY"] == "fits"
        table.move_cursor(row=[b.name for b in app.boards].index("NUCLEO-F446RE"))
        await pilot.press("enter")
        await pilot.pause()
        assert app.board.name == "NUCLEO-F446RE"
        assert app.budget is not None
        ram = next(bar for bar in app.budget.bars if bar.name == "RAM")
        assert ram.level == "over" and app.budget.over_budget and app.budget.fits is False
        assert app.design == model5  # a board is not an edit


async def test_custom_board(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("b", "c")
        form = app.screen
        assert isinstance(form, CustomBoardScreen)
        form.query_one("#c-name", Input).value = "my board"
        form.query_one("#c-ram_kib", Input).value = "-1"
        await pilot.pause()
        assert "must be positive" in str(form.query_one("#form-error").render())
        form.query_one("#c-ram_kib", Input).value = "4096"
        form.query_one("#c-flash_kib", Input).value = "8192"
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.board.name == "my board" and app.board.ram_bytes == 4096 * 1024
        assert app.budget is not None and app.budget.fits is True


async def test_save_then_open(make_app: MakeApp, model5: Design, tmp_path: Path) -> None:
    app = make_app(model5)
    target = tmp_path / "mine.toml"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.table.select_layer(6)
        await pilot.press("minus")
        await app.workers.wait_for_complete()
        assert app.recovery.read() is not None  # every edit autosaves
        await pilot.press("s")
        assert isinstance(app.screen, PathScreen)
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert load(target).layers == app.design.layers and not app.dirty and app.path == str(target)
        assert app.recovery.read() is None  # saved: nothing to recover
        await pilot.press("minus", "s")  # second save goes straight to the file
        await pilot.pause()
        assert load(target).layers[6].filters == 48  # type: ignore[attr-defined]
        bad = tmp_path / "bad.toml"
        bad.write_text("[[layers]]\nkind = 'conv9d'\n")
        app.open_path(str(bad))
        assert "unknown kind 'conv9d'" in app.status and app.path == str(target)
        app.open_path(str(target))
        assert app.design.layers == load(target).layers


async def test_recovery_is_offered_and_restored(make_app: MakeApp, model5: Design, tmp_path: Path) -> None:
    edited = bump(model5, 6, -1)
    RecoveryFile(tmp_path / "state").write(edited, "mine.toml")
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("r")
        await pilot.pause()
        assert app.design.layers == edited.layers and app.path == "mine.toml" and app.dirty
        await pilot.press("u")
        assert app.design == model5


async def test_recovery_can_be_declined(make_app: MakeApp, model5: Design, tmp_path: Path) -> None:
    RecoveryFile(tmp_path / "state").write(bump(model5, 6, -1), None)
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        assert app.design == model5 and RecoveryFile(tmp_path / "state").read() is None


async def test_quit_with_unsaved_changes_asks(make_app: MakeApp, model5: Design, tmp_path: Path) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("minus")  # layer 0 is a conv
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("c")
        await pilot.pause()
        assert app.is_running and not isinstance(app.screen, ConfirmScreen)
        await pilot.press("q", "d")
        await pilot.pause()
    assert not app.is_running
    assert RecoveryFile(tmp_path / "state").read() is None


async def test_quit_clean_exits_at_once(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    assert not app.is_running


async def test_notebook_view_sorts_and_exports(make_app: MakeApp, model5: Design, tmp_path: Path) -> None:
    write_run(tmp_path / "runs" / "Model2-1", "Model2", 0.7712)
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("N")
        view = app.screen
        assert isinstance(view, NotebookScreen)
        assert len(view.rows) == len(preset_ids()) + 1  # the presets + the current design
        model2 = next(r for r in view.rows if r.name == "Model2")
        assert model2.measured_acc is not None and abs(model2.measured_acc - 77.12) < 1e-9
        await pilot.press("3")  # params, ascending
        params = [r.params for r in view.rows if r.params is not None]
        assert params == sorted(params)
        await pilot.press("3")
        assert [r.params for r in view.rows if r.params is not None] == sorted(params, reverse=True)
        await pilot.press("m")
        assert isinstance(app.screen, PathScreen)
        out = tmp_path / "nb.md"
        app.screen.query_one(Input).value = str(out)
        await pilot.press("enter")
        await pilot.pause()
        text = out.read_text()
        assert "| Design | Source | Params | Flash | RAM | Fits |" in text and "| Model5 | preset |" in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, NotebookScreen)


async def test_jobs_run_through_the_runner(make_app: MakeApp, model5: Design) -> None:
    runner = FakeRunner({"train": TRAIN_SCRIPT, "export": EXPORT_SCRIPT})
    app = make_app(model5, runner=runner)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        app.screen.query_one("#t-data", Input).value = "cifar10"  # offline and uncached: not offered
        await pilot.press("enter", "e")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        train, export = app.jobs.cards
        assert (train.kind, train.status, export.kind, export.status) == ("train", "done", "export", "failed")
        assert train.fraction == 1.0 and train.metric_values == [0.41, 0.55]
        assert "loss 1.52" in train.lines and "stedgeai failed (exit 1)" in export.lines
        kind, design, options = runner.started[0]
        assert kind == "train" and design == model5 and options["board"] == app.board.name


async def test_missing_runner_says_so_plainly(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)  # the default runner: nothing installed
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        (card,) = app.jobs.query(JobCard)
        assert card.status == "unavailable" and "no train runner" in card.lines[0]
        assert "no train runner" in app.status


async def test_help_overlay_and_command_palette(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for title in ("Edit layer", "Add layer", "Add conv group (block)", "Delete layer", "Duplicate layer",
                      "Move layer up", "Move layer down", "Filters/units +8", "Filters/units -8",
                      "Toggle batchnorm after the layer", "Undo", "Redo", "Board", "Save", "Save as",
                      "Open a design file", "Notebook view", "Train", "Export", "Keys"):
            assert title in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Filters/units -8")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.3)
        layer = app.design.layers[0]
        assert isinstance(layer, Conv2D) and layer.filters == 24


def test_no_tensorflow_after_start_and_edits(tmp_path: Path) -> None:
    # A fresh interpreter: other tests in this process import TensorFlow on purpose.
    script = textwrap.dedent(f"""
        import asyncio, os, sys
        os.environ["CNN_DESIGNER_STATE_DIR"] = {str(tmp_path)!r}
        from presets import load_preset
        from tui.app import create_app
        from tui.jobs.events import FakeRunner, Finished

        async def main():
            app = create_app(load_preset("model5"), runner=FakeRunner({{"train": [Finished(True)]}}))
            async with app.run_test(size=(160, 48)) as pilot:
                await pilot.pause()
                started = [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")]
                await pilot.press("minus", "n", "x", "D", "u", "d", "r", "t")
                await app.workers.wait_for_complete()
                await pilot.pause()
                edited = [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")]
                print(len(app.design.layers), started, edited)
                assert not started and not edited
        asyncio.run(main())
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[0] == "20"  # 22, minus a BN and a deleted conv

