"""A search job's card: trials done / pruned / infeasible, the best design so far, and a scatter of validation
accuracy against flash (or RAM) with the budget line. Enter on the card opens the best design as a new unsaved
design (``l`` shows the full log, Enter's job on other cards); ``v`` switches the scatter between flash and RAM.

It is a JobCard (title, progress, log tail, status) that also reads the search job's own events: SearchPlan
(the budget), the search command's trial and done events. Imported when the first search job starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Label
from textual_plotext import PlotextPlot

from designer.search.loop import INFEASIBLE, DoneEvent, TrialEvent
from designer.search.trainer import COMPLETE, PRUNED
from tui.jobs.events import JobEvent, Progress
from tui.jobs.events import Log as LogEvent
from tui.jobs.search import SearchPlan
from tui.widgets.job_card import STATUS_STYLE, JobCard

AXES = ("flash", "ram")
"""What the scatter's x axis can show (``v`` switches)."""

_MARKS: tuple[tuple[str, str, str], ...] = ((COMPLETE, "green", "trained"), (PRUNED, "orange", "pruned"),
                                            (INFEASIBLE, "red", "infeasible"))
"""(trial state, colour, word) of each point series; an infeasible candidate (never trained) is an x at 0 %.
The counts line, in the same colours, is the legend (plotext's would hide the top-left points)."""


def _kib(value: int | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value / 1024:,.{digits}f} KiB"


class SearchCard(JobCard):
    """Applies a search job's events; ``trials`` holds every trial event of this job, oldest first."""

    DEFAULT_CSS = """
    SearchCard .search-counts, SearchCard .search-best {
        height: 1;
    }

    SearchCard .search-scatter {
        height: 12;
    }

    SearchCard:focus {
        border: round $accent;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "open_best", "Open the best design"),
                                             Binding("l", "open_log", "Full log"),
                                             Binding("v", "switch_axis", "Scatter vs flash / RAM")]

    class OpenBest(Message):
        """Asks the app to open the search's best design file as a new unsaved design."""

        def __init__(self, card: SearchCard, path: str, number: int | None) -> None:
            super().__init__()
            self.card = card
            self.path = path
            self.number = number

        @property
        def control(self) -> SearchCard:
            """The card that asked."""
            return self.card

    def __init__(self, job_id: str, kind: str, *, status: str = "running", message: str = "") -> None:
        super().__init__(job_id, kind, status=status, message=message)
        self.plan: SearchPlan | None = None
        self.trials: list[TrialEvent] = []
        self.best: dict[str, Any] | None = None
        """The best complete trial so far (the done event's best once it comes): design, accuracy, bytes."""
        self.best_number: int | None = None
        self.axis = "flash"

    def compose(self) -> Iterator[Widget]:
        for widget in super().compose():
            if widget.has_class("job-lines"):
                yield Label("", classes="search-counts")
                yield Label("", classes="search-best")
                yield PlotextPlot(classes="search-scatter")
            yield widget

    def on_mount(self) -> None:
        super().on_mount()
        self._show()

    def _title(self) -> Content:
        # Variables, not f-string markup, as JobCard's: the job id is the runner's text.
        colour = STATUS_STYLE.get(self.status, "")
        return Content.from_markup(f"[b]$kind[/b] $job_id · [{colour}]$status[/]  [dim]Enter: best[/dim]",
                                   kind=self.kind, job_id=self.job_id, status=self.status)

    @property
    def counts(self) -> dict[str, int]:
        """Trials of this job per state."""
        out: dict[str, int] = {}
        for trial in self.trials:
            out[trial.state] = out.get(trial.state, 0) + 1
        return out

    @property
    def finished_trials(self) -> int:
        """Trials that count towards the study's total (complete, pruned, infeasible)."""
        counts = self.counts
        return sum(counts.get(state, 0) for state in (COMPLETE, PRUNED, INFEASIBLE))

    def apply(self, event: JobEvent) -> None:
        """Show one event of the job's stream: the search's own here, the rest as any job card does."""
        if isinstance(event, SearchPlan):
            self.plan = event
            self._show()
        elif isinstance(event, TrialEvent):
            self.trials.append(event)
            if event.state == COMPLETE and event.accuracy is not None and (
                    self.best is None or (event.accuracy, -(event.flash_bytes or 0))
                    > (self.best["accuracy"], -(self.best["flash_bytes"] or 0))):
                self.best = {"design": event.design, "accuracy": event.accuracy, "flash_bytes": event.flash_bytes,
                             "ram_bytes": event.ram_bytes}
                self.best_number = event.number
            total = self.plan.trials if self.plan else 0
            super().apply(Progress(min(1.0, self.finished_trials / total) if total else 0.0,
                                   f"trial {event.number}: {event.state}"
                                   + (f", val acc {event.accuracy:.1%}" if event.accuracy is not None else "")))
            super().apply(LogEvent(self._trial_line(event)))
            self._show()
        elif isinstance(event, DoneEvent):
            if event.best is not None:
                self.best = dict(event.best)
                self.best_number = next((t["number"] for t in event.trials if t["design"] == event.best["design"]),
                                        None)
                self._show()
        else:
            super().apply(event)

    @staticmethod
    def _trial_line(event: TrialEvent) -> str:
        def kib(value: int | None) -> str:
            return "-" if value is None else f"{value / 1024:,.0f}"

        # One short line: the card is ~46 cells wide.
        sizes = f"flash/RAM {kib(event.flash_bytes)}/{kib(event.ram_bytes)} KiB"
        if event.state == INFEASIBLE:
            return f"#{event.number} infeasible ({', '.join(event.failed) or event.reason}) · {sizes}"
        accuracy = "-" if event.accuracy is None else f"{event.accuracy:.1%}"
        return f"#{event.number} {event.state} {accuracy} · {sizes}" + (f" · {event.reason}" if event.reason else "")

    def _show(self) -> None:
        """Redraw the counts, the best line and the scatter (once mounted)."""
        if not self.is_mounted:
            return
        counts = self.counts
        total = f"/{self.plan.trials}" if self.plan else ""
        others = sum(n for state, n in counts.items() if state not in (COMPLETE, PRUNED, INFEASIBLE))
        # Numbers and fixed words only: markup is safe here.
        text = f"{self.finished_trials}{total} done: " + " · ".join(
            f"[{colour}]{counts.get(state, 0)} {word}[/]" for state, colour, word in _MARKS)
        self.query_one(".search-counts", Label).update(Content.from_markup(text + (f" · {others} failed"
                                                                                   if others else "")))
        if self.best is None:
            best = Content("best: none trained yet")
        else:
            best = Content.from_markup(
                "best $number [b]$acc[/b] · flash $flash · RAM $ram", acc=f"{self.best['accuracy']:.1%}",
                flash=_kib(self.best["flash_bytes"], 0), ram=_kib(self.best["ram_bytes"], 0),
                number=f"#{self.best_number}" if self.best_number is not None else "")
        self.query_one(".search-best", Label).update(best)
        self._scatter()

    def _scatter(self) -> None:
        plot = self.query_one(".search-scatter", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        key = f"{self.axis}_bytes"
        name = "flash" if self.axis == "flash" else "RAM"
        plt.title(f"val acc % vs {name} KiB, | budget (v: {'RAM' if self.axis == 'flash' else 'flash'})")
        xs_all: list[float] = []
        for state, colour, _word in _MARKS:
            points = [(getattr(t, key) / 1024, (t.accuracy or 0.0) * 100) for t in self.trials
                      if t.state == state and getattr(t, key) is not None]
            if points:
                xs_all += [x for x, _ in points]
                plt.scatter([x for x, _ in points], [y for _, y in points], color=colour,
                            marker="dot" if state != INFEASIBLE else "x")
        if self.plan is not None:
            budget = (self.plan.flash_budget_bytes if self.axis == "flash" else self.plan.ram_budget_bytes) / 1024
            plt.vline(budget, "red")
            xs_all.append(budget)
        if xs_all:
            plt.xlim(0, max(xs_all) * 1.05)
        plt.ylim(0, 100)
        plt.yticks([0, 50, 100])
        plot.refresh()

    def action_switch_axis(self) -> None:
        """Scatter against RAM instead of flash, or back."""
        self.axis = AXES[(AXES.index(self.axis) + 1) % len(AXES)]
        self._show()

    def action_open_best(self) -> None:
        """Open the best design so far (the app makes it a new unsaved design)."""
        if self.best is None or not self.best.get("design"):
            self.app.bell()
            return
        self.post_message(self.OpenBest(self, str(self.best["design"]), self.best_number))
