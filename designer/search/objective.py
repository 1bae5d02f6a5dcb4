"""What a search optimizes and what a candidate must fit: the budget check, the objectives, the Pareto front.

:func:`check_fit` is the gate before training: it estimates the candidate with the chosen runtime, dtype and
compression (the same estimators as ``cnn-designer estimate``, well under a millisecond) and names every
resource that is over the budget. A candidate the estimator cannot take (say, a residual block for an
estimator that does not handle them yet) is not proven to fit, so it is infeasible too (resource
``estimate``). Pure: no Optuna, no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from designer.boards import Board, inference_ms
from designer.design import Design, DesignError
from designer.footprint import estimate

OBJECTIVES: dict[str, tuple[str, ...]] = {
    "accuracy": ("accuracy",),
    "accuracy-flash": ("accuracy", "flash"),
    "accuracy-ram": ("accuracy", "ram"),
    "accuracy-flash-ram": ("accuracy", "flash", "ram"),
}
"""``--objective`` choices and what each optimizes: accuracy is maximized, flash and RAM (bytes) minimized;
more than one is a Pareto front (no per-epoch pruning then: Optuna prunes single-objective studies only)."""

RESOURCES: tuple[str, ...] = ("flash", "ram", "latency", "estimate")
"""What a candidate can fail on, in the order they are reported."""


@dataclass(frozen=True)
class Budget:
    """The limits a candidate must meet: the board's, or tighter ones (``--max-flash`` etc.)."""

    board: Board
    runtime: str = "xcubeai"
    dtype: str = "float32"
    compression: str = "high"
    max_flash_bytes: int | None = None
    max_ram_bytes: int | None = None
    max_latency_ms: float | None = None

    @property
    def flash_bytes(self) -> int:
        """The flash a candidate may use: the board's, or less."""
        return min(self.board.flash_bytes, self.max_flash_bytes or self.board.flash_bytes)

    @property
    def ram_bytes(self) -> int:
        """The RAM a candidate may use: the board's usable region, or less."""
        return min(self.board.ram_bytes, self.max_ram_bytes or self.board.ram_bytes)


@dataclass(frozen=True)
class Fit:
    """One candidate's estimate against the budget."""

    flash_bytes: int | None
    ram_bytes: int | None
    latency_ms: float | None
    failed: tuple[str, ...]
    """The resources over budget (see RESOURCES); empty when the candidate fits."""
    reason: str = ""
    """Why, in words (e.g. ``flash 301,232 B > 262,144 B``)."""

    @property
    def fits(self) -> bool:
        """Whether the candidate may be trained."""
        return not self.failed

    def violations(self, budget: Budget) -> dict[str, float]:
        """Relative overshoot per resource (> 0 = over): Optuna's constraint values, so its sampler learns
        how far from feasible a candidate was."""
        if self.flash_bytes is None or self.ram_bytes is None:
            return {"estimate": 1.0}
        out = {"flash": self.flash_bytes / budget.flash_bytes - 1.0, "ram": self.ram_bytes / budget.ram_bytes - 1.0}
        if budget.max_latency_ms is not None and self.latency_ms is not None:
            out["latency"] = self.latency_ms / budget.max_latency_ms - 1.0
        return out


def check_fit(design: Design, budget: Budget) -> Fit:
    """Estimate ``design`` and compare it with ``budget``."""
    try:
        fp = estimate(design, runtime=budget.runtime, dtype=budget.dtype, compression=budget.compression)
    except DesignError as exc:
        return Fit(None, None, None, ("estimate",), f"no {budget.runtime} estimate: {exc.reason}")
    try:
        latency: float | None = inference_ms(fp.macc, budget.board, budget.dtype)
    except ValueError:
        latency = None  # a board without a cycles-per-MACC figure: only a --max-latency-ms makes that fatal
    failed: list[str] = []
    why: list[str] = []
    if fp.flash_bytes > budget.flash_bytes:
        failed.append("flash")
        why.append(f"flash {fp.flash_bytes:,} B > {budget.flash_bytes:,} B")
    if fp.ram_bytes > budget.ram_bytes:
        failed.append("ram")
        why.append(f"RAM {fp.ram_bytes:,} B > {budget.ram_bytes:,} B")
    if budget.max_latency_ms is not None:
        if latency is None:
            failed.append("latency")
            why.append(f"no inference-time figure for {budget.board.core} with {budget.dtype}")
        elif latency > budget.max_latency_ms:
            failed.append("latency")
            why.append(f"latency {latency:.1f} ms > {budget.max_latency_ms:g} ms")
    return Fit(fp.flash_bytes, fp.ram_bytes, None if latency is None else round(latency, 3), tuple(failed),
               "; ".join(why))


def objective_values(objective: str, accuracy: float, fit: Fit) -> list[float]:
    """The values Optuna is told for a trained candidate, in the order of OBJECTIVES[objective]."""
    by_name = {"accuracy": accuracy, "flash": float(fit.flash_bytes or 0), "ram": float(fit.ram_bytes or 0)}
    return [by_name[name] for name in OBJECTIVES[objective]]


def directions(objective: str) -> list[str]:
    """Optuna's study directions for an objective."""
    return ["maximize" if name == "accuracy" else "minimize" for name in OBJECTIVES[objective]]


@dataclass(frozen=True)
class Point:
    """A trained candidate as the Pareto front sees it."""

    number: int
    accuracy: float
    flash_bytes: int
    ram_bytes: int


def _dominates(a: Point, b: Point, dims: Sequence[str]) -> bool:
    def better_or_equal(name: str) -> bool:
        if name == "accuracy":
            return a.accuracy >= b.accuracy
        return getattr(a, f"{name}_bytes") <= getattr(b, f"{name}_bytes")

    def strictly(name: str) -> bool:
        if name == "accuracy":
            return a.accuracy > b.accuracy
        return getattr(a, f"{name}_bytes") < getattr(b, f"{name}_bytes")

    return all(better_or_equal(d) for d in dims) and any(strictly(d) for d in dims)


def pareto_dims(objective: str) -> tuple[str, ...]:
    """The dimensions of the reported front: the objective's, and for plain ``accuracy`` flash and RAM too
    (so every search shows what each extra point of accuracy costs)."""
    dims = OBJECTIVES[objective]
    return ("accuracy", "flash", "ram") if dims == ("accuracy",) else dims


def pareto_front(points: Sequence[Point], dims: Sequence[str]) -> list[Point]:
    """The points no other point dominates (higher accuracy, less flash/RAM), by trial number."""
    return sorted((p for p in points if not any(_dominates(q, p, dims) for q in points if q is not p)),
                  key=lambda p: p.number)
