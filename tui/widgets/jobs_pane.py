"""The side pane for jobs: starts them through the JobRunner and follows each one's event stream.

A kind the runner cannot run yet still gets a card, in the "unavailable" state with the runner's reason,
so pressing T or E never does nothing silently. Until the first job the pane is its title and "No jobs yet.";
the scrolling list of cards, the cards and the job events are built and imported when the first job comes,
not for the app's first frame.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static

from designer.design import Design

if TYPE_CHECKING:
    from tui.jobs.events import JobRunner
    from tui.widgets.job_card import JobCard

ACTIVE = ("queued", "running")
"""Card statuses of jobs that have not ended."""


class JobsPane(Vertical):
    """Job cards, newest at the bottom."""

    class JobEnded(Message):
        """A job has finished (``ok``) or failed; the app then looks for new training runs."""

        def __init__(self, kind: str, ok: bool) -> None:
            super().__init__()
            self.kind = kind
            self.ok = ok

    def __init__(self, runner: JobRunner, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.runner = runner
        self._unavailable = 0

    def compose(self) -> ComposeResult:
        # Static, not Label: the same text, and Label's module and styles would be loaded for these two lines only.
        yield Static("Jobs  [dim]t train · e export · S search[/dim]", classes="pane-title")
        yield Static("No jobs yet.", id="no-jobs")

    @property
    def cards(self) -> list[JobCard]:
        """Every job card, oldest first."""
        from tui.widgets.job_card import JobCard

        return list(self.query(JobCard))

    def _add(self, card: JobCard) -> Awaitable[None]:
        """Mount ``card`` at the bottom of the list (the first one brings the list)."""
        self.call_after_refresh(self.scroll_to, card)
        lists = self.query("#job-list")
        if lists:
            return lists.first().mount(card)
        self.query("#no-jobs").remove()
        return self.mount(VerticalScroll(card, id="job-list"))  # mounted with its card, so awaiting it suffices

    def scroll_to(self, card: JobCard) -> None:
        """Scroll the list so that ``card`` (the newest, usually) shows, its end first."""
        lists = self.query("#job-list")
        if lists and card.is_mounted:
            lists.first().scroll_to_widget(card, animate=False, top=False)

    def start(self, kind: str, design: Design, options: Mapping[str, object]) -> JobCard:
        """Start a ``kind`` job for ``design`` (or show why it cannot start) and return its card."""
        from tui.jobs.events import JobUnavailable
        from tui.widgets.job_card import JobCard

        reason = self.runner.unavailable_reason(kind)
        job_id = ""
        if reason is None:
            try:
                job_id = self.runner.start(kind, design, options)
            except JobUnavailable as exc:
                reason = str(exc)
        if reason is not None:
            self._unavailable += 1
            card = JobCard(f"{kind}-unavailable-{self._unavailable}", kind, status="unavailable",
                           message=reason)
            self._add(card)
            return card
        if kind == "search":  # its own card: counts, best design, scatter (imported with the first search)
            from tui.widgets.search_card import SearchCard

            card = SearchCard(job_id, kind)
        else:
            card = JobCard(job_id, kind)
        mounted = self._add(card)
        self.run_worker(self._follow(card, mounted), group="jobs", name=job_id)
        return card

    async def _follow(self, card: JobCard, mounted: Awaitable[None]) -> None:
        from tui.jobs.events import Finished

        await mounted
        try:
            async for event in self.runner.events(card.job_id):
                card.apply(event)
                if isinstance(event, Finished):
                    if card is self.cards[-1]:
                        self.call_after_refresh(self.scroll_to, card)  # its result made it taller
                    self.post_message(self.JobEnded(card.kind, event.ok))
                    return
        except Exception as exc:  # noqa: BLE001 - a broken runner must show as a failed job, not crash the app
            card.apply(Finished(False, f"runner error: {exc}"))
            return
        if card.status in ACTIVE:
            card.apply(Finished(False, "the job's event stream ended without a result"))

    def cancel_latest(self) -> JobCard | None:
        """Ask the newest queued or running job to stop; returns its card (None when no job is active)."""
        for card in reversed(self.cards):
            if card.status in ACTIVE:
                self.runner.cancel(card.job_id)
                return card
        return None

    def cancel_all(self) -> None:
        """Ask every queued or running job to stop (on quit)."""
        for card in self.cards:
            if card.status in ACTIVE:
                self.runner.cancel(card.job_id)
