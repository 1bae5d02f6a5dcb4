"""Start a training worker process and read its events with asyncio; used by the CLI and the app's runner.

``job = await TrainingJob.start(config)`` prepares the run folder (no TensorFlow in this process), starts
``python -m designer.training.worker`` with its stderr on the run's worker.log, and ``async for event in
job.events()`` yields parsed protocol events until the final ``finished`` or ``failed``. A worker that dies
without a final event (killed, crashed interpreter) still ends the stream with a ``failed`` event that quotes
the end of worker.log. ``job.cancel()`` asks the worker to stop after its current step.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from designer.design import Design
from designer.training import runs
from designer.training.protocol import (
    CANCEL_COMMAND,
    FINAL_EVENTS,
    Event,
    Failed,
    Log,
    ProtocolError,
    Started,
    TrainConfig,
    decode_event,
)

_LINE_LIMIT = 16 * 1024 * 1024  # a finished event carries a confusion matrix; allow long lines


def _project_root() -> str:
    import designer

    return str(Path(designer.__file__).resolve().parent.parent)


def worker_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a worker: ours, with this checkout importable and TensorFlow's C++ logs quieter."""
    env = dict(os.environ)
    root = _project_root()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra or {})
    return env


def fraction_done(started: Started, epoch: int, step: int) -> float:
    """How much of the job's training is done, in [0, 1], at ``step`` of ``epoch`` (both 1-based, as in events).

    A resumed job counts only the epochs it has left to train.
    """
    total = max(started.epochs - started.initial_epoch, 0) * started.steps_per_epoch
    if total == 0:
        return 1.0
    done = (epoch - 1 - started.initial_epoch) * started.steps_per_epoch + step
    return min(max(done / total, 0.0), 1.0)


def log_tail(path: Path, lines: int = 5) -> str:
    """The last few non-empty lines of a log file (for a failure reason)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join([line for line in text.splitlines() if line.strip()][-lines:])


EventT = TypeVar("EventT")


async def decode_lines(stream: asyncio.StreamReader, decode: Callable[[str], EventT],
                       not_an_event: Callable[[str, ProtocolError], EventT]) -> AsyncIterator[EventT]:
    """Events from a worker's stdout, one JSON object per line (blank lines skipped); a line ``decode``
    rejects becomes ``not_an_event(line, error)``. Shared by the training and export clients."""
    async for raw in stream:
        line = raw.decode("utf-8", errors="replace").strip()
        if not line:
            continue
        try:
            event = decode(line)
        except ProtocolError as exc:
            event = not_an_event(line, exc)
        yield event


class TrainingJob:
    """A running worker process."""

    def __init__(self, process: asyncio.subprocess.Process, config: TrainConfig, design: Design) -> None:
        self.process = process
        self.config = config
        self.design = design
        self.run_dir = Path(str(config.run_dir))
        self.final: Event | None = None
        self._cancel_requested = False

    @property
    def log_path(self) -> Path:
        """The worker's log file (its stderr)."""
        return self.run_dir / runs.LOG_FILE

    @classmethod
    async def start(cls, config: TrainConfig, *, design: Design | None = None, python: str | None = None,
                    env: Mapping[str, str] | None = None) -> TrainingJob:
        """Prepare the run folder and start the worker. ``design`` (e.g. the app's edited design) is trained
        instead of loading ``config.design``. Raises DesignError, RunError or DataError (bad input: checked
        before anything is written) or OSError before starting anything."""
        given = design is not None
        # In a thread: scanning an image folder's names or an .npz's labels must not stall the app's loop.
        config, design = await asyncio.to_thread(runs.prepare_run, config, design)
        if given and not config.resume:
            # The worker loads config.design: point it at the run's snapshot of the design we were given.
            config = replace(config, design=str(Path(str(config.run_dir)) / runs.DESIGN_FILE))
        log_path = Path(str(config.run_dir)) / runs.LOG_FILE
        with open(log_path, "ab") as log:
            process = await asyncio.create_subprocess_exec(
                python or sys.executable, "-m", "designer.training.worker", "--config", config.to_json(),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
                env=worker_env(env), limit=_LINE_LIMIT)
        return cls(process, config, design)

    async def events(self) -> AsyncIterator[Event]:
        """Parsed events until the worker's output ends; always ends with a Finished or Failed event."""
        assert self.process.stdout is not None
        # A line that is not an event should not happen (fd 1 goes to the log); it is kept as a log line.
        async for event in decode_lines(self.process.stdout, decode_event,
                                        lambda line, _exc: Log(message=line, level="stdout")):
            if isinstance(event, FINAL_EVENTS):
                self.final = event
            yield event
        code = await self.process.wait()
        if self.final is None:
            tail = log_tail(self.log_path)
            how = f"was stopped by signal {-code}" if code < 0 else f"exited with code {code}"
            self.final = Failed(reason=f"the training worker {how} before reporting a result; "
                                       f"see {self.log_path}" + (f": {tail.splitlines()[-1]}" if tail else ""),
                                run_dir=str(self.run_dir), detail=tail)
            yield self.final

    def cancel(self) -> None:
        """Ask the worker to stop after its current step (a ``cancel`` line on its stdin, else SIGTERM)."""
        if self.process.returncode is not None:
            return
        self._cancel_requested = True
        stdin = self.process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.write(f"{CANCEL_COMMAND}\n".encode())
            return
        self.process.send_signal(signal.SIGTERM)

    @property
    def cancel_requested(self) -> bool:
        """Whether cancel() was called."""
        return self._cancel_requested

    def kill(self) -> None:
        """Stop the worker now (no checkpoint is written)."""
        if self.process.returncode is None:
            self.process.kill()

    async def wait(self) -> int:
        """The worker's exit status."""
        return await self.process.wait()
