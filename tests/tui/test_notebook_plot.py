"""The notebook view's scatter (issue 12): accuracy against flash or RAM for presets and runs, with the
board's budget line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from designer.boards import load_catalogue
from designer.design import Design
from presets import preset_ids
from tests.tui.conftest import SIZE, write_run
from tui.app import DesignerApp
from tui.budget import Settings
from tui.notebook_rows import collect_rows
from tui.screens.notebook import NotebookScreen
from tui.widgets.accuracy_plot import AccuracyPlot, budget_kib, scatter_points

MakeApp = Callable[..., DesignerApp]


def test_points_are_the_presets_and_the_runs(tmp_path: Path) -> None:
    write_run(tmp_path / "runs" / "model5-20261201-100000", "Model5", 0.713)
    board = load_catalogue(include_user=False).default
    rows = collect_rows(board, Settings(), designs_dir=None, runs_dir=tmp_path / "runs")
    flash = scatter_points(rows, "flash")
    assert len(flash["notebook"]) == sum(row.notebook_acc is not None for row in rows)
    (run,) = flash["measured"]
    model5 = next(row for row in rows if row.name == "Model5")
    assert (run.name, run.accuracy) == ("Model5", 71.3) and model5.flash_bytes is not None
    assert run.kib == model5.flash_bytes / 1024
    ram = scatter_points(rows, "ram")
    assert model5.ram_bytes is not None and ram["measured"][0].kib == model5.ram_bytes / 1024
    assert budget_kib(board, "flash") == 2048 and budget_kib(board, "ram") == 192


async def test_p_shows_the_plot_and_x_switches_the_axis(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("N", "p")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, NotebookScreen) and len(screen.rows) == len(preset_ids()) + 1
        plot = screen.query_one(AccuracyPlot)
        assert plot.size.height >= 16 and plot.heading.startswith("accuracy (%) vs flash")
        assert len(plot.series["notebook"]) == sum(row.notebook_acc is not None for row in screen.rows)
        await pilot.press("x")
        assert screen.plot_axis == "ram" and plot.heading.startswith("accuracy (%) vs RAM")
        await pilot.press("p")
        await pilot.pause()
        assert not screen.query(AccuracyPlot)
