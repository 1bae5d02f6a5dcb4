"""The budget panel (issue 12): one bar per resource of the board, latency only with a latency budget, the
runtime × dtype matrix, the notebook's figures only where comparable, the latest run's accuracy, and
"modified" meaning "differs from the saved file"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from textual.widgets import Input

from designer.boards import load_catalogue
from designer.design import Design
from designer.designfile import save
from tests.tui.conftest import SIZE, write_run
from tui.app import DesignerApp
from tui.budget import Settings, compute_budget
from tui.widgets.budget_panel import BudgetPanel, budget_lines

MakeApp = Callable[..., DesignerApp]


def panel_text(app: DesignerApp) -> str:
    return str(app.main.query_one(BudgetPanel).render())


def test_no_latency_row_without_a_budget_and_no_params_bar(model5: Design) -> None:
    board = load_catalogue(include_user=False).default
    budget = compute_budget(model5, board, Settings())
    assert [bar.name for bar in budget.bars] == ["Flash", "RAM"]
    text = "\n".join(line.plain for line in budget_lines(model5, board, Settings(), budget))
    assert "1,000 ms" not in text and "of 1,0" not in text
    assert "552,362 params" in text and "39.30M MACC" in text and "Fits the board" in text


def test_a_board_or_the_user_sets_the_latency_budget(model5: Design) -> None:
    board = replace(load_catalogue(include_user=False).default, latency_budget_ms=2000.0)
    budget = compute_budget(model5, board, Settings())
    latency = budget.bars[-1]
    assert latency.name == "Latency" and latency.detail == "of 2,000 ms (estimate)"
    assert budget.inference_ms is not None and latency.fraction == budget.inference_ms / 2000.0
    tight = compute_budget(model5, board, Settings(latency_budget_ms=100.0))  # the user's wins
    assert tight.bars[-1].detail == "of 100 ms (estimate)" and tight.bars[-1].level == "over"
    lines = [line.plain for line in budget_lines(model5, board, Settings(latency_budget_ms=100.0), tight)]
    assert "Fits flash and RAM, but over the latency budget" in lines
    assert not tight.over_budget  # latency colours its bar; it does not decide the fit


def test_the_matrix_has_every_runtime_and_dtype(model5: Design) -> None:
    board = load_catalogue(include_user=False).default
    settings = Settings(runtime="tflm", dtype="int8")
    budget = compute_budget(model5, board, settings)
    assert [(c.runtime, c.dtype) for c in budget.matrix] == [("xcubeai", "float32"), ("xcubeai", "int8"),
                                                              ("tflm", "float32"), ("tflm", "int8")]
    current = budget.matrix[3]
    assert budget.footprint is not None
    assert (current.flash_bytes, current.ram_bytes) == (budget.footprint.flash_bytes, budget.footprint.ram_bytes)
    other = compute_budget(model5, board, Settings())
    assert budget.matrix[0] == other.matrix[0]  # the same figures whichever is current
    lines = budget_lines(model5, board, settings, budget)
    tflm_row = next(line for line in lines if line.plain.startswith("tflm"))
    highlighted = [tflm_row.plain[span.start:span.end] for span in tflm_row.spans
                   if getattr(span.style, "reverse", False)]
    assert highlighted == ["624K / 78K  "]


async def test_notebook_figures_only_where_comparable(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "notebook" in panel_text(app) and "1M25" in panel_text(app)
        await pilot.press("d")  # int8: the notebook's float32 ROM is not comparable
        assert "1M25" not in panel_text(app)
        assert "Notebook figures are X-CUBE-AI float32" in panel_text(app)
        await pilot.press("d", "r")  # float32 again, but TFLM
        assert "1M25" not in panel_text(app)
        await pilot.press("r")
        assert "1M25" in panel_text(app)


async def test_plus_then_minus_is_unmodified(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.table.select_layer(0)
        await pilot.press("plus")
        assert app.dirty and "modified" in app.sub_title and app.design.notebook is None
        await pilot.press("minus")
        assert not app.dirty and "modified" not in app.sub_title
        assert app.design.notebook is not None and "1M25" in panel_text(app)


async def test_the_user_latency_budget_from_the_app(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("L", *"250", "enter")
        await pilot.pause()
        assert app.settings.latency_budget_ms == 250.0
        assert "of 250 ms (estimate)" in panel_text(app)
        await pilot.press("L")
        assert app.screen.query_one(Input).value == "250"  # the prompt shows the budget in force
        app.screen.query_one(Input).value = "none"
        await pilot.press("enter")
        await pilot.pause()
        assert app.settings.latency_budget_ms is None and "Latency" not in panel_text(app)
        await pilot.press("L", *"fast", "enter")
        await pilot.pause()
        assert "latency budget: expected a positive number" in app.status


async def test_the_user_latency_budget_is_remembered(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("L", *"120", "enter")
        await pilot.pause()
    again = make_app(model5)  # the same state folder: the next session
    assert again.settings.latency_budget_ms == 120.0
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "of 120 ms (estimate)" in panel_text(again)
        await pilot.press("L")
        again.screen.query_one(Input).value = "none"
        await pilot.press("enter")
        await pilot.pause()
    assert make_app(model5).settings.latency_budget_ms is None


async def test_accuracy_from_the_designs_latest_run(make_app: MakeApp, model5: Design, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for name, accuracy in (("model5-20261201-100000", 0.61), ("model5-20261201-120000", 0.71)):
        write_run(runs / name, "Model5", accuracy)
        save(model5, runs / name / "design.toml")
    other = replace(model5, name="Other", layers=model5.layers[:-3] + model5.layers[-1:])
    write_run(runs / "other-20261201-130000", "Other", 0.99)
    save(other, runs / "other-20261201-130000" / "design.toml")
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.budget is not None and app.budget.run is not None
        assert app.budget.run.run == "model5-20261201-120000" and app.budget.run.accuracy == 0.71
        assert "Accuracy 71.0% latest run model5-20261201-120000" in panel_text(app)
        assert "71.00 %" in panel_text(app)  # beside the notebook's 84.02 %
        app.table.select_layer(0)
        await pilot.press("plus")  # another network: its run is not this one
        assert app.budget.run is None and "Accuracy" not in panel_text(app)


async def test_an_edit_fills_the_matrix_in_after_its_frame(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.table.select_layer(0)
        app.action_bump(1)  # the edit's own work: the current estimate only
        assert app.budget is not None and app.budget.footprint is not None
        current = next(c for c in app.budget.matrix if (c.runtime, c.dtype) == ("xcubeai", "float32"))
        assert not current.stale and current.flash_bytes == app.budget.footprint.flash_bytes
        assert sum(c.stale for c in app.budget.matrix) == 3
        await pilot.pause()
        assert app.budget.matrix == compute_budget(app.design, app.board, app.settings).matrix
        assert not any(c.stale for c in app.budget.matrix)


async def test_the_first_frame_fills_the_matrix_in_after_it(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    drawn: list[tuple[object, ...]] = []
    first_draw = app._first_draw

    def spy() -> None:
        first_draw()
        assert app.budget is not None
        drawn.append(app.budget.matrix)

    app._first_draw = spy  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # The first frame: the current runtime x dtype estimated, the three others blank until right after it.
        (matrix,) = drawn
        current = [c for c in matrix if (c.runtime, c.dtype) == ("xcubeai", "float32")]
        others = [c for c in matrix if (c.runtime, c.dtype) != ("xcubeai", "float32")]
        assert len(current) == 1 and not current[0].stale and current[0].flash_bytes is not None
        assert len(others) == 3 and all(c.stale and c.flash_bytes is None for c in others)
        assert app.budget is not None
        assert app.budget.matrix == compute_budget(app.design, app.board, app.settings).matrix
        assert "–" not in panel_text(app).split("flash/RAM")[1].split("\n\n")[0]
