"""``cnn-designer presets``, ``boards`` and ``estimate``: the notebook's presets, the board catalogue and one
design's footprint, as rich tables or, with ``--json``, one JSON object for scripts.

Nothing here imports TensorFlow or textual (a test checks it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from itertools import accumulate
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from designer.boards import Board, default_board, find_board, fits, inference_ms, load_catalogue
from designer.design import Design, DesignError, analyze
from designer.footprint import COMPRESSIONS, DTYPES, RUNTIMES, Footprint, estimate, format_size
from presets import load_preset, preset_ids
from tui.budget import COMPRESSION_INT8_NOTE
from tui.files.sources import resolve_design


def _add_estimate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--board", metavar="NAME", help="board to check against (default: the catalogue's default)")
    parser.add_argument("--runtime", choices=RUNTIMES, default="xcubeai", help="runtime to estimate (default: xcubeai)")
    parser.add_argument("--dtype", choices=DTYPES, default="float32",
                        help="weights/activations type (default: float32)")
    parser.add_argument("--compression", choices=COMPRESSIONS, default="high",
                        help="X-CUBE-AI weight compression (default: high; ignored by tflm)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def add_estimate_commands(subparsers: Any) -> None:
    """Add ``presets``, ``boards`` and ``estimate`` to an argparse subparsers object (``HANDLERS`` runs them)."""
    presets = subparsers.add_parser("presets", prog="cnn-designer presets",
                                    help="the presets (the seed notebook's Model0-13, Model19, ResNet-8): "
                                         "published figures vs estimates")
    _add_estimate_options(presets)
    presets.add_argument("--markdown", action="store_true",
                         help="print a markdown table (the README's preset table is made with it)")
    boards = subparsers.add_parser("boards", prog="cnn-designer boards",
                                   help="the board catalogue (shipped + user boards)")
    boards.add_argument("--json", action="store_true", help="print JSON instead of a table")
    est = subparsers.add_parser("estimate", prog="cnn-designer estimate",
                                help="flash, RAM, MACC and inference time of one design on one board")
    est.add_argument("design", metavar="DESIGN", help="a preset id (see `cnn-designer presets`) or a design file path")
    _add_estimate_options(est)


def console() -> Console:
    """The console the tables print on."""
    out = Console(highlight=False)
    # Piped output (CI logs, `| less`) would otherwise wrap at rich's 80-column default.
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out = Console(highlight=False, width=120)
    return out


def _print_json(data: Any) -> None:
    # Strict JSON: a non-finite float is a bug to report (exit 1), never an Infinity that parsers reject.
    sys.stdout.write(json.dumps(data, indent=2, allow_nan=False) + "\n")


def _board(name: str | None) -> Board:
    return default_board() if name is None else find_board(name)


def _bytes(n: int) -> str:
    # format_size() truncates to KiB, so a 40-byte bias would read "0K"; small sizes are clearer in bytes.
    return f"{n} B" if n < 1024 else format_size(n)


def _verdict(ok: bool) -> Text:
    return Text("fits", style="bold green") if ok else Text("over", style="bold red")


# ---------------------------------------------------------------------------------------------- presets


def _preset_row(preset_id: str, board: Board, args: argparse.Namespace) -> dict[str, Any]:
    design = load_preset(preset_id)
    nb = design.notebook
    row: dict[str, Any] = {
        "id": preset_id,
        "name": design.name,
        "notebook": None if nb is None else {
            "params": nb.params, "params_convention": nb.params_convention, "rom": nb.rom, "ram": nb.ram,
            "accuracy_percent": nb.accuracy_percent, "accuracy_int8_percent": nb.accuracy_int8_percent,
        },
    }
    try:
        fp = estimate(design, runtime=args.runtime, dtype=args.dtype, compression=args.compression)
    except DesignError as exc:
        # A valid preset this runtime's estimator cannot take yet (residual blocks): params only, and why.
        analysis = analyze(design)
        row["estimate"] = {"params": {"total": analysis.params_total, "trainable": analysis.params_trainable},
                           "macc": analysis.macc, "flash_bytes": None, "ram_bytes": None, "flash_text": "–",
                           "ram_text": "–"}
        return {**row, "fits": None, "error": exc.reason}
    row["estimate"] = {
        "params": {"total": fp.params_total, "trainable": fp.params_trainable},
        "macc": fp.macc,
        "flash_bytes": fp.flash_bytes,
        "ram_bytes": fp.ram_bytes,
        "flash_text": format_size(fp.flash_bytes),
        "ram_text": format_size(fp.ram_bytes),
    }
    return {**row, "fits": fits(fp, board).fits}


def _int8_text(nb: dict[str, Any]) -> str:
    int8 = nb.get("accuracy_int8_percent")
    return "" if int8 is None else f" ({int8:.2f} int8)"


def _fits_text(fits_value: bool | None) -> str:
    return "–" if fits_value is None else ("yes" if fits_value else "no")


def cmd_presets(args: argparse.Namespace, out: Console) -> int:
    """List the presets with the notebook's figures beside ours."""
    board = _board(args.board)
    rows = [_preset_row(pid, board, args) for pid in preset_ids()]
    if args.json:
        settings = {"board": board.name, "runtime": args.runtime, "dtype": args.dtype,
                    "compression": args.compression}
        _print_json({**settings, "presets": rows})
        return 0
    if args.markdown:
        sys.stdout.write(_presets_markdown(rows, board, args))
        return 0
    table = Table(title=f"Presets: notebook (X-CUBE-AI) vs estimated ({args.runtime}, {args.dtype}, compression "
                        f"{args.compression}), fit on {board.name}", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("id", no_wrap=True)
    for header in ("nb params", "nb ROM", "nb RAM", "acc %", "params", "flash", "RAM", "fits"):
        table.add_column(header, justify="right", no_wrap=True)
    for row in rows:
        nb = row["notebook"] or {}
        est = row["estimate"]
        # Compare like with like: the notebook mixes Keras' total count and the trainable count.
        convention = nb.get("params_convention", "total")
        mark = "" if convention == "total" else " t"
        table.add_row(
            row["id"],
            f"{nb['params']:,}{mark}" if nb else "-",
            nb.get("rom") or "-", nb.get("ram") or "-",
            f"{nb['accuracy_percent']:.2f}" if nb.get("accuracy_percent") is not None else "-",
            f"{est['params'][convention]:,}{mark}",
            est["flash_text"], est["ram_text"], "–" if row["fits"] is None else _verdict(row["fits"]),
        )
    out.print(table)
    for row in rows:
        if row.get("error"):
            out.print(f"{row['id']}: no {args.runtime} estimate: {row['error']}")
    out.print("nb = the published figures (the seed notebook's; ResNet-8: MLPerf Tiny's); t = trainable count "
              "(else Keras count_params()); K = KiB, M = MiB.")
    return 0


def _presets_markdown(rows: list[dict[str, Any]], board: Board, args: argparse.Namespace) -> str:
    lines = [
        f"| preset | params (notebook) | params (ours) | ROM notebook / ours | RAM notebook / ours | "
        f"accuracy % (notebook) | fits {board.name} |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        nb = row["notebook"] or {}
        convention = nb.get("params_convention", "total")
        mark = "" if convention == "total" else " (trainable)"
        ours = row["estimate"]
        acc = nb.get("accuracy_percent")
        lines.append(
            f"| {row['name']} | {nb['params']:,}{mark} | {ours['params'][convention]:,} | "
            f"{nb.get('rom') or '–'} / {ours['flash_text']} | {nb.get('ram') or '–'} / {ours['ram_text']} | "
            f"{'–' if acc is None else f'{acc:.2f}'}{_int8_text(nb)} | {_fits_text(row['fits'])} |"
        )
    lines.append("")
    lines.append(f"Estimated with `{args.runtime}`, {args.dtype}, compression {args.compression}; "
                 "K = KiB (truncated), M = MiB (2 decimals), as X-CUBE-AI prints them.")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- boards


def _board_dict(board: Board, default_name: str) -> dict[str, Any]:
    return {"name": board.name, "mcu": board.mcu, "core": board.core, "series": board.series,
            "clock_hz": board.clock_hz, "flash_bytes": board.flash_bytes, "ram_bytes": board.ram_bytes,
            "ram_region": board.ram_region, "note": board.note, "default": board.name == default_name}


def cmd_boards(args: argparse.Namespace, out: Console) -> int:
    """List the board catalogue."""
    catalogue = load_catalogue()
    if args.json:
        _print_json({"default": catalogue.default_name,
                     "boards": [_board_dict(b, catalogue.default_name) for b in catalogue]})
        return 0
    table = Table(title="Boards (* = default; RAM = the one region a model may use)", title_justify="left",
                  box=box.SIMPLE_HEAD)
    for header in ("", "board", "MCU", "core", "series"):
        table.add_column(header, no_wrap=True)
    for header in ("MHz", "flash", "RAM"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("RAM region")
    for b in catalogue:
        table.add_row("*" if b.name == catalogue.default_name else "", b.name, b.mcu, b.core, b.series,
                      f"{b.clock_mhz:g}", format_size(b.flash_bytes), format_size(b.ram_bytes), b.ram_region)
    out.print(table)
    return 0


# ---------------------------------------------------------------------------------------------- estimate


def estimate_report(design: Design, fp: Footprint, board: Board, source: str = "") -> dict[str, Any]:
    """The ``estimate --json`` object: totals, budgets and verdicts in bytes, and one row per layer."""
    verdict = fits(fp, board)
    peaks = list(accumulate((lf.live_bytes for lf in fp.layers), max))  # the running peak of the memory picture
    rows = analyze(design).layers  # footprint rows are analysis rows (execution order, blocks included)
    report = {
        "design": design.name,
        "source": source,
        "board": board.name,
        "runtime": fp.runtime,
        "dtype": fp.dtype,
        "compression": fp.compression,
        "basis": fp.note,  # which tool version and series the figures follow (int8 X-CUBE-AI: the ST zoo's H7)
        "params": {"total": fp.params_total, "trainable": fp.params_trainable},
        "macc": fp.macc,
        "flash": {"weights": fp.weights_bytes, "runtime": fp.runtime_flash_bytes, "total": fp.flash_bytes,
                  "budget": board.flash_bytes, "margin": verdict.flash_margin_bytes, "fits": verdict.flash_ok},
        "ram": {"activations": fp.activations_bytes, "runtime": fp.runtime_ram_bytes, "total": fp.ram_bytes,
                "budget": board.ram_bytes, "margin": verdict.ram_margin_bytes, "fits": verdict.ram_ok},
        "fits": verdict.fits,
        "inference_ms": round(inference_ms(fp.macc, board, fp.dtype, fp.runtime), 3),
        "inference_ms_is_estimate": True,
        "peak_ram_layer": fp.peak_layer,
        "heaviest_weights_layer": fp.heaviest_layer,
        "layers": [
            {"index": lf.index, "kind": lf.kind,
             "group": rows[lf.index].layer.group, "path": list(rows[lf.index].path), "role": rows[lf.index].role,
             "output_shape": list(lf.output_shape), "params": lf.params, "macc": lf.macc,
             "weights_bytes": lf.weights_bytes, "ram_bytes": lf.ram_bytes, "live_bytes": lf.live_bytes,
             "peak_bytes": peak}
            for lf, peak in zip(fp.layers, peaks, strict=True)
        ],
    }
    if fp.tflm is not None:  # ram.activations is the Cortex-M arena; the host figure is what tflite-micro reports
        report["tflm"] = {"arena_host_bytes": fp.tflm.arena_host_bytes,
                          "arena_cortex_m_bytes": fp.tflm.arena_cortex_m_bytes, "kernels": fp.tflm.kernels}
    return report


def _budget_line(used: int, budget: int, ok: bool) -> Text:
    margin = budget - used
    text = Text(f"{format_size(used)} of {format_size(budget)} ({used / budget:.0%}), ")
    text.append(f"{_bytes(margin)} left" if ok else f"{_bytes(-margin)} over", style="green" if ok else "bold red")
    return text


def _print_estimate(report: dict[str, Any], board: Board, out: Console) -> None:
    flash, ram = report["flash"], report["ram"]
    summary = Table(title=f"{report['design']} ({report['source']}) on {board.name}", title_justify="left",
                    show_header=False, box=box.SIMPLE)
    summary.add_column("what", style="bold")
    summary.add_column("value")
    settings = f"{report['runtime']}, {report['dtype']}"
    if report["runtime"] == "xcubeai" and report["dtype"] == "int8":
        settings += f", compression {report['compression']}: {COMPRESSION_INT8_NOTE}"
    elif report["runtime"] == "xcubeai":
        settings += f", compression {report['compression']}"
    summary.add_row("runtime", settings)
    if report["basis"]:
        summary.add_row("basis", report["basis"])
    summary.add_row("board", f"{board.mcu}, {board.core} at {board.clock_mhz:g} MHz")
    summary.add_row("params", f"{report['params']['total']:,} total, {report['params']['trainable']:,} trainable")
    summary.add_row("MACC", f"{report['macc']:,}")
    summary.add_row("flash", _budget_line(flash["total"], flash["budget"], flash["fits"]))
    summary.add_row("", f"weights {_bytes(flash['weights'])} + runtime {_bytes(flash['runtime'])}")
    summary.add_row("RAM", _budget_line(ram["total"], ram["budget"], ram["fits"]))
    summary.add_row("", f"activations {_bytes(ram['activations'])} + runtime {_bytes(ram['runtime'])}")
    summary.add_row("verdict", _verdict(report["fits"]))
    summary.add_row("inference", f"~{report['inference_ms']:,.1f} ms with {report['runtime']} (estimate)")
    out.print(summary)

    layers = Table(title="Layers", title_justify="left", box=box.SIMPLE_HEAD)
    for header in ("#", "kind", "output", "params", "MACC", "weights", "RAM", ""):
        numeric = header in ("#", "params", "MACC", "weights", "RAM")
        layers.add_column(header, justify="right" if numeric else "left", no_wrap=header != "")
    for row in report["layers"]:
        marks = []
        if row["index"] == report["peak_ram_layer"]:
            marks.append("peak RAM")
        if row["index"] == report["heaviest_weights_layer"]:
            marks.append("most weights")
        layers.add_row(str(row["index"]), row["kind"], "x".join(map(str, row["output_shape"])), f"{row['params']:,}",
                       f"{row['macc']:,}", _bytes(row["weights_bytes"]), _bytes(row["ram_bytes"]),
                       Text(", ".join(marks), style="bold yellow"))
    out.print(layers)


def cmd_estimate(args: argparse.Namespace, out: Console) -> int:
    """Estimate one design on one board."""
    board = _board(args.board)
    design, source = resolve_design(args.design)
    try:
        fp = estimate(design, runtime=args.runtime, dtype=args.dtype, compression=args.compression)
    except DesignError as exc:
        # analyze() knows the layer, not the file: name the file too, so the one line is enough to fix it.
        raise exc.in_source(source) from None
    report = estimate_report(design, fp, board, source)
    if args.json:
        _print_json(report)
    else:
        _print_estimate(report, board, out)
    return 0


HANDLERS: dict[str, Callable[[argparse.Namespace, Console], int]] = {
    "presets": cmd_presets, "boards": cmd_boards, "estimate": cmd_estimate}
"""Each subcommand here and the function that runs it (exit status 0; bad input raises)."""
