"""The search space: which designs a search may propose, and how one proposal becomes a :class:`Design`.

A space is a small frozen value (saved with the study as JSON, so a second machine joining the study needs
neither the seed design nor its options): conv groups, each a few convolutions (plain, or depthwise-separable:
a depthwise conv then a 1x1 conv) with a kernel of 3 or 5, a BatchNorm placement, an optional residual
wrapper and a dropout, separated by 2x2 max pools; then a flatten or global-average-pool head with an
optional dense layer and dropout, and the classifier.

:func:`sample` asks a ``suggest(name, choices)`` function for every decision, so an Optuna trial
(``trial.suggest_categorical``) and a seeded ``random.Random`` drive the same code. Pure: no Optuna, no
TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from designer.design import Design
from designer.layers import (
    Activation,
    AvgPool,
    BatchNorm,
    Conv2D,
    Dense,
    DepthwiseConv2D,
    Dropout,
    Flatten,
    GlobalAvgPool,
    Item,
    MaxPool,
    Residual,
    Shape,
)

Choice = int | float | str | bool
Suggest = Callable[[str, Sequence[Choice]], Choice]
"""``suggest(name, choices)`` returns one of ``choices``; the same name always means the same decision."""

BN_PLACEMENTS: tuple[str, ...] = ("none", "before_activation", "after_activation")
"""``before_activation``: conv (linear, no bias) -> BN -> ReLU, which the converters fold into the conv;
``after_activation``: conv (ReLU) -> BN, as most of the notebook's presets do."""
CONV_KINDS: tuple[str, ...] = ("plain", "separable")
FAMILY = "convnet"
"""The one built-in family: conv groups + pools + a dense head (the shape of the notebook's Model0-13)."""

_FILTER_FACTORS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
MAX_GROUPS = 6
MAX_FILTERS = 512


class SpaceError(ValueError):
    """A space that cannot be searched (a seed design without conv groups, a bad stored space)."""


@dataclass(frozen=True)
class GroupSpace:
    """The choices for one conv group."""

    filters: tuple[int, ...]
    convs: tuple[int, ...] = (1, 2, 3)
    kernels: tuple[int, ...] = (3, 5)
    dropouts: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


@dataclass(frozen=True)
class Space:
    """Every choice a search makes; ``groups[i]`` holds group i's choices, ``group_counts`` how many groups."""

    name: str
    input_shape: Shape
    classes: int
    groups: tuple[GroupSpace, ...]
    group_counts: tuple[int, ...]
    heads: tuple[str, ...] = ("flatten", "global_avg_pool")
    dense_units: tuple[int, ...] = (0, 32, 64, 128)
    """0 = no hidden dense layer."""
    head_dropouts: tuple[float, ...] = (0.0, 0.25, 0.5)
    bn_placements: tuple[str, ...] = BN_PLACEMENTS
    conv_kinds: tuple[str, ...] = CONV_KINDS
    residual: tuple[bool, ...] = (False,)
    """(False, True) lets each group be a residual block (identity or 1x1-projection shortcut)."""
    origin: str = FAMILY
    """``convnet`` or ``from <design name>``: where the space came from, for messages."""

    def __post_init__(self) -> None:
        if not self.group_counts or min(self.group_counts) < 1 or max(self.group_counts) > len(self.groups):
            raise SpaceError(f"group_counts {self.group_counts} must be within 1..{len(self.groups)}")
        for what in ("heads", "dense_units", "head_dropouts", "bn_placements", "conv_kinds", "residual"):
            if not getattr(self, what):
                raise SpaceError(f"space: '{what}' needs at least one choice")
        for i, group in enumerate(self.groups):
            for what in ("filters", "convs", "kernels", "dropouts"):
                values = getattr(group, what)
                if not values or (what != "dropouts" and min(values) < 1):
                    raise SpaceError(f"space: group {i + 1} '{what}' must be non-empty positive values, "
                                     f"received {values}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (tuples become lists); :func:`space_from_dict` reads it back."""
        return asdict(self)

    def describe(self) -> str:
        """One line for the table's title."""
        counts = "/".join(map(str, self.group_counts))
        return f"{self.origin}: {counts} conv groups, input {'x'.join(map(str, self.input_shape))}, " \
               f"{self.classes} classes"


def space_from_dict(data: Any) -> Space:
    """A Space from :meth:`Space.to_dict` output (a study's stored space); SpaceError when it does not read."""
    try:
        groups = tuple(GroupSpace(**{k: tuple(v) for k, v in g.items()}) for g in data["groups"])
        rest = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k != "groups"}
        rest["input_shape"] = tuple(rest["input_shape"])
        return Space(groups=groups, **rest)
    except (KeyError, TypeError, AttributeError) as exc:
        raise SpaceError(f"the study's stored search space does not read ({exc})") from None


def family_space(input_shape: Shape = (32, 32, 3), classes: int = 10, *, residual: bool = False,
                 name: str = FAMILY) -> Space:
    """The built-in family: 1-3 conv groups of 1-3 convs, 8-128 filters (wider in later groups)."""
    widths = ((8, 16, 24, 32), (16, 24, 32, 48, 64), (32, 48, 64, 96, 128))
    groups = tuple(GroupSpace(filters=w) for w in widths)
    return Space(name=name, input_shape=tuple(input_shape), classes=classes, groups=groups, group_counts=(1, 2, 3),
                 residual=(False, True) if residual else (False,))


def _round_filters(value: float) -> int:
    return max(4, min(MAX_FILTERS, int(round(value / 4)) * 4))


def _seed_groups(items: tuple[Item, ...]) -> list[tuple[int, int]]:
    """(filters, conv count) of each conv group of a design's trunk: groups end at a pooling layer."""
    groups: list[tuple[int, int]] = []
    filters, convs = 0, 0
    for item in items:
        layers: tuple[Item, ...] = item.main if isinstance(item, Residual) else (item,)
        for layer in layers:
            if isinstance(layer, Conv2D):
                filters, convs = layer.filters, convs + 1
            elif isinstance(layer, DepthwiseConv2D):
                convs += 1
            elif isinstance(layer, MaxPool | AvgPool | GlobalAvgPool | Flatten):
                if convs:
                    groups.append((filters or 8, convs))
                filters, convs = 0, 0
    if convs:
        groups.append((filters or 8, convs))
    return groups


def space_from_design(design: Design, *, residual: bool = False) -> Space:
    """A space around a design's structure: its number of conv groups, each group's filters x 0.25-2 and
    1..(its convs + 1) convs, its head kind, and dense widths around its hidden dense layer."""
    seeds = _seed_groups(design.layers)[:MAX_GROUPS]
    if not seeds:
        raise SpaceError(f"{design.name}: no conv2d layers to seed the search space with; "
                         f"use the built-in family ({FAMILY}) instead of --from")
    groups = tuple(GroupSpace(filters=tuple(sorted({_round_filters(f * m) for m in _FILTER_FACTORS})),
                              convs=tuple(range(1, min(convs + 1, 4) + 1)))
                   for f, convs in seeds)
    head = "global_avg_pool" if any(isinstance(i, GlobalAvgPool) for i in design.layers) else "flatten"
    hidden = [i.units for i in design.layers if isinstance(i, Dense)][:-1]
    units = (0, 32, 64, 128) if not hidden else tuple(sorted({0, *(_round_filters(hidden[0] * m)
                                                                   for m in (0.25, 0.5, 1.0, 2.0))}))
    return Space(name=design.name, input_shape=design.input_shape, classes=design.classes, groups=groups,
                 group_counts=(len(groups),), heads=(head,), dense_units=units,
                 residual=(False, True) if residual else (False,), origin=f"from {design.name}")


def _conv_layers(kind: str, filters: int, kernel: int, bn: str, group: str) -> list[Item]:
    """One convolution of a group with its BatchNorm placement."""
    linear = bn == "before_activation"
    act = "linear" if linear else "relu"
    out: list[Item] = []
    if kind == "separable":
        out.append(DepthwiseConv2D(kernel=(kernel, kernel), activation="linear", use_bias=False, group=group))
        out.append(Conv2D(filters=filters, kernel=(1, 1), activation=act, use_bias=not linear, group=group))
    else:
        out.append(Conv2D(filters=filters, kernel=(kernel, kernel), activation=act, use_bias=not linear,
                          group=group))
    if bn != "none":
        out.append(BatchNorm(group=group))
    if linear:
        out.append(Activation(activation="relu", group=group))
    return out


def _pick(suggest: Suggest, name: str, choices: Sequence[Choice]) -> Any:
    # A single choice is no decision: not asking keeps the study's parameters to the ones that vary.
    return choices[0] if len(choices) == 1 else suggest(name, list(choices))


def sample(space: Space, suggest: Suggest, name: str) -> Design:
    """The design for one set of decisions (asked of ``suggest`` in a fixed order). Always valid: a pool is
    only added while the feature map is at least 2x2."""
    items: list[Item] = []
    height, width, channels = space.input_shape
    count = _pick(suggest, "groups", space.group_counts)
    bn = _pick(suggest, "bn", space.bn_placements)
    kind = _pick(suggest, "conv", space.conv_kinds)
    for i in range(count):
        g, label = space.groups[i], f"conv group {i + 1}"
        filters = _pick(suggest, f"g{i + 1}_filters", g.filters)
        convs = _pick(suggest, f"g{i + 1}_convs", g.convs)
        kernel = _pick(suggest, f"g{i + 1}_kernel", g.kernels)
        residual = _pick(suggest, f"g{i + 1}_residual", space.residual)
        body: list[Item] = []
        for _ in range(convs):
            body += _conv_layers(kind, filters, kernel, bn, label)
        if residual:
            # The shortcut needs the main path's channel count; a 1x1 conv projects when they differ.
            shortcut = () if channels == filters else (
                Conv2D(filters=filters, kernel=(1, 1), activation="linear", group=label),)
            items.append(Residual(main=tuple(body), shortcut=shortcut, activation="relu", group=label))
        else:
            items += body
        channels = filters
        if height >= 2 and width >= 2:
            items.append(MaxPool(pool=(2, 2), group=label))
            height, width = height // 2, width // 2
        rate = _pick(suggest, f"g{i + 1}_dropout", g.dropouts)
        if rate > 0:
            items.append(Dropout(rate=rate, group=label))
    head = _pick(suggest, "head", space.heads)
    items.append(Flatten(group="head") if head == "flatten" else GlobalAvgPool(group="head"))
    units = _pick(suggest, "dense_units", space.dense_units)
    if units:
        items.append(Dense(units=units, activation="relu", group="head"))
    rate = _pick(suggest, "head_dropout", space.head_dropouts)
    if rate > 0:
        items.append(Dropout(rate=rate, group="head"))
    items.append(Dense(units=space.classes, activation="softmax", group="head"))
    return Design(name=name, layers=tuple(items), input_shape=space.input_shape, classes=space.classes,
                  notes=f"proposed by cnn-designer search ({space.origin})")
