"""The layer stack as the design's tree: one row per layer, a residual block as one bracketed group of rows.

A block shows as its header row (``┌ residual``), its main-path rows, its shortcut rows marked ``↳`` (or one
``↳ identity`` row), and its add row (``└ + add``); nested blocks nest their brackets. Each row stands for an
editing Target (tui.editing), so the app asks the row under the cursor what a key applies to.

Columns: index (the item's tree path, ``3m1`` = main layer 1 of block 3), a marks column (▲ on the row that
sets peak RAM, ◆ on the one with the most weight bytes, ✗ on the row an invalid design's DesignError names),
group, kind, configuration, output shape, params, MACC, weight bytes and live activation bytes. Output, params
and MACC come from the analysis, so they show whenever the design analyses; weights and RAM from the
estimate. When the estimator gives no figures (it refuses residual blocks, for now), the RAM column is the sum
of the tensors alive at each row in designer.graph.lower (an identity shortcut keeps the block's input
alive across its main path), so ▲ still marks the peak. While the design is invalid every figure is "–".

Columns that do not fit the widget are dropped whole, lowest priority first (PRIORITY), and named in a header
line; a value is never cut. It is a Line-API widget rather than a DataTable: an edit to one layer of a
100-layer design must repaint in a frame, so each row is a tuple of plain strings whose line (a Strip) is cached
under its content, and after an edit only the rows whose text changed are built again and refreshed.
"""

from __future__ import annotations

from dataclasses import dataclass
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

from designer.design import Analysis, Design, DesignError, LayerStats, analyze
from designer.footprint import Footprint, LayerFootprint
from designer.graph import lower
from designer.layers import MAIN, SHORTCUT, Item, Residual, has_blocks
from tui.budget import human_bytes, human_count
from tui.editing import Target, TreePath, path_label

COLUMNS: tuple[tuple[str, str], ...] = (
    ("index", "#"), ("mark", ""), ("group", "Group"), ("kind", "Kind"), ("config", "Configuration"),
    ("output", "Output"), ("params", "Params"), ("macc", "MACC"), ("weights", "Weights"), ("act", "Act. RAM"),
)
_KEYS = tuple(key for key, _ in COLUMNS)
PRIORITY: tuple[str, ...] = ("index", "mark", "kind", "config", "output", "params", "macc", "weights", "act",
                             "group")
"""Which columns stay when the widget is too narrow for all: a prefix of this order (the group column goes
first: the kind column's brackets already show the blocks)."""
_ALWAYS = 3
"""Index, marks and kind always show (past that, the table scrolls sideways; the index and marks stay)."""
_RIGHT = tuple(key in ("index", "params", "macc", "weights", "act") for key in _KEYS)
_GROUP, _MARK, _KIND = _KEYS.index("group"), _KEYS.index("mark"), _KEYS.index("kind")
_GAP = tuple(2 if _RIGHT[c] and c > 0 else 1 for c in range(len(_KEYS)))
"""Blank cells left of each cell: one, two before a right-aligned figure (so neighbouring numbers stay apart)."""
_TAIL = 1
"""Blank cells after the last shown column."""

_CELL_STYLES = {"bold": Style(bold=True), "dim": Style(dim=True), "mark": Style(bold=True, color="yellow"),
                "error": Style(bold=True, color="red"), "shortcut": Style(italic=True, color="cyan")}

Row = tuple[str, ...]
"""One row's cells, in COLUMNS order."""

_ELEMENT_BYTES = {"float32": 4, "int8": 1}


@dataclass(frozen=True)
class TreeRow:
    """One row of the tree as the table shows it (what it stands for, where, and how deep)."""

    target: Target
    item: Item | None  # the layer or block (None for an identity shortcut row)
    depth: int  # enclosing blocks
    branch: str  # "" at top level, "main" or "shortcut" (the innermost block's path)
    group: str


def tree_rows(items: tuple[Item, ...], prefix: TreePath = (), depth: int = 0, branch: str = "") -> list[TreeRow]:
    """The rows of a stack, depth first: a block's header, its main path, its shortcut, its add."""
    rows: list[TreeRow] = []
    for index, item in enumerate(items):
        path = (*prefix, index)
        if not isinstance(item, Residual):
            rows.append(TreeRow(Target(path), item, depth, branch, item.group))
            continue
        rows.append(TreeRow(Target(path, "block"), item, depth, branch, item.group))
        rows += tree_rows(item.main, (*path, MAIN), depth + 1, "main")
        if item.shortcut:
            rows += tree_rows(item.shortcut, (*path, SHORTCUT), depth + 1, "shortcut")
        else:
            rows.append(TreeRow(Target(path, "identity"), None, depth + 1, "shortcut", item.group))
        rows.append(TreeRow(Target(path, "add"), item, depth, branch, item.group))
    return rows


def _group_cell(rows: list[TreeRow], y: int) -> str:
    group = rows[y].group
    if not group:
        return ""
    first = y == 0 or rows[y - 1].group != group
    last = y == len(rows) - 1 or rows[y + 1].group != group
    if first and last:
        return f"[ {group}"
    if first:
        return f"┌ {group}"
    return "└" if last else "│"


@lru_cache(maxsize=4096)
def _text_cells(item: Item | None, role: str, depth: int, branch: str) -> tuple[str, str]:
    """Kind and configuration of a row (cached: an edit leaves most rows as they were)."""
    row = TreeRow(Target((), role), item, depth, branch, "")
    return _kind_cell(row), _config_cell(row)


def _kind_cell(row: TreeRow) -> str:
    """The kind, behind one bracket per enclosing block: ``│ ↳ conv2d`` is a shortcut layer of a block."""
    role = row.target.role
    indent = "│ " * (row.depth - (role not in ("block", "add")))
    if role == "block":
        return f"{indent}┌ residual"
    if role == "add":
        return f"{indent}└ + add"
    if row.depth:
        indent += "│ "
    if role == "identity":
        return f"{indent}↳ identity"
    assert row.item is not None
    return f"{indent}{'↳ ' if row.branch == 'shortcut' else ''}{row.item.kind}"


def _config_cell(row: TreeRow) -> str:
    item, role = row.item, row.target.role
    if isinstance(item, Residual):
        if role == "add":
            return item.activation
        return f"main {len(item.main)}, " + ("identity" if item.identity else f"shortcut {len(item.shortcut)}")
    return item.summary() if item is not None else ""


@lru_cache(maxsize=4096)
def _figures(output: tuple[int, ...], params: int, macc: int, weights: int | None, ram: int | None) -> Row:
    return ("x".join(map(str, output)), f"{params:,}", human_count(macc),
            "–" if weights is None else human_bytes(weights), "–" if ram is None else human_bytes(ram))


_NO_FIGURES: Row = ("–",) * 5
_BLANK: Row = ("",) * 5


def live_bytes(analysis: Analysis, dtype: str) -> list[int]:
    """Per analysis row, the bytes of every tensor alive while it runs (designer.graph's lifetimes)."""
    graph = lower(analysis)
    size = _ELEMENT_BYTES.get(dtype, 4)
    delta = [0] * (len(graph.nodes) + 1)
    for tensor in graph.tensors:  # each tensor adds its bytes over [first_use, last_use]
        delta[tensor.first_use] += tensor.elements * size
        delta[tensor.last_use + 1] -= tensor.elements * size
    live, total = [], 0
    for step in delta[:-1]:
        total += step
        live.append(total)
    return live


def _ram(lf: LayerFootprint) -> int:
    # The live buffers at the layer once the estimators report them (LayerFootprint.live_bytes), else their own.
    return int(getattr(lf, "live_bytes", lf.ram_bytes))


def layer_rows(design: Design, footprint: Footprint | None, error_index: int | None,
               dtype: str = "float32") -> tuple[list[TreeRow], list[Row], bool]:
    """The tree's rows, their cells, and whether the design analyses (``footprint`` is the design's own, None
    when there is none)."""
    tree = tree_rows(design.layers)
    per_index = {lf.index: lf for lf in footprint.layers} if footprint is not None else {}
    stats: dict[tuple[TreePath, bool], LayerStats] = {}
    live: list[int] | None = None
    valid = footprint is not None
    error: TreePath | None = (error_index,) if error_index is not None else None
    if footprint is None or has_blocks(design.layers):
        try:
            analysis = analyze(design)
        except DesignError as exc:
            error = exc.path or error
        else:
            valid = True
            stats = {(s.path, s.role == "add"): s for s in analysis.layers}
            if footprint is None:
                live = live_bytes(analysis, dtype)
    figures: list[Row] = []
    ram: list[int | None] = []  # per row: the ▲ figure
    weight: list[int | None] = []  # per row: the ◆ figure (weight bytes, or params without an estimate)
    for row in tree:
        role = row.target.role
        s = stats.get((row.target.path, role == "add"))
        lf: LayerFootprint | None = None
        if role in ("block", "identity"):
            figures.append(_BLANK)
            ram.append(None)
            weight.append(None)
            continue
        if footprint is not None and not stats:  # a linear design: its rows are the estimate's layers
            lf = per_index.get(row.target.path[0])
            cells = _NO_FIGURES if lf is None else _figures(lf.output_shape, lf.params, lf.macc, lf.weights_bytes,
                                                            _ram(lf))
        elif s is None:
            cells = _NO_FIGURES
        else:
            lf = per_index.get(s.index)
            cells = _figures(s.output_shape, s.params_total, lf.macc if lf else s.macc,
                             lf.weights_bytes if lf else None,
                             _ram(lf) if lf else live[s.index] if live is not None else None)
        figures.append(cells)
        ram.append(_ram(lf) if lf else live[s.index] if live is not None and s is not None else None)
        weight.append(lf.weights_bytes if lf else s.params_total if s is not None else None)
    peak, heaviest = _argmax(ram), _argmax(weight)
    rows: list[Row] = []
    for y, row in enumerate(tree):
        marks = ("▲" if y == peak else "") + ("◆" if y == heaviest else "")
        if error is not None and row.target.path == error and row.target.role in ("layer", "block"):
            marks = "✗"
        label = "" if row.target.role in ("add", "identity") else path_label(row.target.path)
        rows.append((label, marks, _group_cell(tree, y), *_text_cells(row.item, row.target.role, row.depth, row.branch),
                     *figures[y]))
    return tree, rows, valid


def _argmax(values: list[int | None]) -> int | None:
    """The first row with the largest positive figure (None when there is none)."""
    best: int | None = None
    for y, value in enumerate(values):
        if value is not None and value > 0 and (best is None or value > values[best]):  # type: ignore[operator]
            best = y
    return best


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
        return self._rows[row][_KEYS.index(column)]

    @property
    def analysed(self) -> bool:
        """Whether the design shown analyses (is valid), whatever its estimate did."""
        return self._analysed

    @property
    def hidden(self) -> tuple[str, ...]:
        """The labels of the columns too wide for the widget now."""
        return tuple(COLUMNS[c][1] for c in (_KEYS.index(k) for k in PRIORITY) if c not in self._shown)

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
        order = [_KEYS.index(k) for k in PRIORITY]
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
