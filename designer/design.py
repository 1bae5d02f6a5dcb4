"""A design (an input, a stack of layers, a class count) and its analysis: shapes, params and MACC per layer.

"Is this design valid?" means "analyze() succeeded"; its DesignError names the layer index, kind and values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

from designer.layers import ACTIVATIONS, PADDINGS, Layer, LayerShapeError, Shape


class DesignError(ValueError):
    """A design that cannot be built, with where it went wrong (source file, layer index, kind, key)."""

    def __init__(self, message: str, *, source: str = "", index: int | None = None, kind: str = "",
                 key: str = "") -> None:
        self.reason = message
        self.source = source
        self.index = index
        self.kind = kind
        self.key = key
        super().__init__(self._text())

    def _text(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.index is not None:
            where.append(f"layer {self.index}" + (f" ({self.kind})" if self.kind else ""))
        if self.key:
            where.append(f"key '{self.key}'")
        return (": ".join([", ".join(where), self.reason]) if where else self.reason)

    def in_source(self, source: str) -> DesignError:
        """The same error, naming the file it came from."""
        return DesignError(self.reason, source=source, index=self.index, kind=self.kind, key=self.key)


@dataclass(frozen=True)
class NotebookFigures:
    """The seed notebook's own figures for a preset, as written there (strings keep X-CUBE-AI's format)."""

    params: int
    params_convention: str  # "total" (Keras count_params) or "trainable"
    h5_size: str = ""  # the notebook's "Poids" (.h5 file size), e.g. "2M11"
    rom: str = ""  # X-CUBE-AI Total Flash, e.g. "1M25" (M = MiB, K = KiB)
    ram: str = ""  # X-CUBE-AI Total RAM, e.g. "147K"
    accuracy_percent: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Design:
    """An image CNN: input shape (height, width, channels), a layer stack and a class count."""

    name: str
    layers: tuple[Layer, ...]
    input_shape: Shape = (32, 32, 3)
    classes: int = 10
    notes: str = ""
    notebook: NotebookFigures | None = None

    def with_layers(self, layers: tuple[Layer, ...] | list[Layer]) -> Design:
        """A copy with another layer stack (the notebook figures no longer describe it, so they go)."""
        return replace(self, layers=tuple(layers), notebook=None)


@dataclass(frozen=True)
class LayerStats:
    """One layer's place in the analysed design."""

    index: int
    layer: Layer
    input_shape: Shape
    output_shape: Shape
    params_total: int
    params_trainable: int
    macc: int  # X-CUBE-AI convention

    @property
    def output_elements(self) -> int:
        """Number of values in the output tensor."""
        return math.prod(self.output_shape)


@dataclass(frozen=True)
class Analysis:
    """Shapes and counts of a valid design."""

    design: Design
    layers: tuple[LayerStats, ...] = field(repr=False)

    @property
    def params_total(self) -> int:
        """Keras count_params()."""
        return sum(s.params_total for s in self.layers)

    @property
    def params_trainable(self) -> int:
        """Keras trainable parameter count (X-CUBE-AI's "params #")."""
        return sum(s.params_trainable for s in self.layers)

    @property
    def macc(self) -> int:
        """Total MACC in X-CUBE-AI's convention, before any folding."""
        return sum(s.macc for s in self.layers)


MAX_SIZE = 65_536
"""Cap on every size setting (input height/width/channels, classes, filters, units, depth_multiplier, kernel,
strides, pool) and on every feature-map dimension a layer outputs: far above any MCU model, and with
MAX_ELEMENTS it keeps every count small enough for exact, finite float arithmetic in the estimators."""

MAX_ELEMENTS = 2**31 - 1
"""Cap on the values in one tensor (input, a layer's output) and on one layer's weights: TFLite and X-CUBE-AI
index tensors with 32-bit integers, so anything larger cannot be converted at all."""

_POSITIVE_INT_KEYS = ("filters", "units", "depth_multiplier")
_POSITIVE_PAIR_KEYS = ("kernel", "strides", "pool")


def show_value(value: object) -> str:
    """A value as an error message shows it: a huge integer as its order of magnitude, long texts cut short."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**18:
        # From the bit length: str() of an integer over 4,300 digits raises ValueError.
        exponent = int((abs(value).bit_length() - 1) * math.log10(2))  # floor(log10), or one less
        exponent += abs(value) >= 10 ** (exponent + 1)
        return f"{'-' if value < 0 else ''}~10^{exponent}"
    if isinstance(value, list | tuple):
        text = "[" + ", ".join(show_value(v) for v in value[:8]) + (", ...]" if len(value) > 8 else "]")
    else:
        text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_size(value: object, what: str) -> str | None:
    """Why ``value`` is not a size setting (a positive integer up to MAX_SIZE), or None when it is."""
    if not _is_int(value) or value < 1:
        return f"{what} must be a positive integer, received {show_value(value)}"
    if value > MAX_SIZE:
        return f"{what} must be at most {MAX_SIZE:,}, received {show_value(value)}"
    return None


def check_values(layer: Layer) -> tuple[str, str] | None:
    """The first impossible value of a layer as (key, reason), or None when every value is possible."""
    for f in fields(layer):
        value = getattr(layer, f.name)
        if f.name in _POSITIVE_INT_KEYS and (bad := check_size(value, "it")) is not None:
            return f.name, bad.removeprefix("it ")
        if f.name in _POSITIVE_PAIR_KEYS and value is not None:
            if not (isinstance(value, tuple) and len(value) == 2 and all(map(_is_int, value))):
                return f.name, f"must be a pair of integers, received {show_value(value)}"
            if min(value) < 1:
                return f.name, f"must be positive, received {show_value(list(value))}"
            if max(value) > MAX_SIZE:
                return f.name, f"must be at most {MAX_SIZE:,}, received {show_value(list(value))}"
        if f.name == "rate" and not ((_is_int(value) or isinstance(value, float)) and 0 <= value < 1):
            return f.name, f"must be in [0, 1), received {show_value(value)}"
        if f.name == "padding" and value not in PADDINGS:
            return f.name, f"must be one of {', '.join(PADDINGS)}; received {show_value(value)}"
        if f.name == "activation" and value not in ACTIVATIONS:
            return f.name, f"must be one of {', '.join(ACTIVATIONS)}; received {show_value(value)}"
        if f.name == "use_bias" and not isinstance(value, bool):
            return f.name, f"must be true or false, received {show_value(value)}"
    return None


def _check_counts(index: int, layer: Layer, out: Shape, params: int) -> None:
    """Refuse a layer whose output or weights exceed the caps (see MAX_SIZE, MAX_ELEMENTS)."""
    if len(out) == 3 and max(out) > MAX_SIZE:  # a vector (flatten) is only held to MAX_ELEMENTS
        raise DesignError(f"output shape {out} has a dimension over {MAX_SIZE:,}", index=index, kind=layer.kind)
    if math.prod(out) > MAX_ELEMENTS:
        raise DesignError(f"output shape {out} holds more than {MAX_ELEMENTS:,} values", index=index,
                          kind=layer.kind)
    if params > MAX_ELEMENTS:
        raise DesignError(f"{params:,} weights: more than {MAX_ELEMENTS:,} in one layer", index=index,
                          kind=layer.kind)


def analyze(design: Design) -> Analysis:
    """Infer every layer's shapes and counts; raise DesignError naming the first layer that cannot be built."""
    dims = design.input_shape
    if (not isinstance(dims, tuple | list) or len(dims) != 3
            or any(check_size(v, "") is not None for v in dims) or math.prod(dims) > MAX_ELEMENTS):
        raise DesignError(f"input_shape must be three positive integers (height, width, channels), each at most "
                          f"{MAX_SIZE:,} and {MAX_ELEMENTS:,} values in all; received {show_value(list(dims))}",
                          key="input_shape")
    if (bad := check_size(design.classes, "classes")) is not None:
        raise DesignError(bad, key="classes")
    shape: Shape = tuple(design.input_shape)
    stats: list[LayerStats] = []
    for index, layer in enumerate(design.layers):
        bad = check_values(layer)
        if bad is not None:
            raise DesignError(bad[1], index=index, kind=layer.kind, key=bad[0])
        try:
            out = layer.output_shape(shape)
        except LayerShapeError as exc:
            raise DesignError(str(exc), index=index, kind=layer.kind) from None
        total, trainable = layer.params(shape)
        _check_counts(index, layer, out, total)
        stats.append(LayerStats(index, layer, shape, out, total, trainable, layer.macc(shape, out)))
        shape = out
    if shape != (design.classes,):
        raise DesignError(
            f"the design's output shape is {shape} but classes={design.classes}: "
            f"end with flatten or global_avg_pool, then dense({design.classes})"
        )
    return Analysis(design, tuple(stats))
