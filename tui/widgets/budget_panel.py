"""The always-visible budget panel: one bar per resource of the selected board (flash, RAM, and latency when
a latency budget is set), the params/MACC counts, and a flash/RAM matrix of every runtime × dtype.

Bars are green while fine, yellow from 80 % of the budget, red over it. While the design is invalid the
panel shows the DesignError and keeps the last valid figures, greyed. For an unmodified preset the
notebook's own figures are shown beside ours, but only with the settings they were measured with (X-CUBE-AI
float32); the accuracy beside the notebook's is the design's latest training run's.

It is redrawn on every edit, so it is cheap to redraw: its lines are Textual ``Content`` (not Rich
renderables, which went through a Rich console), each line's strips are cached under its text and styles, and
only the lines whose figures changed are repainted. The styles are Rich's, converted once, so the panel looks
as it did when it was a Static showing Rich Texts and a Table.
"""

from __future__ import annotations

from functools import cache

from rich.style import Style as RichStyle
from textual.content import Content
from textual.geometry import Region
from textual.strip import Strip
from textual.style import Style
from textual.visual import Visual
from textual.widget import Widget

from designer.boards import Board
from designer.design import Design
from designer.footprint import DTYPES, RUNTIMES, format_size
from tui.budget import Bar, Budget, Cell, Settings, human_bytes, human_count

BAR_WIDTH = 38
_LEVEL_STYLE = {"fine": "green", "tight": "yellow", "over": "bold red"}
_TABLE_GAP = 2
"""Blank cells after each column of the notebook table."""
NOTEBOOK_SETTINGS = ("xcubeai", "float32")
"""The runtime and dtype the seed notebook's ROM/RAM figures were measured with."""


@cache
def _style(definition: str) -> Style:
    """A Rich style definition ("bold red", "grey50") as a Textual style, converted once."""
    return Style.from_rich_style(RichStyle.parse(definition))


def _text(text: str, style: str = "") -> Content:
    return Content.styled(text, _style(style)) if style else Content(text)


def _line(*parts: tuple[str, str]) -> Content:
    return Content.assemble(*((text, _style(style) if style else "") for text, style in parts))


def _bar_lines(bar: Bar, stale: bool) -> list[Content]:
    style = "grey50" if stale else _LEVEL_STYLE[bar.level]
    head = _line((f"{bar.name:<8}", "bold"), (f"{bar.value:>10}  ", style), (bar.detail, "dim"))
    filled = min(BAR_WIDTH, round(min(bar.fraction, 1.0) * BAR_WIDTH))
    gauge = _line(("█" * filled, style), ("░" * (BAR_WIDTH - filled), "grey35"), (f" {bar.percent:>5}", style))
    return [head, gauge]


def _table(rows: list[tuple[str, str, str]], ours_style: str) -> list[Content]:
    """The notebook-vs-ours table: a bold label column, two right-aligned figure columns, a bold header."""
    header = ("", "notebook", "ours")
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(3)]
    gap = " " * _TABLE_GAP
    lines = [_line((f"{header[0]:<{widths[0]}}{gap}{header[1]:>{widths[1]}}{gap}{header[2]:>{widths[2]}}{gap}",
                    "bold"))]
    for label, notebook, ours in rows:
        lines.append(_line((f"{label:<{widths[0]}}{gap}", "bold"), (f"{notebook:>{widths[1]}}", ""), (gap, ""),
                           (f"{ours:>{widths[2]}}", ours_style), (gap, "")))
    return lines


def _cell_text(cell: Cell) -> str:
    if cell.flash_bytes is None or cell.ram_bytes is None:
        return "–"
    return f"{human_bytes(cell.flash_bytes, short=True)} / {human_bytes(cell.ram_bytes, short=True)}"


def _matrix(budget: Budget, settings: Settings) -> list[Content]:
    """Flash / RAM for each runtime (rows) × dtype (columns); the current one reversed, a misfit red."""
    gap = " " * _TABLE_GAP
    label_width = max(len("flash/RAM"), *(len(runtime) for runtime in RUNTIMES))
    texts = {(c.runtime, c.dtype): (_cell_text(c), c.fits, c.stale) for c in budget.matrix}
    width = max(len(dtype) for dtype in DTYPES)
    width = max(width, *(len(text) for text, _, _ in texts.values()))
    lines = [_line((f"{'flash/RAM':<{label_width}}", "bold"),
                   *((f"{gap}{dtype:<{width}}", "bold") for dtype in DTYPES))]
    for runtime in RUNTIMES:
        parts: list[tuple[str, str]] = [(f"{runtime:<{label_width}}", "bold")]
        for dtype in DTYPES:
            text, fit, stale = texts.get((runtime, dtype), ("–", False, True))
            style = "grey50" if budget.stale or stale else ("green" if fit else "red")
            if (runtime, dtype) == (settings.runtime, settings.dtype):
                style = f"reverse bold {style}"
            parts += [(gap, ""), (f"{text:<{width}}", style)]
        lines.append(_line(*parts))
    return lines


def notebook_comparable(settings: Settings) -> bool:
    """Whether the settings are those the notebook's figures were measured with (X-CUBE-AI, float32)."""
    return (settings.runtime, settings.dtype) == NOTEBOOK_SETTINGS


def budget_lines(design: Design, board: Board, settings: Settings, budget: Budget) -> list[Content]:
    """The panel's lines (a pure function of its inputs, so snapshots are deterministic)."""
    lines: list[Content] = [
        _line(("Board ", "bold"), (board.name, "bold cyan")),
        _text(f"{board.mcu} · {board.core} · {board.clock_mhz:g} MHz", "dim"),
        _line(("Estimate ", "bold"), (settings.describe(), "")),
        _text(""),
    ]
    for bar in budget.bars:
        lines += _bar_lines(bar, budget.stale)
    fp = budget.footprint
    figure_style = "grey50" if budget.stale else ""
    if fp is not None:
        counts = f"{fp.params_total:,} params · {human_count(fp.macc)} MACC"
        if budget.latency_budget_ms is None and budget.inference_ms is not None:
            counts += f" · ≈ {budget.inference_ms:,.0f} ms"
        lines.append(_text(counts, figure_style))
    if budget.run is not None:
        lines.append(_line(("Accuracy ", "bold"), (f"{budget.run.accuracy:.1%}", figure_style),
                           (f" latest run {budget.run.run}", "dim")))
    if budget.error is not None:
        title = ("Estimator error — figures above are the last good ones:" if budget.estimator_error
                 else "Design invalid — figures above are the last valid ones:")
        lines += [_text(""), _text(title, "bold red"), _text(budget.error, "red")]
    elif budget.fits is not None:
        slow = any(bar.name == "Latency" and bar.level == "over" for bar in budget.bars)
        if budget.fits and slow:
            lines.append(_text("Fits flash and RAM, but over the latency budget", "bold yellow"))
        else:
            lines.append(_text("Fits the board", "bold green") if budget.fits
                         else _text("Does NOT fit the board", "bold red"))
    if budget.matrix:
        lines += [_text(""), *_matrix(budget, settings)]
    nb = design.notebook
    if nb is not None and not notebook_comparable(settings):
        lines += [_text(""), _text("Notebook figures are X-CUBE-AI float32: r / d to compare", "dim")]
    elif nb is not None:
        lines += [_text(""), _text("Unmodified preset: the notebook's figures", "bold")]
        rows = [("params", f"{nb.params:,}", f"{fp.params_total:,}" if fp else "–"),
                ("ROM", nb.rom or "–", format_size(fp.flash_bytes) if fp else "–"),
                ("RAM", nb.ram or "–", format_size(fp.ram_bytes) if fp else "–")]
        if nb.accuracy_percent is not None:
            ours = f"{budget.run.accuracy * 100:.2f} %" if budget.run is not None else "–"
            rows.append(("accuracy", f"{nb.accuracy_percent:.2f} %", ours))
        lines += _table(rows, figure_style)
    return lines


def _height_key(design: Design, board: Board, settings: Settings, budget: Budget) -> tuple[object, ...]:
    """What the panel's height depends on (which lines there are, and how long the ones that may wrap are)."""
    nb = design.notebook
    return (board.name, board.mcu, board.core, settings.describe(), budget.error, budget.fits is None,
            budget.footprint is None, budget.latency_budget_ms is None, bool(budget.matrix),
            tuple((bar.name, len(bar.value), len(bar.detail)) for bar in budget.bars),
            None if budget.run is None else len(budget.run.run),
            nb is None, nb is not None and nb.accuracy_percent is None, notebook_comparable(settings))


def render_budget(design: Design, board: Board, settings: Settings, budget: Budget) -> Content:
    """The panel's whole content, as one Content."""
    return Content("\n").join(budget_lines(design, board, settings, budget))


def _line_key(line: Content) -> tuple[object, ...]:
    # Content's == compares the text only; a bar that turns yellow keeps its text.
    return (line.plain, *line.spans)


class BudgetPanel(Widget):
    """Shows a Budget; the app calls ``show`` after every edit or settings change.

    A Line-API widget: each of the panel's lines is turned into strips once, under its text and styles, and
    an edit repaints only the lines whose figures changed (a Static would re-render all ~20 lines through
    Textual's styles on every edit).
    """

    DEFAULT_CSS = """
    BudgetPanel {
        height: auto;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's own parameter name
        super().__init__(id=id)
        self._lines: list[Content] = []
        self._content = Content("")
        self._height_key: tuple[object, ...] | None = None
        self._look: tuple[object, ...] = ()
        """What every cached strip depends on besides its line: the content width and the widget's style."""
        self._cache: dict[tuple[object, ...], list[Strip]] = {}
        self._rows: list[Strip] = []
        self._rows_for: tuple[object, ...] | None = None
        self._version = 0
        """Bumped by every show(): the rows of ``_rows_for`` are those of one version of ``_lines``."""

    def render(self) -> Content:
        # Textual sizes the panel (height: auto) from this; the lines themselves are drawn by render_line.
        return self._content

    def show(self, design: Design, board: Board, settings: Settings, budget: Budget) -> None:
        """Redraw for the current state."""
        self.set_class(budget.over_budget, "-over")
        self.set_class(budget.stale, "-stale")
        old, lines = self._lines, budget_lines(design, board, settings, budget)
        self._lines, self._content = lines, Content("\n").join(lines)
        self._version += 1
        # A layout pass re-places every widget on the screen; most edits leave the panel's height alone.
        key = _height_key(design, board, settings, budget)
        same_height = key == self._height_key and len(old) == len(lines)
        self._height_key = key
        if not same_height or self._rows_for is None or self._rows_for[0] != self._check_look():
            self.clear_cached_dimensions()
            self.refresh(layout=not same_height)
            return
        before = [self._strips_of(line) for line in old]
        after = [self._strips_of(line) for line in lines]
        if [len(s) for s in before] != [len(s) for s in after]:
            self.clear_cached_dimensions()
            self.refresh(layout=True)
            return
        # One region per run of changed lines (an edit changes the bars, one block): each refresh has a cost.
        width, y, start = self.size.width, 0, None
        for was, now, strips in zip(old, lines, after, strict=True):
            if _line_key(was) != _line_key(now):
                start = y if start is None else start
            elif start is not None:
                self.refresh(Region(0, start, width, y - start))
                start = None
            y += len(strips)
        if start is not None:
            self.refresh(Region(0, start, width, y - start))

    def _check_look(self) -> tuple[object, ...]:
        look = (self.size.width, self.visual_style)
        if look != self._look:
            self._look = look
            self._cache.clear()
        return look

    def _strips_of(self, line: Content) -> list[Strip]:
        key = _line_key(line)
        strips = self._cache.get(key)
        if strips is None:
            if len(self._cache) > 256:
                self._cache.clear()  # old figures: drop them rather than grow without bound
            strips = Visual.to_strips(self, line, self.size.width, None, self.visual_style) or [Strip([])]
            self._cache[key] = strips
        return strips

    def render_line(self, y: int) -> Strip:
        look = self._check_look()
        if self._rows_for != (look, self._version):
            self._rows = [strip for line in self._lines for strip in self._strips_of(line)]
            self._rows_for = (look, self._version)
        if y < len(self._rows):
            return self._rows[y]
        return Strip.blank(self.size.width, self.visual_style.rich_style)
