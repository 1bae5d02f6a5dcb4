"""Footprint estimates (flash, RAM, MACC) of a design for one runtime, dtype and compression.

The runtimes are estimated separately because they differ a lot (X-CUBE-AI fuses conv + ReLU + pool and
reuses buffers more aggressively than TFLite Micro's arena planner): see designer.xcubeai and designer.tflm.
"""

from __future__ import annotations

from dataclasses import dataclass

from designer.design import Design, analyze
from designer.layers import Shape

RUNTIMES = ("xcubeai", "tflm")
DTYPES = ("float32", "int8")
COMPRESSIONS = ("none", "low", "medium", "high")


@dataclass(frozen=True)
class LayerFootprint:
    """One design layer's share of the footprint."""

    index: int
    kind: str
    output_shape: Shape
    params: int  # Keras count_params() of this layer
    macc: int  # as the runtime executes it (0 for a layer folded or removed)
    weights_bytes: int  # flash bytes of this layer's weights in this runtime/dtype/compression
    ram_bytes: int  # activation bytes live while this layer runs (the peak row sets activations_bytes)
    # Bytes of all activation buffers alive while the op computing this row runs (the memory picture).
    # TFLM: the Cortex-M planner, shortcuts kept alive across a block; X-CUBE-AI: what its allocator holds while
    # the c-layer computing the row runs (never above the activations buffer, which row streaming may grow).
    live_bytes: int = 0


@dataclass(frozen=True)
class TflmArena:
    """TFLite Micro's tensor arena two ways (designer.tflm): what tflite-micro's Python interpreter reports on
    the 64-bit host, and what a 32-bit Cortex-M with the CMSIS-NN kernels needs (the board budget's figure)."""

    arena_host_bytes: int
    arena_cortex_m_bytes: int
    kernels: str  # the kernels the Cortex-M figure assumes ("cmsis-nn")


@dataclass(frozen=True)
class Footprint:
    """Totals and per-layer detail; every *_bytes field is in bytes."""

    design: str
    runtime: str
    dtype: str
    compression: str
    params_total: int
    params_trainable: int
    macc: int
    weights_bytes: int  # flash for weights (xcubeai) / the .tflite flatbuffer (tflm)
    runtime_flash_bytes: int  # runtime library code and constants in flash
    activations_bytes: int  # activations buffer (xcubeai) / tensor arena (tflm)
    runtime_ram_bytes: int  # runtime library data in RAM
    layers: tuple[LayerFootprint, ...]
    note: str = ""  # which tool version and series the figures follow (e.g. X-CUBE-AI int8: the ST model zoo)
    tflm: TflmArena | None = None  # runtime "tflm" only; activations_bytes is its Cortex-M figure

    @property
    def flash_bytes(self) -> int:
        """Total flash: weights + runtime library."""
        return self.weights_bytes + self.runtime_flash_bytes

    @property
    def ram_bytes(self) -> int:
        """Total RAM: activations + runtime library."""
        return self.activations_bytes + self.runtime_ram_bytes

    @property
    def peak_layer(self) -> int | None:
        """Index of the layer whose activations set the RAM peak."""
        return max(self.layers, key=lambda lf: lf.ram_bytes).index if self.layers else None

    @property
    def heaviest_layer(self) -> int | None:
        """Index of the layer with the most weight bytes."""
        return max(self.layers, key=lambda lf: lf.weights_bytes).index if self.layers else None


def estimate(design: Design, *, runtime: str = "xcubeai", dtype: str = "float32",
             compression: str = "high") -> Footprint:
    """Estimate a design's footprint; raises DesignError for an invalid design, ValueError for bad options."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime '{runtime}'; choose one of {', '.join(RUNTIMES)}")
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype '{dtype}'; choose one of {', '.join(DTYPES)}")
    if compression not in COMPRESSIONS:
        raise ValueError(f"unknown compression '{compression}'; choose one of {', '.join(COMPRESSIONS)}")
    analysis = analyze(design)
    if runtime == "xcubeai":
        from designer.xcubeai import estimate_xcubeai

        return estimate_xcubeai(analysis, dtype=dtype, compression=compression)
    from designer.tflm import estimate_tflm

    return estimate_tflm(analysis, dtype=dtype)


def format_size(n_bytes: int) -> str:
    """Bytes the way the notebook writes X-CUBE-AI figures: ``147K`` (KiB, truncated), ``1M25`` (MiB, 2 dp)."""
    if n_bytes < 1024 * 1024:
        return f"{n_bytes // 1024}K"
    whole, frac = divmod(round(n_bytes / (1024 * 1024) * 100), 100)
    return f"{whole}M{frac:02d}"
