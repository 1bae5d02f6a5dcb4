"""Start the export worker process and read its events: shared by ``cnn-designer export`` and the app's runner.

:func:`worker_command` and :func:`worker_env` say how the worker is spawned (``python -m designer.export.worker
REQUEST``, with this checkout importable and TensorFlow's C++ logs off); :func:`no_result` is the Failed event
for a worker that exited without a final event. The CLI follows the worker synchronously with these;
:class:`ExportJob` follows it with asyncio (the app). No TensorFlow in this process: only the worker loads it.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from designer.export.protocol import FINAL_EVENTS, Event, ExportRequest, Failed, Log, decode_event

_LINE_LIMIT = 4 * 1024 * 1024  # the exported event carries report.json's summary


def worker_command(request: ExportRequest, python: str | None = None) -> list[str]:
    """The argv that runs one export."""
    return [python or sys.executable, "-m", "designer.export.worker", request.to_json()]


def worker_env() -> dict[str, str]:
    """The worker's environment: ours, with this checkout importable and TensorFlow's C++ logs off."""
    from designer.training.client import worker_env as training_env

    return training_env({"TF_CPP_MIN_LOG_LEVEL": "3"})


def no_result(code: int, log_path: Path) -> Failed:
    """The Failed event for a worker that exited (status ``code``; negative: killed by that signal) without
    reporting a result."""
    how = f"was stopped by signal {-code}" if code < 0 else f"stopped (exit status {code})"
    return Failed(f"the export worker {how} without reporting why; see {log_path}")


class ExportJob:
    """A running export worker, followed with asyncio; its stderr goes to ``log_path``."""

    def __init__(self, process: asyncio.subprocess.Process, request: ExportRequest, log_path: Path) -> None:
        self.process = process
        self.request = request
        self.log_path = log_path
        self.final: Event | None = None

    @classmethod
    async def start(cls, request: ExportRequest, *, log_path: Path, python: str | None = None) -> ExportJob:
        """Start the worker; its stderr is appended to ``log_path`` (whose folder must exist)."""
        with open(log_path, "ab") as log:
            process = await asyncio.create_subprocess_exec(
                *worker_command(request, python), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=log, env=worker_env(), limit=_LINE_LIMIT)
        return cls(process, request, log_path)

    async def events(self) -> AsyncIterator[Event]:
        """Parsed events until the worker's output ends; always ends with an Exported or Failed event."""
        from designer.training.client import decode_lines

        assert self.process.stdout is not None
        # A line that is not an event should not happen: the worker keeps fd 1 for the protocol.
        async for event in decode_lines(self.process.stdout, decode_event,
                                        lambda _line, exc: Log(f"[not an export event] {exc}", "stdout")):
            if isinstance(event, FINAL_EVENTS):
                self.final = event
            yield event
        code = await self.process.wait()
        if self.final is None:
            self.final = no_result(code, self.log_path)
            yield self.final

    def cancel(self) -> None:
        """Stop the export (SIGTERM: the worker unwinds, removes its scratch folder and reports Failed)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Stop the worker now."""
        if self.process.returncode is None:
            self.process.kill()

    async def wait(self) -> int:
        """The worker's exit status."""
        return await self.process.wait()
