"""Pilot tests of the designer's editing actions: each asserts on the design value and the counters."""

from __future__ import annotations

import gc
from collections.abc import Callable

from textual.geometry import Region
from textual.widgets import Input, OptionList, Select

from designer.boards import load_catalogue
from designer.design import Design, analyze
from designer.layers import BatchNorm, Conv2D, Dense, MaxPool
from tests.tui.conftest import SIZE
from tui.app import DesignerApp
from tui.screens.add_menu import AddMenuScreen
from tui.screens.block_form import BlockFormScreen
from tui.screens.layer_form import LayerFormScreen
from tui.widgets.budget_panel import BudgetPanel, render_budget

MakeApp = Callable[..., DesignerApp]


def params(app: DesignerApp) -> int:
    assert app.budget is not None and app.budget.footprint is not None
    return app.budget.footprint.params_total


async def test_model5_loads_with_every_counter(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.table.row_count == len(model5.layers) == 22
        assert app.budget is not None and not app.budget.stale
        assert [bar.name for bar in app.budget.bars] == ["Flash", "RAM"]  # no latency budget: no latency row
        assert params(app) == 552_362 == analyze(model5).params_total
        marks = {i: app.table.cell(i, "mark") for i in range(22)}
        fp = app.budget.footprint
        assert fp is not None and fp.peak_layer is not None and fp.heaviest_layer is not None
        assert "▲" in marks[fp.peak_layer] and "◆" in marks[fp.heaviest_layer]
        panel_text = str(app.main.query_one(BudgetPanel).render())
        assert app.design.notebook is not None  # unmodified preset: notebook figures shown
        assert panel_text is not None
        assert "Model5" in app.sub_title and "modified" not in app.sub_title


async def test_edit_form_changes_filters_as_typed(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = params(app)
        app.table.select_layer(6)
        await pilot.press("enter")
        assert isinstance(app.screen, LayerFormScreen)
        field = app.screen.query_one("#f-filters", Input)
        field.cursor_position = len(field.value)
        await pilot.press("backspace", "backspace", "4", "8")
        assert field.value == "48" and app.screen.error == ""
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, LayerFormScreen)
        layer = app.design.layers[6]
        assert isinstance(layer, Conv2D) and layer.filters == 48
        assert params(app) == analyze(app.design).params_total < before
        assert app.design.notebook is None and app.dirty and "modified" in app.sub_title


async def test_edit_form_refuses_invalid_values(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.table.select_layer(21)  # the final dense(10)
        await pilot.press("enter")
        form = app.screen
        assert isinstance(form, LayerFormScreen)
        form.query_one("#f-units", Input).value = "5"
        await pilot.pause()
        assert "classes=10" in form.error
        await pilot.press("enter")  # refused: the form stays open, the design is unchanged
        await pilot.pause()
        assert app.screen is form and app.design == model5
        form.query_one("#f-units", Input).value = "ten"
        await pilot.pause()
        assert "expected an integer" in form.error
        form.query_one("#f-units", Input).value = "10"
        form.query_one("#f-activation", Select).value = "sigmoid"
        await pilot.pause()
        assert form.error == ""
        await pilot.press("escape")  # cancel: nothing applied
        await pilot.pause()
        assert app.design == model5


async def test_kernel_too_big_is_a_shape_error(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.table.select_layer(12)  # conv on 8x8
        await pilot.press("enter")
        form = app.screen
        assert isinstance(form, LayerFormScreen)
        form.query_one("#f-padding", Select).value = "valid"
        form.query_one("#f-kernel", Input).value = "9"
        await pilot.pause()
        assert "Computed output size would be zero or negative" in form.error
        await pilot.press("escape")


async def test_add_layer_from_menu_and_delete(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.table.select_layer(2)
        await pilot.press("a")
        assert isinstance(app.screen, AddMenuScreen)
        options = app.screen.query_one(OptionList)
        options.highlighted = [options.get_option_at_index(i).id for i in range(options.option_count)].index(
            "maxpool")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.design.layers[3], MaxPool) and app.design.layers[3].group == "conv group 1"
        assert len(app.design.layers) == 23
        assert app.budget is not None and app.budget.footprint is not None
        assert app.budget.footprint.macc < analyze(model5).macc  # a pool early shrinks every later layer
        app.table.select_layer(20)  # dense(128)
        assert isinstance(app.design.layers[20], Dense)
        with_dense = params(app)
        await pilot.press("x")
        await pilot.pause()
        assert len(app.design.layers) == 22
        assert not any(isinstance(x, Dense) and x.units == 128 for x in app.design.layers)
        assert params(app) < with_dense


async def test_delete_flatten_shows_error_and_keeps_last_counters(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.table.select_layer(18)
        await pilot.press("x")
        await pilot.pause()
        budget = app.budget
        assert budget is not None and budget.stale and budget.error is not None
        assert "dense needs a flat input" in budget.error and budget.error_index == 18
        assert budget.footprint is not None and budget.footprint.params_total == 552_362  # last valid, greyed
        assert "-stale" in app.main.query_one(BudgetPanel).classes
        assert "dense needs a flat input" in app.status
        assert app.table.cell(18, "mark") == "✗"
        await pilot.press("u")
        await pilot.pause()
        assert app.design == model5 and app.budget is not None and not app.budget.stale


async def test_move_duplicate_bump_toggle_undo_redo(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.table.select_layer(6)
        await pilot.press("minus", "minus")
        assert app.design.layers[6].filters == 48  # type: ignore[attr-defined]
        assert "64 → 56" not in app.status and "56 → 48" in app.status
        await pilot.press("plus")
        assert app.design.layers[6].filters == 56  # type: ignore[attr-defined]
        await pilot.press("n")  # conv 6 is followed by BN: it goes
        assert not isinstance(app.design.layers[7], BatchNorm)
        await pilot.press("n")
        assert isinstance(app.design.layers[7], BatchNorm)
        await pilot.press("D")
        assert app.design.layers[7] == app.design.layers[6] and app.table.cursor_row == 7
        n = len(app.design.layers)
        await pilot.press("shift+down")
        assert app.table.cursor_row == 8 and isinstance(app.design.layers[8], Conv2D)
        await pilot.press("left_square_bracket")
        assert app.table.cursor_row == 7 and len(app.design.layers) == n
        after = app.design
        await pilot.press("u", "u", "u")  # move up, move down, duplicate
        assert len(app.design.layers) == n - 1
        await pilot.press("U", "U", "U")
        assert app.design == after
        for _ in range(20):
            await pilot.press("u")
        assert app.design == model5 and not app.dirty
        await pilot.press("u")
        assert "nothing to undo" in app.status
        assert params(app) == 552_362


async def test_add_block(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.table.select_layer(17)
        await pilot.press("g")
        form = app.screen
        assert isinstance(form, BlockFormScreen)
        form.query_one("#b-convs", Input).value = "x"
        await pilot.pause()
        assert "expected an integer" in str(form.query_one("#form-error").render())
        form.query_one("#b-convs", Input).value = "1"
        form.query_one("#b-filters", Input).value = "16"
        await pilot.press("enter")
        await pilot.pause()
        kinds = [layer.kind for layer in app.design.layers[18:22]]
        assert kinds == ["conv2d", "batchnorm", "maxpool", "spatial_dropout"]
        assert app.design.layers[18].group == "conv group 4"
        assert params(app) == analyze(app.design).params_total


async def test_settings_keys_change_the_estimate(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.budget is not None and app.budget.footprint is not None
        float_flash = app.budget.footprint.flash_bytes
        await pilot.press("d")
        assert app.settings.dtype == "int8" and app.budget.footprint.dtype == "int8"
        assert app.budget.footprint.flash_bytes < float_flash
        await pilot.press("r")
        assert app.settings.runtime == "tflm" and app.budget.footprint.runtime == "tflm"
        await pilot.press("r", "c")
        assert app.settings.runtime == "xcubeai" and app.settings.compression == "none"
        assert app.budget.footprint.compression == "none"
        assert app.design == model5  # settings are not edits


async def test_budget_panel_repaints_only_changed_lines_and_stays_right(make_app: MakeApp, model5: Design) -> None:
    # The panel caches each line's strips and repaints only the lines an edit changed: after each edit, what it
    # paints (through Textual's per-line cache, as the screen gets it) must equal a full repaint, and read as
    # the panel's content for the new state.
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.main.query_one(BudgetPanel)
        app.table.select_layer(6)
        small = load_catalogue(include_user=False).find("NUCLEO-F446RE")  # model5 does not fit it
        for key in ("plus", "plus", "minus", "small board", "plus", "minus", "default board", "plus", "d", "plus"):
            if key.endswith("board"):
                app.set_board(small if key == "small board" else load_catalogue(include_user=False).default)
            else:
                await pilot.press(key)
            await pilot.pause()
            assert app.budget is not None
            assert panel.has_class("-over") == app.budget.over_budget, key
            if key.endswith("board"):
                assert app.budget.over_budget == (key == "small board")
            crop = Region(0, 0, panel.outer_size.width, panel.outer_size.height)
            painted = [[(s.text, s.style) for s in strip] for strip in panel.render_lines(crop)]
            panel.refresh()
            repainted = [[(s.text, s.style) for s in strip] for strip in panel.render_lines(crop)]
            assert painted == repainted, key
            expected = render_budget(app.design, app.board, app.settings, app.budget).plain.splitlines()
            shown = ["".join(text for text, _ in line).strip() for line in painted]
            assert shown[:len(expected)] == [line.strip() for line in expected], key


async def test_collector_paused_for_start_up_resumes_after_the_first_frame(make_app: MakeApp, model5: Design) -> None:
    # The command line pauses the garbage collector while the app starts (tui.cli.main); the app
    # must turn it back on once its first frame is out, or a long session would never collect.
    app = make_app(model5)
    gc.disable()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.pause()
            assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


async def test_a_burst_of_keys_is_applied_in_order(make_app: MakeApp, model5: Design) -> None:
    # A paste or tmux send-keys delivers keys faster than the app handles them. Backspace is an Input binding
    # that Textual runs only after the key has bubbled up to the App, so "0", Backspace, "4", "8" gave "04".
    from textual import events

    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.table.select_layer(6)
        await pilot.press("enter")
        field = app.screen.query_one("#f-filters", Input)
        field.value = ""
        await pilot.pause()
        for key, char in (("0", "0"), ("backspace", None), ("4", "4"), ("8", "8"), ("left", None),
                          ("backspace", None), ("1", "1")):
            app.post_message(events.Key(key, char))  # all queued before any is handled
        await pilot.pause()
        assert field.value == "18"


async def test_enter_on_a_checkbox_applies_the_layer_form(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.table.select_layer(0)
        await pilot.press("enter")
        form = app.screen
        assert isinstance(form, LayerFormScreen)
        form.query_one("#f-filters", Input).value = "40"
        box = form.query_one("#f-use_bias")
        box.focus()
        await pilot.press("space")  # Space toggles
        await pilot.press("enter")  # Enter applies, it does not toggle back
        await pilot.pause()
        layer = app.design.layers[0]
        assert not isinstance(app.screen, LayerFormScreen)
        assert isinstance(layer, Conv2D) and layer.filters == 40 and layer.use_bias is False
