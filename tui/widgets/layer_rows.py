"""What the layer table shows, computed from a design without any UI: one row per layer of the design's tree.

A residual block is one bracketed group of rows: its header (``┌ residual``), its main-path rows, its shortcut
rows marked ``↳`` (or one ``↳ identity`` row), and its add (``└ + add``); nested blocks nest their brackets.
Each row stands for an editing Target (tui.editing). Output, params and MACC come from the analysis, so they
show whenever the design analyses; weights and RAM from the estimate. When the estimator gives no figures (it
refuses residual blocks, for now), RAM is the sum of the tensors alive at each row in designer.graph.lower (an
identity shortcut keeps the block's input alive across its main path), so ▲ still marks the peak. While the
design is invalid every figure is "–". Nothing here imports textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

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
KEYS = tuple(key for key, _ in COLUMNS)
"""The column keys, in display order."""
PRIORITY: tuple[str, ...] = ("index", "mark", "kind", "config", "output", "params", "macc", "weights", "act",
                             "group")
"""Which columns stay when the widget is too narrow for all: a prefix of this order (the group column goes
first: the kind column's brackets already show the blocks)."""
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
    # Every buffer alive while the row runs where the runtime reports it (TFLM's planner: shortcuts kept alive
    # across a block), else the estimate's own per-layer figure.
    return lf.live_bytes or lf.ram_bytes


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
