"""Open anything from anywhere (issue 12): presets, recent files and the designs in the folder from the
command palette and the open dialog (with completion), and Enter in the notebook view."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.command import CommandPalette
from textual.widgets import DataTable, Input, OptionList

from designer.designfile import load, save
from presets import load_preset, preset_ids
from tests.tui.conftest import SIZE
from tui.app import DesignerApp
from tui.screens.notebook import NotebookScreen
from tui.screens.open_dialog import OpenScreen

MakeApp = Callable[..., DesignerApp]


async def test_the_command_palette_opens_a_preset(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.design.name == "untitled"
        await pilot.press("ctrl+p", *"model5")
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        for _ in range(50):  # the palette searches in a worker
            await pilot.pause(0.05)
            options = palette.query_one(OptionList)
            if options.option_count:
                break
        first = str(options.get_option_at_index(0).prompt)
        assert "Open preset Model5" in first
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.design == load_preset("model5") and app.path is None  # a copy: presets are read-only
        assert "opened a copy of preset model5" in app.status


async def test_the_open_dialog_lists_presets_recent_and_local_designs(make_app: MakeApp, tmp_path: Path) -> None:
    designs = tmp_path / "designs"
    designs.mkdir()
    save(load_preset("model2"), designs / "mine.toml")
    (designs / "net.keras").write_bytes(b"")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("o")
        dialog = app.screen
        assert isinstance(dialog, OpenScreen)
        kinds = [c.kind for c in dialog.choices]
        assert kinds.count("preset") == len(preset_ids()) and kinds.count("design") == 1
        assert [c.spec for c in dialog.choices if c.kind == "model"] == [str(designs / "net.keras")]
        field = dialog.query_one(Input)
        await pilot.press(*"model1")
        assert dialog.query_one(OptionList).option_count == len([p for p in preset_ids() if "model1" in p])
        await pilot.press("3", "enter")
        await pilot.pause()
        assert app.design == load_preset("model13")
        # A design file: picked from the list, then remembered as recent.
        await pilot.press("o")
        field = app.screen.query_one(Input)
        field.value = "mine"
        await pilot.pause()
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.design == load(designs / "mine.toml") and app.path == str(designs / "mine.toml")
        await pilot.press("o")
        recent = [c for c in app.screen.choices if c.kind == "recent"]
        assert [Path(c.spec) for c in recent] == [(designs / "mine.toml").resolve()]
        assert [c.kind for c in app.screen.choices].count("design") == 0  # listed once, as recent


async def test_the_open_dialog_completes_a_preset_id(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("o", *"MODEL7")
        await pilot.pause()
        field = app.screen.query_one(Input)
        assert field._suggestion.lower() == "model7"
        await pilot.press("enter")
        await pilot.pause()
        assert app.design == load_preset("model7")


async def test_enter_in_the_notebook_opens_the_row_as_a_copy(make_app: MakeApp, tmp_path: Path) -> None:
    designs = tmp_path / "designs"
    designs.mkdir()
    save(load_preset("model2"), designs / "mine.toml")
    app = make_app(load_preset("model5"), path=str(tmp_path / "m5.toml"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("N")
        await pilot.pause()
        assert isinstance(app.screen, NotebookScreen)
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=3)  # model3
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, NotebookScreen)
        assert app.design == load_preset("model3") and app.path is None and not app.dirty
        await pilot.press("u")  # the design before is one undo away
        assert app.design == load_preset("model5")
        await pilot.press("N")
        await pilot.pause()
        app.screen.query_one(DataTable).move_cursor(row=len(preset_ids()))  # the saved design, after the presets
        await pilot.press("enter")
        await pilot.pause()
        assert app.design == load(designs / "mine.toml") and app.path is None  # an unsaved copy
