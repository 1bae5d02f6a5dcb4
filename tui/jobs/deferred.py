"""A JobRunner that builds the real one on first use.

The command line opens the app with the real runner (``tui.jobs.process.ProcessRunner``), but its imports (the job
events, the worker clients and protocols: ~10 ms) would hold up the app's first frame for jobs that may never
run. Wrapped in a DeferredRunner they wait until a job is started (or a key asks whether one can be).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING

from designer.design import Design

if TYPE_CHECKING:
    from tui.jobs.events import JobEvent, JobRunner


class DeferredRunner:
    """The JobRunner protocol over the runner ``build()`` returns, called once, on first use."""

    def __init__(self, build: Callable[[], JobRunner]) -> None:
        self._build = build
        self._runner: JobRunner | None = None

    @classmethod
    def of_process_runner(cls) -> DeferredRunner:
        """The real runner (worker processes), deferred."""
        def build() -> JobRunner:
            from tui.jobs.process import ProcessRunner

            return ProcessRunner()
        return cls(build)

    @property
    def runner(self) -> JobRunner:
        """The real runner (built now if it is not yet)."""
        if self._runner is None:
            self._runner = self._build()
        return self._runner

    def unavailable_reason(self, kind: str) -> str | None:
        return self.runner.unavailable_reason(kind)

    def start(self, kind: str, design: Design, options: Mapping[str, object]) -> str:
        return self.runner.start(kind, design, options)

    def events(self, job_id: str) -> AsyncIterator[JobEvent]:
        return self.runner.events(job_id)

    def cancel(self, job_id: str) -> None:
        self.runner.cancel(job_id)
