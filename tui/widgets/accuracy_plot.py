"""The notebook view's scatter: accuracy against flash (or RAM) for every design with an accuracy — the
notebook's figure for the presets, the best training run's for any design that has one — with the board's
budget as a vertical line, so what fits is left of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual_plotext import PlotextPlot

from designer.boards import Board
from tui.notebook_rows import NotebookRow

AXES = ("flash", "ram")


@dataclass(frozen=True)
class Point:
    """One design on the scatter: ``kib`` of flash or RAM, ``accuracy`` in percent."""

    name: str
    kib: float
    accuracy: float


def scatter_points(rows: Sequence[NotebookRow], axis: str) -> dict[str, list[Point]]:
    """{"notebook": [...], "measured": [...]}: each row with a size on ``axis`` and that accuracy."""
    series: dict[str, list[Point]] = {"notebook": [], "measured": []}
    for row in rows:
        size = row.flash_bytes if axis == "flash" else row.ram_bytes
        if size is None:
            continue
        for name, accuracy in (("notebook", row.notebook_acc), ("measured", row.measured_acc)):
            if accuracy is not None:
                series[name].append(Point(row.name, size / 1024, accuracy))
    return series


def budget_kib(board: Board, axis: str) -> float:
    """The board's flash or RAM in KiB."""
    return (board.flash_bytes if axis == "flash" else board.ram_bytes) / 1024


class AccuracyPlot(PlotextPlot):
    """``show(rows, board, axis)`` draws the scatter; ``axis`` is "flash" or "ram"."""

    heading = ""
    """The plot's title, as drawn."""
    series: dict[str, list[Point]] = {}  # noqa: RUF012 - replaced, never mutated, by show()
    """The points drawn, by series."""

    def show(self, rows: Sequence[NotebookRow], board: Board, axis: str) -> None:
        """Redraw for ``rows`` against ``board``'s ``axis`` budget."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        label = "flash" if axis == "flash" else "RAM"
        self.heading = f"accuracy (%) vs {label} (KiB); the red line is {board.name}'s {label}"
        plt.title(self.heading)
        budget = budget_kib(board, axis)
        series = scatter_points(rows, axis)
        self.series = series
        right = max([p.kib for points in series.values() for p in points] + [budget]) * 1.08
        for (name, points), marker in zip(series.items(), ("dot", "x"), strict=True):
            if points:
                plt.scatter([p.kib for p in points], [p.accuracy for p in points], label=name, marker=marker)
                for p in points:  # the name just right of its point, which it would otherwise cover
                    plt.text(p.name, p.kib + right * 0.012, p.accuracy)
        plt.vertical_line(budget, color="red")
        plt.xlim(0, right)
        plt.xlabel(f"{label} KiB")
        self.refresh()
