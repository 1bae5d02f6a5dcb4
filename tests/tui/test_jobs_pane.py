"""The jobs pane (issue 12): text wraps, a card shows its newest lines, the pane scrolls to the newest card,
a failure's whole reason in the app's words, a finished export's figures, Enter opens the full log."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.widgets import Static

from designer.design import Design
from tests.tui.conftest import SIZE
from tui.app import DesignerApp
from tui.jobs.app_words import in_app_words
from tui.jobs.events import FakeRunner, Finished, Log, Progress
from tui.jobs.process import export_figures
from tui.screens.job_log import JobLogScreen
from tui.widgets.job_card import SHOWN_LINES, JobCard

MakeApp = Callable[..., DesignerApp]

LONG = ("epoch 3/10 step 120/782 loss 1.234 acc 55.5% 1,234 img/s ETA 4:56 — run folder "
        "runs/a-design-with-a-long-name-20261201-120000")
REASON = ("/data/cats: no such file or folder; pass --data PATH (an image folder, .tar.gz/.zip of one, or an "
          ".npz) or --data cifar10")


def shown(card: JobCard, selector: str) -> str:
    return str(card.query_one(selector, Static).render())


async def start(app: DesignerApp, pilot: object, kind: str = "train") -> JobCard:
    app.start_job(kind)
    await app.workers.wait_for_complete()
    await pilot.pause()  # type: ignore[attr-defined]
    return app.jobs.cards[-1]


async def test_lines_wrap_and_the_newest_show(make_app: MakeApp, model5: Design) -> None:
    script = [Progress(0.5, LONG), *(Log(f"line {i}") for i in range(8)), Log(LONG), Finished(False, REASON)]
    app = make_app(model5, runner=FakeRunner({"train": script}))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        card = await start(app, pilot)
        lines = shown(card, ".job-lines").splitlines()
        assert len(lines) >= SHOWN_LINES and "line 7" in lines and "line 3" not in shown(card, ".job-lines")
        text = " ".join(shown(card, ".job-lines").split())
        assert LONG in text  # whole, wrapped over lines, not cut at the pane's edge
        assert LONG in " ".join(shown(card, ".job-progress").split())
        summary = " ".join(shown(card, ".job-summary").split())
        assert "set the dataset field of the train form (t) (an image folder" in summary
        assert "or cifar10" in summary and "--data" not in summary and summary.endswith("or cifar10")
        assert len(card.lines) == 10  # every line kept for the full log
        # Wrapped, not cut: the five lines take more rows than five, the progress line more than one.
        assert card.query_one(".job-lines").size.height > SHOWN_LINES
        assert card.query_one(".job-progress").size.height > 1


async def test_the_pane_scrolls_to_the_newest_card(make_app: MakeApp, model5: Design) -> None:
    script = [Log(f"line {i}") for i in range(6)] + [Finished(True, "done")]
    app = make_app(model5, runner=FakeRunner({"train": script}))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for _ in range(6):
            await start(app, pilot)
        await pilot.pause()
        listing = app.jobs.query_one("#job-list")
        newest = app.jobs.cards[-1]
        assert listing.max_scroll_y > 0 and listing.scroll_y == listing.max_scroll_y
        assert listing.region.contains_region(newest.region)


async def test_enter_on_a_card_opens_its_full_log(make_app: MakeApp, model5: Design, tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    report.write_text("# Bundle report\nint8 arena 43,120 B\n")
    script = [Log(f"line {i}") for i in range(9)] + [Finished(True, "bundle in exports/model5", str(report))]
    app = make_app(model5, runner=FakeRunner({"export": script}))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        card = await start(app, pilot, "export")
        card.focus()
        await pilot.press("enter")
        assert isinstance(app.screen, JobLogScreen)
        body = str(app.screen.query_one("#job-log-body", Static).render())
        assert all(f"line {i}" in body for i in range(9)) and "bundle in exports/model5" in body
        assert "# Bundle report" in body and "int8 arena 43,120 B" in body
        await pilot.press("escape")
        assert not isinstance(app.screen, JobLogScreen)


def test_cli_hints_in_the_apps_words() -> None:
    assert in_app_words("export", "pass --data PATH to point at the run's data") == (
        "set the dataset field of the export form (e) to point at the run's data")
    assert in_app_words("train", "out of memory: try a smaller --batch-size or --limit") == (
        "out of memory: try a smaller batch size or image limit in the train form (t)")
    assert in_app_words("export", "stedgeai analyze --compression high") == "stedgeai analyze --compression high"


def test_export_figures_are_those_the_cli_prints() -> None:
    report = {"files": {"model_int8.tflite": {"bytes": 61_234}, "model_float32.tflite": {"bytes": 230_000}},
              "arena": {"int8_measured_bytes": 43_120,
                        "cortex_m": {"cmsis_nn_bytes": 40_000, "cmsis_nn_config_bytes": 41_024}},
              "accuracy": {"float32": 0.712, "int8": 0.709, "top1_agreement": 0.985, "images": 1_000},
              "board": {"name": "NUCLEO-F446RE"},
              "fit": {"xcubeai float32": {"fits": True}, "tflm int8": {"fits": False}}}
    assert export_figures(report) == [
        "int8 .tflite 61,234 B · float32 .tflite 230,000 B",
        "TFLM arena (CMSIS-NN) derived 40,000 B / configured 41,024 B; measured on the host 43,120 B",
        "accuracy float32 71.20% / int8 70.90% (tflite-micro, 1,000 images) · top-1 agreement 98.50%",
        "fits NUCLEO-F446RE: xcubeai float32 yes, tflm int8 NO"]


class EarlyCard(JobCard):
    """A card whose first progress arrives when it is mounted, before its first layout (as under load)."""

    def on_mount(self) -> None:
        from textual.widgets._progress_bar import Bar

        super().on_mount()
        self.width_at_progress = self.query_one(Bar).size.width
        self.apply(Progress(0.2, "before layout"))


async def test_the_bar_draws_the_same_whether_progress_came_before_or_after_layout(make_app: MakeApp,
                                                                                   model5: Design) -> None:
    # Textual's Bar rounds a fraction to its half-cells only once it has a width: the jobs snapshot drew a
    # half cell more or less as load decided whether a card's first progress came before its first layout.
    from textual.widgets._progress_bar import Bar

    app = make_app(model5, runner=FakeRunner({}))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        early, late = EarlyCard("train-1", "train"), JobCard("train-2", "train")
        await app.jobs.mount(early, late)
        await pilot.pause()
        assert early.width_at_progress == 0  # the case under test: progress before layout
        width = late.query_one(Bar).size.width
        assert width > 0
        late.apply(Progress(0.2, "after layout"))
        await pilot.pause()
        early_bar, late_bar = early.query_one(Bar), late.query_one(Bar)
        assert early_bar.percentage == late_bar.percentage == int(0.2 * 2 * width) / (2 * width)
        assert early_bar.render_lines(early_bar.region.reset_offset) == \
            late_bar.render_lines(late_bar.region.reset_offset)
