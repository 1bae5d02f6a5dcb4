"""The main screen at the sizes people use (100x30, 120x36, 160x48): every value shown whole, columns that do
not fit dropped and named, the footer keeping Quit and Keys; and ResNet-8's blocks as bracketed groups."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Footer, Input

from designer.design import Design
from presets import load_preset
from tui.app import DesignerApp
from tui.widgets.layer_table import COLUMNS

MakeApp = Callable[..., DesignerApp]
SnapCompare = Callable[..., bool]
SIZES = ((100, 30), (120, 36), (160, 48))


async def _settle(pilot: Pilot[Any]) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def _screen_text(app: DesignerApp) -> list[str]:
    """The screen as plain lines, as a terminal would show it."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False,
                      safe_box=False)
    console.print(app.screen._compositor.render_update(full=True))  # noqa: SLF001 - Textual's own screenshot path
    return console.export_text().splitlines()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_value_is_whole_and_quit_shows(make_app: MakeApp, model5: Design, size: tuple[int, int]) -> None:
    app = make_app(model5)
    async with app.run_test(size=size) as pilot:
        await _settle(pilot)
        table = app.table
        shown = [key for key, label in COLUMNS if label not in table.hidden]
        lines = _screen_text(app)
        pane = table.region
        visible = [line[pane.x:pane.right] for line in lines[pane.y:pane.bottom]]
        # Every shown cell of every row appears whole on its row, and the hidden ones are named.
        for row in range(table.row_count):
            text = visible[table.header_lines + row]
            for key in shown:
                assert table.cell(row, key) in text, (row, key, text)
        header = " ".join(visible[:table.header_lines])
        for label in table.hidden:
            assert label in header
        footer = lines[app.screen.query_one(Footer).region.y]
        assert "q Quit" in footer and "? Keys" in footer
        if size[0] >= 120:
            assert {"output", "params"} <= set(shown)
            # The case: 8x8x128, not a cut "8x8x12" (layer 12 is the first 128-filter conv).
            assert table.cell(12, "output") == "8x8x128"
            assert re.search(r"\b8x8x128\b", visible[table.header_lines + 12])
        if size[0] >= 160:
            assert not table.hidden


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_model5_at_each_size(snap_compare: SnapCompare, make_app: MakeApp, model5: Design,
                             size: tuple[int, int]) -> None:
    assert snap_compare(make_app(model5), terminal_size=size, run_before=_settle)


def test_resnet8_blocks_as_bracketed_groups(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    assert snap_compare(make_app(load_preset("resnet8")), terminal_size=(120, 36), run_before=_settle)


def test_residual_form_at_100x30(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    async def open_form(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        from tui.editing import Target

        pilot.app.table.select_target(Target((3,), "add"))  # type: ignore[attr-defined]
        await pilot.press("R")
        await pilot.pause()
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False  # a blinking cursor would make the snapshot flaky
        await _settle(pilot)
    assert snap_compare(make_app(load_preset("resnet8")), terminal_size=(100, 30), run_before=open_form)


async def test_a_resize_lays_the_columns_out_again(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(pilot)
        assert app.table.hidden == () and app.table.header_lines == 1
        await pilot.resize_terminal(120, 36)
        await _settle(pilot)
        assert app.table.hidden == ("MACC", "Weights", "Act. RAM", "Group") and app.table.header_lines == 2
        await pilot.resize_terminal(160, 48)
        await _settle(pilot)
        assert app.table.hidden == ()
