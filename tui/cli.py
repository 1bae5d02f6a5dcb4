"""The ``cnn-designer`` command: ``presets``, ``boards`` and ``estimate`` (rich tables, or ``--json`` for
scripts); with no subcommand, a design file or ``--preset ID``, it opens the Textual app.

Bad input (unknown preset or board, malformed design file, impossible layer, bad option) exits 2 with one
line on stderr and no traceback. Nothing on these paths imports TensorFlow (a test checks it), and textual is
only imported when the app opens.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from designer import designfile
from designer.boards import Board, BoardError, default_board, find_board, fits, inference_ms, load_catalogue
from designer.design import Design, DesignError, analyze
from designer.footprint import COMPRESSIONS, DTYPES, RUNTIMES, Footprint, estimate, format_size
from presets import load_preset, preset_ids

PROG = "cnn-designer"
COMMANDS = ("presets", "boards", "estimate", "train", "export", "report")
EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad command-line input; the message is the one line printed on stderr."""


class _Parser(argparse.ArgumentParser):
    # argparse prints the usage block and exits on a bad option; we want the house rule instead (one line on
    # stderr, exit 2), raised so main() reports it like every other bad input. Subparsers inherit this class.
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _add_estimate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--board", metavar="NAME", help="board to check against (default: the catalogue's default)")
    parser.add_argument("--runtime", choices=RUNTIMES, default="xcubeai", help="runtime to estimate (default: xcubeai)")
    parser.add_argument("--dtype", choices=DTYPES, default="float32",
                        help="weights/activations type (default: float32)")
    parser.add_argument("--compression", choices=COMPRESSIONS, default="high",
                        help="X-CUBE-AI weight compression (default: high; ignored by tflm)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def build_parser() -> argparse.ArgumentParser:
    """The subcommand parser (``presets``, ``boards``, ``estimate``)."""
    parser = _Parser(
        prog=PROG,
        usage=f"{PROG} [DESIGN | --preset ID]\n       {PROG} {{presets,boards,estimate,train,export,report}} ...",
        description="Design small image CNNs for STM32 boards. With no subcommand, opens the app on DESIGN "
                    "(a design file or preset id), on --preset ID, or on an empty design.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{presets,boards,estimate,train,export,report}")
    presets = sub.add_parser("presets", prog=f"{PROG} presets",
                             help="the seed notebook's Model0-13: notebook figures vs estimates")
    _add_estimate_options(presets)
    presets.add_argument("--markdown", action="store_true",
                         help="print a markdown table (the README's preset table is made with it)")
    boards = sub.add_parser("boards", prog=f"{PROG} boards", help="the board catalogue (shipped + user boards)")
    boards.add_argument("--json", action="store_true", help="print JSON instead of a table")
    est = sub.add_parser("estimate", prog=f"{PROG} estimate",
                         help="flash, RAM, MACC and inference time of one design on one board")
    est.add_argument("design", metavar="DESIGN", help="a preset id (model0 ... model13) or a design file path")
    _add_estimate_options(est)
    # Imported here, not at the top: opening the app never builds this parser, and these modules (protocols,
    # clients, progress bars) would cost the app's start-up ~50 ms.
    from tui.export_cli import add_export_command, add_report_command
    from tui.train_cli import add_train_command

    add_train_command(sub)
    add_export_command(sub)
    add_report_command(sub)
    return parser


def build_app_parser() -> argparse.ArgumentParser:
    """The parser for opening the app: ``cnn-designer [DESIGN] [--preset ID]``."""
    parser = _Parser(prog=PROG, description="Open the cnn-designer app.")
    parser.add_argument("design", nargs="?", metavar="DESIGN", help="a design file path or a preset id")
    parser.add_argument("--preset", metavar="ID", help="open a copy of a preset (model0 ... model13)")
    return parser


def resolve_design(spec: str) -> tuple[Design, str]:
    """A design from a preset id or a file path, with a label saying where it came from.

    A known preset id wins over a file of the same name; anything else must be a readable design file.
    """
    if spec.lower() in preset_ids():
        return load_preset(spec), f"preset {spec.lower()}"
    path = Path(spec)
    if path.exists() or path.suffix == ".toml" or len(path.parts) > 1:
        return designfile.load(path), str(path)
    raise DesignError(f"'{spec}' is neither a preset ({', '.join(preset_ids())}) nor an existing design file")


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
    fp = estimate(design, runtime=args.runtime, dtype=args.dtype, compression=args.compression)
    nb = design.notebook
    verdict = fits(fp, board)
    return {
        "id": preset_id,
        "name": design.name,
        "notebook": None if nb is None else {
            "params": nb.params, "params_convention": nb.params_convention, "rom": nb.rom, "ram": nb.ram,
            "accuracy_percent": nb.accuracy_percent,
        },
        "estimate": {
            "params": {"total": fp.params_total, "trainable": fp.params_trainable},
            "macc": fp.macc,
            "flash_bytes": fp.flash_bytes,
            "ram_bytes": fp.ram_bytes,
            "flash_text": format_size(fp.flash_bytes),
            "ram_text": format_size(fp.ram_bytes),
        },
        "fits": verdict.fits,
    }


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
            est["flash_text"], est["ram_text"], _verdict(row["fits"]),
        )
    out.print(table)
    out.print("nb = the seed notebook's figures; t = trainable count (else Keras count_params()); K = KiB, "
              "M = MiB.")
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
            f"{'–' if acc is None else f'{acc:.2f}'} | {'yes' if row['fits'] else 'no'} |"
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
    return {
        "design": design.name,
        "source": source,
        "board": board.name,
        "runtime": fp.runtime,
        "dtype": fp.dtype,
        "compression": fp.compression,
        "params": {"total": fp.params_total, "trainable": fp.params_trainable},
        "macc": fp.macc,
        "flash": {"weights": fp.weights_bytes, "runtime": fp.runtime_flash_bytes, "total": fp.flash_bytes,
                  "budget": board.flash_bytes, "margin": verdict.flash_margin_bytes, "fits": verdict.flash_ok},
        "ram": {"activations": fp.activations_bytes, "runtime": fp.runtime_ram_bytes, "total": fp.ram_bytes,
                "budget": board.ram_bytes, "margin": verdict.ram_margin_bytes, "fits": verdict.ram_ok},
        "fits": verdict.fits,
        "inference_ms": round(inference_ms(fp.macc, board, fp.dtype), 3),
        "inference_ms_is_estimate": True,
        "peak_ram_layer": fp.peak_layer,
        "heaviest_weights_layer": fp.heaviest_layer,
        "layers": [
            {"index": lf.index, "kind": lf.kind,
             "group": design.layers[lf.index].group if lf.index < len(design.layers) else "",
             "output_shape": list(lf.output_shape), "params": lf.params, "macc": lf.macc,
             "weights_bytes": lf.weights_bytes, "ram_bytes": lf.ram_bytes}
            for lf in fp.layers
        ],
    }


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
    if report["runtime"] == "xcubeai":
        settings += f", compression {report['compression']}"
    summary.add_row("runtime", settings)
    summary.add_row("board", f"{board.mcu}, {board.core} at {board.clock_mhz:g} MHz")
    summary.add_row("params", f"{report['params']['total']:,} total, {report['params']['trainable']:,} trainable")
    summary.add_row("MACC", f"{report['macc']:,}")
    summary.add_row("flash", _budget_line(flash["total"], flash["budget"], flash["fits"]))
    summary.add_row("", f"weights {_bytes(flash['weights'])} + runtime {_bytes(flash['runtime'])}")
    summary.add_row("RAM", _budget_line(ram["total"], ram["budget"], ram["fits"]))
    summary.add_row("", f"activations {_bytes(ram['activations'])} + runtime {_bytes(ram['runtime'])}")
    summary.add_row("verdict", _verdict(report["fits"]))
    summary.add_row("inference", f"~{report['inference_ms']:,.1f} ms (estimate)")
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


# ---------------------------------------------------------------------------------------------- app


def open_app(design: str | None, preset: str | None) -> int:
    """Check the design, then open the Textual app on it; a .toml path that does not exist yet is a new design."""
    if design is not None and preset is not None:
        raise UsageError(f"{PROG}: give a design file or --preset, not both")
    path: str | None = None
    if preset is not None:
        analyze(load_preset(preset))
    elif design is not None and not Path(design).exists() and Path(design).suffix == ".toml":
        path = design  # a new design: the app saves it there
    elif design is not None:
        loaded, source = resolve_design(design)
        try:
            analyze(loaded)
        except DesignError as exc:
            raise exc.in_source(source) from None
        if source.startswith("preset "):
            preset = source.removeprefix("preset ")
        else:
            path = design
    # The app's imports keep nearly everything they allocate: collecting meanwhile only costs start-up time.
    # The app turns the collector back on once its first frame is out (DesignerApp._started).
    gc.disable()
    try:
        # Imported here: textual costs ~0.5 s at import and the subcommands never need it.
        from tui.app import run_app

        result = run_app(path=path, preset=preset)
    finally:
        gc.enable()
    return result if isinstance(result, int) else 0


# ---------------------------------------------------------------------------------------------- main


def _console() -> Console:
    console = Console(highlight=False)
    # Piped output (CI logs, `| less`) would otherwise wrap at rich's 80-column default.
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, width=120)
    return console


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _one_line(message: str) -> str:
    return " ".join(message.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        # Subcommands and an optional DESIGN positional cannot share one argparse parser (DESIGN would be
        # read as an unknown subcommand), so the first word decides which parser reads the line.
        if args_list and (args_list[0] in COMMANDS or args_list[0] in ("-h", "--help")):
            args = build_parser().parse_args(args_list)
            out = _console()
            if args.command == "train":
                from tui.train_cli import run_train_command

                return run_train_command(args)
            if args.command in ("export", "report"):
                from tui.export_cli import run_export_command, run_report_command

                return (run_export_command if args.command == "export" else run_report_command)(args)
            handler = {"presets": cmd_presets, "boards": cmd_boards, "estimate": cmd_estimate}[args.command]
            return handler(args, out)
        app_args = build_app_parser().parse_args(args_list)
        return open_app(app_args.design, app_args.preset)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except UsageError as exc:
        print(_one_line(str(exc)), file=sys.stderr)
        return EXIT_BAD_INPUT
    except (DesignError, BoardError) as exc:
        print(f"{PROG}: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
