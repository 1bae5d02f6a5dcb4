"""Layer kinds of a design: one frozen dataclass per kind, each with its pure shape, params and MACC rules.

Shapes exclude the batch axis: a feature map is ``(height, width, channels)``, a vector ``(units,)``.
Output shapes and parameter counts follow Keras exactly (tests build the real Keras layer and compare);
MACC follows X-CUBE-AI's per-layer convention as printed in its ``analyze`` reports.

A design's stack is a tuple of ``Item``: a ``Layer`` or a ``Residual`` block. A block holds two stacks of its
own (``main`` and ``shortcut``, empty = identity), joined by an element-wise add and an optional activation;
blocks nest. ``Add`` is the layer kind of that join: it never appears in a stack (a TOML file cannot name
it), only in an analysis, as the row that stands for the block's add (see designer.design and
designer.graph).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import ClassVar, TypeVar

Shape = tuple[int, ...]
_L = TypeVar("_L", bound="Layer")

ACTIVATIONS: tuple[str, ...] = ("linear", "relu", "relu6", "sigmoid", "tanh", "softmax")
PADDINGS: tuple[str, ...] = ("valid", "same")

# X-CUBE-AI counts a nonlinearity as a fixed number of operations per output element
# (reports: ReLU 32,768 for 32x32x32, softmax 150 for 10 outputs).
_NONLINEARITY_MACC_PER_ELEMENT = {
    "linear": 0, "relu": 1, "relu6": 1, "sigmoid": 1, "tanh": 1, "softmax": 15,
}


class LayerShapeError(ValueError):
    """A layer cannot take the shape it receives; the message names the received values."""


def _size(shape: Shape) -> int:
    return math.prod(shape)


def _spatial_out(size: int, kernel: int, stride: int, padding: str) -> int:
    # Keras' conv/pool output length (ops/operation_utils.py compute_conv_output_shape).
    if padding == "same":
        return (size + stride - 1) // stride
    return (size - kernel) // stride + 1


def _needs_feature_map(kind: str, in_shape: Shape) -> None:
    if len(in_shape) != 3:
        raise LayerShapeError(
            f"{kind} needs a feature map (height, width, channels); received input shape={in_shape}. "
            "It cannot follow flatten, global_avg_pool or dense."
        )


def _windowed_out(kind: str, in_shape: Shape, kernel: tuple[int, int], strides: tuple[int, int],
                  padding: str, label: str) -> tuple[int, int]:
    _needs_feature_map(kind, in_shape)
    h = _spatial_out(in_shape[0], kernel[0], strides[0], padding)
    w = _spatial_out(in_shape[1], kernel[1], strides[1], padding)
    if h <= 0 or w <= 0:
        raise LayerShapeError(
            f"Computed output size would be zero or negative. Received input shape={in_shape}, "
            f"{label}={kernel}, strides={strides}, padding='{padding}'."
        )
    return h, w


def _same_fields(cls: type[_L]) -> type[_L]:
    """Marks a layer kind that adds no field to its base: it is its base's frozen dataclass as it stands (the
    base's generated __init__, __eq__, __hash__ and __repr__ all work on the class of the instance at hand).
    Decorating it again would only generate the same six methods once more: ~0.4 ms of every start each."""
    base = cls.__mro__[1]
    assert not {name for name, hint in cls.__dict__.get("__annotations__", {}).items()
                if "ClassVar" not in str(hint)}, f"{cls.__name__} adds fields: decorate it with @dataclass"
    assert dataclasses.is_dataclass(base) and base.__dataclass_params__.frozen  # type: ignore[attr-defined]
    return cls


@dataclass(frozen=True, kw_only=True)
class Layer:
    """Base of every layer kind. ``group`` labels consecutive layers for display (e.g. "conv group 2")."""

    kind: ClassVar[str] = ""
    group: str = ""

    def output_shape(self, in_shape: Shape) -> Shape:
        """Output shape for ``in_shape`` (no batch axis); raises LayerShapeError when impossible."""
        return in_shape

    def params(self, in_shape: Shape) -> tuple[int, int]:
        """(total, trainable) parameter counts, as Keras' count_params() and trainable weights count them."""
        return 0, 0

    def macc(self, in_shape: Shape, out_shape: Shape) -> int:
        """Multiply-accumulates as X-CUBE-AI's analyze report counts them for this layer."""
        return 0

    @property
    def activation_fn(self) -> str:
        """The nonlinearity this layer applies to its output ("linear" when none)."""
        return "linear"

    def config(self) -> dict[str, object]:
        """The layer's settings as plain TOML values (no ``kind``, no empty group, square pairs as one int)."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "group" and not value:
                continue
            if isinstance(value, tuple):
                # A square window reads as Keras writes it: kernel = 3, not [3, 3].
                value = value[0] if len(set(value)) == 1 else list(value)
            out[f.name] = value
        return out

    def summary(self) -> str:
        """A short human description of the settings, e.g. ``32 3x3 s1 same relu``."""
        return ""


@dataclass(frozen=True, kw_only=True)
class Conv2D(Layer):
    """Keras Conv2D."""

    kind: ClassVar[str] = "conv2d"
    filters: int
    kernel: tuple[int, int] = (3, 3)
    strides: tuple[int, int] = (1, 1)
    padding: str = "same"
    activation: str = "relu"
    use_bias: bool = True

    def output_shape(self, in_shape: Shape) -> Shape:
        h, w = _windowed_out(self.kind, in_shape, self.kernel, self.strides, self.padding, "kernel")
        return (h, w, self.filters)

    def params(self, in_shape: Shape) -> tuple[int, int]:
        n = self.kernel[0] * self.kernel[1] * in_shape[-1] * self.filters
        n += self.filters if self.use_bias else 0
        return n, n

    def macc(self, in_shape: Shape, out_shape: Shape) -> int:
        # X-CUBE-AI: one MACC per kernel tap per output element, plus one per bias (not per output element).
        taps = out_shape[0] * out_shape[1] * self.kernel[0] * self.kernel[1] * in_shape[-1] * self.filters
        bias = self.filters if self.use_bias else 0
        return taps + bias + _NONLINEARITY_MACC_PER_ELEMENT[self.activation] * _size(out_shape)

    @property
    def activation_fn(self) -> str:
        return self.activation

    def summary(self) -> str:
        return (f"{self.filters} {self.kernel[0]}x{self.kernel[1]} s{self.strides[0]} {self.padding} "
                f"{self.activation}{'' if self.use_bias else ' nobias'}")


@dataclass(frozen=True, kw_only=True)
class DepthwiseConv2D(Layer):
    """Keras DepthwiseConv2D."""

    kind: ClassVar[str] = "depthwise_conv2d"
    kernel: tuple[int, int] = (3, 3)
    strides: tuple[int, int] = (1, 1)
    padding: str = "same"
    depth_multiplier: int = 1
    activation: str = "relu"
    use_bias: bool = True

    def output_shape(self, in_shape: Shape) -> Shape:
        h, w = _windowed_out(self.kind, in_shape, self.kernel, self.strides, self.padding, "kernel")
        return (h, w, in_shape[2] * self.depth_multiplier)

    def params(self, in_shape: Shape) -> tuple[int, int]:
        channels = in_shape[-1] * self.depth_multiplier
        n = self.kernel[0] * self.kernel[1] * channels + (channels if self.use_bias else 0)
        return n, n

    def macc(self, in_shape: Shape, out_shape: Shape) -> int:
        taps = out_shape[0] * out_shape[1] * self.kernel[0] * self.kernel[1] * out_shape[2]
        bias = out_shape[2] if self.use_bias else 0
        return taps + bias + _NONLINEARITY_MACC_PER_ELEMENT[self.activation] * _size(out_shape)

    @property
    def activation_fn(self) -> str:
        return self.activation

    def summary(self) -> str:
        return (f"x{self.depth_multiplier} {self.kernel[0]}x{self.kernel[1]} s{self.strides[0]} "
                f"{self.padding} {self.activation}{'' if self.use_bias else ' nobias'}")


@_same_fields
class BatchNorm(Layer):
    """Keras BatchNormalization over the last axis: 4 weights per channel, 2 of them trainable."""

    kind: ClassVar[str] = "batchnorm"

    def params(self, in_shape: Shape) -> tuple[int, int]:
        return 4 * in_shape[-1], 2 * in_shape[-1]

    def macc(self, in_shape: Shape, out_shape: Shape) -> int:
        # Kept as a ScaleBias layer: a multiply and an add per element.
        return 2 * _size(out_shape)


@dataclass(frozen=True, kw_only=True)
class Activation(Layer):
    """Keras Activation layer."""

    kind: ClassVar[str] = "activation"
    activation: str = "relu"

    def macc(self, in_shape: Shape, out_shape: Shape) -> int:
        return _NONLINEARITY_MACC_PER_ELEMENT[self.activation] * _size(out_shape)

    @property
    def activation_fn(self) -> str:
        return self.activation

    def summary(self) -> str:
        return self.activation


@dataclass(frozen=True, kw_only=True)
class _Pool(Layer):
    pool: tuple[int, int] = (2, 2)
    strides: tuple[int, int] | None = None
    padding: str = "valid"

    @property
    def effective_strides(self) -> tuple[int, int]:
        """Keras' default: strides equal to the pool size."""
        return self.strides if self.strides is not None else self.pool

    def output_shape(self, in_shape: Shape) -> Shape:
        h, w = _windowed_out(self.kind, in_shape, self.pool, self.effective_strides, self.padding,
                             "pool_size")
        return (h, w, in_shape[2])

    def macc(self, in_shape: Shape, out_shape: Shape) -> int:
        # X-CUBE-AI: one operation per window tap per output element.
        return _size(out_shape) * self.pool[0] * self.pool[1]

    def config(self) -> dict[str, object]:
        out = super().config()
        if self.strides is None:
            del out["strides"]
        return out

    def summary(self) -> str:
        s = self.effective_strides
        return f"{self.pool[0]}x{self.pool[1]} s{s[0]} {self.padding}"


@_same_fields
class MaxPool(_Pool):
    """Keras MaxPooling2D."""

    kind: ClassVar[str] = "maxpool"


@_same_fields
class AvgPool(_Pool):
    """Keras AveragePooling2D."""

    kind: ClassVar[str] = "avgpool"


@dataclass(frozen=True, kw_only=True)
class Dropout(Layer):
    """Keras Dropout: identity at inference, removed by every converter."""

    kind: ClassVar[str] = "dropout"
    rate: float = 0.5

    def summary(self) -> str:
        return f"{self.rate:g}"


@dataclass(frozen=True, kw_only=True)
class SpatialDropout(Layer):
    """Keras SpatialDropout2D (drops whole channels); identity at inference."""

    kind: ClassVar[str] = "spatial_dropout"
    rate: float = 0.25

    def output_shape(self, in_shape: Shape) -> Shape:
        _needs_feature_map(self.kind, in_shape)
        return in_shape

    def summary(self) -> str:
        return f"{self.rate:g}"


@_same_fields
class Flatten(Layer):
    """Keras Flatten."""

    kind: ClassVar[str] = "flatten"

    def output_shape(self, in_shape: Shape) -> Shape:
        return (_size(in_shape),)


@_same_fields
class GlobalAvgPool(Layer):
    """Keras GlobalAveragePooling2D."""

    kind: ClassVar[str] = "global_avg_pool"

    def output_shape(self, in_shape: Shape) -> Shape:
        _needs_feature_map(self.kind, in_shape)
        return (in_shape[2],)

    def macc(self, in_shape: Shape, out_shape: Shape) -> int:
        return _size(in_shape)


@dataclass(frozen=True, kw_only=True)
class Dense(Layer):
    """Keras Dense on a flat input (this tool requires flatten or global_avg_pool before it)."""

    kind: ClassVar[str] = "dense"
    units: int
    activation: str = "linear"
    use_bias: bool = True

    def output_shape(self, in_shape: Shape) -> Shape:
        if len(in_shape) != 1:
            raise LayerShapeError(
                f"dense needs a flat input; received input shape={in_shape}. "
                "Add a flatten or global_avg_pool layer before it."
            )
        return (self.units,)

    def params(self, in_shape: Shape) -> tuple[int, int]:
        n = in_shape[-1] * self.units + (self.units if self.use_bias else 0)
        return n, n

    def macc(self, in_shape: Shape, out_shape: Shape) -> int:
        return (self.params(in_shape)[0]
                + _NONLINEARITY_MACC_PER_ELEMENT[self.activation] * self.units)

    @property
    def activation_fn(self) -> str:
        return self.activation

    def summary(self) -> str:
        return f"{self.units} {self.activation}{'' if self.use_bias else ' nobias'}"


@dataclass(frozen=True, kw_only=True)
class Add(Layer):
    """The join of a residual block: element-wise sum of its two paths, then ``activation``.

    Not a stack item: analyze() makes one for each Residual, as the block's "add" row. Keras builds it as an
    ``Add`` layer followed, unless the activation is linear, by an ``Activation`` layer.
    """

    kind: ClassVar[str] = "add"
    activation: str = "relu"

    def macc(self, in_shape: Shape, out_shape: Shape) -> int:
        # Assumed X-CUBE-AI convention for an eltwise (add) c-layer: one operation per output element, as it
        # counts its other per-element layers; the activation after it is counted as an activation layer.
        return (1 + _NONLINEARITY_MACC_PER_ELEMENT[self.activation]) * _size(out_shape)

    @property
    def activation_fn(self) -> str:
        return self.activation

    def summary(self) -> str:
        return f"add {self.activation}"


@dataclass(frozen=True, kw_only=True)
class Residual:
    """A residual block, one item of a stack: ``activation(main(x) + shortcut(x))``.

    ``main`` is a non-empty stack; ``shortcut`` an empty stack (the identity) or a projection such as a 1x1
    conv2d + batchnorm; either may hold further Residual items. ``activation`` follows the add ("linear" =
    none). Shapes, params and MACC are the analysis' business (designer.design.analyze walks the tree).
    """

    kind: ClassVar[str] = "residual"
    main: tuple[Item, ...]
    shortcut: tuple[Item, ...] = ()
    activation: str = "relu"
    group: str = ""

    @property
    def identity(self) -> bool:
        """Whether the shortcut is the identity (an empty stack)."""
        return not self.shortcut

    def summary(self) -> str:
        """E.g. ``main 5, shortcut 2, add relu`` or ``main 5, identity, add relu``."""
        short = "identity" if self.identity else f"shortcut {len(self.shortcut)}"
        return f"main {len(self.main)}, {short}, add {self.activation}"


Item = Layer | Residual
"""One entry of a stack: a layer or a residual block."""

MAIN, SHORTCUT = 0, 1
"""Branch numbers inside a tree path: ``(3, MAIN, 1)`` is layer 1 of the main path of the block at item 3."""

BRANCHES: tuple[str, str] = ("main", "shortcut")
"""Branch names by branch number (also the block's TOML keys)."""


def iter_layers(items: tuple[Item, ...]) -> list[Layer]:
    """Every Layer of a stack, depth first (main path before shortcut); blocks themselves are not listed."""
    out: list[Layer] = []
    for item in items:
        if isinstance(item, Residual):
            out += iter_layers(item.main) + iter_layers(item.shortcut)
        else:
            out.append(item)
    return out


def has_blocks(items: tuple[Item, ...]) -> bool:
    """Whether a stack holds any Residual block (is not a plain line of layers)."""
    return any(isinstance(item, Residual) for item in items)


def item_at(items: tuple[Item, ...], path: tuple[int, ...]) -> Item:
    """The item at a tree path: ``(i,)`` is ``items[i]``; ``(i, MAIN, j)`` is ``items[i].main[j]``, and so on."""
    item = items[path[0]]
    for k in range(1, len(path), 2):
        if not isinstance(item, Residual):
            raise IndexError(f"path {path}: item at {path[:k]} is a {item.kind}, not a residual block")
        item = (item.main, item.shortcut)[path[k]][path[k + 1]]
    return item


LAYER_TYPES: dict[str, type[Layer]] = {
    cls.kind: cls
    for cls in (Conv2D, DepthwiseConv2D, BatchNorm, Activation, MaxPool, AvgPool, Dropout,
                SpatialDropout, Flatten, GlobalAvgPool, Dense)
}
"""Every layer kind by its TOML ``kind`` name (``residual`` blocks and the ``add`` join are not layers)."""

WEIGHTED_KINDS = frozenset({"conv2d", "depthwise_conv2d", "dense", "batchnorm"})
