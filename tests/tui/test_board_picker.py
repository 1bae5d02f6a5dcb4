"""The board picker (issue 12): each board's flash and RAM margins for the current settings, in bytes and %,
the resource that does not fit named, and a sort by margin."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import DataTable

from designer.boards import fits
from designer.design import Design
from tests.tui.conftest import SIZE
from tui.app import DesignerApp
from tui.budget import Settings, estimate_with
from tui.screens.board_picker import BoardPickerScreen, margin_text, tightest_share

MakeApp = Callable[..., DesignerApp]


def test_margin_text() -> None:
    assert margin_text(788_582, 2 * 1024 * 1024) == "+770.1 KiB (+38%)"
    assert margin_text(-4_000, 147_456) == "-3.9 KiB (-3%)"


def rows(picker: BoardPickerScreen) -> dict[str, list[str]]:
    table = picker.query_one(DataTable)
    return {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)] for i in range(table.row_count)}


async def test_margins_for_the_current_settings(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("d", "b")  # int8: other margins than float32
        picker = app.screen
        assert isinstance(picker, BoardPickerScreen) and picker.settings == "xcubeai · int8 · compression n/a"
        fp = estimate_with(model5, Settings(dtype="int8"))
        shown = rows(picker)
        for board in app.boards:
            fit = fits(fp, board)
            _, verdict, flash, ram, *_ = shown[board.name]
            assert flash == margin_text(fit.flash_margin_bytes, board.flash_bytes)
            assert ram == margin_text(fit.ram_margin_bytes, board.ram_bytes)
            assert verdict == {(True, True): "fits", (False, True): "flash over", (True, False): "RAM over",
                               (False, False): "flash and RAM over"}[(fit.flash_ok, fit.ram_ok)]


async def test_sort_by_margin_and_pick(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("b", "m")
        picker = app.screen
        assert isinstance(picker, BoardPickerScreen)
        fp = estimate_with(model5, Settings())
        order = list(rows(picker))
        shares = [tightest_share(fits(fp, next(b for b in app.boards if b.name == name))) for name in order]
        assert shares == sorted(shares, reverse=True) and order != [b.name for b in app.boards]
        picker.query_one(DataTable).move_cursor(row=0)
        await pilot.press("enter")
        await pilot.pause()
        assert app.board.name == order[0]  # the row shown, not the catalogue's first
        await pilot.press("b", "m", "m")
        assert list(rows(app.screen)) == [b.name for b in app.boards]  # again: catalogue order
