"""The export job: ``python -m designer.export.worker`` reads an ExportRequest (JSON) and prints events.

The request comes as the first argument or, without one, as the first line of stdin. Every event is one JSON
line on the protocol stream (the real stdout); anything else that writes to stdout (Keras, the converter) is
sent to stderr, which is the job's log. The stream and the export function are injectable, so tests run the
worker in-process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from designer.export.protocol import (
    STEPS,
    Event,
    Exported,
    ExportRequest,
    Failed,
    Log,
    ProtocolError,
    Step,
    encode_event,
)

if TYPE_CHECKING:
    from designer.export.bundle import ExportResult

ExportFunction = Callable[..., "ExportResult"]
"""export_bundle's signature: (request, on_step, on_log) -> ExportResult."""


class Cancelled(BaseException):
    """SIGTERM arrived (the job was cancelled): unwinds the export, which removes its scratch folder."""


def _cancel_on_sigterm(_signum: int, _frame: object) -> None:
    raise Cancelled


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    keys = ("design", "c_name", "board", "arena", "accuracy", "fit")
    return {k: report[k] for k in keys if k in report}


def run(request: ExportRequest, emit: Callable[[Event], None],
        export: ExportFunction | None = None) -> int:
    """Run one export, emitting Step/Log events and a final Exported or Failed; returns the exit status."""
    from designer.export.source import ExportError

    if export is None:
        from designer.export.bundle import export_bundle as export

    def on_step(step: str, done: bool, seconds: float, detail: str) -> None:
        emit(Step(step, STEPS.index(step) + 1, len(STEPS), done, round(seconds, 3), detail))

    def on_log(message: str) -> None:
        emit(Log(message, "warning"))

    try:
        result = export(request, on_step, on_log)
    except Cancelled:
        emit(Failed("export cancelled; its partial files were removed and no bundle was written"))
        return 1
    except ExportError as exc:
        emit(Failed(str(exc)))
        return 1
    except Exception as exc:  # anything else is a bug: say so, with the traceback for the log
        emit(Failed(f"export failed unexpectedly: {type(exc).__name__}: {exc}", detail=traceback.format_exc()))
        return 2
    report = result.report
    for warning in report["warnings"]:
        emit(Log(warning, "warning"))
    emit(Exported(str(result.out_dir), bool(report["untrained"]), list(report["warnings"]), _summary(report)))
    return 0


def main(argv: list[str] | None = None, *, stdin: IO[str] | None = None, stdout: IO[str] | None = None) -> int:
    """Entry point; ``stdout`` is the protocol stream (default: the process's real stdout)."""
    args = sys.argv[1:] if argv is None else argv
    stream = stdout
    if stream is None:
        # Keep the protocol on a private copy of fd 1 and point fd 1 (and sys.stdout) at stderr, so nothing
        # the converter or Keras prints can corrupt the JSON lines.
        stream = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
        os.dup2(2, 1)
        sys.stdout = sys.stderr

    def emit(event: Event) -> None:
        stream.write(encode_event(event) + "\n")
        stream.flush()

    text = args[0] if args else (stdin or sys.stdin).readline()
    try:
        request = ExportRequest.from_json(text)
    except ProtocolError as exc:
        emit(Failed(str(exc)))
        return 2
    # A cancel (SIGTERM) unwinds through the export's cleanup instead of leaving its scratch folder behind.
    signal.signal(signal.SIGTERM, _cancel_on_sigterm)
    with contextlib.redirect_stdout(sys.stderr):
        return run(request, emit)


if __name__ == "__main__":
    sys.exit(main())
