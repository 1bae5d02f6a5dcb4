"""A design (an input, a stack of items, a class count) and its analysis: shapes, params and MACC per layer.

"Is this design valid?" means "analyze() succeeded"; its DesignError names the layer index, kind and values.

The stack is a tree: items are layers or residual blocks (designer.layers.Residual), whose main and shortcut
paths are stacks again. analyze() walks the tree and returns a FLAT tuple of LayerStats in execution order:
for a block, its main-path rows, then its shortcut rows, then one row of kind "add" (the join, with the
block's activation). Each row carries its tree ``path`` and its ``role`` ("" at top level, "main",
"shortcut", "add"), so a linear design analyses exactly as a plain list of layers (path ``(i,)``, role "").
designer.graph.lower() turns an Analysis into the graph of ops and tensors every later pass starts from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

from designer.layers import (
    ACTIVATIONS,
    BRANCHES,
    MAIN,
    PADDINGS,
    SHORTCUT,
    Add,
    Item,
    Layer,
    LayerShapeError,
    Residual,
    Shape,
)


class DesignError(ValueError):
    """A design that cannot be built, with where it went wrong (source file, layer index, kind, key).

    ``index`` and ``kind`` name the top-level item (the row the app marks); inside a residual block ``path``
    is the full tree path (designer.layers.item_at) and ``inner`` the rest of the location in words, e.g.
    "main layer 1 (conv2d)", so the message reads "layer 3 (residual), main layer 1 (conv2d), key 'filters'".
    """

    def __init__(self, message: str, *, source: str = "", index: int | None = None, kind: str = "",
                 key: str = "", path: tuple[int, ...] = (), inner: str = "") -> None:
        self.reason = message
        self.source = source
        self.index = index
        self.kind = kind
        self.key = key
        self.path = path if path or index is None else (index,)
        self.inner = inner
        super().__init__(self._text())

    def _text(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.index is not None:
            where.append(f"layer {self.index}" + (f" ({self.kind})" if self.kind else ""))
        if self.inner:
            where.append(self.inner)
        if self.key:
            where.append(f"key '{self.key}'")
        return (": ".join([", ".join(where), self.reason]) if where else self.reason)

    def in_source(self, source: str) -> DesignError:
        """The same error, naming the file it came from."""
        return DesignError(self.reason, source=source, index=self.index, kind=self.kind, key=self.key,
                           path=self.path, inner=self.inner)

    def inside(self, index: int, kind: str, branch: int) -> DesignError:
        """This error (raised for a stack inside a block's ``branch``) located from the enclosing stack,
        where the block is item ``index``: "main layer 1 (conv2d)" gains "layer 3 (residual)" in front."""
        step = (f"{BRANCHES[branch]} layer {self.index}" + (f" ({self.kind})" if self.kind else "")
                if self.index is not None else BRANCHES[branch])
        return DesignError(self.reason, source=self.source, index=index, kind=kind, key=self.key,
                           path=(index, branch, *self.path), inner=", ".join(filter(None, (step, self.inner))))


@dataclass(frozen=True)
class NotebookFigures:
    """The seed notebook's own figures for a preset, as written there (strings keep X-CUBE-AI's format).

    For a preset from another source (ResNet-8: MLPerf Tiny) the figures are that source's; ``note`` says so,
    and what the source does not publish (``rom``, ``ram``, ``h5_size``) is left empty.
    """

    params: int
    params_convention: str  # "total" (Keras count_params) or "trainable"
    h5_size: str = ""  # the notebook's "Poids" (.h5 file size), e.g. "2M11"
    rom: str = ""  # X-CUBE-AI Total Flash, e.g. "1M25" (M = MiB, K = KiB)
    ram: str = ""  # X-CUBE-AI Total RAM, e.g. "147K"
    accuracy_percent: float | None = None  # float model (for a published reference: its float figure)
    accuracy_int8_percent: float | None = None  # int8 model, where the source publishes it
    note: str = ""


@dataclass(frozen=True)
class Design:
    """An image CNN: input shape (height, width, channels), a stack of items and a class count.

    ``layers`` is the top-level stack: layers and residual blocks (designer.layers.Item).
    """

    name: str
    layers: tuple[Item, ...]
    input_shape: Shape = (32, 32, 3)
    classes: int = 10
    notes: str = ""
    notebook: NotebookFigures | None = None

    def with_layers(self, layers: tuple[Item, ...] | list[Item]) -> Design:
        """A copy with another layer stack (the notebook figures no longer describe it, so they go)."""
        return replace(self, layers=tuple(layers), notebook=None)


@dataclass(frozen=True)
class LayerStats:
    """One row of the analysed design: a layer, or the add that joins a residual block.

    ``index`` is the row's position in Analysis.layers (execution order; for a linear design, the layer's
    index in the stack). ``path`` is its place in the tree (designer.layers.item_at; for an add row, the
    block's own path) and ``role`` is "" for a top-level layer, "main" or "shortcut" for a layer inside a
    block (the innermost block), "add" for a block's join (``layer`` is then a designer.layers.Add).
    """

    index: int
    layer: Layer
    input_shape: Shape
    output_shape: Shape
    params_total: int
    params_trainable: int
    macc: int  # X-CUBE-AI convention
    path: tuple[int, ...] = ()
    role: str = ""

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


def _projection_hint(in_shape: Shape, out_shape: Shape) -> str:
    """How to make a shortcut give ``out_shape`` from ``in_shape``: the conv (or dense) that does it."""
    if len(out_shape) == 1:
        return f"use a projection shortcut: a dense with units={out_shape[0]}" if len(in_shape) == 1 else (
            "a block's paths can only meet on the same kind of tensor: keep flatten/global_avg_pool out of it")
    if len(in_shape) != 3:
        return "a block's paths can only meet on the same kind of tensor: keep flatten/global_avg_pool out of it"
    strides = []
    for size, out in zip(in_shape[:2], out_shape[:2], strict=True):
        # The smallest stride a 'same' 1x1 conv needs: ceil(size / s) == out.
        fit = [s for s in range(1, size + 1) if -(-size // s) == out]
        if not fit:
            return (f"no strided 1x1 conv turns {in_shape} into {out_shape}: make the main path keep the "
                    "spatial size or halve it with strides=2 and padding='same'")
        strides.append(fit[0])
    s = strides[0] if strides[0] == strides[1] else list(strides)
    return f"use a projection shortcut: a 1x1 conv2d with filters={out_shape[2]} and strides={s}"


def _analyze_stack(items: tuple[Item, ...], shape: Shape, prefix: tuple[int, ...], role: str,
                   stats: list[LayerStats]) -> Shape:
    """Append the rows of ``items`` (fed ``shape``) to ``stats``; return the stack's output shape.

    Errors are located relative to this stack; the caller relocates them (DesignError.inside).
    """
    for index, item in enumerate(items):
        path = (*prefix, index)
        if isinstance(item, Residual):
            shape = _analyze_block(item, index, shape, path, stats)
            continue
        bad = check_values(item)
        if bad is not None:
            raise DesignError(bad[1], index=index, kind=item.kind, key=bad[0])
        try:
            out = item.output_shape(shape)
        except LayerShapeError as exc:
            raise DesignError(str(exc), index=index, kind=item.kind) from None
        total, trainable = item.params(shape)
        _check_counts(index, item, out, total)
        stats.append(LayerStats(len(stats), item, shape, out, total, trainable, item.macc(shape, out), path, role))
        shape = out
    return shape


def _analyze_block(block: Residual, index: int, shape: Shape, path: tuple[int, ...],
                   stats: list[LayerStats]) -> Shape:
    if block.activation not in ACTIVATIONS:
        raise DesignError(f"must be one of {', '.join(ACTIVATIONS)}; received {show_value(block.activation)}",
                          index=index, kind=block.kind, key="activation")
    if not block.main:
        raise DesignError("a residual block needs at least one layer in its main path", index=index,
                          kind=block.kind, key="main")
    outs: list[Shape] = []
    for branch, stack in ((MAIN, block.main), (SHORTCUT, block.shortcut)):
        try:
            outs.append(_analyze_stack(stack, shape, (*path, branch), BRANCHES[branch], stats))
        except DesignError as exc:
            raise exc.inside(index, block.kind, branch) from None
    main_out, short_out = outs
    if main_out != short_out:
        what = "the identity shortcut gives" if block.identity else "the shortcut gives"
        raise DesignError(f"the main path gives {main_out} but {what} {short_out}; "
                          f"{_projection_hint(shape, main_out)}", index=index, kind=block.kind)
    add = Add(activation=block.activation, group=block.group)
    stats.append(LayerStats(len(stats), add, main_out, main_out, 0, 0, add.macc(main_out, main_out), path, "add"))
    return main_out


def analyze_stack(items: tuple[Item, ...], in_shape: Shape) -> tuple[tuple[LayerStats, ...], Shape]:
    """The rows of a stack on its own, fed ``in_shape`` (paths relative to it), and its output shape.

    For building a design piece by piece (generators, the app's forms, the importer); DesignError as analyze.
    """
    stats: list[LayerStats] = []
    out = _analyze_stack(tuple(items), tuple(in_shape), (), "", stats)
    return tuple(stats), out


def analyze(design: Design) -> Analysis:
    """Infer every row's shapes and counts; raise DesignError naming the first item that cannot be built.

    A residual block's paths must meet with the same shape; the error names the block, both shapes and the
    projection shortcut that fixes it.
    """
    dims = design.input_shape
    if (not isinstance(dims, tuple | list) or len(dims) != 3
            or any(check_size(v, "") is not None for v in dims) or math.prod(dims) > MAX_ELEMENTS):
        raise DesignError(f"input_shape must be three positive integers (height, width, channels), each at most "
                          f"{MAX_SIZE:,} and {MAX_ELEMENTS:,} values in all; received {show_value(list(dims))}",
                          key="input_shape")
    if (bad := check_size(design.classes, "classes")) is not None:
        raise DesignError(bad, key="classes")
    stats: list[LayerStats] = []
    shape = _analyze_stack(design.layers, tuple(design.input_shape), (), "", stats)
    if shape != (design.classes,):
        raise DesignError(
            f"the design's output shape is {shape} but classes={design.classes}: "
            f"end with flatten or global_avg_pool, then dense({design.classes})"
        )
    return Analysis(design, tuple(stats))
