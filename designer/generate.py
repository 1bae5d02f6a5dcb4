"""Seeded random designs for tests and benchmarks: valid ones, possibly invalid stacks, and one deep design.

Everything here is pure (no TensorFlow) and deterministic for a given ``random.Random``:
``random_design(random.Random(7))`` is the same design on every machine.
"""

from __future__ import annotations

import math
import random

from designer.design import Design
from designer.layers import (
    ACTIVATIONS,
    PADDINGS,
    Activation,
    AvgPool,
    BatchNorm,
    Conv2D,
    Dense,
    DepthwiseConv2D,
    Dropout,
    Flatten,
    GlobalAvgPool,
    Layer,
    LayerShapeError,
    MaxPool,
    Shape,
    SpatialDropout,
)

PARAMS_BUDGET = 300_000
"""random_design keeps Keras count_params() below this, so TFLM measurement stays quick."""

MACC_BUDGET = 20_000_000
"""random_design keeps the trunk's MACC (X-CUBE-AI convention) below this, for the same reason."""

_FILTERS = (4, 8, 12, 16, 24, 32, 48, 64)
_MAX_CHANNELS = 64
_TRUNK_KINDS = ("conv2d", "conv2d", "conv2d", "depthwise_conv2d", "batchnorm", "activation", "maxpool",
                "avgpool", "dropout", "spatial_dropout")


def _rate(rng: random.Random) -> float:
    return rng.choice((0.0, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75))


def _pair(rng: random.Random, low: int, high: int) -> tuple[int, int]:
    # Mostly square, sometimes not: non-square windows are where height/width mix-ups hide.
    a = rng.randint(low, high)
    return (a, a) if rng.random() < 0.7 else (a, rng.randint(low, high))


def _trunk_layer(rng: random.Random, shape: Shape, group: str) -> Layer:
    kind = rng.choice(_TRUNK_KINDS)
    channels = shape[2]
    if kind == "conv2d":
        return Conv2D(filters=rng.choice(_FILTERS), kernel=_pair(rng, 1, 5), strides=_pair(rng, 1, 2),
                      padding=rng.choice(PADDINGS), activation=rng.choice(ACTIVATIONS),
                      use_bias=rng.random() < 0.8, group=group)
    if kind == "depthwise_conv2d":
        multipliers = [m for m in (1, 2, 3) if channels * m <= _MAX_CHANNELS] or [1]
        return DepthwiseConv2D(kernel=_pair(rng, 1, 5), strides=_pair(rng, 1, 2), padding=rng.choice(PADDINGS),
                               depth_multiplier=rng.choice(multipliers), activation=rng.choice(ACTIVATIONS),
                               use_bias=rng.random() < 0.8, group=group)
    if kind == "batchnorm":
        return BatchNorm(group=group)
    if kind == "activation":
        return Activation(activation=rng.choice(ACTIVATIONS), group=group)
    if kind in ("maxpool", "avgpool"):
        cls = MaxPool if kind == "maxpool" else AvgPool
        strides = None if rng.random() < 0.5 else _pair(rng, 1, 3)
        return cls(pool=_pair(rng, 1, 3), strides=strides, padding=rng.choice(PADDINGS), group=group)
    if kind == "dropout":
        return Dropout(rate=_rate(rng), group=group)
    return SpatialDropout(rate=_rate(rng), group=group)


def _weights(layer: Layer, shape: Shape) -> int:
    return layer.params(shape)[0]


def _gap_head_reserve(channels: int, classes: int) -> int:
    # The largest head random_design puts after global_avg_pool: dense(128), batchnorm, dense(classes).
    widest = max(channels, 128)
    return (channels + 1) * 128 + 4 * widest + (widest + 1) * classes


def _stack_params(layers: list[Layer], shape: Shape) -> int:
    total = 0
    for layer in layers:
        total += _weights(layer, shape)
        shape = layer.output_shape(shape)
    return total


def random_design(rng: random.Random, *, max_layers: int = 14, input_shape: Shape = (32, 32, 3),
                  classes: int = 10, name: str = "random") -> Design:
    """A valid design of at most ``max_layers`` layers (at least 2), below PARAMS_BUDGET and about MACC_BUDGET.

    A trunk of any feature-map kinds (conv2d with kernels 1..5, strides 1..2, both paddings, every activation;
    depthwise_conv2d; batchnorm; activation; pools with and without explicit strides; dropouts), then
    flatten or global_avg_pool, an optional dense / batchnorm / activation / dropout head, and dense(classes).
    """
    if max_layers < 2:
        raise ValueError(f"max_layers must be at least 2 (flatten/global_avg_pool + dense), received {max_layers}")
    head_extra = [k for k in ("dense", "batchnorm", "activation", "dropout") if rng.random() < 0.35]
    head_extra = head_extra[:max(0, max_layers - 2)]
    trunk_len = rng.randint(0, max_layers - 2 - len(head_extra))
    shape: Shape = tuple(input_shape)
    params = macc = 0
    layers: list[Layer] = []
    group_no = 1
    tries = 0
    while len(layers) < trunk_len and tries < 20 * max_layers:
        tries += 1
        if layers and rng.random() < 0.2:
            group_no += 1
        layer = _trunk_layer(rng, shape, f"block {group_no}" if rng.random() < 0.8 else "")
        try:
            out = layer.output_shape(shape)
        except LayerShapeError:
            continue
        if out[2] > _MAX_CHANNELS:
            continue
        cost = _weights(layer, shape)
        if params + cost + _gap_head_reserve(out[2], classes) >= PARAMS_BUDGET:
            continue
        if macc + layer.macc(shape, out) >= MACC_BUDGET:
            continue
        layers.append(layer)
        params += cost
        macc += layer.macc(shape, out)
        shape = out

    hidden = rng.choice((16, 32, 64, 128))
    head: list[Layer] = []
    for kind in head_extra:
        if kind == "dense":
            head.append(Dense(units=hidden, activation=rng.choice(ACTIVATIONS), use_bias=rng.random() < 0.8,
                              group="head"))
        elif kind == "batchnorm":
            head.append(BatchNorm(group="head"))
        elif kind == "activation":
            head.append(Activation(activation=rng.choice(ACTIVATIONS), group="head"))
        else:
            head.append(Dropout(rate=_rate(rng), group="head"))
    head.append(Dense(units=classes, activation=rng.choice(("softmax", "softmax", "linear", "sigmoid")),
                      use_bias=rng.random() < 0.9, group="head"))
    # Flatten only when the head on the flat vector still fits the budget; global_avg_pool's always does
    # (the trunk kept room for it).
    flat: Layer = Flatten(group="head")
    if rng.random() < 0.5 and params + _stack_params([flat, *head], shape) < PARAMS_BUDGET:
        layers.append(flat)
    else:
        layers.append(GlobalAvgPool(group="head"))
    layers.extend(head)
    return Design(name=name, layers=tuple(layers), input_shape=tuple(input_shape), classes=classes)


def _any_layer(rng: random.Random, *, impossible_values: bool) -> Layer:
    kind = rng.choice(("conv2d", "conv2d", "depthwise_conv2d", "batchnorm", "activation", "maxpool", "avgpool",
                       "dropout", "spatial_dropout", "flatten", "global_avg_pool", "dense"))
    if kind == "conv2d":
        filters = 0 if impossible_values and rng.random() < 0.3 else rng.choice((1, 4, 8))
        return Conv2D(filters=filters, kernel=_pair(rng, 1, 7), strides=_pair(rng, 1, 3),
                      padding=rng.choice(PADDINGS), activation=rng.choice(ACTIVATIONS))
    if kind == "depthwise_conv2d":
        return DepthwiseConv2D(kernel=_pair(rng, 1, 7), strides=_pair(rng, 1, 3), padding=rng.choice(PADDINGS),
                               depth_multiplier=rng.randint(1, 2))
    if kind == "batchnorm":
        return BatchNorm()
    if kind == "activation":
        return Activation(activation=rng.choice(ACTIVATIONS))
    if kind in ("maxpool", "avgpool"):
        cls = MaxPool if kind == "maxpool" else AvgPool
        return cls(pool=_pair(rng, 1, 5), strides=None if rng.random() < 0.5 else _pair(rng, 1, 3),
                   padding=rng.choice(PADDINGS))
    if kind in ("dropout", "spatial_dropout"):
        # rate = 1.0 is legal in Keras but drops everything; our check refuses it (a deliberate stricter rule).
        rate = rng.choice((1.0, 1.5)) if impossible_values and rng.random() < 0.3 else _rate(rng)
        return Dropout(rate=rate) if kind == "dropout" else SpatialDropout(rate=rate)
    if kind == "flatten":
        return Flatten()
    if kind == "global_avg_pool":
        return GlobalAvgPool()
    units = 0 if impossible_values and rng.random() < 0.3 else rng.choice((3, 10, 16))
    return Dense(units=units, activation=rng.choice(ACTIVATIONS))


def random_layer_stack(rng: random.Random, *, max_layers: int = 10, impossible_values: bool = False,
                       name: str = "stack") -> Design:
    """A design of random kinds in random order on a small random input: often invalid, sometimes valid.

    Invalid ones have impossible shapes (a window larger than its input, too many strides on a small input,
    conv after flatten, dense on a feature map) or a last layer that is not dense(classes). With
    ``impossible_values`` some layers also carry values check_values refuses (filters 0, units 0, rate >= 1).
    """
    input_shape = (rng.choice((1, 2, 3, 5, 8, 12, 16)), rng.choice((1, 2, 3, 5, 8, 12, 16)), rng.choice((1, 3)))
    classes = rng.choice((3, 10))
    layers = [_any_layer(rng, impossible_values=impossible_values) for _ in range(rng.randint(0, max_layers))]
    if rng.random() < 0.6:
        layers.append(Dense(units=classes, activation="softmax"))
    return Design(name=name, layers=tuple(layers), input_shape=input_shape, classes=classes)


def deep_design(n_layers: int = 100, *, input_shape: Shape = (32, 32, 3), classes: int = 10) -> Design:
    """A valid design of exactly ``n_layers`` layers (at least 3) for benchmarks.

    Repeats conv2d (linear) / batchnorm / activation / dropout on the feature map, with a maxpool in place of a
    dropout three times along the way (32x32 -> 4x4), then global_avg_pool and dense(classes).
    """
    if n_layers < 3:
        raise ValueError(f"n_layers must be at least 3, received {n_layers}")
    trunk = n_layers - 2
    blocks = math.ceil(trunk / 4)
    # Pool at the end of evenly spaced blocks while the map is larger than 4x4.
    pool_blocks = {round(blocks * k / 4) - 1 for k in (1, 2, 3)}
    layers: list[Layer] = []
    shape: Shape = tuple(input_shape)
    pools = 0
    for i in range(trunk):
        block, step = divmod(i, 4)
        group = f"block {block + 1}"
        filters = (16, 24, 32, 32)[min(pools, 3)]
        if step == 0:
            layer: Layer = Conv2D(filters=filters, kernel=(3, 3), activation="linear", use_bias=False,
                                  group=group)
        elif step == 1:
            layer = BatchNorm(group=group)
        elif step == 2:
            layer = Activation(activation="relu", group=group)
        elif block in pool_blocks and min(shape[0], shape[1]) >= 2:
            layer = MaxPool(pool=(2, 2), group=group)
            pools += 1
        else:
            layer = Dropout(rate=0.1, group=group)
        shape = layer.output_shape(shape)
        layers.append(layer)
    layers.append(GlobalAvgPool(group="head"))
    layers.append(Dense(units=classes, activation="softmax", group="head"))
    return Design(name=f"deep{n_layers}", layers=tuple(layers), input_shape=tuple(input_shape), classes=classes)
