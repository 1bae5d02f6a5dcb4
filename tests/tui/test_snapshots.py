"""Snapshot tests of each screen and key state at a fixed size (look at an SVG before accepting it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, Select

from designer.boards import load_catalogue
from designer.design import Design
from tests.tui.conftest import SIZE
from tui.app import DesignerApp
from tui.jobs.events import FakeRunner, Finished, Log, Metric, Progress
from tui.screens.train_form import TrainFormScreen

MakeApp = Callable[..., DesignerApp]
SnapCompare = Callable[..., bool]


async def _settle(pilot: Pilot[Any]) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_model5_loaded(snap_compare: SnapCompare, make_app: MakeApp, model5: Design) -> None:
    assert snap_compare(make_app(model5), terminal_size=SIZE, run_before=_settle)


def test_over_budget(snap_compare: SnapCompare, make_app: MakeApp, model5: Design) -> None:
    board = load_catalogue(include_user=False).find("NUCLEO-F446RE")
    assert snap_compare(make_app(model5, board=board), terminal_size=SIZE, run_before=_settle)


def test_invalid_design_keeps_last_counters(snap_compare: SnapCompare, make_app: MakeApp,
                                            model5: Design) -> None:
    async def delete_flatten(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        pilot.app.table.select_layer(18)  # type: ignore[attr-defined]
        await pilot.press("x")
        await _settle(pilot)
    assert snap_compare(make_app(model5), terminal_size=SIZE, run_before=delete_flatten)


def test_edit_form_shape_error(snap_compare: SnapCompare, make_app: MakeApp, model5: Design) -> None:
    async def break_kernel(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        pilot.app.table.select_layer(12)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        form = pilot.app.screen
        form.query_one("#f-padding", Select).value = "valid"
        kernel = form.query_one("#f-kernel", Input)
        kernel.value = "9"
        for field in form.query(Input):
            field.cursor_blink = False  # a blinking cursor would make the snapshot flaky
        kernel.focus()
        await _settle(pilot)
    assert snap_compare(make_app(model5), terminal_size=SIZE, run_before=break_kernel)


def test_board_picker(snap_compare: SnapCompare, make_app: MakeApp, model5: Design) -> None:
    assert snap_compare(make_app(model5), press=["b"], terminal_size=SIZE, run_before=_settle)


def test_notebook_view(snap_compare: SnapCompare, make_app: MakeApp, model5: Design) -> None:
    assert snap_compare(make_app(model5), press=["N"], terminal_size=SIZE, run_before=_settle)


def test_jobs_running_and_failed(snap_compare: SnapCompare, make_app: MakeApp, model5: Design) -> None:
    runner = FakeRunner({
        "train": [Progress(0.4, "epoch 2/5"), Metric("val_accuracy", 1, 0.42), Metric("val_accuracy", 2, 0.58),
                  Log("loss 1.21 · val_loss 1.30"), Finished(True, "accuracy 71.0 %")],
        "export": [Progress(0.2, "converting to .tflite"), Log("stedgeai: error: unsupported layer"),
                   Finished(False, "stedgeai failed (exit 1)")],
    }, hold={"train"})

    async def start_jobs(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        for key in ("t", "enter", "e", "enter"):
            if key == "enter" and isinstance(pilot.app.screen, TrainFormScreen):
                pilot.app.screen.query_one("#t-data", Input).value = "cifar10"  # offline: not offered
            await pilot.press(key)
            await pilot.pause()
        for _ in range(3):
            await pilot.pause()
        # The held train job never finishes; wait only for the export job's worker.
        while any(card.status == "running" for card in pilot.app.jobs.cards if card.kind == "export"):  # type: ignore[attr-defined]
            await pilot.pause(0.05)
        # Under load the jobs pane's scroll to the newest card may still be animating: let it end.
        await pilot.wait_for_scheduled_animations()
        for _ in range(3):
            await pilot.pause()
    assert snap_compare(make_app(model5, runner=runner), terminal_size=SIZE, run_before=start_jobs)
