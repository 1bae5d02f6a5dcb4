"""The layer stack: one row per layer, grouped rows drawn as a bracket in the group column.

Columns: index, a marks column (▲ on the layer that sets peak RAM, ◆ on the one with the most weight bytes,
✗ on the layer an invalid design's DesignError names), group, kind, configuration, output shape, params,
MACC, weight bytes and activation bytes. While the design is invalid the figures columns show "–".

It is a Line-API widget rather than a DataTable: an edit to one layer of a 100-layer design must repaint in a
frame, and a DataTable rebuilt after each edit re-renders every visible cell through Rich. Here each row is
a tuple of plain strings; a row's line (a Strip) is cached under its content, so after an edit only the rows
whose text changed are built again, and only their lines are refreshed.
"""

from __future__ import annotations

from functools import lru_cache
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
from designer.footprint import Footprint, LayerFootprint
from designer.layers import Layer
from tui.budget import human_bytes, human_count

# The marks sit beside the index: a long configuration must not push them off-screen (at 160 columns,
# with the budget panel beside it, Model5's table is 3 cells wider than its pane).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("index", "#"), ("mark", ""), ("group", "Group"), ("kind", "Kind"), ("config", "Configuration"),
    ("output", "Output"), ("params", "Params"), ("macc", "MACC"), ("weights", "Weights"), ("act", "Act. RAM"),
)
_KEYS = tuple(key for key, _ in COLUMNS)
_RIGHT = tuple(key in ("index", "params", "macc", "weights", "act") for key in _KEYS)
_GROUP, _MARK = _KEYS.index("group"), _KEYS.index("mark")
_PADDING = 1
"""Blank cells either side of every cell (as DataTable's cell_padding)..."""
_LEFT = tuple(0 if key == "mark" else _PADDING for key in _KEYS)
"""...except left of the marks, which read as part of the index ("7 ▲")."""

_CELL_STYLES = {"bold": Style(bold=True), "dim": Style(dim=True), "mark": Style(bold=True, color="yellow"),
                "error": Style(bold=True, color="red")}

Row = tuple[str, ...]
"""One layer's cells, in COLUMNS order."""


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def _group_cell(design: Design, index: int) -> str:
    group = design.layers[index].group
    if not group:
        return ""
    first = index == 0 or design.layers[index - 1].group != group
    last = index == len(design.layers) - 1 or design.layers[index + 1].group != group
    if first and last:
        return f"[ {group}"
    if first:
        return f"┌ {group}"
    return "└" if last else "│"


@lru_cache(maxsize=4096)
def _layer_cells(layer: Layer, lf: LayerFootprint | None) -> tuple[str, ...]:
    """Kind, configuration and figures of one layer (cached: an edit leaves most layers as they were)."""
    if lf is None:
        return (layer.kind, layer.summary(), *("–",) * 5)
    return (layer.kind, layer.summary(), _shape(lf.output_shape), f"{lf.params:,}", human_count(lf.macc),
            human_bytes(lf.weights_bytes), human_bytes(lf.ram_bytes))


def layer_rows(design: Design, footprint: Footprint | None, error_index: int | None) -> list[Row]:
    """The table's cells for ``design`` (``footprint`` is its own, None when the design does not analyse)."""
    per_layer = {lf.index: lf for lf in footprint.layers} if footprint is not None else {}
    peak = footprint.peak_layer if footprint is not None else None
    heaviest = footprint.heaviest_layer if footprint is not None else None
    rows: list[Row] = []
    for index, layer in enumerate(design.layers):
        marks = ("▲" if index == peak else "") + ("◆" if index == heaviest else "")
        if index == error_index:
            marks = "✗"
        rows.append((str(index), marks, _group_cell(design, index), *_layer_cells(layer, per_layer.get(index))))
    return rows


def _cell_style(column: int, text: str) -> str:
    """The name of a cell's own style in _CELL_STYLES ("" for none)."""
    if column == _GROUP and text:
        return "bold" if text[0] in "[┌" else "dim"
    if column == _MARK and text:
        return "error" if text == "✗" else "mark"
    return ""


class LayerTable(ScrollView, can_focus=True):
    """The design's layers; the cursor row is the layer edits apply to."""

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
        """Enter was pressed or a row clicked: the app opens that layer's form."""

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
        self._widths: tuple[int, ...] = tuple(cell_len(label) + _LEFT[c] + _PADDING
                                              for c, (_, label) in enumerate(COLUMNS))
        self._strips: dict[tuple[Row, bool], Strip] = {}
        """Each row's full-width line, by (cells, under the cursor); emptied when the look changes."""
        self._look: tuple[object, ...] = ()
        """What every cached line depends on besides its cells: column widths, widget width, CSS state."""
        self._styles: dict[str, Style] = {}

    # --- the interface the app uses ------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """How many layers are shown."""
        return len(self._rows)

    @property
    def layer_index(self) -> int:
        """The layer under the cursor (0 when the design is empty)."""
        return max(0, self.cursor_row)

    def cell(self, row: int, column: str) -> str:
        """The text of one cell; ``column`` is a key of COLUMNS."""
        return self._rows[row][_KEYS.index(column)]

    def show(self, design: Design, footprint: Footprint | None, error_index: int | None) -> None:
        """Redraw for ``design``; ``footprint`` is its own (None when the design does not analyse)."""
        rows = layer_rows(design, footprint, error_index)
        old = self._rows
        self._rows = rows
        changed = [row for y, row in enumerate(rows) if y >= len(old) or old[y] != row]
        # Columns only widen (as DataTable's did): an edit that shortens a cell must not shift the table. So
        # only the rows that changed can widen a column.
        widths = tuple(max([width, *(cell_len(row[c]) + _LEFT[c] + _PADDING for row in changed)])
                       for c, width in enumerate(self._widths))
        size = Size(sum(widths), len(rows) + 1)
        if size != self.virtual_size:
            self.virtual_size = size
        if widths != self._widths or len(rows) != len(old):
            self._widths = widths
            self.refresh()
        else:
            for y, (before, after) in enumerate(zip(old, rows, strict=True)):
                if before != after:
                    self.refresh_line(y + 1)
        self.select_layer(self.cursor_row)

    def select_layer(self, index: int) -> None:
        """Put the cursor on layer ``index`` (clamped to the table) and scroll it into view."""
        self.cursor_row = max(0, min(index, len(self._rows) - 1))
        self._scroll_to_cursor()

    # --- cursor and keys -----------------------------------------------------------------------------

    def validate_cursor_row(self, row: int) -> int:
        return max(0, min(row, len(self._rows) - 1))

    def watch_cursor_row(self, old: int, new: int) -> None:
        self.refresh_line(old + 1)
        self.refresh_line(new + 1)

    @property
    def _page(self) -> int:
        """Rows in view (the header takes one line)."""
        return max(1, self.scrollable_content_region.height - 1)

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
        if offset is None or offset.y == 0:
            return
        row = offset.y - 1 + round(self.scroll_y)
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
        look = (self._widths, self.size.width, self.get_pseudo_class_state(), self.rich_style)
        if look != self._look:
            self._look = look
            self._strips.clear()
            base = self.rich_style
            cursor = self.get_component_rich_style("layer-table--cursor")
            self._styles = {
                "base": base,
                "header": self.get_component_styles("layer-table--header").rich_style,
                "cursor": base + cursor,
                # The cursor's colours win over a cell's own (DataTable's cursor_*_priority="css").
                "cursor_post": Style.from_color(cursor.color, cursor.bgcolor),
            }

    def _line(self, cells: Row, row_style: Style, post: Style | None = None, *, header: bool = False) -> Strip:
        """One full-width line: ``post`` (the cursor's colours) goes over the cells' own styles."""
        segments: list[Segment] = []
        for c, (text, width) in enumerate(zip(cells, self._widths, strict=True)):
            gap = " " * (width - _LEFT[c] - _PADDING - cell_len(text))
            segments.append(Segment(" " * _LEFT[c] + (gap if _RIGHT[c] else ""), row_style))
            own = "" if header else _cell_style(c, text)
            style = row_style + _CELL_STYLES[own] if own else row_style
            segments.append(Segment(text, style + post if own and post is not None else style))
            segments.append(Segment(("" if _RIGHT[c] else gap) + " " * _PADDING, row_style))
        fill = max(0, self.size.width - sum(self._widths))
        segments.append(Segment(" " * fill, row_style))
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

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            header = self._strips.get(((), False))
            if header is None:
                header = self._line(tuple(label for _, label in COLUMNS), self._styles["header"], header=True)
                self._strips[((), False)] = header
            strip = header
        else:
            row = y - 1 + scroll_y
            if row >= len(self._rows):
                return Strip.blank(width, self._styles["base"])
            strip = self._row_strip(row)
        return strip.crop(scroll_x, scroll_x + width) if scroll_x or strip.cell_length > width else strip
