"""Live training curves for a job card: loss and accuracy per epoch, train and validation (plotext plots)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual_plotext import PlotextPlot

CURVES: tuple[tuple[str, tuple[str, str]], ...] = (("loss", ("loss", "val_loss")),
                                                   ("accuracy", ("accuracy", "val_accuracy")))
"""(plot title, (train metric, validation metric)) for each plot, left to right."""


class TrainCurves(Horizontal):
    """Two small plots side by side; ``show`` redraws them from a job's metrics (name -> [(epoch, value), ...])."""

    def __init__(self, *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self.metrics: Mapping[str, Sequence[tuple[int, float]]] = {}

    def compose(self) -> ComposeResult:
        for title, _ in CURVES:
            yield PlotextPlot(id=f"curve-{title}", classes="curve")

    def on_mount(self) -> None:
        self._draw()

    def show(self, metrics: Mapping[str, Sequence[tuple[int, float]]]) -> None:
        """Redraw both plots from ``metrics`` (drawn once mounted if it is not yet)."""
        self.metrics = metrics
        self._draw()

    def _draw(self) -> None:
        for title, names in CURVES:
            found = self.query(f"#curve-{title}")
            if not found:
                return
            plot = found.first(PlotextPlot)
            plt = plot.plt
            plt.clear_data()
            plt.title(title)
            epochs: set[int] = set()
            for name, label in zip(names, ("train", "val"), strict=True):
                points = list(self.metrics.get(name, ()))
                if points:
                    xs, ys = [p[0] for p in points], [p[1] for p in points]
                    epochs.update(xs)
                    plt.plot(xs, ys, label=label, marker="braille")
            if epochs:
                ticks = sorted(epochs)
                plt.xticks(ticks[::max(1, len(ticks) // 6)])
            if title == "accuracy":
                plt.ylim(0, 1)
                plt.yticks([0, 0.5, 1])
            plot.refresh()
