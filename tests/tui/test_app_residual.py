"""Residual blocks in the app: the cursor over every row of a block, Enter on an inner layer or on the block,
the block as a unit (delete, move, duplicate), adding one from the add menu, and undo/redo of each."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.widgets import Input, OptionList, Select

import tui.budget
from designer.design import Design, DesignError, analyze
from designer.layers import MAIN, SHORTCUT, Residual, item_at
from presets import load_preset
from tests.tui.conftest import SIZE
from tui.app import DesignerApp
from tui.budget import human_bytes
from tui.editing import Target
from tui.screens.layer_form import LayerFormScreen
from tui.screens.residual_form import ResidualEditScreen, ResidualFormScreen

MakeApp = Callable[..., DesignerApp]


@pytest.fixture
def resnet8() -> Design:
    """The ResNet-8 preset."""
    return load_preset("resnet8")


def _row_of(app: DesignerApp, target: Target) -> int:
    return [app.table.target_at(y) for y in range(app.table.row_count)].index(target)


async def test_cursor_moves_over_every_row_and_the_peak_counts_the_shortcut(make_app: MakeApp,
                                                                            resnet8: Design) -> None:
    app = make_app(resnet8)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rows = app.table.row_count
        assert rows == 30
        seen = [app.target]
        for _ in range(rows + 2):
            await pilot.press("down")
            seen.append(app.target)
        assert len(set(seen)) == rows and seen[-1] == Target((8,))  # every row once, clamped at the end
        assert seen[3] == Target((3,), "block") and seen[9] == Target((3,), "identity")
        assert seen[10] == Target((3,), "add") and seen[17] == Target((4, SHORTCUT, 0))
        assert app.table.cell(_row_of(app, Target((4, SHORTCUT, 0))), "params") == "544"
        await pilot.press("r")  # TFLM: its planner's live bytes per row, the identity shortcut held across stack 1
        await pilot.pause()
        footprint = app.budget.footprint  # type: ignore[union-attr]
        assert footprint is not None and footprint.runtime == "tflm"
        peak = max(footprint.layers, key=lambda lf: lf.live_bytes)
        row = [y for y in range(rows) if "▲" in app.table.cell(y, "mark")]
        assert len(row) == 1 and app.table.target_at(row[0]).path[0] == 3  # inside stack 1
        assert app.table.cell(row[0], "act") == human_bytes(peak.live_bytes)


async def test_a_design_the_estimator_refuses_still_shows_its_analysis(make_app: MakeApp, resnet8: Design,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def refuses(design: Design, **options: object) -> object:
        raise DesignError("residual blocks are not supported by the X-CUBE-AI estimator yet")
    monkeypatch.setattr(tui.budget, "estimate", refuses)
    app = make_app(resnet8)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.status == "no estimate: residual blocks are not supported by the X-CUBE-AI estimator yet"
        # Output and params from the analysis; RAM from the lowering's live tensors: 3 x 64 KiB in stack 1.
        row = _row_of(app, Target((3, MAIN, 1)))
        assert app.table.cell(row, "params") == "64" and app.table.cell(row, "weights") == "–"
        assert app.table.cell(row, "act") == "192.0 KiB" and app.table.cell(row, "mark") == "▲"
        app.table.select_target(Target((4, MAIN, 0)))
        await pilot.press("minus")
        await pilot.pause()
        assert app.status.startswith("layer 4m0: filters 32 → 24 · no estimate: residual blocks")


async def test_enter_on_an_inner_layer_edits_it_in_place_and_undo_restores(make_app: MakeApp,
                                                                          resnet8: Design) -> None:
    app = make_app(resnet8)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.table.select_target(Target((4, MAIN, 0)))
        await pilot.press("enter")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, LayerFormScreen) and form.index == (4, MAIN, 0)
        form.query_one("#f-filters", Input).value = "48"
        await pilot.press("enter")
        await pilot.pause()
        assert item_at(app.design.layers, (4, MAIN, 0)).filters == 48  # type: ignore[union-attr]
        assert app.target == Target((4, MAIN, 0)) and app.status == "layer 4m0 changed"
        assert analyze(app.design).params_total == 78_666 + 9 * 16 * 16 + 16 + 4 * 16 + 9 * 16 * 32
        # A change that breaks the block is refused inline, naming the block.
        app.table.select_target(Target((3, MAIN, 3)))
        await pilot.press("enter")
        await pilot.pause()
        app.screen.query_one("#f-filters", Input).value = "24"
        await pilot.pause()
        assert "layer 3 (residual)" in str(app.screen.query_one("#form-error").render())
        await pilot.press("escape", "u")
        await pilot.pause()
        assert app.design.layers == resnet8.layers
        await pilot.press("U")
        await pilot.pause()
        assert item_at(app.design.layers, (4, MAIN, 0)).filters == 48  # type: ignore[union-attr]


async def test_a_block_deletes_moves_and_duplicates_as_a_unit(make_app: MakeApp, resnet8: Design) -> None:
    app = make_app(resnet8)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.table.select_target(Target((4,), "add"))
        await pilot.press("right_square_bracket")  # the block moves down past stack 3, cursor on its add row
        await pilot.pause()
        assert app.design.layers[5] == resnet8.layers[4] and app.target == Target((5,), "add")
        await pilot.press("u")
        app.table.select_target(Target((3,), "block"))
        await pilot.press("D")
        await pilot.pause()
        assert app.design.layers[3] == app.design.layers[4] == resnet8.layers[3]
        assert app.target == Target((4,), "block") and app.status.startswith("block 3 duplicated")
        await pilot.press("x")
        await pilot.pause()
        assert app.design.layers == resnet8.layers and app.status.startswith("block 4 deleted")
        app.table.select_target(Target((3,), "identity"))
        await pilot.press("x")  # an identity shortcut is no layer
        await pilot.pause()
        assert app.design.layers == resnet8.layers and "identity shortcut is no layer" in app.status
        app.table.select_target(Target((3, MAIN, 2)))
        await pilot.press("x")  # inside a block: only that layer goes
        await pilot.pause()
        assert len(app.design.layers[3].main) == 4 and app.target == Target((3, MAIN, 2))  # type: ignore[union-attr]


async def test_enter_on_a_block_edits_its_shortcut_and_activation(make_app: MakeApp, resnet8: Design) -> None:
    app = make_app(resnet8)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.table.select_target(Target((3,), "identity"))
        await pilot.press("enter")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, ResidualEditScreen)
        shortcut = form.query_one("#r-shortcut", Select)
        assert [v for _, v in shortcut._options] == ["keep", "projection"]  # noqa: SLF001
        shortcut.value = "projection"
        form.query_one("#r-activation", Select).value = "relu6"
        await pilot.pause()
        await pilot.click("#apply")
        await pilot.pause()
        block = app.design.layers[3]
        assert isinstance(block, Residual) and block.activation == "relu6"
        assert [(i.kind, getattr(i, "filters", None)) for i in block.shortcut] == [("conv2d", 16), ("batchnorm", None)]
        assert analyze(app.design).params_total == 78_666 + 16 * 16 + 16 + 4 * 16
        # Stack 2 halves the map: no identity offered, its own shortcut kept by default.
        app.table.select_target(Target((4,), "block"))
        await pilot.press("enter")
        await pilot.pause()
        options = [v for _, v in app.screen.query_one("#r-shortcut", Select)._options]  # noqa: SLF001
        assert options == ["keep", "projection"]
        await pilot.press("escape")


async def test_add_a_residual_block_from_the_menu(make_app: MakeApp, resnet8: Design) -> None:
    app = make_app(resnet8)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.table.select_target(Target((3,), "add"))  # below stack 1: input 32x32x16
        await pilot.press("a")
        await pilot.pause()
        menu = app.screen.query_one(OptionList)
        menu.highlighted = [o.id for o in menu.options].index("residual")
        await pilot.press("enter")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, ResidualFormScreen)
        shortcut = form.query_one("#r-shortcut", Select)
        assert form.query_one("#r-filters", Input).value == "16" and shortcut.value == "identity"
        form.query_one("#r-strides", Input).value = "2"  # the map halves: only a projection is offered now
        await pilot.pause()
        assert [v for _, v in shortcut._options] == ["projection"] and shortcut.value == "projection"  # noqa: SLF001
        # ...and the head's 8x8 average pool no longer fits: refused inline, naming it.
        assert "avgpool" in str(form.query_one("#form-error").render()) and form.query_one("#apply").disabled
        form.query_one("#r-strides", Input).value = "1"
        form.query_one("#r-filters", Input).value = "24"  # 24 channels out of 16 in: still a projection
        await pilot.pause()
        assert [v for _, v in shortcut._options] == ["projection"]  # noqa: SLF001
        await pilot.click("#apply")
        await pilot.pause()
        block = app.design.layers[4]
        assert isinstance(block, Residual) and app.target == Target((4,), "block")
        assert [i.kind for i in block.shortcut] == ["conv2d", "batchnorm"] and block.group == "residual 1"
        added = (3 * 3 * 16 * 24 + 24) + (3 * 3 * 24 * 24 + 24) + 2 * 4 * 24 + (16 * 24 + 24) + 4 * 24
        grown = 3 * 3 * 8 * 32 + 8 * 32  # stack 2 now reads 24 channels: its first conv and its projection
        assert analyze(app.design).params_total == 78_666 + added + grown
        await pilot.press("u")
        await pilot.pause()
        assert app.design.layers == resnet8.layers


async def test_a_layer_added_on_a_block_row_goes_into_that_path(make_app: MakeApp, resnet8: Design) -> None:
    app = make_app(resnet8)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()

        async def add(kind: str) -> None:
            await pilot.press("a")
            await pilot.pause()
            menu = app.screen.query_one(OptionList)
            menu.highlighted = [o.id for o in menu.options].index(kind)
            await pilot.press("enter")
            await pilot.pause()
        app.table.select_target(Target((4, MAIN, 4)))  # the last layer of stack 2's main path
        await add("dropout")
        assert app.target == Target((4, MAIN, 5)) and app.status.startswith("dropout added at 4m5")
        assert item_at(app.design.layers, (4, MAIN, 5)).group == "stack 2"
        app.table.select_target(Target((3,), "identity"))  # stack 1's identity: the shortcut gets a layer
        await add("batchnorm")
        assert app.target == Target((3, SHORTCUT, 0)) and [i.kind for i in app.design.layers[3].shortcut] == [
            "batchnorm"]  # type: ignore[union-attr]
        app.table.select_target(Target((5,), "block"))  # a block's header: first in its main path
        await add("activation")
        assert app.target == Target((5, MAIN, 0))
        assert analyze(app.design).params_total == 78_666 + 4 * 16  # only the batchnorm has weights
        await pilot.press("u", "u", "u")
        await pilot.pause()
        assert app.design.layers == resnet8.layers
