"""The ``cnn-designer`` command: ``presets``, ``boards`` and ``estimate`` (rich tables, or ``--json`` for
scripts), ``train``, ``export``, ``report``, ``import`` and ``search``; with no subcommand, a design file or
``--preset ID``, it opens the Textual app.

This package's top is the entry (``main``, the console script's target, and ``python -m tui.cli``): "did you
mean" and the exit-status rules; the argparse parsers are ``tui.cli.parsers``, which opening the app the usual
ways does without (``app_arguments``). Each subcommand lives in its own module, imported only
when its command runs: ``tui.cli.estimate`` (presets, boards, estimate), ``tui.cli.train``, ``tui.cli.export``
(export, report), ``tui.cli.import_model`` (import; ``import`` itself is a keyword) and ``tui.cli.search``.

Bad input (unknown preset or board, malformed design file, impossible layer, bad option) exits 2 with one
line on stderr and no traceback; any other error (a failure after starting, or a bug) exits 1 with one line
``cnn-designer: internal error: ...``. Nothing on these paths imports TensorFlow (a test checks it), and textual is
only imported when the app opens. This module imports little at its top (every subcommand module imports it
first, as their package): opening the app pauses the garbage collector first (see ``main``).
"""

from __future__ import annotations

import gc
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tui.cli.common import COMMANDS, EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_INTERRUPTED, PROG, UsageError

if TYPE_CHECKING:
    from designer.design import Design

__all__ = ["COMMANDS", "PROG", "UsageError", "app_arguments", "did_you_mean", "main", "open_app"]


def app_arguments(args_list: Sequence[str]) -> tuple[str | None, str | None] | None:
    """``(design, preset)`` for the usual ways of opening the app, read without argparse (whose import, with
    gettext's, is ~2 ms of the app's start-up): nothing, ``DESIGN``, ``--preset ID`` or ``--preset=ID``.
    None for any other line (an option, --help, two designs, a value that starts with "-"): tui.cli.parsers
    reads it, with argparse's errors and help. Where both read a line, they read it alike (a test checks)."""
    match list(args_list):
        case []:
            return None, None
        case [design] if not design.startswith("-"):
            return design, None
        case ["--preset", preset] if preset and not preset.startswith("-"):
            return None, preset
        case [option] if option.startswith("--preset=") and option != "--preset=":
            return None, option.removeprefix("--preset=")
    return None


_UNKNOWN_NAME = (
    re.compile(r"unknown (?P<what>preset|board) '(?P<name>[^']*)'"),
    re.compile(r"'(?P<name>[^']*)' is neither a (?P<what>preset)"),
)


def did_you_mean(message: str) -> str:
    """``message`` with "; did you mean 'model5'?" after an unknown preset or board name, when one is close."""
    import difflib

    for pattern in _UNKNOWN_NAME:
        match = pattern.search(message)
        if match is None:
            continue
        if match["what"] == "preset":
            from presets import preset_ids

            names = preset_ids()
        else:
            from designer.boards import load_catalogue

            names = load_catalogue().names()
        by_key = {n.casefold(): n for n in names}
        close = difflib.get_close_matches(match["name"].casefold(), list(by_key), n=1, cutoff=0.6)
        if close:
            return f"{message}; did you mean '{by_key[close[0]]}'?"
    return message


def open_app(design: str | None, preset: str | None) -> int:
    """Load and check the design, then open the Textual app on it; a .toml path that does not exist yet is a
    new design. The app gets the design loaded here (a preset opens as an unsaved copy)."""
    if design is not None and preset is not None:
        raise UsageError(f"{PROG}: give a design file or --preset, not both")
    from designer.design import DesignError, analyze
    from tui.files.sources import resolve_design

    loaded: Design | None = None
    path: str | None = None
    if preset is not None:
        from presets import load_preset

        loaded = load_preset(preset)
        analyze(loaded)
    elif design is not None and not Path(design).exists() and Path(design).suffix == ".toml":
        path = design  # a new design: the app saves it there
    elif design is not None:
        loaded, source = resolve_design(design)
        try:
            analyze(loaded)
        except DesignError as exc:
            # analyze() knows the layer, not the file: name the file too, so the one line is enough to fix it.
            raise exc.in_source(source) from None
        if not source.startswith("preset "):
            path = design
    # Imported here: textual costs ~0.5 s at import and the subcommands never need it.
    from tui.app import run_app

    result = run_app(design=loaded, path=path)
    return result if isinstance(result, int) else 0


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _run(args_list: list[str], command: bool) -> int:
    from designer.boards import BoardError
    from designer.design import DesignError

    try:
        if command:
            from tui.cli.parsers import build_parser

            args = build_parser().parse_args(args_list)
            if args.command == "train":
                from tui.cli.train import run_train_command

                return run_train_command(args)
            if args.command == "search":
                from tui.cli.search import run_search_command

                return run_search_command(args)
            if args.command in ("export", "report"):
                from tui.cli.export import run_export_command, run_report_command

                return (run_export_command if args.command == "export" else run_report_command)(args)
            if args.command == "import":
                from tui.cli.import_model import run_import_command

                return run_import_command(args)
            from tui.cli.estimate import HANDLERS, console

            return HANDLERS[args.command](args, console())
        simple = app_arguments(args_list)
        if simple is not None:
            return open_app(*simple)
        from tui.cli.parsers import build_app_parser

        app_args = build_app_parser().parse_args(args_list)
        return open_app(app_args.design, app_args.preset)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except UsageError as exc:
        print(_one_line(str(exc)), file=sys.stderr)
        return EXIT_BAD_INPUT
    except (DesignError, BoardError) as exc:
        print(f"{PROG}: {did_you_mean(_one_line(str(exc)))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the house rule: one line, never a traceback
        # A bug, or a failure after the input was accepted (a full disk, a closed pipe): exit 1, one line.
        print(f"{PROG}: internal error: {type(exc).__name__}: {_one_line(str(exc))[:300]}", file=sys.stderr)
        return EXIT_FAILURE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failure after starting, 2 bad input)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    # Subcommands and an optional DESIGN positional cannot share one argparse parser (DESIGN would be read as
    # an unknown subcommand), so the first word decides which parser reads the line.
    command = bool(args_list) and (args_list[0] in COMMANDS or args_list[0] in ("-h", "--help"))
    if not command:
        # Opening the app: everything it imports and builds until its first frame (~10^5 objects) lives on, so
        # collecting meanwhile only costs start-up time (~10% of it). The app turns the collector back on once
        # its first frame is out (DesignerApp._started); the finally covers every other way out.
        gc.disable()
    try:
        return _run(args_list, command)
    finally:
        gc.enable()

