"""The board picker: every catalogue board with the current design's flash and RAM margins on it (bytes and
% of the board's, for the current runtime / dtype / compression) and the resource that does not fit.

Enter picks the highlighted board; ``m`` sorts by margin (the smaller of the two, as a share of the board's,
roomiest first; again: catalogue order); ``c`` opens the custom-board form, whose board is then picked.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from designer.boards import Board, FitResult, fits
from designer.footprint import Footprint
from tui.budget import human_bytes
from tui.screens import DIALOG_CSS
from tui.screens.custom_board import CustomBoardScreen

COLUMNS = ("Board", "Verdict", "Flash margin", "RAM margin", "Flash", "RAM", "Core", "Clock", "MCU")
"""What matters for the pick first: a narrow terminal scrolls the board's own figures out, not the margins."""


def margin_text(margin_bytes: int, budget_bytes: int) -> str:
    """``+748.0 KiB (37%)`` left, or ``-12.3 KiB (-6%)`` over."""
    sign = "+" if margin_bytes >= 0 else "-"
    return f"{sign}{human_bytes(abs(margin_bytes))} ({margin_bytes / budget_bytes:+.0%})"


def verdict(fit: FitResult) -> str:
    """``fits``, or which resource does not: ``RAM over``, ``flash over``, ``flash and RAM over``."""
    over = [name for name, ok in (("flash", fit.flash_ok), ("RAM", fit.ram_ok)) if not ok]
    return "fits" if not over else f"{' and '.join(over)} over"


def tightest_share(fit: FitResult) -> float:
    """The smaller of the two margins as a share of its budget (negative: over)."""
    return min(fit.flash_margin_bytes / fit.flash_budget_bytes, fit.ram_margin_bytes / fit.ram_budget_bytes)


class BoardPickerScreen(ModalScreen[Board | None]):
    """Dismisses with the chosen board, or None when cancelled."""

    CSS_PATH = DIALOG_CSS

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("c", "custom", "Custom board"),
        Binding("m", "sort_by_margin", "Sort by margin"),
    ]

    def __init__(self, boards: list[Board], current: Board, footprint: Footprint | None,
                 settings: str = "") -> None:
        super().__init__()
        self.boards = boards
        self.current = current
        self.footprint = footprint
        self.settings = settings
        self.by_margin = False
        """Whether the rows are sorted by margin (else catalogue order)."""

    def compose(self) -> ComposeResult:
        with Vertical(id="board-picker", classes="dialog"):
            yield Label(Content.from_markup("Pick a board — margins for $settings  [dim]Enter pick · m sort by "
                                            "margin · c custom board · Escape cancel[/dim]",
                                            settings=self.settings or "the current settings"),
                        classes="dialog-title")
            yield DataTable(id="board-table", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        self._fill()
        table.focus()

    def rows(self) -> list[Board]:
        """The boards in the order shown."""
        if not self.by_margin or self.footprint is None:
            return list(self.boards)
        footprint = self.footprint
        return sorted(self.boards, key=lambda b: tightest_share(fits(footprint, b)), reverse=True)

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        shown = self.rows()
        for board in shown:
            if self.footprint is None:
                cells: tuple[Text | str, ...] = ("– (invalid design)", "–", "–")
            else:
                fit = fits(self.footprint, board)
                cells = (Text(verdict(fit), style="green" if fit.fits else "bold red"),
                         Text(margin_text(fit.flash_margin_bytes, fit.flash_budget_bytes),
                              style="" if fit.flash_ok else "red"),
                         Text(margin_text(fit.ram_margin_bytes, fit.ram_budget_bytes),
                              style="" if fit.ram_ok else "red"))
            # Text, not str: a DataTable reads a str as markup, and board names come from the user's boards file.
            table.add_row(Text(board.name), *cells, human_bytes(board.flash_bytes), human_bytes(board.ram_bytes),
                          Text(board.core), f"{board.clock_mhz:g} MHz", Text(board.mcu), key=board.name)
        names = [b.name for b in shown]
        if self.current.name in names:
            table.move_cursor(row=names.index(self.current.name), animate=False)

    @on(DataTable.RowSelected)
    def _picked(self, event: DataTable.RowSelected) -> None:
        self.dismiss(self.rows()[event.cursor_row])

    def action_sort_by_margin(self) -> None:
        """Roomiest board first (by the smaller of the flash and RAM margins); again: catalogue order."""
        self.by_margin = not self.by_margin
        self._fill()

    def action_custom(self) -> None:
        """Enter a board by hand."""
        def done(board: Board | None) -> None:
            if board is not None:
                self.dismiss(board)
        self.app.push_screen(CustomBoardScreen(self.current), done)

    def action_cancel(self) -> None:
        """Keep the current board."""
        self.dismiss(None)
