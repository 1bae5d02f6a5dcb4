"""Pure edit operations on a Design and the undo history of Design values.

Every operation takes a Design and returns a new one (designs are frozen); nothing here imports textual,
so the operations are unit-tested directly. An operation may return a design that no longer analyses
(deleting the flatten, say): structural edits are allowed to pass through invalid states, and the app
shows the DesignError until the user repairs the stack. Operations that cannot apply at all (an index out
of range, +/- on a layer without filters or units) raise EditError.

The design is a tree (designer.layers: a stack of layers and residual blocks, each block holding two stacks).
An operation names its item by a tree path (``(3,)``, ``(3, MAIN, 1)``: designer.layers.item_at) or, for a
top-level item, by its plain index; it rebuilds only the stacks along that path. A ``Target`` is what a row
of the layer table stands for (a layer, a block's header or add row, an identity shortcut), so the app asks
here what a key means on that row rather than deciding it in the widget.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from designer.design import Design, DesignError, analyze_stack
from designer.layers import (
    ACTIVATIONS,
    BRANCHES,
    MAIN,
    SHORTCUT,
    Activation,
    BatchNorm,
    Conv2D,
    Dense,
    DepthwiseConv2D,
    Dropout,
    Item,
    Layer,
    MaxPool,
    Residual,
    Shape,
    SpatialDropout,
    item_at,
    iter_layers,
)

BUMP_STEP = 8
"""How much + and - change a conv's filters or a dense layer's units (never below 1)."""

_BN_HOSTS = (Conv2D, DepthwiseConv2D, Dense)

TreePath = tuple[int, ...]
"""A place in the design tree (see designer.layers.item_at)."""

Where = int | TreePath
"""An item: a top-level index, or a tree path."""


class EditError(ValueError):
    """An edit that cannot apply to this design (the message says why, for the status line)."""


def path_label(where: Where) -> str:
    """A path as the layer table's index column spells it: ``3``, ``3m1`` (main layer 1 of block 3), ``3s0``."""
    if isinstance(where, int) or len(where) == 1:
        return str(where if isinstance(where, int) else where[0])
    path = tuple(where)
    text = str(path[0])
    for k in range(1, len(path) - 1, 2):
        text += f"{BRANCHES[path[k]][0]}{path[k + 1]}"
    return text


def _path(where: Where) -> TreePath:
    return (where,) if isinstance(where, int) else tuple(where)


def _like(where: Where, path: TreePath) -> Where:
    """``path`` in the form ``where`` was given (an int for a top-level index)."""
    return path[0] if isinstance(where, int) else path


def _stack(design: Design, prefix: TreePath) -> tuple[Item, ...]:
    """The stack a path's last index counts in: the top level for ``()``, else a block's branch."""
    if not prefix:
        return design.layers
    try:
        block = item_at(design.layers, prefix[:-1])
    except IndexError:
        block = None
    if not isinstance(block, Residual) or prefix[-1] not in (MAIN, SHORTCUT):
        raise EditError(f"no residual block at {path_label(prefix[:-1])}")
    return (block.main, block.shortcut)[prefix[-1]]


def _with_stack(items: tuple[Item, ...], prefix: TreePath, stack: tuple[Item, ...]) -> tuple[Item, ...]:
    """``items`` with the stack at ``prefix`` replaced (only the blocks along the path are rebuilt)."""
    if not prefix:
        return stack
    i, branch = prefix[0], prefix[1]
    block = items[i]
    assert isinstance(block, Residual)  # _stack checked the path first
    if branch == MAIN:
        block = replace(block, main=_with_stack(block.main, prefix[2:], stack))
    else:
        block = replace(block, shortcut=_with_stack(block.shortcut, prefix[2:], stack))
    return items[:i] + (block,) + items[i + 1:]


def _edit_stack(design: Design, prefix: TreePath, stack: tuple[Item, ...] | list[Item]) -> Design:
    return design.with_layers(_with_stack(design.layers, prefix, tuple(stack)))


def _located(design: Design, where: Where) -> tuple[TreePath, tuple[Item, ...], int]:
    """(path, the stack holding the item, its index there); EditError when there is no item at ``where``."""
    path = _path(where)
    stack = _stack(design, path[:-1])
    if not 0 <= path[-1] < len(stack):
        raise EditError(f"no layer {path_label(path)}: "
                        + (f"the design has {len(stack)} layers" if len(path) == 1
                           else f"that path holds {len(stack)}"))
    return path, stack, path[-1]


def item(design: Design, where: Where) -> Item:
    """The item at ``where`` (EditError when there is none)."""
    _, stack, index = _located(design, where)
    return stack[index]


def replace_layer(design: Design, where: Where, new: Item) -> Design:
    """The design with the item at ``where`` replaced."""
    path, stack, index = _located(design, where)
    return _edit_stack(design, path[:-1], stack[:index] + (new,) + stack[index + 1:])


def insert_layers(design: Design, where: Where, new: tuple[Item, ...] | list[Item]) -> Design:
    """The design with ``new`` inserted so that its first item sits at ``where`` (its index 0..len)."""
    path = _path(where)
    stack = _stack(design, path[:-1])
    if not 0 <= path[-1] <= len(stack):
        raise EditError(f"cannot insert at {path_label(path)}: "
                        + (f"the design has {len(stack)} layers" if len(path) == 1
                           else f"that path holds {len(stack)}"))
    return _edit_stack(design, path[:-1], stack[:path[-1]] + tuple(new) + stack[path[-1]:])


def delete_layer(design: Design, where: Where) -> Design:
    """The design without the item at ``where`` (a block goes whole)."""
    path, stack, index = _located(design, where)
    return _edit_stack(design, path[:-1], stack[:index] + stack[index + 1:])


def move_layer(design: Design, where: Where, delta: int) -> tuple[Design, Where]:
    """The design with the item at ``where`` moved by ``delta`` places (clamped to its own stack: a layer
    stays on its path, a block moves whole), and the item's new place (an index if given an index).

    A layer moved next to another group joins that group, so the group column stays contiguous.
    """
    path, stack, index = _located(design, where)
    target = max(0, min(len(stack) - 1, index + delta))
    if target == index:
        return design, where
    items = list(stack)
    moved = items.pop(index)
    neighbour = items[target - 1] if delta > 0 else items[target] if target < len(items) else None
    if neighbour is not None and neighbour.group != moved.group and not isinstance(moved, Residual):
        moved = replace(moved, group=neighbour.group)  # a block keeps its label: its layers carry it too
    items.insert(target, moved)
    return _edit_stack(design, path[:-1], items), _like(where, (*path[:-1], target))


def duplicate_layer(design: Design, where: Where) -> Design:
    """The design with a copy of the item at ``where`` right after it (a block is copied whole)."""
    path, stack, index = _located(design, where)
    return insert_layers(design, (*path[:-1], index + 1), [stack[index]])


def bump_target(design: Design, where: Where) -> str:
    """The setting + and - change on the layer at ``where`` ("filters" or "units"); EditError when none."""
    layer = item(design, where)
    if isinstance(layer, Conv2D):
        return "filters"
    if isinstance(layer, Dense):
        return "units"
    raise EditError(f"+/- changes filters or units; layer {path_label(where)} is a {layer.kind}"
                    + (": put the cursor on a conv inside it" if isinstance(layer, Residual) else ""))


def bump(design: Design, where: Where, direction: int) -> Design:
    """The design with the layer's filters (conv) or units (dense) at ``where`` changed by ``direction`` steps."""
    key = bump_target(design, where)
    layer = item(design, where)
    value: int = getattr(layer, key)
    new_value = max(1, value + direction * BUMP_STEP)
    if new_value == value:
        raise EditError(f"layer {path_label(where)} already has {key} = {value}, the minimum")
    return replace_layer(design, where, replace(layer, **{key: new_value}))


def toggle_batchnorm(design: Design, where: Where) -> Design:
    """Remove the batchnorm at or right after ``where``; else add one after a conv or dense layer (in the
    same stack: inside a block's path, the batchnorm stays on that path)."""
    path, stack, index = _located(design, where)
    layer = stack[index]
    if isinstance(layer, Residual):
        raise EditError(f"batchnorm toggles after a conv or dense layer; {path_label(path)} is a residual block: "
                        "put the cursor on a conv inside it")
    if isinstance(layer, BatchNorm):
        return delete_layer(design, path)
    following = stack[index + 1] if index + 1 < len(stack) else None
    if isinstance(following, BatchNorm):
        return delete_layer(design, (*path[:-1], index + 1))
    if not isinstance(layer, _BN_HOSTS):
        raise EditError(f"batchnorm toggles after a conv or dense layer; layer {path_label(path)} is a "
                        f"{layer.kind}")
    return insert_layers(design, (*path[:-1], index + 1), [BatchNorm(group=layer.group)])


@dataclass(frozen=True)
class Target:
    """What a row of the layer table stands for: ``role`` "layer" (the layer at ``path``), "block" (the header
    of the residual block at ``path``), "add" (that block's join) or "identity" (its empty shortcut)."""

    path: TreePath
    role: str = "layer"

    @property
    def unit(self) -> TreePath | None:
        """The item edits apply to: the layer, or the whole block on its header or add row (None: identity)."""
        return None if self.role == "identity" else self.path


def insert_point(design: Design, target: Target | None) -> TreePath:
    """Where a new item goes for the row under the cursor: right below it as the table shows it (after a
    layer in its own path; first in the main path below a block's header; first in an identity shortcut;
    after the block below its add row)."""
    if target is None or not design.layers:
        return (0,)
    path = target.path
    if target.role == "block":
        return (*path, MAIN, 0)
    if target.role == "identity":
        return (*path, SHORTCUT, 0)
    return (*path[:-1], path[-1] + 1)


def group_at(design: Design, point: TreePath) -> str:
    """The group a new item at ``point`` joins: the item before it on its path, else the enclosing block's."""
    stack = _stack(design, point[:-1])
    if point[-1] > 0:
        return stack[point[-1] - 1].group
    return item(design, point[:-2]).group if len(point) > 1 else ""


def input_shape_at(design: Design, where: Where) -> Shape | None:
    """The shape the item at ``where`` receives (or an item inserted there would), None when an earlier
    item cannot be built."""
    path = _path(where)
    shape: Shape = tuple(design.input_shape)
    items = design.layers
    try:
        for k in range(0, len(path), 2):
            if k:
                block = items[path[k - 2]]
                assert isinstance(block, Residual)
                items = (block.main, block.shortcut)[path[k - 1]]
            _, shape = analyze_stack(items[:path[k]], shape)
    except (DesignError, IndexError, AssertionError):
        return None
    return shape


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


def next_group_name(design: Design, stem: str = "conv group") -> str:
    """The first "conv group N" (or ``stem`` N) label not used in the design."""
    used = {layer.group for layer in iter_layers(design.layers)} | {i.group for i in design.layers}
    n = 1
    while f"{stem} {n}" in used:
        n += 1
    return f"{stem} {n}"


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


def add_block(design: Design, where: Where, spec: BlockSpec) -> Design:
    """The design with a new conv group inserted at ``where``."""
    return insert_layers(design, where, block_layers(spec, next_group_name(design)))


SHORTCUTS = ("identity", "projection")
"""A residual block's shortcut as the form offers it: none, or a 1x1 conv (stride s) + batchnorm."""


@dataclass(frozen=True)
class ResidualSpec:
    """A residual block as the form builds it, ResNet style: ``convs`` convolutions of ``filters`` (the first
    with ``strides``), each but the last followed by batchnorm and a relu (without batchnorm the relu is the
    conv's own); the last conv's output meets the shortcut in the add, then ``activation``."""

    filters: int = 32
    convs: int = 2
    kernel: int = 3
    strides: int = 1
    batchnorm: bool = True
    shortcut: str = "projection"
    activation: str = "relu"

    def __post_init__(self) -> None:
        if min(self.convs, self.filters, self.kernel, self.strides) < 1:
            raise EditError("a residual block needs at least one conv, one filter, a kernel and a stride of at "
                            "least 1")
        if self.shortcut not in SHORTCUTS:
            raise EditError(f"shortcut must be one of {', '.join(SHORTCUTS)}; received {self.shortcut!r}")
        if self.activation not in ACTIVATIONS:
            raise EditError(f"activation must be one of {', '.join(ACTIVATIONS)}; received {self.activation!r}")


def projection(filters: int, strides: int | tuple[int, int], batchnorm: bool, group: str) -> tuple[Layer, ...]:
    """A projection shortcut: a 1x1 conv of ``filters`` with ``strides`` ('same' padding), then batchnorm."""
    pair = (strides, strides) if isinstance(strides, int) else strides
    conv = Conv2D(filters=filters, kernel=(1, 1), strides=pair, activation="linear", group=group)
    return (conv, BatchNorm(group=group)) if batchnorm else (conv,)


def residual_block(spec: ResidualSpec, group: str = "") -> Residual:
    """The block ``spec`` describes."""
    main: list[Layer] = []
    for n in range(spec.convs):
        last = n == spec.convs - 1
        strides = (spec.strides, spec.strides) if n == 0 else (1, 1)
        own = "linear" if spec.batchnorm or last else "relu"
        main.append(Conv2D(filters=spec.filters, kernel=(spec.kernel, spec.kernel), strides=strides,
                           activation=own, group=group))
        if spec.batchnorm:
            main.append(BatchNorm(group=group))
            if not last:
                main.append(Activation(activation="relu", group=group))
    shortcut = (() if spec.shortcut == "identity"
                else projection(spec.filters, spec.strides, spec.batchnorm, group))
    return Residual(main=tuple(main), shortcut=shortcut, activation=spec.activation, group=group)


def identity_fits(main: tuple[Item, ...], in_shape: Shape | None) -> bool:
    """Whether an identity shortcut can join ``main`` fed ``in_shape`` (its output has the input's shape)."""
    if in_shape is None:
        return False
    try:
        return analyze_stack(main, in_shape)[1] == tuple(in_shape)
    except DesignError:
        return False


def projection_for(block: Residual, in_shape: Shape | None) -> tuple[Layer, ...]:
    """The projection shortcut that makes ``block`` (fed ``in_shape``) meet: 1x1 conv, the stride the main path
    has, its output channels, batchnorm; EditError when there is none."""
    if in_shape is None:
        raise EditError("the block's input shape is unknown (an earlier layer cannot be built): fix that first")
    try:
        out = analyze_stack(block.main, in_shape)[1]
    except DesignError as exc:
        raise EditError(f"the main path cannot be built: {exc}") from None
    if len(out) != 3 or len(in_shape) != 3:
        raise EditError("a projection shortcut needs a feature map on both ends of the block")
    strides = []
    for size, o in zip(in_shape[:2], out[:2], strict=True):
        fit = [s for s in range(1, size + 1) if -(-size // s) == o]  # a 'same' 1x1 conv: ceil(size / s)
        if not fit:
            raise EditError(f"no strided 1x1 conv turns {tuple(in_shape)} into {out}")
        strides.append(fit[0])
    return projection(out[2], (strides[0], strides[1]), True, block.group)


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
