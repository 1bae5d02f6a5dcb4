"""What every part of the ``cnn-designer`` command line shares: its name, its subcommands, the exit statuses and
the bad-input error. A leaf module (it imports nothing of tui), so that the entry (tui.cli), its argparse
parsers (tui.cli.parsers) and the subcommands all use it without importing one another back."""

PROG = "cnn-designer"
COMMANDS = ("presets", "boards", "estimate", "train", "export", "report", "import", "search")
COMMAND_LIST = "{" + ",".join(COMMANDS) + "}"
"""The subcommands as argparse's usage lists them."""
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad command-line input; the message is the one line printed on stderr."""
