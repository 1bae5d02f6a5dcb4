"""The key-binding overlay (?): every main binding with what it does."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tui.screens import DIALOG_CSS


def key_table(bindings: list[tuple[str, str]]) -> Table:
    """Keys and descriptions as a two-column table."""
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for keys, description in bindings:
        table.add_row(keys, description)
    return table


class HelpScreen(ModalScreen[None]):
    """Shows ``bindings`` ((keys, description) pairs); any of Escape, ? or q closes it."""

    CSS_PATH = DIALOG_CSS

    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.key_bindings = bindings

    def compose(self) -> ComposeResult:
        with Vertical(id="help", classes="dialog"):
            yield Label("Keys  [dim](Ctrl+P: every action in the command palette)[/dim]", classes="dialog-title")
            yield Static(key_table(self.key_bindings), id="help-keys")

    def action_close(self) -> None:
        """Close the overlay."""
        self.dismiss(None)
