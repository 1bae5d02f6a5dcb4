"""The real JobRunner: training and export run as child processes (the workers), one job at a time.

``ProcessRunner.start`` queues a job and returns at once; ``events`` waits for the job's turn (yielding
Queued while another job runs), starts the worker through ``designer.training.client.TrainingJob`` or
``designer.export.client.ExportJob``, and translates the worker's protocol events into the app's Progress,
Log, Metric and Finished. A worker that crashes or is killed ends its job with Finished(ok=False) and the
reason; nothing here touches the design being edited. TensorFlow is only ever loaded by the workers.

The app builds a ProcessRunner at start-up, but no job may ever run: the worker clients and protocols
(~25 ms of imports) are imported where a job first needs them, not at the top of this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from designer.design import Design, DesignError
from tui.files.recovery import state_dir
from tui.jobs.events import JOB_KINDS, Finished, JobEvent, JobUnavailable, Log, Metric, Progress, Queued

if TYPE_CHECKING:
    from designer.export import protocol as export_protocol
    from designer.export.client import ExportJob
    from designer.training import protocol as train_protocol
    from designer.training.client import TrainingJob
    from tui.jobs.search import SearchPlan, SearchProcess


@cache
def train_options() -> frozenset[str]:
    """Runner options passed through to the training worker's TrainConfig (``runs_dir`` sets its out_dir)."""
    from designer.training import protocol as train_protocol

    return frozenset(f.name for f in fields(train_protocol.TrainConfig)) - {"design", "out_dir", "run_dir"}


@cache
def export_options() -> frozenset[str]:
    """Runner options passed through to the export worker's ExportRequest (``source`` picks a run folder)."""
    from designer.export import protocol as export_protocol

    return frozenset(f.name for f in fields(export_protocol.ExportRequest)) - {"source"}

_EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")
_EXIT_WAIT_S = 30.0  # after its final event a worker only exits; one that hangs longer is killed


@dataclass
class _Job:
    job_id: str
    kind: str
    design: Design
    options: dict[str, object]
    turn: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: bool = False
    process: TrainingJob | ExportJob | SearchProcess | None = None
    done: bool = False
    plan: SearchPlan | None = None


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _num(value: float | None, fmt: str = ".3f") -> str:
    return "-" if value is None else format(value, fmt)


class ProcessRunner:
    """Runs train and export jobs as worker processes, ``max_running`` at a time (default one; the rest queue).

    ``runs_dir`` is where training runs go unless a job's options say (``runs_dir``); ``jobs_dir`` holds each
    export's design snapshot and worker log (default ``<state dir>/jobs``; kept only when the export fails).
    ``train_defaults`` / ``export_defaults`` are TrainConfig / ExportRequest fields every job gets unless its
    options say otherwise (tests use them to keep jobs tiny). ``python`` runs the workers (default: this one).
    """

    def __init__(self, *, runs_dir: Path | None = None, jobs_dir: Path | None = None, max_running: int = 1,
                 train_defaults: Mapping[str, object] | None = None,
                 export_defaults: Mapping[str, object] | None = None, python: str | None = None) -> None:
        self.runs_dir = runs_dir if runs_dir is not None else Path("runs")
        self.jobs_dir = jobs_dir
        self.max_running = max(1, max_running)
        self.train_defaults = dict(train_defaults or {})
        self.export_defaults = dict(export_defaults or {})
        self.python = python
        self.jobs: dict[str, _Job] = {}
        self._waiting: list[_Job] = []  # queued or running, in start order
        self._ids = itertools.count(1)

    # --- the JobRunner protocol ------------------------------------------------------------------------------

    def unavailable_reason(self, kind: str) -> str | None:
        if kind in JOB_KINDS:
            return None
        return f"cnn-designer has no '{kind}' jobs (only {', '.join(JOB_KINDS)})"

    def start(self, kind: str, design: Design, options: Mapping[str, object]) -> str:
        reason = self.unavailable_reason(kind)
        if reason is not None:
            raise JobUnavailable(reason)
        job = _Job(f"{kind}-{next(self._ids)}", kind, design, dict(options))
        try:  # bad options fail now, as a card that says why, rather than in the worker
            if kind == "train":
                self._train_config(job)
            elif kind == "export":
                self._export_request(job, "check")
            else:
                from tui.jobs.search import plan_for

                job.plan = plan_for(job.design, job.options)
        except (TypeError, ValueError) as exc:
            raise JobUnavailable(f"cannot start the {kind} job: {exc}") from None
        self.jobs[job.job_id] = job
        self._waiting.append(job)
        self._hand_out_turns()
        return job.job_id

    async def events(self, job_id: str) -> AsyncIterator[JobEvent]:
        job = self.jobs[job_id]
        try:
            if not job.turn.is_set() and not job.cancelled:
                yield Queued(self._ahead(job))
                await job.turn.wait()
            if job.cancelled:
                yield Finished(False, "cancelled before it started")
                return
            follow = {"train": self._train, "export": self._export, "search": self._search}[job.kind]
            async for event in follow(job):
                yield event
                if isinstance(event, Finished):
                    return
            yield Finished(False, f"the {job.kind} worker ended without a result")
        finally:
            job.done = True
            if job in self._waiting:
                self._waiting.remove(job)
            self._hand_out_turns()
            if job.process is not None and job.process.process.returncode is None:
                job.process.kill()  # the stream was abandoned (app quit): do not leave a worker behind

    def cancel(self, job_id: str) -> None:
        job = self.jobs.get(job_id)
        if job is None or job.done:
            return
        job.cancelled = True
        if job.process is not None:
            job.process.cancel()
        else:
            job.turn.set()  # a queued job wakes up and ends as cancelled

    # --- beyond the protocol ---------------------------------------------------------------------------------

    def kill(self, job_id: str) -> None:
        """Stop a job's worker now (no checkpoint); the job ends as failed."""
        job = self.jobs.get(job_id)
        if job is not None and job.process is not None:
            job.process.kill()

    def pid(self, job_id: str) -> int | None:
        """The job's worker process id, once it has started."""
        job = self.jobs.get(job_id)
        return None if job is None or job.process is None else job.process.process.pid

    def _ahead(self, job: _Job) -> int:
        return self._waiting.index(job) if job in self._waiting else 0

    def _hand_out_turns(self) -> None:
        for job in self._waiting[:self.max_running]:
            job.turn.set()

    # --- training --------------------------------------------------------------------------------------------

    def _train_config(self, job: _Job) -> train_protocol.TrainConfig:
        from designer.training import protocol as train_protocol

        values: dict[str, Any] = {**self.train_defaults,
                                  **{k: v for k, v in job.options.items() if k in train_options()}}
        runs_dir = job.options.get("runs_dir") or self.runs_dir
        design_ref = job.options.get("path") or job.design.name
        return train_protocol.TrainConfig(design=str(design_ref), out_dir=str(runs_dir), **values)

    async def _train(self, job: _Job) -> AsyncIterator[JobEvent]:
        from designer.training.client import TrainingJob
        from designer.training.runs import RunError

        try:
            worker = await TrainingJob.start(self._train_config(job), design=job.design, python=self.python)
        except (DesignError, RunError, OSError, ValueError) as exc:
            yield Finished(False, f"cannot start training: {exc}")
            return
        job.process = worker
        if job.cancelled:
            worker.cancel()
        yield Progress(0.0, "starting the training worker (loading TensorFlow)")
        yield Log(f"run folder {worker.run_dir}")
        async for out in _translated(worker, _TrainTranslator()):
            yield replace(out, report=str(worker.log_path)) if isinstance(out, Finished) else out

    # --- export ----------------------------------------------------------------------------------------------

    def _job_dir(self, job: _Job) -> Path:
        return (self.jobs_dir if self.jobs_dir is not None else state_dir() / "jobs") / job.job_id

    def _export_request(self, job: _Job, source: str) -> export_protocol.ExportRequest:
        from designer.export import protocol as export_protocol
        from tui.jobs.settings import default_out_dir

        values: dict[str, Any] = {**self.export_defaults,
                                  **{k: v for k, v in job.options.items() if k in export_options()}}
        if not values.get("out_dir"):
            values["out_dir"] = default_out_dir(job.design)
        return export_protocol.ExportRequest(source=source, **values)

    async def _export(self, job: _Job) -> AsyncIterator[JobEvent]:
        from designer import designfile
        from designer.export.client import ExportJob

        job_dir = self._job_dir(job)
        run = job.options.get("source")
        try:
            job_dir.mkdir(parents=True, exist_ok=True)
            if run:
                source = str(run)
            else:  # the design as edited now, exported untrained
                source = str(job_dir / "design.toml")
                designfile.save(job.design, source)
            request = self._export_request(job, source)
            worker = await ExportJob.start(request, log_path=job_dir / "export.log", python=self.python)
        except (OSError, ValueError) as exc:
            yield Finished(False, f"cannot start the export: {exc}")
            return
        job.process = worker
        if job.cancelled:
            worker.cancel()
        yield Progress(0.0, "starting the export worker (loading TensorFlow)")
        yield Log(f"exporting {'run ' + source if run else 'the design as edited (untrained)'} to {request.out_dir}")
        final: Finished | None = None
        async for out in _translated(worker, _translate_export):
            if isinstance(out, Finished):
                final = out
            else:
                yield out
        if final is None:
            return
        if final.ok:
            shutil.rmtree(job_dir, ignore_errors=True)
            final = _with_figures(final)
        else:
            reason = "cancelled" if job.cancelled else final.summary
            final = Finished(False, f"{reason} (worker log: {worker.log_path})", report=str(worker.log_path))
        yield final

    # --- search ----------------------------------------------------------------------------------------------

    async def _search(self, job: _Job) -> AsyncIterator[JobEvent]:
        """``cnn-designer search --json`` as a child process, seeded by the design as edited."""
        from designer import designfile
        from designer.training.runs import slug
        from tui.jobs.search import SearchProcess, SearchTranslator, command_args

        assert job.plan is not None
        job_dir = self._job_dir(job)
        out_dir = Path(str(job.options.get("runs_dir") or self.runs_dir)).resolve()
        try:
            job_dir.mkdir(parents=True, exist_ok=True)
            seed = job_dir / "design.toml"
            designfile.save(job.design, seed)
            worker = await SearchProcess.start(command_args(job.plan, job.options, str(seed), str(out_dir)),
                                               log_path=job_dir / "search.log", python=self.python)
        except OSError as exc:
            yield Finished(False, f"cannot start the search: {exc}")
            return
        job.process = worker
        if job.cancelled:
            worker.cancel()
        yield job.plan
        yield Log(f"study {job.plan.study} in {out_dir / ('search-' + slug(job.plan.study))}")
        async for out in _translated(worker, SearchTranslator(job.plan)):
            if isinstance(out, Finished) and out.ok:
                shutil.rmtree(job_dir, ignore_errors=True)
            elif isinstance(out, Finished):
                out = Finished(False, f"{out.summary} (log: {worker.log_path})", report=str(worker.log_path))
            yield out


def _with_figures(final: Finished) -> Finished:
    """An export's result with the bundle's figures from its report.json, as ``cnn-designer export`` prints
    them (the summary alone when the report cannot be read)."""
    import json

    try:
        report = json.loads((Path(final.report).parent / "report.json").read_text(encoding="utf-8"))
        lines = export_figures(report)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return final
    return replace(final, summary="\n".join([final.summary, *lines]))


def export_figures(report: dict[str, Any]) -> list[str]:
    """The headline figures of a bundle's report.json, one line each, as ``cnn-designer export`` prints them
    (KeyError/TypeError when one is missing)."""
    def pct(value: float | None) -> str:
        return "–" if value is None else f"{value:.2%}"

    files, arena, acc = report["files"], report["arena"], report["accuracy"]
    cortex_m = arena["cortex_m"]
    fit = ", ".join(f"{name} {'yes' if verdict['fits'] else 'NO'}" for name, verdict in report["fit"].items())
    return [f"int8 .tflite {files['model_int8.tflite']['bytes']:,} B · float32 .tflite "
            f"{files['model_float32.tflite']['bytes']:,} B",
            f"TFLM arena (CMSIS-NN) derived {cortex_m['cmsis_nn_bytes']:,} B / configured "
            f"{cortex_m['cmsis_nn_config_bytes']:,} B; measured on the host {arena['int8_measured_bytes']:,} B",
            f"accuracy float32 {pct(acc['float32'])} / int8 {pct(acc['int8'])} (tflite-micro, "
            f"{acc['images']:,} images) · top-1 agreement {pct(acc['top1_agreement'])}",
            f"fits {report['board']['name']}: {fit}"]


async def _translated(worker: TrainingJob | ExportJob | SearchProcess,
                      translate: Callable[[Any], list[JobEvent]]) -> AsyncIterator[JobEvent]:
    """The worker's events as app events, up to its Finished (yielded last, after the worker is reaped)."""
    final: Finished | None = None
    async with contextlib.aclosing(worker.events()) as stream:
        async for event in stream:
            for out in translate(event):
                if isinstance(out, Finished):
                    final = out
                else:
                    yield out
            if final is not None:
                break
    await _reap(worker)
    if final is not None:
        yield final


async def _reap(worker: TrainingJob | ExportJob | SearchProcess) -> None:
    """Wait for a worker that has sent its final event to exit; kill it if it hangs."""
    try:
        await asyncio.wait_for(worker.wait(), _EXIT_WAIT_S)
    except TimeoutError:
        worker.kill()
        await worker.wait()


class _TrainTranslator:
    """Training worker events -> app events (it remembers the Started event for the progress fraction)."""

    def __init__(self) -> None:
        self.started: train_protocol.Started | None = None
        self.best: tuple[int, float | None] | None = None
        """(epoch, val_accuracy) of the best epoch so far."""

    def __call__(self, event: train_protocol.Event) -> list[JobEvent]:
        from designer.training import protocol as train_protocol
        from designer.training.client import fraction_done

        started = self.started
        if isinstance(event, train_protocol.Started):
            self.started = event
            return [Log(f"training {event.design} ({event.params:,} params) on {event.train_images:,} images "
                        f"({event.val_images:,} validation), {event.steps_per_epoch} steps/epoch"),
                    Progress(fraction_done(event, event.initial_epoch + 1, 0),
                             f"epoch {event.initial_epoch + 1}/{event.epochs}")]
        if isinstance(event, train_protocol.Progress):
            fraction = fraction_done(started, event.epoch, event.step) if started else 0.0
            return [Progress(fraction, f"epoch {event.epoch}/{started.epochs if started else '?'} step "
                                       f"{event.step}/{event.steps} loss {_num(event.loss)} acc "
                                       f"{_num(event.accuracy, '.1%')} {event.images_per_s:,.0f} img/s "
                                       f"ETA {_duration(event.eta_s)}")]
        if isinstance(event, train_protocol.EpochEnd):
            out: list[JobEvent] = [Metric(name, event.epoch, float(getattr(event, name)))
                                   for name in _EPOCH_METRICS if getattr(event, name) is not None]
            if started is not None:
                out.append(Progress(fraction_done(started, event.epoch, started.steps_per_epoch),
                                    f"epoch {event.epoch}/{event.epochs} done"))
            if event.best:
                self.best = (event.epoch, event.val_accuracy)
            out.append(Log(f"epoch {event.epoch}/{event.epochs} loss {_num(event.loss)} acc "
                           f"{_num(event.accuracy, '.1%')} val_loss {_num(event.val_loss)} val_acc "
                           f"{_num(event.val_accuracy, '.1%')}{' best' if event.best else ''}"))
            return out
        if isinstance(event, train_protocol.Log):
            return [Log(event.message if event.level == "info" else f"{event.level}: {event.message}")]
        if isinstance(event, train_protocol.Finished):
            if event.ok:
                acc = event.metrics.get("test_accuracy")
                best = "" if self.best is None else f"\nbest epoch {self.best[0]}" + (
                    "" if self.best[1] is None else f" (val_accuracy {self.best[1]:.1%})")
                return [Finished(True, f"test accuracy {_num(acc, '.1%')} after {event.epochs_completed} "
                                       f"epoch(s){best}\nrun folder {event.run_dir}")]
            return [Finished(False, f"cancelled after {event.epochs_completed} finished epoch(s); last.keras "
                                    f"kept in {event.run_dir}")]
        if isinstance(event, train_protocol.Failed):
            return [Finished(False, event.reason)]
        return []  # epoch_start: the next progress event says it


def _translate_export(event: export_protocol.Event) -> list[JobEvent]:
    """Export worker events -> app events."""
    from designer.export import protocol as export_protocol

    if isinstance(event, export_protocol.Step):
        done = event.index if event.done else event.index - 1
        out: list[JobEvent] = [Progress(done / event.total, f"step {event.index}/{event.total}: {event.step}"
                                                            f"{' done' if event.done else '…'}")]
        if event.done:
            out.append(Log(f"{event.step}: {event.seconds:.1f} s" + (f" — {event.detail}" if event.detail else "")))
        return out
    if isinstance(event, export_protocol.Log):
        if event.message.startswith("UNTRAINED"):  # the summary says it, once
            return []
        return [Log(event.message if event.level == "info" else f"{event.level}: {event.message}")]
    if isinstance(event, export_protocol.Exported):
        summary = f"bundle in {event.out_dir}"
        if event.untrained:
            summary = f"UNTRAINED (random weights, predictions meaningless): {summary}"
        others = [w for w in event.warnings if not w.startswith("UNTRAINED")]
        if others:
            summary += f"; {len(others)} warning(s): " + "; ".join(others)
        return [Finished(True, summary, report=str(Path(event.out_dir) / "report.md"))]
    if isinstance(event, export_protocol.Failed):
        return [Finished(False, event.reason)]
    return []
