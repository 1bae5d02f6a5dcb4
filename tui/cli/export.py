"""``cnn-designer export`` and ``cnn-designer report``: the export bundle and X-CUBE-AI analyze reports.

``export`` runs the export worker (``python -m designer.export.worker``) as a child process and follows its
JSON-lines events, so this process never imports TensorFlow and the converter's chatter never reaches stdout;
the source, the board and the output folder are checked first (no TensorFlow, nothing written), so bad
input is one line and exit 2. The worker's stderr is kept in memory and, when the export fails, saved as
``export.log`` in the output folder (recorded in its manifest, so the next export may replace it); nothing
goes to /tmp. ``report`` parses a saved ``stedgeai analyze`` report. Both print rich tables, or one JSON
object with ``--json``. Exit status: 0 done, 1 the export or the parse failed after starting (one line on
stderr says why), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from designer import outdir
from designer.export.bundle import BUNDLE_KIND, plan_export
from designer.export.client import no_result, worker_command, worker_env
from designer.export.protocol import Exported, ExportRequest, Failed, Log, ProtocolError, Step, decode_event
from designer.export.source import ExportError
from designer.export.stedgeai import AnalyzeReport, ReportParseError, load_report
from designer.footprint import COMPRESSIONS
from designer.training.protocol import Event
from tui.cli.common import EXIT_BAD_INPUT, EXIT_FAILURE, PROG

EventRunner = Callable[[ExportRequest], Iterator[Event]]
"""Runs an export and yields its events (the real one spawns the worker; tests pass a fake)."""


def add_export_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``export RUN_OR_DESIGN [--out DIR] [--board NAME] [--compression C] [--json]``."""
    p = subparsers.add_parser(
        "export", prog=f"{PROG} export",
        help="export a training run (or an untrained design) for STM32: .h5, .tflite, C sources, report",
        description="Export RUN_OR_DESIGN (a runs/<design>-<timestamp>/ folder, or a preset id / .toml design "
                    "exported UNTRAINED) as a bundle: model.keras/.h5, float32 and int8 .tflite, <name>_data.c/.h, "
                    "<name>_config.h, <name>_ops.h, <name>_test_vectors.h, <name>_main_example.cc, stedgeai.sh, "
                    "README.md and report.md/.json.")
    p.add_argument("source", metavar="RUN_OR_DESIGN", help="a run folder, a preset id or a design .toml")
    p.add_argument("--out", metavar="DIR", help="bundle folder (default: RUN/export, or exports/<design>)")
    p.add_argument("--board", metavar="NAME", help="board to check and target (default: the catalogue's default)")
    p.add_argument("--compression", choices=COMPRESSIONS, default="high",
                   help="X-CUBE-AI weight compression for the .h5 (default: high)")
    p.add_argument("--data", metavar="PATH", help="data set for calibration/evaluation (default: the run's)")
    p.add_argument("--calibration-images", type=int, default=300, metavar="N",
                   help="training images used to calibrate int8 (default: 300)")
    p.add_argument("--eval-images", type=int, default=ExportRequest.eval_images, metavar="N",
                   help="test images for float32 vs int8 accuracy, a seeded sample of a larger test set "
                        f"(default: {ExportRequest.eval_images:,}), run with LiteRT")
    p.add_argument("--micro-eval-images", type=int, default=ExportRequest.micro_eval_images, metavar="N",
                   help="of those, a seeded sample run with tflite-micro (the board's kernels), which gives the "
                        f"reported accuracy; ~20 ms per Model5 image (default: {ExportRequest.micro_eval_images:,})")
    p.add_argument("--no-stedgeai", action="store_true", help="do not run stedgeai analyze even if on PATH")
    p.add_argument("--json", action="store_true", help="print one JSON object (report.json and where it is)")
    return p


def add_report_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``report PATH [--json]``: the figures of a saved X-CUBE-AI analyze report."""
    p = subparsers.add_parser("report", prog=f"{PROG} report",
                              help="read a saved stedgeai/X-CUBE-AI analyze report: flash, RAM, MACC, layers")
    p.add_argument("path", metavar="PATH", help="a report text file, or an export bundle with stedgeai_analyze.txt")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    return p


# ------------------------------------------------------------------------------------------------ export


LOG_NAME = "export.log"
_LOG_LIMIT_CHARS = 4_000_000  # the tail kept of a chatty worker's stderr


class WorkerLog:
    """The worker's stderr, drained by a thread (so a full pipe never stalls it) and kept in memory until the
    export ends; only a failed export's log is saved, into the output folder."""

    def __init__(self) -> None:
        self._chunks: deque[str] = deque()
        self._size = 0
        self._thread: threading.Thread | None = None

    def follow(self, stream: Any) -> None:
        """Drain ``stream`` (a text pipe) in the background."""
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream: Any) -> None:
        for line in stream:
            self.write(line)

    def write(self, text: str) -> None:
        """Add text (the worker's, or a note of ours)."""
        self._chunks.append(text)
        self._size += len(text)
        while self._size > _LOG_LIMIT_CHARS and len(self._chunks) > 1:
            self._size -= len(self._chunks.popleft())

    def text(self) -> str:
        """Everything kept so far (waits briefly for the drain thread when the worker has ended)."""
        if self._thread is not None:
            self._thread.join(timeout=5)
        return "".join(self._chunks)

    def save(self, target: Path) -> Path | None:
        """Write the log as ``target/export.log`` and record it in the folder's manifest; None when the folder
        is no longer one an export may write into (a user's file appeared there meanwhile)."""
        try:
            outdir.check_out_dir(target, BUNDLE_KIND)
            target.mkdir(parents=True, exist_ok=True)
            (target / LOG_NAME).write_text(self.text(), encoding="utf-8")
            outdir.add_to_manifest(target, BUNDLE_KIND, [LOG_NAME])
        except (OSError, outdir.OutDirError):
            return None
        return target / LOG_NAME


def worker_events(request: ExportRequest, *, log: WorkerLog) -> Iterator[Event]:
    """Spawn the export worker and yield its events; its stderr goes to ``log``."""
    proc = subprocess.Popen(worker_command(request), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, env=worker_env())
    assert proc.stdout is not None
    log.follow(proc.stderr)
    final = False
    try:
        for line in proc.stdout:
            if not line.strip():
                continue
            try:
                event = decode_event(line)
            except ProtocolError as exc:
                log.write(f"[export cli] {exc}\n")
                continue
            final = final or isinstance(event, (Exported, Failed))
            yield event
    finally:
        if proc.poll() is None and not final:
            proc.terminate()  # the caller stopped early (an error of ours): the worker unwinds its scratch
        code = proc.wait()
    if not final:
        yield no_result(code, Path(request.out_dir or ".") / LOG_NAME)


def _request(args: argparse.Namespace) -> ExportRequest:
    return ExportRequest(source=args.source, out_dir=args.out, data=args.data, board=args.board,
                         compression=args.compression, calibration_images=args.calibration_images,
                         eval_images=args.eval_images, micro_eval_images=args.micro_eval_images,
                         stedgeai=not args.no_stedgeai)


def _console() -> Console:
    return Console(highlight=False, width=None if sys.stdout.isatty() else 120)


def _print_summary(report: dict[str, Any], out_dir: str, out: Console) -> None:
    if report["untrained"]:
        out.print(Panel("UNTRAINED DESIGN: random weights. Sizes and arena are right; predictions are "
                        "meaningless. Train it and export the run.", title="WARNING", style="bold red"))
    table = Table(title=f"Exported {report['design']} to {out_dir}", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("figure")
    table.add_column("value", justify="right")
    files, arena, acc = report["files"], report["arena"], report["accuracy"]
    table.add_row("int8 .tflite", f"{files['model_int8.tflite']['bytes']:,} B")
    table.add_row("float32 .tflite", f"{files['model_float32.tflite']['bytes']:,} B")
    cm = arena["cortex_m"]
    table.add_row("TFLM arena CMSIS-NN: derived / configured",
                  f"{cm['cmsis_nn_bytes']:,} / {cm['cmsis_nn_config_bytes']:,} B")
    table.add_row("TFLM arena reference: derived / configured",
                  f"{cm['reference_bytes']:,} / {cm['reference_config_bytes']:,} B")
    table.add_row("TFLM arena measured (64-bit host)", f"{arena['int8_measured_bytes']:,} B")

    def pct(v: float | None) -> str:
        return "–" if v is None else f"{v:.2%}"

    lite = acc["litert"]
    table.add_row(f"accuracy float32 / int8 (tflite-micro, {acc['images']:,} images)",
                  f"{pct(acc['float32'])} / {pct(acc['int8'])}")
    table.add_row("top-1 agreement (tflite-micro)", pct(acc["top1_agreement"]))
    table.add_row(f"accuracy float32 / int8 (LiteRT, {lite['images']:,} images)",
                  f"{pct(lite['float32'])} / {pct(lite['int8'])}")
    for name, v in report["fit"].items():
        table.add_row(f"fits {report['board']['name']} ({name})", "yes" if v["fits"] else "NO")
    out.print(table)
    for w in report["warnings"]:
        if not w.startswith("UNTRAINED"):
            out.print(f"[bold yellow]warning:[/] {escape(w)}")


def _fail(message: str) -> None:
    print(f"{PROG} export: {' '.join(message.split())}", file=sys.stderr)


def run_export_command(args: argparse.Namespace, runner: EventRunner | None = None) -> int:
    """Run ``cnn-designer export``; returns the exit status (0 done, 1 failed after starting, 2 bad input)."""
    try:
        request = _request(args)
        plan = plan_export(request)  # source, board, output folder: refused here, before any TensorFlow
    except (ValueError, ExportError) as exc:
        _fail(str(exc))
        return EXIT_BAD_INPUT
    request = replace(request, out_dir=str(plan.target))
    log = WorkerLog()
    try:
        return _follow(runner(request) if runner else worker_events(request, log=log), args, plan.target,
                       log if runner is None else None)
    except KeyboardInterrupt:  # the worker got the same SIGINT and removes its scratch folder
        _fail("interrupted; no bundle was written")
        return EXIT_FAILURE
    except Exception as exc:  # a bug of ours, or the worker could not start: one line, never a traceback
        _fail(f"the export failed: {type(exc).__name__}: {exc}")
        return EXIT_FAILURE


def _follow(events: Iterator[Event], args: argparse.Namespace, target: Path, log: WorkerLog | None) -> int:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    out = _console()

    def failed(reason: str) -> int:
        saved = log.save(target) if log is not None else None
        _fail(reason if saved is None or str(saved) in reason else f"{reason} (worker log: {saved})")
        return EXIT_FAILURE

    for event in events:
        if isinstance(event, Step) and not args.json:
            if event.done:
                err.print(escape(f"[{event.index}/{event.total}] {event.step}: done in {event.seconds:.1f} s"
                                 + (f" — {event.detail}" if event.detail else "")))
            else:
                err.print(escape(f"[{event.index}/{event.total}] {event.step}…"))
        elif isinstance(event, Log) and event.level != "warning" and not args.json:
            err.print(escape(event.message))
        elif isinstance(event, Failed):
            return failed(event.reason)
        elif isinstance(event, Exported):
            try:
                report = json.loads((Path(event.out_dir) / "report.json").read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                return failed(f"the bundle {event.out_dir} has no readable report.json ({exc})")
            if args.json:
                print(json.dumps({"ok": True, "out_dir": event.out_dir, "report": report}, indent=2))
            else:
                _print_summary(report, event.out_dir, out)
            return 0
    return failed("the export ended without a result")


# ------------------------------------------------------------------------------------------------ report


def _report_path(path: Path) -> Path:
    if path.is_dir():
        saved = path / "stedgeai_analyze.txt"
        if saved.is_file():
            return saved
        raise ReportParseError(f"{path}: a folder without stedgeai_analyze.txt; give the report file itself")
    return path


def print_analyze_report(report: AnalyzeReport, source: str, out: Console) -> None:
    """The headline figures and the per-layer table of an analyze report."""
    title = f"X-CUBE-AI analyze: {report.model_name or source}"
    if report.target:
        title += f" ({report.target}, compression {report.compression or '?'})"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("figure")
    table.add_column("bytes / count", justify="right")
    rows = [("weights (flash)", report.weights_bytes), ("activations (RAM)", report.activations_bytes),
            ("library flash", report.library_flash_bytes), ("library RAM", report.library_ram_bytes),
            ("total flash", report.total_flash_bytes), ("total RAM", report.total_ram_bytes),
            ("MACC", report.macc), ("params", report.params)]
    for name, value in rows:
        table.add_row(name, "–" if value is None else f"{value:,}")
    out.print(table)
    if report.layers:
        layers = Table(title="Layers", title_justify="left", box=box.SIMPLE_HEAD)
        for col in ("m_id", "layer", "type", "output", "params", "bytes", "MACC"):
            layers.add_column(col, justify="right" if col in ("m_id", "params", "bytes", "MACC") else "left")
        for layer in report.layers:
            layers.add_row(str(layer.m_id), escape(layer.name), layer.layer_type, escape(layer.output_shape),
                           f"{layer.params:,}", f"{layer.param_bytes:,}", f"{layer.macc:,}")
        out.print(layers)
    if report.runs > 1:
        out.print(f"note: {report.runs} analyze runs were interleaved in the file; their figures agree.")
    for w in report.warnings:
        out.print(f"[bold yellow]X-CUBE-AI:[/] {escape(w)}")


def run_report_command(args: argparse.Namespace) -> int:
    """Run ``cnn-designer report PATH``; returns the exit status."""
    path = Path(args.path)
    if not path.exists():
        print(f"{PROG} report: {path}: no such file", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        report = load_report(_report_path(path))
    except ReportParseError as exc:
        print(f"{PROG} report: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print_analyze_report(report, str(path), _console())
    return 0
