"""What the budget panel and the layer table show, computed from a design without any UI.

``compute_budget`` estimates the design for the chosen runtime/dtype/compression and turns the footprint
into one bar per resource of the board: flash, RAM, and latency only when a latency budget is set (the
board's ``latency_budget_ms``, or the user's, which wins). It also estimates the other runtime/dtype
combinations, for the panel's flash/RAM matrix. An invalid design does not raise: the result carries the
DesignError text and the previous valid footprint marked ``stale``, so the panel keeps the last good numbers,
greyed. An estimator that fails otherwise (a bug, not the design) is caught by the app, which shows
:func:`estimator_failed`.
Nothing here imports textual.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from designer.boards import Board, fits, inference_ms
from designer.design import Design, DesignError
from designer.footprint import COMPRESSIONS, DTYPES, RUNTIMES, Footprint, estimate

COMPRESSION_INT8_NOTE = "compression applies to float32 dense weights only; no effect with int8"
"""What X-CUBE-AI's estimate does with compression under int8 (designer.xcubeai: int8 weights stay 1 B each)."""

TIGHT_FRACTION = 0.8
"""From this share of a budget on, a bar turns from fine to tight (and over 1.0, to over)."""


@dataclass(frozen=True)
class Settings:
    """The estimate's options; each is one key away in the app."""

    runtime: str = "xcubeai"
    dtype: str = "float32"
    compression: str = "high"
    latency_budget_ms: float | None = None
    """The user's latency budget in milliseconds (overrides the board's; None: the board's, if any)."""

    def next_runtime(self) -> Settings:
        """xcubeai <-> tflm."""
        return replace(self, runtime=_cycle(RUNTIMES, self.runtime))

    def next_dtype(self) -> Settings:
        """float32 <-> int8."""
        return replace(self, dtype=_cycle(DTYPES, self.dtype))

    def next_compression(self) -> Settings:
        """none -> low -> medium -> high -> none."""
        return replace(self, compression=_cycle(COMPRESSIONS, self.compression))

    def latency_budget(self, board: Board) -> float | None:
        """The latency budget in ms that applies on ``board``: the user's, else the board's, else None."""
        return self.latency_budget_ms if self.latency_budget_ms is not None else board.latency_budget_ms

    def describe(self) -> str:
        """e.g. ``xcubeai · float32 · compression high`` (TFLM has no compression setting, and X-CUBE-AI
        compresses float32 dense weights only)."""
        if self.runtime == "tflm":
            return f"tflm · {self.dtype}"
        if self.dtype == "int8":
            return f"{self.runtime} · int8 · compression n/a"
        return f"{self.runtime} · {self.dtype} · compression {self.compression}"


def _cycle(options: tuple[str, ...], current: str) -> str:
    return options[(options.index(current) + 1) % len(options)]


def human_bytes(n_bytes: int, *, short: bool = False) -> str:
    """``512 B``, ``147.0 KiB``, ``1.25 MiB``; ``short``: ``512B``, ``147K``, ``1.25M`` (KiB/MiB, for the
    panel's matrix, where a column is ~6 cells wide)."""
    if n_bytes < 1024:
        return f"{n_bytes}B" if short else f"{n_bytes} B"
    if n_bytes < 1024 * 1024:
        return f"{n_bytes / 1024:.0f}K" if short else f"{n_bytes / 1024:.1f} KiB"
    return f"{n_bytes / (1024 * 1024):.2f}" + ("M" if short else " MiB")


def human_count(n: int) -> str:
    """``9,999``, ``552.4k``, ``37.75M``."""
    if n < 10_000:
        return f"{n:,}"
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.2f}M"


def level(fraction: float) -> str:
    """"fine", "tight" or "over" for a used share of a budget."""
    if fraction > 1.0:
        return "over"
    return "tight" if fraction >= TIGHT_FRACTION else "fine"


@dataclass(frozen=True)
class Bar:
    """One budget bar: ``fraction`` of the budget used, and the text beside it."""

    name: str
    value: str  # the counter itself, e.g. "552,362" or "1.25 MiB"
    detail: str  # used of budget in human units, e.g. "1.25 MiB of 2.00 MiB"
    fraction: float

    @property
    def level(self) -> str:
        """fine / tight / over."""
        return level(self.fraction)

    @property
    def percent(self) -> str:
        """The used share as a whole percent."""
        return f"{self.fraction * 100:.0f}%"


@dataclass(frozen=True)
class Cell:
    """One runtime × dtype combination of the panel's matrix: its flash and RAM, and whether both fit."""

    runtime: str
    dtype: str
    flash_bytes: int | None
    """None when this combination does not estimate (a layer it cannot run, or its estimator failed)."""
    ram_bytes: int | None
    fits: bool
    stale: bool = False
    """The figures are the design's before the last edit (the app fills the matrix in after the edit's frame)."""


@dataclass(frozen=True)
class RunAccuracy:
    """The accuracy of the design's latest completed training run (test accuracy, else best validation)."""

    accuracy: float
    """A fraction in [0, 1]."""
    run: str
    """The run folder's name."""


@dataclass(frozen=True)
class Budget:
    """Everything the budget panel shows for one design, board and settings."""

    footprint: Footprint | None
    error: str | None  # the DesignError text when the current design does not analyse
    error_index: int | None  # the layer the DesignError names, if any
    stale: bool  # footprint is the last valid one, not the current design's
    bars: tuple[Bar, ...]
    inference_ms: float | None
    fits: bool | None
    estimator_error: bool = False
    """``error`` is an estimator's failure (a bug), not the design's: the panel says so."""
    matrix: tuple[Cell, ...] = ()
    """Flash and RAM for every runtime × dtype (the current compression for X-CUBE-AI), in RUNTIMES × DTYPES
    order; empty when the design does not estimate."""
    latency_budget_ms: float | None = None
    """The latency budget the Latency bar is against (None: no budget, no bar)."""
    run: RunAccuracy | None = None
    """The design's latest training run, when it has one (set by the app)."""

    @property
    def over_budget(self) -> bool:
        """Whether flash or RAM is over the board's budget."""
        return any(bar.level == "over" for bar in self.bars if bar.name in ("Flash", "RAM"))


def bars_for(footprint: Footprint, board: Board, settings: Settings) -> tuple[tuple[Bar, ...], float]:
    """One bar per resource of the board (flash, RAM, and latency when a budget applies), and the estimated
    inference time in ms."""
    ms = inference_ms(footprint.macc, board, settings.dtype, settings.runtime)
    bars = [
        Bar("Flash", human_bytes(footprint.flash_bytes), f"of {human_bytes(board.flash_bytes)}",
            footprint.flash_bytes / board.flash_bytes),
        Bar("RAM", human_bytes(footprint.ram_bytes), f"of {human_bytes(board.ram_bytes)}",
            footprint.ram_bytes / board.ram_bytes),
    ]
    latency = settings.latency_budget(board)
    if latency is not None:
        bars.append(Bar("Latency", f"≈ {ms:,.0f} ms", f"of {latency:,.0f} ms (estimate)", ms / latency))
    return tuple(bars), ms


def matrix_for(design: Design, board: Board, settings: Settings, current: Footprint) -> tuple[Cell, ...]:
    """Flash and RAM of ``design`` for every runtime × dtype (``current`` is the one already estimated)."""
    cells = []
    for runtime in RUNTIMES:
        for dtype in DTYPES:
            if (runtime, dtype) == (settings.runtime, settings.dtype):
                fp = current
            else:
                try:
                    fp = estimate_with(design, replace(settings, runtime=runtime, dtype=dtype))
                except Exception:  # noqa: BLE001 - another runtime's failure (or bug) blanks its cell only
                    cells.append(Cell(runtime, dtype, None, None, False))
                    continue
            cells.append(Cell(runtime, dtype, fp.flash_bytes, fp.ram_bytes, footprint_fits(fp, board)))
    return tuple(cells)


def footprint_fits(footprint: Footprint, board: Board) -> bool:
    """Whether flash and RAM both fit the board."""
    return fits(footprint, board).fits


def estimate_with(design: Design, settings: Settings) -> Footprint:
    """estimate() with the settings' options (raises DesignError for an invalid design)."""
    return estimate(design, runtime=settings.runtime, dtype=settings.dtype, compression=settings.compression)


def provisional_matrix(previous: Budget | None, settings: Settings, footprint: Footprint,
                       board: Board) -> tuple[Cell, ...]:
    """Until the matrix is estimated again: ``previous``'s cells marked stale, the current one fresh (the
    previous matrix as it is when the figures did not change, e.g. an edit that made the design invalid).
    Without a previous matrix (the first frame) the other cells are blank and stale."""
    if previous is not None and previous.matrix and previous.footprint == footprint:
        return previous.matrix
    current = Cell(settings.runtime, settings.dtype, footprint.flash_bytes, footprint.ram_bytes,
                   footprint_fits(footprint, board))
    if previous is None or not previous.matrix:
        return tuple(current if (runtime, dtype) == (current.runtime, current.dtype)
                     else Cell(runtime, dtype, None, None, False, stale=True)
                     for runtime in RUNTIMES for dtype in DTYPES)
    return tuple(current if (c.runtime, c.dtype) == (current.runtime, current.dtype) else replace(c, stale=True)
                 for c in previous.matrix)


def compute_budget(design: Design, board: Board, settings: Settings,
                   last_valid: Design | None = None, *, matrix: bool = True) -> Budget:
    """The budget of ``design``; an invalid design yields its error and ``last_valid``'s figures (stale).
    ``matrix=False`` leaves the other runtime × dtype estimates out (an edit's fast path: the app adds them
    after the edit's frame)."""
    try:
        footprint = estimate_with(design, settings)
    except DesignError as exc:
        try:
            # The last valid design may not estimate either: the settings may have changed since.
            old = estimate_with(last_valid, settings) if last_valid is not None else None
        except DesignError:
            old = None
        if old is None or last_valid is None:
            return Budget(None, str(exc), exc.index, True, (), None, None)
        bars, ms = bars_for(old, board, settings)
        return Budget(old, str(exc), exc.index, True, bars, ms, None,
                      matrix=matrix_for(last_valid, board, settings, old) if matrix else (),
                      latency_budget_ms=settings.latency_budget(board))
    bars, ms = bars_for(footprint, board, settings)
    return Budget(footprint, None, None, False, bars, ms, footprint_fits(footprint, board),
                  matrix=matrix_for(design, board, settings, footprint) if matrix else (),
                  latency_budget_ms=settings.latency_budget(board))


def estimator_failed(previous: Budget | None, error: Exception, settings: Settings) -> Budget:
    """What to show when an estimator fails with something other than a DesignError (a bug in it, not in the
    design): the error, named with the settings, and ``previous``'s figures greyed."""
    text = " ".join(f"estimator error ({settings.describe()}): {type(error).__name__}: {error}".split())
    if previous is None:
        return Budget(None, text, None, True, (), None, None, estimator_error=True)
    return replace(previous, error=text, error_index=None, stale=True, fits=None, estimator_error=True)
