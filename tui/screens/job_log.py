"""A job's full log (Enter on a card): every line it wrote, its result, and its report or log file (a bundle's
report.md, a run's worker.log), as plain text; Escape goes back."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tui.screens import DIALOG_CSS


class LoggedJob(Protocol):
    """What the screen shows of a job card (tui.widgets.job_card.JobCard, which imports this screen: naming
    the card here, even for typing, would be an import circle)."""

    @property
    def kind(self) -> str:
        """The job's kind (train, export, search)."""
        ...

    @property
    def job_id(self) -> str:
        """The runner's id for the job."""
        ...

    @property
    def status(self) -> str:
        """Where the job stands (queued, running, done, failed...)."""
        ...

    @property
    def lines(self) -> list[str]:
        """Every log line the job wrote."""
        ...

    @property
    def report(self) -> str:
        """The job's report or log file ("" when none)."""
        ...

MAX_REPORT_CHARS = 200_000
"""A report or log longer than this shows its end (a long training's worker.log)."""


def report_text(path: str) -> str:
    """The file's text (its end when long), or a line saying why it cannot be shown."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc.strerror or exc})"
    if len(text) > MAX_REPORT_CHARS:
        return f"(… the first {len(text) - MAX_REPORT_CHARS:,} characters left out)\n" + text[-MAX_REPORT_CHARS:]
    return text


class JobLogScreen(ModalScreen[None]):
    """Shows ``card``'s whole log and its report file."""

    CSS_PATH = DIALOG_CSS

    BINDINGS = [Binding("escape,q,enter", "close", "Close")]

    def __init__(self, card: LoggedJob) -> None:
        super().__init__()
        self.card = card

    def compose(self) -> ComposeResult:
        card = self.card
        parts = ["\n".join(card.lines) or "(no log lines)"]
        if card.report:
            parts.append(f"── {card.report} ──\n{report_text(card.report)}")
        with Vertical(id="job-log", classes="dialog"):
            yield Label(Content.from_markup("[b]$kind[/b] $job_id · $status  [dim]Escape to close[/dim]",
                                            kind=card.kind, job_id=card.job_id, status=card.status),
                        classes="dialog-title")
            with VerticalScroll(id="job-log-text"):
                yield Static(Content("\n\n".join(parts)), id="job-log-body")  # a worker's text: plain

    def action_close(self) -> None:
        """Back to the designer."""
        self.dismiss(None)
