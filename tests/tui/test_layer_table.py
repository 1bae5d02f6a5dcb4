"""The layer table (a Line-API widget): keys move the cursor the app's edits apply to, rows follow edits."""

from __future__ import annotations

from collections.abc import Callable

from designer.design import Design
from designer.generate import deep_design
from tests.tui.conftest import SIZE
from tui.app import DesignerApp
from tui.screens.layer_form import LayerFormScreen

MakeApp = Callable[..., DesignerApp]


async def test_keys_move_the_cursor_and_keep_it_in_view(make_app: MakeApp) -> None:
    design = deep_design(100)
    app = make_app(design)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.table
        last = len(design.layers) - 1
        assert table.row_count == len(design.layers) and table.cursor_row == 0
        await pilot.press("down", "down")
        assert table.cursor_row == app.index == 2
        await pilot.press("up", "up", "up")
        assert table.cursor_row == 0  # clamped at the top
        page = table.scrollable_content_region.height - table.header_lines  # rows in view: below the header
        await pilot.press("pagedown")
        assert table.cursor_row == page
        assert table.scroll_y <= table.cursor_row < table.scroll_y + page
        await pilot.press("pageup")
        assert table.cursor_row == 0 and table.scroll_y == 0
        await pilot.press("end")
        assert table.cursor_row == last and table.scroll_y == table.max_scroll_y
        await pilot.press("pagedown")
        assert table.cursor_row == last
        await pilot.press("home")
        assert table.cursor_row == 0 and table.scroll_y == 0
        table.select_layer(10_000)
        assert table.cursor_row == last


async def test_enter_and_click_open_the_layer_form(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("down", "enter")
        assert isinstance(app.screen, LayerFormScreen) and app.index == 1
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, LayerFormScreen)
        await pilot.click(app.table, offset=(5, 4))  # line 0 is the header: line 4 is layer 3
        await pilot.pause()
        assert isinstance(app.screen, LayerFormScreen) and app.index == 3


async def test_rows_follow_edits_and_the_cursor_stays(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.table.select_layer(6)
        await pilot.press("minus")
        await pilot.pause()
        assert app.table.cell(6, "config").startswith("56 3x3") and app.table.cursor_row == 6
        assert app.table.cell(6, "params") == f"{3 * 3 * 32 * 56 + 56:,}"
        await pilot.press("x")  # delete conv 6: the rows below move up, the cursor stays on row 6
        await pilot.pause()
        assert app.table.row_count == 21 and app.table.cursor_row == 6
        assert app.table.cell(6, "kind") == app.design.layers[6].kind and app.table.cell(20, "index") == "20"
        flatten = [layer.kind for layer in app.design.layers].index("flatten")
        app.table.select_layer(flatten)
        await pilot.press("x")  # the dense after it now fails shape inference: ✗, and no figures anywhere
        await pilot.pause()
        assert app.table.cell(flatten, "mark") == "✗" and app.table.cell(flatten, "kind") == "dense"
        assert {app.table.cell(row, "params") for row in range(app.table.row_count)} == {"–"}


async def test_scrolled_sideways_the_index_and_marks_stay(make_app: MakeApp, model5: Design) -> None:
    # Only when index, marks and kind alone overflow the pane does the table scroll sideways.
    app = make_app(model5)
    async with app.run_test(size=(72, 30)) as pilot:
        await pilot.pause()
        table = app.table
        assert table.virtual_size.width > table.size.width
        table.scroll_to(x=4, animate=False, immediate=True)
        await pilot.pause()
        line = "".join(s.text for s in table.render_line(table.header_lines + 0))
        assert line.startswith("  0 ▲") and "conv2d" not in line  # the index and ▲ stay, the kind scrolled
