"""What the budget panel and the layer table show, computed from a design without any UI.

``compute_budget`` estimates the design for the chosen runtime/dtype/compression and turns the footprint
into bars against a board. An invalid design does not raise: the result carries the DesignError text and
the previous valid footprint marked ``stale``, so the panel keeps the last good numbers, greyed. An estimator
that fails otherwise (a bug, not the design) is caught by the app, which shows :func:`estimator_failed`.
Nothing here imports textual.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from designer.boards import Board, fits, inference_ms
from designer.design import Design, DesignError
from designer.footprint import COMPRESSIONS, DTYPES, RUNTIMES, Footprint, estimate

LATENCY_BUDGET_MS = 1000.0
"""The MACC bar's budget: one inference a second on the selected board (a soft target: it colours the bar
but, unlike flash and RAM, does not decide whether the design fits)."""

TIGHT_FRACTION = 0.8
"""From this share of a budget on, a bar turns from fine to tight (and over 1.0, to over)."""


@dataclass(frozen=True)
class Settings:
    """The estimate's options; each is one key away in the app."""

    runtime: str = "xcubeai"
    dtype: str = "float32"
    compression: str = "high"

    def next_runtime(self) -> Settings:
        """xcubeai <-> tflm."""
        return Settings(_cycle(RUNTIMES, self.runtime), self.dtype, self.compression)

    def next_dtype(self) -> Settings:
        """float32 <-> int8."""
        return Settings(self.runtime, _cycle(DTYPES, self.dtype), self.compression)

    def next_compression(self) -> Settings:
        """none -> low -> medium -> high -> none."""
        return Settings(self.runtime, self.dtype, _cycle(COMPRESSIONS, self.compression))

    def describe(self) -> str:
        """e.g. ``xcubeai · float32 · compression high`` (TFLM has no compression setting)."""
        if self.runtime == "tflm":
            return f"tflm · {self.dtype}"
        return f"{self.runtime} · {self.dtype} · compression {self.compression}"


def _cycle(options: tuple[str, ...], current: str) -> str:
    return options[(options.index(current) + 1) % len(options)]


def human_bytes(n_bytes: int) -> str:
    """``512 B``, ``147.0 KiB``, ``1.25 MiB``."""
    if n_bytes < 1024:
        return f"{n_bytes} B"
    if n_bytes < 1024 * 1024:
        return f"{n_bytes / 1024:.1f} KiB"
    return f"{n_bytes / (1024 * 1024):.2f} MiB"


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

    @property
    def over_budget(self) -> bool:
        """Whether flash or RAM is over the board's budget."""
        return any(bar.level == "over" for bar in self.bars if bar.name in ("Flash", "RAM"))


def bars_for(footprint: Footprint, board: Board, dtype: str) -> tuple[tuple[Bar, ...], float]:
    """The four bars (params, MACC, flash, RAM) of a footprint on a board, and the inference time in ms."""
    weights_room = max(1, board.flash_bytes - footprint.runtime_flash_bytes)
    ms = inference_ms(footprint.macc, board, dtype)
    bars = (
        Bar("Params", f"{footprint.params_total:,}",
            f"weights {human_bytes(footprint.weights_bytes)} of {human_bytes(weights_room)}",
            footprint.weights_bytes / weights_room),
        Bar("MACC", human_count(footprint.macc), f"≈ {ms:,.0f} ms of {LATENCY_BUDGET_MS:,.0f} ms",
            ms / LATENCY_BUDGET_MS),
        Bar("Flash", human_bytes(footprint.flash_bytes),
            f"of {human_bytes(board.flash_bytes)}",
            footprint.flash_bytes / board.flash_bytes),
        Bar("RAM", human_bytes(footprint.ram_bytes),
            f"of {human_bytes(board.ram_bytes)}",
            footprint.ram_bytes / board.ram_bytes),
    )
    return bars, ms


def footprint_fits(footprint: Footprint, board: Board) -> bool:
    """Whether flash and RAM both fit the board."""
    return fits(footprint, board).fits


def estimate_with(design: Design, settings: Settings) -> Footprint:
    """estimate() with the settings' options (raises DesignError for an invalid design)."""
    return estimate(design, runtime=settings.runtime, dtype=settings.dtype, compression=settings.compression)


def compute_budget(design: Design, board: Board, settings: Settings,
                   last_valid: Design | None = None) -> Budget:
    """The budget of ``design``; an invalid design yields its error and ``last_valid``'s figures (stale)."""
    try:
        footprint = estimate_with(design, settings)
    except DesignError as exc:
        try:
            # The last valid design may not estimate either: the settings may have changed since.
            old = estimate_with(last_valid, settings) if last_valid is not None else None
        except DesignError:
            old = None
        if old is None:
            return Budget(None, str(exc), exc.index, True, (), None, None)
        bars, ms = bars_for(old, board, settings.dtype)
        return Budget(old, str(exc), exc.index, True, bars, ms, None)
    bars, ms = bars_for(footprint, board, settings.dtype)
    return Budget(footprint, None, None, False, bars, ms, footprint_fits(footprint, board))


def estimator_failed(previous: Budget | None, error: Exception, settings: Settings) -> Budget:
    """What to show when an estimator fails with something other than a DesignError (a bug in it, not in the
    design): the error, named with the settings, and ``previous``'s figures greyed."""
    text = " ".join(f"estimator error ({settings.describe()}): {type(error).__name__}: {error}".split())
    if previous is None:
        return Budget(None, text, None, True, (), None, None, estimator_error=True)
    return replace(previous, error=text, error_index=None, stale=True, fits=None, estimator_error=True)
