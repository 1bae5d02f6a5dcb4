"""The layer stack as the design's tree (rows from tui.widgets.layer_rows), one row per layer, a residual
block as one bracketed group of rows; the row under the cursor is the Target the app's edits apply to.

Columns: index (the item's tree path, ``3m1`` = main layer 1 of block 3), a marks column (▲ on the row that
sets peak RAM, ◆ on the one with the most weight bytes, ✗ on the row an invalid design's DesignError names),
group, kind, configuration, output shape, params, MACC, weight bytes and live activation bytes. Columns that
do not fit the widget are dropped whole, lowest priority first (PRIORITY), and named in the header; a value is
never cut. Only when index, marks and kind alone overflow does the table scroll sideways, and then the index
and marks stay put.

It is a Line-API widget rather than a DataTable: an edit to one layer of a 100-layer design must repaint in a
frame, so each row is a tuple of plain strings whose line (a Strip) is cached under its content, and after an
edit only the rows whose text changed are built again and refreshed.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from designer.design import Design
from designer.footprint import Footprint
from tui.editing import Target, TreePath
from tui.widgets.layer_rows import COLUMNS, KEYS, PRIORITY, Row, TreeRow, layer_rows

_ALWAYS = 3
"""Index, marks and kind always show (past that, the table scrolls sideways; the index and marks stay)."""
_RIGHT = tuple(key in ("index", "params", "macc", "weights", "act") for key in KEYS)
_GROUP, _MARK, _KIND = KEYS.index("group"), KEYS.index("mark"), KEYS.index("kind")
_GAP = tuple(2 if _RIGHT[c] and c > 0 else 1 for c in range(len(KEYS)))
"""Blank cells left of each cell: one, two before a right-aligned figure (so neighbouring numbers stay apart)."""
_TAIL = 1
"""Blank cells after the last shown column."""

_CELL_STYLES = {"bold": Style(bold=True), "dim": Style(dim=True), "mark": Style(bold=True, color="yellow"),
                "error": Style(bold=True, color="red"), "shortcut": Style(italic=True, color="cyan")}


def _wrap(labels: tuple[str, ...], width: int) -> tuple[str, ...]:
    """"hidden: MACC, Weights, Act. RAM" as lines of at most ``width`` cells, broken between labels."""
    lines: list[str] = []
    line = "hidden:"
    for n, label in enumerate(labels):
        word = f" {label}{',' if n < len(labels) - 1 else ''}"
        if cell_len(line + word) > width and line.strip():
            lines.append(line)
            line = word.lstrip()
        else:
            line += word
    return (*lines, line)


def _cell_style(column: int, text: str) -> str:
    """The name of a cell's own style in _CELL_STYLES ("" for none)."""
    if column == _GROUP and text:
        return "bold" if text[0] in "[┌" else "dim"
    if column == _MARK and text:
        return "error" if text == "✗" else "mark"
    if column == _KIND and text[:1] in "│┌└↳":
        if "↳" in text:
            return "shortcut"
        return "bold" if text.rstrip("│ ")[:1] in "┌└" else ""
    return ""


class LayerTable(ScrollView, can_focus=True):
    """The design's tree of layers; the row under the cursor is the Target edits apply to."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Edit layer", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "first", "First layer", show=False),
        Binding("end,ctrl+end", "last", "Last layer", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {"layer-table--header", "layer-table--cursor"}

    # The look of Textual's DataTable with a row cursor, which this widget replaced.
    DEFAULT_CSS = """
    LayerTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        & > .layer-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .layer-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            background-tint: $foreground 5%;
            & > .layer-table--header {
                background-tint: $foreground 5%;
            }
            & > .layer-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
    }
    """

    cursor_row: reactive[int] = reactive(0, init=False)
    """The row under the cursor (0 when the table is empty)."""

    class RowSelected(Message):
        """Enter was pressed or a row clicked: the app opens the form for that row's layer or block."""

        def __init__(self, table: LayerTable, layer_index: int) -> None:
            super().__init__()
            self.table = table
            self.layer_index = layer_index

        @property
        def control(self) -> LayerTable:
            """The table the row belongs to."""
            return self.table

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's own parameter name
        super().__init__(id=id)
        self._rows: list[Row] = []
        self._tree: list[TreeRow] = []
        self._widths: tuple[int, ...] = tuple(cell_len(label) for _, label in COLUMNS)
        """Each column's widest text so far (cells only: gaps apart)."""
        self._shown: tuple[int, ...] = tuple(range(len(COLUMNS)))
        """The columns that fit, in display order."""
        self._strips: dict[tuple[Row, bool], Strip] = {}
        """Each row's full-width line, by (cells, under the cursor); emptied when the look changes."""
        self._look: tuple[object, ...] = ()
        """What every cached line depends on besides its cells: columns shown, widths, CSS state."""
        self._styles: dict[str, Style] = {}
        self._analysed = False
        self._note: tuple[str, ...] = ()
        """The header's lines naming the hidden columns (none when all show)."""

    # --- the interface the app uses ------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """How many rows are shown."""
        return len(self._rows)

    @property
    def layer_index(self) -> int:
        """The row under the cursor (0 when the design is empty; for a linear design, the layer index)."""
        return max(0, self.cursor_row)

    @property
    def target(self) -> Target | None:
        """What the row under the cursor stands for (None when the design is empty)."""
        return self._tree[self.cursor_row].target if self._tree else None

    def target_at(self, row: int) -> Target:
        """What ``row`` stands for."""
        return self._tree[row].target

    def cell(self, row: int, column: str) -> str:
        """The text of one cell; ``column`` is a key of COLUMNS."""
        return self._rows[row][KEYS.index(column)]

    @property
    def analysed(self) -> bool:
        """Whether the design shown analyses (is valid), whatever its estimate did."""
        return self._analysed

    @property
    def hidden(self) -> tuple[str, ...]:
        """The labels of the columns too wide for the widget now."""
        return tuple(COLUMNS[c][1] for c in (KEYS.index(k) for k in PRIORITY) if c not in self._shown)

    def show(self, design: Design, footprint: Footprint | None, error_index: int | None, *,
             dtype: str = "float32") -> None:
        """Redraw for ``design``; ``footprint`` is its own (None when it has none), ``dtype`` sizes the live
        tensors when the estimate gives no per-row figure."""
        tree, rows, self._analysed = layer_rows(design, footprint, error_index, dtype)
        old = self._rows
        self._rows, self._tree = rows, tree
        changed = [row for y, row in enumerate(rows) if y >= len(old) or old[y] != row]
        # Columns only widen (as DataTable's did): an edit that shortens a cell must not shift the table. So
        # only the rows that changed can widen a column.
        widths = tuple(max([width, *(cell_len(row[c]) for row in changed)]) for c, width in enumerate(self._widths))
        if widths != self._widths or len(rows) != len(old) or not self._fits():
            self._widths = widths
            self._lay_out()
        else:
            for y, (before, after) in enumerate(zip(old, rows, strict=True)):
                if before != after:
                    self.refresh_line(y + self.header_lines)
        self.select_layer(self.cursor_row)

    def select_layer(self, index: int) -> None:
        """Put the cursor on row ``index`` (clamped to the table) and scroll it into view."""
        self.cursor_row = max(0, min(index, len(self._rows) - 1))
        self._scroll_to_cursor()

    def select_target(self, target: Target | TreePath | int) -> None:
        """Put the cursor on the row of ``target`` (a Target, a tree path or a top-level index: its first
        row); a place no longer there falls back to the nearest earlier item on its path, or the block."""
        role = target.role if isinstance(target, Target) else ""
        path = target.path if isinstance(target, Target) else (target,) if isinstance(target, int) else target
        while path:
            rows = [y for y, r in enumerate(self._tree) if r.target.path == path]
            if rows:
                exact = [y for y in rows if self._tree[y].target.role == role]
                self.select_layer((exact or rows)[0])
                return
            siblings = [y for y, r in enumerate(self._tree)
                        if r.target.path[:-1] == path[:-1] and len(r.target.path) == len(path)
                        and r.target.path[-1] < path[-1]]
            if siblings:
                self.select_layer(siblings[-1])
                return
            path, role = path[:-2], "block"
        self.select_layer(0)

    # --- columns -------------------------------------------------------------------------------------

    def _span(self, columns: tuple[int, ...]) -> int:
        return sum(self._widths[c] + (_GAP[c] if i else 1) for i, c in enumerate(columns)) + _TAIL

    def _fits(self) -> bool:
        """Whether the columns shown are still the ones that fit (the width or the content may have moved)."""
        return self._choose() == self._shown

    def _choose(self) -> tuple[int, ...]:
        room = self.scrollable_content_region.width or self.size.width
        order = [KEYS.index(k) for k in PRIORITY]
        keep = _ALWAYS
        while keep < len(order) and self._span(tuple(sorted(order[:keep + 1]))) <= room:
            keep += 1
        return tuple(sorted(order[:keep]))

    @property
    def header_lines(self) -> int:
        """The column labels, and the lines naming the hidden columns when some are."""
        return 1 + len(self._note)

    def _lay_out(self) -> None:
        if self.is_mounted and self.size.width:
            self._shown = self._choose()
            self._note = _wrap(self.hidden, self.size.width - 2) if self.hidden else ()
        size = Size(self._span(self._shown), len(self._rows) + self.header_lines)
        if size != self.virtual_size:
            self.virtual_size = size
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._lay_out()

    # --- cursor and keys -----------------------------------------------------------------------------

    def validate_cursor_row(self, row: int) -> int:
        return max(0, min(row, len(self._rows) - 1))

    def watch_cursor_row(self, old: int, new: int) -> None:
        self.refresh_line(old + self.header_lines)
        self.refresh_line(new + self.header_lines)

    @property
    def _page(self) -> int:
        """Rows in view (the header takes its lines)."""
        return max(1, self.scrollable_content_region.height - self.header_lines)

    def _scroll_to_cursor(self) -> None:
        top, row = round(self.scroll_y), self.cursor_row
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + self._page:
            self.scroll_to(y=row - self._page + 1, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self.select_layer(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.select_layer(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.select_layer(self.cursor_row - self._page)

    def action_page_down(self) -> None:
        self.select_layer(self.cursor_row + self._page)

    def action_select(self) -> None:
        if self._rows:
            self.post_message(self.RowSelected(self, self.cursor_row))

    def action_first(self) -> None:
        self.select_layer(0)

    def action_last(self) -> None:
        self.select_layer(len(self._rows) - 1)

    def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < self.header_lines:
            return
        row = offset.y - self.header_lines + round(self.scroll_y)
        if row < len(self._rows):
            event.stop()
            self.select_layer(row)
            self.post_message(self.RowSelected(self, row))

    # --- drawing -------------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._look = ()
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        self._check_look()  # once per paint, not per line: rich_style walks the ancestors
        return super().render_lines(crop)

    def _check_look(self) -> None:
        look = (self._widths, self._shown, self._note, self.size.width, self.get_pseudo_class_state(), self.rich_style)
        if look != self._look:
            self._look = look
            self._strips.clear()
            base = self.rich_style
            cursor = self.get_component_rich_style("layer-table--cursor")
            header = self.get_component_styles("layer-table--header").rich_style
            self._styles = {
                "base": base,
                "header": header,
                "note": header + Style(bold=False, dim=True, italic=True),
                "cursor": base + cursor,
                # The cursor's colours win over a cell's own (DataTable's cursor_*_priority="css").
                "cursor_post": Style.from_color(cursor.color, cursor.bgcolor),
            }

    def _line(self, cells: Row, row_style: Style, post: Style | None = None, *, header: bool = False) -> Strip:
        """One full-width line of the shown columns: ``post`` (the cursor's colours) goes over the cells'
        own styles."""
        segments: list[Segment] = []
        for i, c in enumerate(self._shown):
            text = cells[c]
            gap = " " * (self._widths[c] - cell_len(text))
            lead = " " * (_GAP[c] if i else 1)
            segments.append(Segment(lead + (gap if _RIGHT[c] else ""), row_style))
            own = "" if header else _cell_style(c, text)
            style = row_style + _CELL_STYLES[own] if own else row_style
            segments.append(Segment(text, style + post if own and post is not None else style))
            if not _RIGHT[c]:
                segments.append(Segment(gap, row_style))
        used = self._span(self._shown) - _TAIL
        segments.append(Segment(" " * max(_TAIL, self.size.width - used), row_style))
        return Strip(segments).simplify()

    def _row_strip(self, row: int) -> Strip:
        cells = self._rows[row]
        key = (cells, row == self.cursor_row)
        strip = self._strips.get(key)
        if strip is None:
            if len(self._strips) > 4 * len(self._rows) + 64:
                self._strips.clear()  # old contents: drop them rather than grow without bound
            if key[1]:
                strip = self._line(cells, self._styles["cursor"], self._styles["cursor_post"])
            else:
                strip = self._line(cells, self._styles["base"])
            self._strips[key] = strip
        return strip

    def _header_strip(self, y: int) -> Strip:
        key = ((str(y),), False)
        strip = self._strips.get(key)
        if strip is None:
            if y == 0:
                strip = self._line(tuple(label for _, label in COLUMNS), self._styles["header"], header=True)
            else:
                note = f" {self._note[y - 1]}"
                strip = Strip([Segment(note.ljust(max(self.size.width, cell_len(note))), self._styles["note"])])
            self._strips[key] = strip
        return strip

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        if y < self.header_lines:
            strip = self._header_strip(y)
            if y:
                return strip.crop(0, width)  # the note does not scroll sideways
        else:
            row = y - self.header_lines + scroll_y
            if row >= len(self._rows):
                return Strip.blank(width, self._styles["base"])
            strip = self._row_strip(row)
        if not scroll_x:
            return strip.crop(0, width) if strip.cell_length > width else strip
        # Scrolled sideways (only when index, marks and kind alone overflow): the index and marks stay put.
        fixed = self._span(self._shown[:2]) - _TAIL
        return Strip.join([strip.crop(0, fixed), strip.crop(fixed + scroll_x, scroll_x + width)])
