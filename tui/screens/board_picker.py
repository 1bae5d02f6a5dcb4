"""The board picker: every catalogue board with "fits" / "does not fit" for the current design.

Enter picks the highlighted board; ``c`` opens the custom-board form, whose board is then picked.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from designer.boards import Board
from designer.footprint import Footprint
from tui.budget import footprint_fits, human_bytes
from tui.screens.custom_board import CustomBoardScreen


class BoardPickerScreen(ModalScreen[Board | None]):
    """Dismisses with the chosen board, or None when cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("c", "custom", "Custom board"),
    ]

    def __init__(self, boards: list[Board], current: Board, footprint: Footprint | None) -> None:
        super().__init__()
        self.boards = boards
        self.current = current
        self.footprint = footprint

    def compose(self) -> ComposeResult:
        with Vertical(id="board-picker", classes="dialog"):
            yield Label("Pick a board  [dim]Enter pick · c custom board · Escape cancel[/dim]",
                        classes="dialog-title")
            yield DataTable(id="board-table", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Board", "MCU", "Core", "Clock", "Flash", "RAM", "Current design")
        for board in self.boards:
            if self.footprint is None:
                verdict = "– (invalid design)"
            else:
                verdict = "fits" if footprint_fits(self.footprint, board) else "does not fit"
            # Text, not str: a DataTable reads a str as markup, and board names come from the user's boards file.
            table.add_row(Text(board.name), Text(board.mcu), Text(board.core), f"{board.clock_mhz:g} MHz",
                          human_bytes(board.flash_bytes), human_bytes(board.ram_bytes), verdict,
                          key=board.name)
        names = [b.name for b in self.boards]
        if self.current.name in names:
            table.move_cursor(row=names.index(self.current.name), animate=False)
        table.focus()

    @on(DataTable.RowSelected)
    def _picked(self, event: DataTable.RowSelected) -> None:
        self.dismiss(self.boards[event.cursor_row])

    def action_custom(self) -> None:
        """Enter a board by hand."""
        def done(board: Board | None) -> None:
            if board is not None:
                self.dismiss(board)
        self.app.push_screen(CustomBoardScreen(self.current), done)

    def action_cancel(self) -> None:
        """Keep the current board."""
        self.dismiss(None)
