"""One job in the jobs pane: kind and status, a progress bar and what is happening now, training curves, the
newest log lines and, once the job has ended, its whole result.

Every text wraps (a run folder, a speed and ETA, a failure's fix are whole, not cut at the pane's edge), and
the workers' command-line hints are put in the app's words ("the dataset field of the train form", not
"--data PATH"). Enter on a focused card opens its full log and report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Label, ProgressBar, Static
from textual.widgets._progress_bar import Bar  # ProgressBar's bar: no public name

from tui.jobs.app_words import in_app_words
from tui.jobs.events import Finished, JobEvent, Metric, Progress, Queued
from tui.jobs.events import Log as LogEvent

if TYPE_CHECKING:
    from tui.widgets.train_curves import TrainCurves

STATUS_STYLE = {"queued": "blue", "running": "yellow", "done": "green", "failed": "red", "unavailable": "red"}
SHOWN_LINES = 5
"""Log lines a card shows (the newest); Enter shows them all."""


class JobCard(Vertical, can_focus=True):
    """Shows one job and applies its events; ``status`` is queued, running, done, failed or unavailable."""

    BINDINGS = [Binding("enter", "open_log", "Full log", show=False)]

    # Here, not in tui/app.tcss: parsed when the first card mounts, not for the app's first frame. The order
    # matters (a focused queued card keeps its queued border).
    DEFAULT_CSS = """
    JobCard {
        height: auto;
        border: round $panel;
        padding: 0 1;
    }

    JobCard.-failed, JobCard.-unavailable {
        border: round $error;
    }

    JobCard.-done {
        border: round $success;
    }

    JobCard:focus {
        border: round $accent;
    }

    JobCard .job-lines {
        height: auto;
        color: $text-muted;
    }

    JobCard .job-summary {
        height: auto;
    }

    JobCard ProgressBar {
        height: 1;
    }

    JobCard.-queued {
        border: round $primary;
    }

    JobCard .job-progress {
        height: auto;
        color: $text-muted;
    }

    JobCard .job-curves {
        height: 9;
    }

    JobCard .curve {
        width: 1fr;
        height: 9;
    }
    """

    def __init__(self, job_id: str, kind: str, *, status: str = "running", message: str = "") -> None:
        super().__init__(classes=f"job -{status}")
        self.job_id = job_id
        self.kind = kind
        self.status = status
        self.message = in_app_words(kind, message)
        self.metrics: dict[str, list[tuple[int, float]]] = {}
        """Metric name -> [(step, value), ...] in arrival order."""
        self.metric_name = ""
        """The metric that arrived last."""
        self.lines: list[str] = []
        """The log lines (runner messages, the worker's log events, the final summary), all of them."""
        self.fraction = 0.0
        self.progress_text = ""
        """The latest progress message."""
        self.progress_events = 0
        self.summary = ""
        """The final result (whole, in the app's words), once the job has ended."""
        self.report = ""
        """A file with the job's full report or log (see tui.jobs.events.Finished.report)."""

    @property
    def metric_values(self) -> list[float]:
        """The values of the metric that arrived last."""
        return [value for _, value in self.metrics.get(self.metric_name, [])]

    def compose(self) -> ComposeResult:
        yield Label(self._title(), classes="job-title")
        yield ProgressBar(total=1.0, show_eta=False)
        yield Static("", classes="job-progress")
        yield Static("", classes="job-lines")
        summary = Static("", classes="job-summary")
        summary.display = False  # until the job has ended
        yield summary

    def on_mount(self) -> None:
        if self.message:
            if self.status == "unavailable":
                self.lines.append(self.message)
                self._show_summary(self.message, ok=False)
            else:
                self._write(self.message)

    def on_resize(self) -> None:
        # Textual's Bar rounds the fraction to its half-cells when the fraction is set, and only once it has a
        # width: a progress event applied before the card's first layout kept 0.2 as it is (6.4 of 32 cells:
        # a half cell drawn), one applied after got 12/64 (6 cells). Which came first was down to load, so the
        # same job drew two ways (the jobs snapshot failed under a loaded full-suite run). Setting the
        # fraction again once sized rounds it the same way every time.
        bar = self.query_one(Bar)
        bar.percentage = self.query_one(ProgressBar).percentage

    def _title(self) -> Content:
        # Variables, not f-string markup: a job id or a worker's message may hold a design or file name.
        colour = STATUS_STYLE.get(self.status, "")
        return Content.from_markup(f"[b]$kind[/b] $job_id · [{colour}]$status[/]  [dim]Enter: full log[/dim]",
                                   kind=self.kind, job_id=self.job_id, status=self.status)

    def _set_status(self, status: str) -> None:
        self.remove_class(f"-{self.status}")
        self.status = status
        self.add_class(f"-{status}")
        self.query_one(".job-title", Label).update(self._title())

    def _curves(self) -> TrainCurves:
        # Imported here: the plots are only needed once a job reports metrics, not at app start.
        from tui.widgets.train_curves import TrainCurves

        found = self.query(TrainCurves)
        if found:
            return found.first()
        curves = TrainCurves(classes="job-curves")
        self.mount(curves, before=self.query_one(".job-lines"))
        return curves

    def _write(self, line: str) -> None:
        self.lines.append(in_app_words(self.kind, line))
        self.query_one(".job-lines", Static).update(Content("\n".join(self.lines[-SHOWN_LINES:])))

    def _show_summary(self, text: str, *, ok: bool) -> None:
        self.summary = text
        summary = self.query_one(".job-summary", Static)
        summary.update(Content(("✓ " if ok else "✗ ") + text))
        summary.display = True

    def apply(self, event: JobEvent) -> None:
        """Show one event from the job's stream."""
        if self.status == "queued" and not isinstance(event, (Queued, Finished)):
            self._set_status("running")
        if isinstance(event, Queued):
            self._set_status("queued")
            self.progress_text = f"queued: waiting for {event.ahead} job{'s' if event.ahead != 1 else ''}"
            self.query_one(".job-progress", Static).update(Content(self.progress_text))
        elif isinstance(event, Progress):
            self.fraction = max(0.0, min(1.0, event.fraction))
            self.progress_events += 1
            self.query_one(ProgressBar).update(progress=self.fraction)
            if event.message:
                self.progress_text = event.message
                self.query_one(".job-progress", Static).update(Content(event.message))
        elif isinstance(event, LogEvent):
            self._write(event.line)
        elif isinstance(event, Metric):
            self.metrics.setdefault(event.name, []).append((event.step, event.value))
            self.metric_name = event.name
            self._curves().show(self.metrics)
        elif isinstance(event, Finished):
            if event.ok:
                self.fraction = 1.0
                self.query_one(ProgressBar).update(progress=1.0)
            text = in_app_words(self.kind, event.summary or ("finished" if event.ok else "failed"))
            self.lines.append(text)
            self.report = event.report
            self._show_summary(text, ok=event.ok)
            self._set_status("done" if event.ok else "failed")

    def action_open_log(self) -> None:
        """Show every log line, the result and the job's report or log file."""
        from tui.screens.job_log import JobLogScreen

        self.app.push_screen(JobLogScreen(self))
