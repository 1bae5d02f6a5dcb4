"""The ``cnn-designer`` command line's argparse parsers: the subcommands' and the app's, with the house rule for
bad options (one line, exit 2: tui.cli.UsageError) and a ``--version`` that looks the version up only when
asked.

Opening the app the usual ways (no argument, a design, ``--preset ID``) does not need them: tui.cli reads
those lines itself (see tui.cli.app_arguments) and imports this module, and argparse with it, for anything
else (options, help, mistakes), whose messages argparse writes.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from tui.cli.common import COMMAND_LIST, PROG, UsageError


class Parser(argparse.ArgumentParser):
    # argparse prints the usage block and exits on a bad option; we want the house rule instead (one line on
    # stderr, exit 2), raised so main() reports it like every other bad input. Subparsers inherit this class.
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    """The subcommand parser (``presets``, ``boards``, ``estimate``, ``train``, ``export``, ``report``)."""
    parser = Parser(
        prog=PROG,
        usage=f"{PROG} [DESIGN | --preset ID]\n       {PROG} {COMMAND_LIST} ...",
        description="Design small image CNNs for STM32 boards. With no subcommand, opens the app on DESIGN "
                    "(a design file or preset id), on --preset ID, or on an empty design.",
    )
    _add_version(parser)
    # prog: each subcommand's usage reads "cnn-designer train ...", not the top-level usage (two lines of its
    # own) with the subcommand appended to it.
    sub = parser.add_subparsers(dest="command", metavar=COMMAND_LIST, prog=PROG)
    # Imported here, not at the top: opening the app never builds this parser, and these modules (tables,
    # protocols, clients, progress bars) would cost the app's start-up ~50 ms.
    from tui.cli.estimate import add_estimate_commands
    from tui.cli.export import add_export_command, add_report_command
    from tui.cli.import_model import add_import_command
    from tui.cli.search import add_search_command
    from tui.cli.train import add_train_command

    add_estimate_commands(sub)
    add_train_command(sub)
    add_export_command(sub)
    add_report_command(sub)
    add_import_command(sub)
    add_search_command(sub)
    return parser


def build_app_parser() -> argparse.ArgumentParser:
    """The parser for opening the app: ``cnn-designer [DESIGN] [--preset ID]``."""
    parser = Parser(prog=PROG, description="Open the cnn-designer app.")
    parser.add_argument("design", nargs="?", metavar="DESIGN", help="a design file path or a preset id")
    parser.add_argument("--preset", metavar="ID", help="open a copy of a preset (see `cnn-designer presets`)")
    _add_version(parser)
    return parser


def version() -> str:
    """The installed package's version (``unknown`` when run from a tree that was never installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version(PROG)
    except PackageNotFoundError:
        return "unknown"


class VersionAction(argparse.Action):
    # argparse's own "version" action needs the string when the parser is built; looking the installed
    # version up (importlib.metadata scans the installed distributions) costs ~10 ms of every app start, so
    # it is done only when --version is given.
    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show the program's version number and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> NoReturn:
        print(f"{PROG} {version()}")  # on stdout, as argparse's own version action prints it
        parser.exit()


def _add_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action=VersionAction)
