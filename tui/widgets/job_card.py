"""One job in the jobs pane: kind and status, a progress bar, its latest log lines and a metric curve."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Log, ProgressBar, Sparkline

from tui.jobs import Finished, JobEvent, Metric, Progress
from tui.jobs import Log as LogEvent

STATUS_STYLE = {"running": "yellow", "done": "green", "failed": "red", "unavailable": "red"}


class JobCard(Vertical):
    """Shows one job and applies its events; ``status`` is running, done, failed or unavailable."""

    def __init__(self, job_id: str, kind: str, *, status: str = "running", message: str = "") -> None:
        super().__init__(classes=f"job -{status}")
        self.job_id = job_id
        self.kind = kind
        self.status = status
        self.message = message
        self.metric_name = ""
        self.metric_values: list[float] = []
        self.lines: list[str] = []
        self.fraction = 0.0

    def compose(self) -> ComposeResult:
        yield Label(self._title(), classes="job-title")
        yield ProgressBar(total=1.0, show_eta=False)
        yield Log(max_lines=200, auto_scroll=True)
        yield Label("", classes="job-metric")
        yield Sparkline([], classes="job-curve")

    def on_mount(self) -> None:
        if self.message:
            self.query_one(Log).write_line(self.message)
            self.lines.append(self.message)

    def _title(self) -> str:
        colour = STATUS_STYLE.get(self.status, "")
        return f"[b]{self.kind}[/b] {self.job_id} · [{colour}]{self.status}[/]"

    def _set_status(self, status: str) -> None:
        self.remove_class(f"-{self.status}")
        self.status = status
        self.add_class(f"-{status}")
        self.query_one(".job-title", Label).update(self._title())

    def apply(self, event: JobEvent) -> None:
        """Show one event from the job's stream."""
        log = self.query_one(Log)
        if isinstance(event, Progress):
            self.fraction = max(0.0, min(1.0, event.fraction))
            self.query_one(ProgressBar).update(progress=self.fraction)
            if event.message:
                self.lines.append(event.message)
                log.write_line(event.message)
        elif isinstance(event, LogEvent):
            self.lines.append(event.line)
            log.write_line(event.line)
        elif isinstance(event, Metric):
            if event.name != self.metric_name:
                self.metric_name, self.metric_values = event.name, []
            self.metric_values.append(event.value)
            self.add_class("-has-metric")
            self.query_one(".job-metric", Label).update(
                f"{event.name} step {event.step}: {event.value:.4g}")
            self.query_one(Sparkline).data = list(self.metric_values)
        elif isinstance(event, Finished):
            if event.ok:
                self.fraction = 1.0
                self.query_one(ProgressBar).update(progress=1.0)
            text = event.summary or ("finished" if event.ok else "failed")
            self.lines.append(text)
            log.write_line(("✓ " if event.ok else "✗ ") + text)
            self._set_status("done" if event.ok else "failed")
