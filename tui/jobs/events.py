"""The job-runner seam: the protocol the app uses to start training/export jobs, their events, and fakes.

The app never runs a job itself. It calls ``runner.start(kind, design, options)`` and reads
``runner.events(job_id)``, an async stream of the plain event dataclasses below, ending with Finished.
The real runner (``tui.jobs.process.ProcessRunner``: the training and export workers as child processes) is the
app's default; ``UnavailableRunner`` says plainly that a kind cannot run, and ``FakeRunner`` replays scripted
events for tests.
Nothing here imports textual.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from designer.design import Design

JOB_KINDS = ("train", "export", "search")
"""Job kinds the app has keys for (t, e and S)."""


@dataclass(frozen=True)
class Progress:
    """Overall progress: ``fraction`` in [0, 1] and what is happening now."""

    fraction: float
    message: str = ""


@dataclass(frozen=True)
class Log:
    """One line of the job's log (its stderr, or a runner message)."""

    line: str


@dataclass(frozen=True)
class Metric:
    """One point of a curve, e.g. ``Metric("val_accuracy", 3, 0.71)``."""

    name: str
    step: int
    value: float


@dataclass(frozen=True)
class Queued:
    """The job waits for others to finish (runners run one job at a time); ``ahead`` jobs are before it."""

    ahead: int = 1


@dataclass(frozen=True)
class Finished:
    """The last event of every job: ``ok`` with a summary, or not ok with the reason."""

    ok: bool
    summary: str = ""
    report: str = ""
    """A file with the job's full report or log (a bundle's report.md, a run's worker.log), '' when none."""


JobEvent = Queued | Progress | Log | Metric | Finished | Any
"""Anything a job's event stream yields: these, and a search job's own plain-data events (tui.jobs.search), which
only its card reads (other cards ignore what they do not know)."""


class JobUnavailable(RuntimeError):
    """The runner cannot run this kind of job (the message says so plainly, for the jobs pane)."""


@runtime_checkable
class JobRunner(Protocol):
    """What the app needs from whatever runs jobs."""

    def unavailable_reason(self, kind: str) -> str | None:
        """None when ``kind`` jobs can start, else a sentence saying why not (shown in the jobs pane)."""
        ...

    def start(self, kind: str, design: Design, options: Mapping[str, object]) -> str:
        """Start a job and return its id; raises JobUnavailable when it cannot."""
        ...

    def events(self, job_id: str) -> AsyncIterator[JobEvent]:
        """The job's events in order; the stream ends after its Finished event."""
        ...

    def cancel(self, job_id: str) -> None:
        """Ask the job to stop; its stream then ends with Finished(ok=False)."""
        ...


class UnavailableRunner:
    """The runner used when none is supplied: every kind is unavailable, and it says so."""

    def __init__(self, reasons: Mapping[str, str] | None = None) -> None:
        self._reasons = dict(reasons or {})

    def unavailable_reason(self, kind: str) -> str:
        return self._reasons.get(
            kind, f"no {kind} runner is installed yet: this build of cnn-designer cannot {kind} designs")

    def start(self, kind: str, design: Design, options: Mapping[str, object]) -> str:
        raise JobUnavailable(self.unavailable_reason(kind))

    async def events(self, job_id: str) -> AsyncIterator[JobEvent]:
        raise JobUnavailable(f"unknown job {job_id}")
        yield  # pragma: no cover - makes this an async generator

    def cancel(self, job_id: str) -> None:
        return None


@dataclass
class _FakeJob:
    kind: str
    design: Design
    options: Mapping[str, object]
    script: list[JobEvent]
    cancelled: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)


class FakeRunner:
    """Replays scripted events per job kind; for tests and demos.

    ``scripts`` maps a kind to its events. With ``hold=True`` (or a collection of kinds to hold) a job stops
    before its Finished event until ``release(job_id)`` is called, so a test can look at a running job.
    Kinds without a script are unavailable, like a build without that runner.
    ``started`` records every (kind, design, options).
    """

    def __init__(self, scripts: Mapping[str, Iterable[JobEvent]], *, delay_s: float = 0.0,
                 hold: bool | Collection[str] = False) -> None:
        self._scripts = {kind: list(events) for kind, events in scripts.items()}
        self._delay_s = delay_s
        self._hold: Collection[str] = tuple(self._scripts) if hold is True else () if hold is False else hold
        self._ids = itertools.count(1)
        self.jobs: dict[str, _FakeJob] = {}
        self.started: list[tuple[str, Design, dict[str, object]]] = []

    def unavailable_reason(self, kind: str) -> str | None:
        if kind in self._scripts:
            return None
        return f"no {kind} runner is installed yet: this build of cnn-designer cannot {kind} designs"

    def start(self, kind: str, design: Design, options: Mapping[str, object]) -> str:
        reason = self.unavailable_reason(kind)
        if reason is not None:
            raise JobUnavailable(reason)
        job_id = f"{kind}-{next(self._ids)}"
        self.jobs[job_id] = _FakeJob(kind, design, options, list(self._scripts[kind]))
        self.started.append((kind, design, dict(options)))
        return job_id

    def release(self, job_id: str) -> None:
        """Let a held job emit its Finished event."""
        self.jobs[job_id].release.set()

    async def events(self, job_id: str) -> AsyncIterator[JobEvent]:
        job = self.jobs[job_id]
        for event in job.script:
            if job.cancelled:
                yield Finished(False, "cancelled")
                return
            if isinstance(event, Finished) and job.kind in self._hold:
                await job.release.wait()
            if self._delay_s:
                await asyncio.sleep(self._delay_s)
            yield event
            if isinstance(event, Finished):
                return
        yield Finished(True, "done")

    def cancel(self, job_id: str) -> None:
        self.jobs[job_id].cancelled = True
        self.jobs[job_id].release.set()
