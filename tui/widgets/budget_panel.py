"""The always-visible budget panel: params, MACC, flash and RAM as bars against the selected board.

Bars are green while fine, yellow from 80 % of the budget, red over it. While the design is invalid the
panel shows the DesignError and keeps the last valid figures, greyed. For an unmodified preset the
notebook's own figures are shown beside ours.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from designer.boards import Board
from designer.design import Design
from designer.footprint import format_size
from tui.budget import Bar, Budget, Settings

BAR_WIDTH = 38
_LEVEL_STYLE = {"fine": "green", "tight": "yellow", "over": "bold red"}


def _bar_lines(bar: Bar, stale: bool) -> list[Text]:
    style = "grey50" if stale else _LEVEL_STYLE[bar.level]
    head = Text.assemble((f"{bar.name:<7}", "bold"), (f"{bar.value:>10}  ", style), (bar.detail, "dim"))
    filled = min(BAR_WIDTH, round(min(bar.fraction, 1.0) * BAR_WIDTH))
    gauge = Text.assemble(("█" * filled, style), ("░" * (BAR_WIDTH - filled), "grey35"),
                          (f" {bar.percent:>5}", style))
    return [head, gauge]


def render_budget(design: Design, board: Board, settings: Settings, budget: Budget) -> RenderableType:
    """The panel's content (a pure function of its inputs, so snapshots are deterministic)."""
    lines: list[Text] = [
        Text.assemble(("Board ", "bold"), (board.name, "bold cyan")),
        Text(f"{board.mcu} · {board.core} · {board.clock_mhz:g} MHz", style="dim"),
        Text.assemble(("Estimate ", "bold"), settings.describe()),
        Text(""),
    ]
    for bar in budget.bars:
        lines += _bar_lines(bar, budget.stale)
    if budget.inference_ms is not None:
        lines.append(Text.assemble(("Inference ", "bold"),
                                   (f"≈ {budget.inference_ms:,.0f} ms", "grey50" if budget.stale else ""),
                                   (" (estimate)", "dim")))
    if budget.error is not None:
        lines += [Text(""), Text("Design invalid — figures above are the last valid ones:", style="bold red"),
                  Text(budget.error, style="red")]
    elif budget.fits is not None:
        verdict = (Text("Fits the board", style="bold green") if budget.fits
                   else Text("Does NOT fit the board", style="bold red"))
        lines.append(verdict)
    nb = design.notebook
    if nb is not None:
        lines += [Text(""), Text("Unmodified preset: the notebook's figures", style="bold")]
        table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False)
        table.add_column("", style="bold")
        table.add_column("notebook", justify="right")
        table.add_column("ours", justify="right", style="grey50" if budget.stale else "")
        fp = budget.footprint
        table.add_row("params", f"{nb.params:,}", f"{fp.params_total:,}" if fp else "–")
        table.add_row("ROM", nb.rom or "–", format_size(fp.flash_bytes) if fp else "–")
        table.add_row("RAM", nb.ram or "–", format_size(fp.ram_bytes) if fp else "–")
        if nb.accuracy_percent is not None:
            table.add_row("accuracy", f"{nb.accuracy_percent:.2f} %", "–")
        return Group(*lines, table)
    return Group(*lines)


def _height_key(design: Design, board: Board, settings: Settings, budget: Budget) -> tuple[object, ...]:
    """What the panel's height depends on (which lines there are, and how long the ones that may wrap are)."""
    nb = design.notebook
    return (board.name, board.mcu, board.core, settings.describe(), budget.error, budget.fits is None,
            budget.inference_ms is None, tuple((bar.name, len(bar.value), len(bar.detail)) for bar in budget.bars),
            nb is None, nb is not None and nb.accuracy_percent is None)


class BudgetPanel(Static):
    """Shows a Budget; the app calls ``show`` after every edit or settings change."""

    _height_key: tuple[object, ...] | None = None

    def show(self, design: Design, board: Board, settings: Settings, budget: Budget) -> None:
        """Redraw for the current state."""
        self.set_class(budget.over_budget, "-over")
        self.set_class(budget.stale, "-stale")
        # A layout pass re-places every widget on the screen; most edits leave the panel's height alone.
        key = _height_key(design, board, settings, budget)
        self.update(render_budget(design, board, settings, budget), layout=key != self._height_key)
        self._height_key = key
