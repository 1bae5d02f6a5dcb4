"""The notebook view's data: every preset and saved design side by side, sortable, as a markdown table.

Rows are estimated with the app's current settings and checked against the current board. Measured
accuracy comes from training runs when there are any (``runs/<design>-<time>/``, read by
designer.training.runs): each design's best run, by test accuracy, else its best validation accuracy.
Nothing here imports textual.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from designer.boards import Board
from designer.design import Design, DesignError, analyze
from designer.designfile import load
from designer.training.runs import best_run_for, list_runs
from presets import load_preset, preset_ids
from tui.budget import Settings, estimate_with, footprint_fits, human_bytes
from tui.files.sources import LOAD_ERRORS

COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Design"), ("source", "Source"), ("params", "Params"), ("flash", "Flash"), ("ram", "RAM"),
    ("fits", "Fits"), ("notebook_acc", "Notebook acc. %"), ("measured_acc", "Measured acc. %"),
)
"""(sort key, header) of each column, in display order."""


@dataclass(frozen=True)
class NotebookRow:
    """One design's figures; None where unknown (an invalid design has no footprint)."""

    name: str
    source: str  # "preset", a file name, or "current"
    params: int | None
    flash_bytes: int | None
    ram_bytes: int | None
    fits: bool | None
    notebook_acc: float | None  # percent, from the preset's notebook figures
    measured_acc: float | None  # percent, the design's best training run (runs/*/)
    error: str = ""  # why there is no footprint: the design's error, or the estimator's refusal
    design: Design | None = field(default=None, compare=False, repr=False)
    """The design itself, for Enter (open it as an unsaved copy)."""

    def _fits_text(self) -> str:
        if self.fits is not None:
            return "yes" if self.fits else "no"
        # A valid design (it has params) the estimator cannot take yet reads "–", not "invalid".
        return "–" if self.params is not None else "invalid"

    def cells(self) -> tuple[str, ...]:
        """The row as display text, in COLUMNS order."""
        def num(v: float | None, fmt: str) -> str:
            return "–" if v is None else format(v, fmt)
        return (self.name, self.source, num(self.params, ","),
                "–" if self.flash_bytes is None else human_bytes(self.flash_bytes),
                "–" if self.ram_bytes is None else human_bytes(self.ram_bytes),
                self._fits_text(),
                num(self.notebook_acc, ".2f"), num(self.measured_acc, ".2f"))


def measured_accuracies(runs_dir: Path) -> dict[str, float]:
    """Design name -> accuracy percent of its best training run under ``runs_dir`` (see best_run_for)."""
    names = {run.design for run in list_runs(runs_dir) if run.accuracy is not None}
    found: dict[str, float] = {}
    for name in sorted(names):
        best = best_run_for(name, runs_dir)
        if best is not None and best.accuracy is not None:
            found[name] = best.accuracy * 100
    return found


def row_for(design: Design, source: str, board: Board, settings: Settings,
            measured: dict[str, float]) -> NotebookRow:
    """One design's row."""
    notebook_acc = design.notebook.accuracy_percent if design.notebook is not None else None
    try:
        fp = estimate_with(design, settings)
    except Exception as exc:  # noqa: BLE001 - an estimator bug marks its row, it does not close the view
        error = str(exc) if isinstance(exc, DesignError) else f"estimator error: {type(exc).__name__}: {exc}"
        try:  # a valid design the estimator cannot take still has its params
            params: int | None = analyze(design).params_total
        except Exception:  # noqa: BLE001 - the row already carries the error
            params = None
        return NotebookRow(design.name, source, params, None, None, None, notebook_acc,
                           measured.get(design.name), error, design=design)
    return NotebookRow(design.name, source, fp.params_total, fp.flash_bytes, fp.ram_bytes,
                       footprint_fits(fp, board), notebook_acc, measured.get(design.name), design=design)


def saved_designs(directory: Path) -> Iterable[tuple[Design, str]]:
    """Every ``*.toml`` in ``directory`` that reads as a design, with its file name."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.toml")):
        try:
            yield load(path), path.name
        except LOAD_ERRORS:
            continue


def collect_rows(board: Board, settings: Settings, *, designs_dir: Path | None, runs_dir: Path,
                 current: Design | None = None) -> list[NotebookRow]:
    """Rows for all presets, then the saved designs in ``designs_dir``, then the design being edited."""
    measured = measured_accuracies(runs_dir)
    rows = [row_for(load_preset(pid), "preset", board, settings, measured) for pid in preset_ids()]
    if designs_dir is not None:
        rows += [row_for(d, name, board, settings, measured) for d, name in saved_designs(designs_dir)]
    if current is not None:
        rows.append(row_for(current, "current", board, settings, measured))
    return rows


def sort_rows(rows: list[NotebookRow], key: str, reverse: bool = False) -> list[NotebookRow]:
    """Rows sorted by a COLUMNS key; unknown values sort last either way."""
    def value(row: NotebookRow) -> object:
        return {"name": row.name, "source": row.source, "params": row.params, "flash": row.flash_bytes,
                "ram": row.ram_bytes, "fits": row.fits, "notebook_acc": row.notebook_acc,
                "measured_acc": row.measured_acc}[key]
    known = [r for r in rows if value(r) is not None]
    unknown = [r for r in rows if value(r) is None]
    return sorted(known, key=value, reverse=reverse) + unknown  # type: ignore[arg-type]


def to_markdown(rows: list[NotebookRow], board: Board, settings: Settings) -> str:
    """The rows as a markdown table like the seed notebook's, with a line saying what was estimated."""
    lines = [f"Estimated for {board.name} with {settings.describe()}.", "",
             "| " + " | ".join(header for _, header in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines) + "\n"
