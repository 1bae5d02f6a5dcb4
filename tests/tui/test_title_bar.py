"""The title line (tui.widgets.title_bar): it follows the title as edits change it, cuts a long one with an
ellipsis, and its icon opens the command palette as Textual's Header did. The snapshots check that it draws
what Header drew, cell for cell."""

from __future__ import annotations

from collections.abc import Callable

from textual.command import CommandPalette

from designer.design import Design
from tests.tui.conftest import SIZE
from tui.app import DesignerApp
from tui.widgets.title_bar import PALETTE_TIP, TitleBar

MakeApp = Callable[..., DesignerApp]


def title_line(app: DesignerApp) -> str:
    return app.main.query_one(TitleBar).render_line(0).text


async def test_the_title_follows_edits(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        line = title_line(app)
        assert len(line) == SIZE[0] and line.startswith(" ⭘ ")
        assert "cnn-designer — Model5 — not saved" in line and "modified" not in line
        app.table.select_layer(0)
        await pilot.press("plus")
        await pilot.pause()
        assert "Model5 — not saved — modified" in title_line(app)
        await pilot.press("minus")
        await pilot.pause()
        assert "modified" not in title_line(app)


async def test_a_long_title_is_cut_with_an_ellipsis(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=(60, 30)) as pilot:
        await pilot.pause()
        app.sub_title = "a-very-long-design-name — /some/deep/folder/of/designs/and/more.toml — modified"
        await pilot.pause()
        line = title_line(app)
        # 8 cells of icon, 42 of title (cut, ending in the ellipsis), 10 blank: the 60 columns exactly.
        assert len(line) == 60 and line[8:50].startswith("cnn-designer — a-very") and line[49] == "…"
        assert line[50:] == " " * 10


async def test_the_icon_opens_the_command_palette(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        bar = app.main.query_one(TitleBar)
        await pilot.hover(TitleBar, offset=(1, 0))
        assert bar.tooltip == PALETTE_TIP
        await pilot.hover(TitleBar, offset=(40, 0))
        assert bar.tooltip is None
        await pilot.click(TitleBar, offset=(40, 0))  # the title itself does nothing
        await pilot.pause()
        assert not isinstance(app.screen, CommandPalette)
        await pilot.click(TitleBar, offset=(1, 0))
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)


async def test_the_icon_lights_up_under_the_mouse(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        bar = app.main.query_one(TitleBar)

        def icon_background() -> object:
            return next(iter(bar.render_line(0))).style.bgcolor

        plain = icon_background()
        await pilot.hover(TitleBar, offset=(1, 0))
        await pilot.pause()
        lit = icon_background()
        assert lit is not None and lit != plain
        assert next(iter(bar.render_line(0).crop(20, 21))).style.bgcolor == plain  # the title's cells are not lit
        await pilot.hover(TitleBar, offset=(40, 0))
        await pilot.pause()
        assert icon_background() == plain
