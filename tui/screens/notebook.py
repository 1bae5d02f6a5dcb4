"""The notebook view: every preset and saved design side by side, sortable, exportable as markdown.

Keys 1-8 sort by that column (again to reverse), clicking a header does the same; Enter opens the row's
design in the designer as an unsaved copy; ``p`` shows a scatter of accuracy against flash (``x``: against
RAM) with the board's budget line; ``m`` writes the table as markdown to a file you name; Escape goes back to
the designer.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label

from designer.boards import Board
from tui.budget import Settings
from tui.files.sources import read_only_reason
from tui.notebook_rows import COLUMNS, NotebookRow, sort_rows, to_markdown
from tui.screens import DIALOG_CSS
from tui.screens.path_prompt import PathScreen


class NotebookScreen(Screen[NotebookRow | None]):
    """A sortable table of NotebookRows; dismisses with the row Enter picked, or None (Escape)."""

    CSS_PATH = DIALOG_CSS

    BINDINGS = [
        Binding("escape,N", "back", "Back"),
        Binding("m", "export", "Export markdown"),
        Binding("p", "plot", "Accuracy plot"),
        Binding("x", "plot_axis", "Plot flash/RAM"),
        *[Binding(str(i + 1), f"sort({i})", f"Sort by {header}", show=False)
          for i, (_, header) in enumerate(COLUMNS)],
    ]

    def __init__(self, rows: list[NotebookRow], board: Board, settings: Settings) -> None:
        super().__init__()
        self.rows = rows
        self.board = board
        self.settings = settings
        self.sort_key = ""
        self.reverse = False
        self.plot_axis = "flash"
        """What the scatter's x axis is: "flash" or "ram"."""

    def compose(self) -> ComposeResult:
        yield Label(Content.from_markup("Notebook — estimated for [b]$board[/b] with $settings  [dim]Enter open a "
                                        "copy · 1-8 sort · p plot · m export markdown · Escape back[/dim]",
                                        board=self.board.name, settings=self.settings.describe()),
                    id="notebook-title")
        yield DataTable(id="notebook-table", cursor_type="row")
        yield Footer()

    def action_plot(self) -> None:
        """Show or hide the scatter of accuracy against flash (or RAM)."""
        # Imported here: plotext is needed only once the plot is asked for.
        from tui.widgets.accuracy_plot import AccuracyPlot

        found = self.query(AccuracyPlot)
        if found:
            found.first().remove()
            return
        plot = AccuracyPlot(id="notebook-plot")
        self.mount(plot, before=self.query_one(Footer))
        plot.show(self.rows, self.board, self.plot_axis)

    def action_plot_axis(self) -> None:
        """Plot against RAM instead of flash, or back (opens the plot if it is hidden)."""
        from tui.widgets.accuracy_plot import AccuracyPlot

        self.plot_axis = "ram" if self.plot_axis == "flash" else "flash"
        found = self.query(AccuracyPlot)
        if found:
            found.first().show(self.rows, self.board, self.plot_axis)
        else:
            self.action_plot()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, header in COLUMNS:
            table.add_column(header, key=key)
        self._fill()
        table.focus()

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for i, row in enumerate(self.rows):
            # Text, not str: a DataTable reads a str as markup, and names come from the user's files.
            table.add_row(*(Text(cell) for cell in row.cells()), key=str(i))

    def action_sort(self, column: int) -> None:
        """Sort by column ``column`` (0-based); sorting by the same column again reverses."""
        key = COLUMNS[column][0]
        self.reverse = not self.reverse if key == self.sort_key else False
        self.sort_key = key
        self.rows = sort_rows(self.rows, key, self.reverse)
        self._fill()

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        self.dismiss(self.rows[event.cursor_row])

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        self.action_sort(event.column_index)

    def markdown(self) -> str:
        """The table as shown, in markdown."""
        return to_markdown(self.rows, self.board, self.settings)

    def action_export(self) -> None:
        """Ask for a file name and write the markdown table there."""
        def write(path: str | None) -> None:
            if path is None:
                return
            reason = read_only_reason(path)
            if reason is not None:
                self.notify(f"cannot write: {reason}", severity="error", markup=False)
                return
            try:
                Path(path).write_text(self.markdown(), encoding="utf-8")
            except OSError as exc:
                self.notify(f"cannot write {path}: {exc.strerror or exc}", severity="error", markup=False)
                return
            self.notify(f"notebook table written to {path}", markup=False)
        self.app.push_screen(PathScreen("Export the notebook table as markdown to", "notebook.md"), write)

    def action_back(self) -> None:
        """Back to the designer."""
        self.dismiss(None)
