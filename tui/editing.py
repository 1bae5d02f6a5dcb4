"""Pure edit operations on a Design and the undo history of Design values.

Every operation takes a Design and returns a new one (designs are frozen); nothing here imports textual,
so the operations are unit-tested directly. An operation may return a design that no longer analyses
(deleting the flatten, say): structural edits are allowed to pass through invalid states, and the app
shows the DesignError until the user repairs the stack. Operations that cannot apply at all (an index out
of range, +/- on a layer without filters or units) raise EditError.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from designer.design import Design
from designer.layers import BatchNorm, Conv2D, Dense, DepthwiseConv2D, Dropout, Layer, MaxPool, SpatialDropout

BUMP_STEP = 8
"""How much + and - change a conv's filters or a dense layer's units (never below 1)."""

_BN_HOSTS = (Conv2D, DepthwiseConv2D, Dense)


class EditError(ValueError):
    """An edit that cannot apply to this design (the message says why, for the status line)."""


def _check_index(design: Design, index: int) -> None:
    if not 0 <= index < len(design.layers):
        raise EditError(f"no layer {index}: the design has {len(design.layers)} layers")


def replace_layer(design: Design, index: int, layer: Layer) -> Design:
    """The design with layer ``index`` replaced."""
    _check_index(design, index)
    layers = list(design.layers)
    layers[index] = layer
    return design.with_layers(layers)


def insert_layers(design: Design, index: int, new: tuple[Layer, ...] | list[Layer]) -> Design:
    """The design with ``new`` inserted so that its first layer sits at ``index`` (0..len)."""
    if not 0 <= index <= len(design.layers):
        raise EditError(f"cannot insert at {index}: the design has {len(design.layers)} layers")
    layers = list(design.layers)
    layers[index:index] = list(new)
    return design.with_layers(layers)


def delete_layer(design: Design, index: int) -> Design:
    """The design without layer ``index``."""
    _check_index(design, index)
    return design.with_layers(design.layers[:index] + design.layers[index + 1:])


def move_layer(design: Design, index: int, delta: int) -> tuple[Design, int]:
    """The design with layer ``index`` moved by ``delta`` places (clamped), and the layer's new index.

    A layer moved next to another group joins that group, so the group column stays contiguous.
    """
    _check_index(design, index)
    target = max(0, min(len(design.layers) - 1, index + delta))
    if target == index:
        return design, index
    layers = list(design.layers)
    layer = layers.pop(index)
    neighbour = layers[target - 1] if delta > 0 else layers[target] if target < len(layers) else None
    if neighbour is not None and neighbour.group != layer.group:
        layer = replace(layer, group=neighbour.group)
    layers.insert(target, layer)
    return design.with_layers(layers), target


def duplicate_layer(design: Design, index: int) -> Design:
    """The design with a copy of layer ``index`` right after it."""
    _check_index(design, index)
    return insert_layers(design, index + 1, [design.layers[index]])


def bump_target(design: Design, index: int) -> str:
    """The setting + and - change on layer ``index`` ("filters" or "units"); EditError when none."""
    _check_index(design, index)
    layer = design.layers[index]
    if isinstance(layer, Conv2D):
        return "filters"
    if isinstance(layer, Dense):
        return "units"
    raise EditError(f"+/- changes filters or units; layer {index} is a {layer.kind}")


def bump(design: Design, index: int, direction: int) -> Design:
    """The design with layer ``index``'s filters (conv) or units (dense) changed by ``direction`` steps."""
    key = bump_target(design, index)
    layer = design.layers[index]
    value: int = getattr(layer, key)
    new_value = max(1, value + direction * BUMP_STEP)
    if new_value == value:
        raise EditError(f"layer {index} already has {key} = {value}, the minimum")
    return replace_layer(design, index, replace(layer, **{key: new_value}))


def toggle_batchnorm(design: Design, index: int) -> Design:
    """Remove the batchnorm at or right after ``index``; else add one after a conv or dense layer."""
    _check_index(design, index)
    layer = design.layers[index]
    if isinstance(layer, BatchNorm):
        return delete_layer(design, index)
    following = design.layers[index + 1] if index + 1 < len(design.layers) else None
    if isinstance(following, BatchNorm):
        return delete_layer(design, index + 1)
    if not isinstance(layer, _BN_HOSTS):
        raise EditError(f"batchnorm toggles after a conv or dense layer; layer {index} is a {layer.kind}")
    return insert_layers(design, index + 1, [BatchNorm(group=layer.group)])


@dataclass(frozen=True)
class BlockSpec:
    """A conv group: ``convs`` convolutions of ``filters`` (each optionally followed by batchnorm),
    then an optional 2x2 max pool and an optional spatial dropout (rate 0 means none)."""

    convs: int = 2
    filters: int = 32
    kernel: int = 3
    batchnorm: bool = True
    pool: bool = True
    dropout: float = 0.25

    def __post_init__(self) -> None:
        if self.convs < 1 or self.filters < 1 or self.kernel < 1:
            raise EditError("a block needs at least one conv, one filter and a kernel of at least 1")
        if not 0.0 <= self.dropout < 1.0:
            raise EditError(f"dropout must be in [0, 1), received {self.dropout}")


def next_group_name(design: Design) -> str:
    """The first "conv group N" label not used in the design."""
    used = {layer.group for layer in design.layers}
    n = 1
    while f"conv group {n}" in used:
        n += 1
    return f"conv group {n}"


def block_layers(spec: BlockSpec, group: str) -> list[Layer]:
    """The layers of one conv group."""
    layers: list[Layer] = []
    for _ in range(spec.convs):
        layers.append(Conv2D(filters=spec.filters, kernel=(spec.kernel, spec.kernel), group=group))
        if spec.batchnorm:
            layers.append(BatchNorm(group=group))
    if spec.pool:
        layers.append(MaxPool(group=group))
    if spec.dropout > 0:
        layers.append(SpatialDropout(rate=spec.dropout, group=group))
    return layers


def add_block(design: Design, index: int, spec: BlockSpec) -> Design:
    """The design with a new conv group inserted at ``index``."""
    return insert_layers(design, index, block_layers(spec, next_group_name(design)))


def default_layer(kind: str, group: str = "") -> Layer:
    """A sensible new layer of ``kind`` for the add menu."""
    from designer.layers import LAYER_TYPES

    cls = LAYER_TYPES[kind]
    if cls is Conv2D:
        return Conv2D(filters=32, group=group)
    if cls is Dense:
        return Dense(units=64, activation="relu", group=group)
    if cls is Dropout:
        return Dropout(rate=0.5, group=group)
    return cls(group=group)


@dataclass(frozen=True)
class History:
    """Undo history: the present design, the ones before it and the undone ones after it."""

    present: Design
    past: tuple[Design, ...] = ()
    future: tuple[Design, ...] = ()
    limit: int = 500

    def push(self, design: Design) -> History:
        """Record an edit; a new edit drops the redo branch. Pushing the present again records nothing."""
        if design == self.present:
            return self
        past = (self.past + (self.present,))[-self.limit:]
        return replace(self, present=design, past=past, future=())

    @property
    def can_undo(self) -> bool:
        """Whether there is an edit to undo."""
        return bool(self.past)

    @property
    def can_redo(self) -> bool:
        """Whether there is an undone edit to redo."""
        return bool(self.future)

    def undo(self) -> History:
        """Step back one edit (raises EditError at the start of history)."""
        if not self.past:
            raise EditError("nothing to undo")
        return replace(self, present=self.past[-1], past=self.past[:-1], future=(self.present,) + self.future)

    def redo(self) -> History:
        """Step forward one undone edit (raises EditError when nothing was undone)."""
        if not self.future:
            raise EditError("nothing to redo")
        return replace(self, present=self.future[0], past=self.past + (self.present,), future=self.future[1:])
