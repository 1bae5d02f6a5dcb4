"""Seeded random designs for tests and benchmarks: valid ones (linear and residual), possibly invalid stacks,
and one deep design.

Everything here is pure (no TensorFlow) and deterministic for a given ``random.Random``:
``random_design(random.Random(7))`` is the same design on every machine.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import random
from collections.abc import Callable, Sequence

import tomli_w

from designer import designfile
from designer.boards import Board, inference_ms
from designer.design import Design, DesignError, analyze, analyze_stack
from designer.footprint import COMPRESSIONS, DTYPES, Footprint
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
    Item,
    Layer,
    LayerShapeError,
    MaxPool,
    Residual,
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


# ---------------------------------------------------------------------------------------------- fuzzing
# Inputs a user (or a corrupted file) can hand the core, for tests/test_fuzz.py and bench/fuzz.py: the core
# must answer each with a valid estimate or a DesignError, never another exception or a non-finite size.

EXTREME_VALUES: tuple[object, ...] = (
    0, -1, 1, 2, 65_536, 65_537, 2**31 - 1, 2**31, 2**63, 10**308, 2**1024, -(2**1024), 10**4000,
    0.0, -0.5, 0.5, 0.999_999, 1.0, 1e308, -1e308, 5e-324, math.inf, -math.inf, math.nan,
    True, False, "", "x", "relu", "same", "[/]", "[a=", "[bold]x[/bold]", "line\nbreak\r\n\t", "\x00",
    "é" * 300, [], [0], [1, 1], [3, 3, 3], [2**31, 1], [0.5, 0.5], ["3", "3"], [[1]], {}, {"kind": "dense"},
)
"""Values put in place of a setting: zero, negatives, caps and just past them, float overflow, non-finite
floats, wrong types, strings with markup, newlines and NUL, wrong-length arrays and nested tables."""

_PLAUSIBLE_VALUES: tuple[object, ...] = (1, 2, 3, 4, 8, 16, 32, 64, 128, 0.1, 0.3, "valid", "same", "relu",
                                         "softmax", "linear", True, False, [2, 2], [1, 3])
"""Ordinary values, so that some mutated designs stay valid and reach the estimators."""

_LARGE_DIMS = (1, 2, 255, 4_096, 32_767, 65_536)

_TOML_ALPHABET = "[]{}=\"'\n#.,:0123456789eE+-_ abcdefghijklmnopqrstuvwxyz\\\t"


def _mutate_document(rng: random.Random, doc: dict[str, object]) -> dict[str, object]:
    """A copy of a design document (designfile.design_to_dict) with one to four settings changed."""
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 4)):
        layers = doc.get("layers")
        target: dict[str, object] = doc
        if isinstance(layers, list) and layers and rng.random() < 0.75:
            target = rng.choice(layers) if all(isinstance(t, dict) for t in layers) else doc
        keys = list(target) + ["kind", "filters", "units", "kernel", "strides", "pool", "rate", "padding",
                               "activation", "use_bias", "depth_multiplier", "input_shape", "classes", "bogus"]
        key = rng.choice(keys)
        roll = rng.random()
        if roll < 0.1:
            target.pop(key, None)
        elif roll < 0.2 and isinstance(layers, list) and layers:
            layers.insert(rng.randrange(len(layers) + 1), copy.deepcopy(rng.choice(layers)))
        else:
            target[key] = copy.deepcopy(rng.choice(EXTREME_VALUES if rng.random() < 0.5 else _PLAUSIBLE_VALUES))
    return doc


def _mutate_text(rng: random.Random, text: str) -> str:
    """TOML text with a few random edits: spans deleted, duplicated or replaced by TOML-ish characters."""
    for _ in range(rng.randint(1, 3)):
        if not text:
            text = "".join(rng.choice(_TOML_ALPHABET) for _ in range(rng.randint(1, 40)))
            continue
        i = rng.randrange(len(text))
        j = min(len(text), i + rng.randint(1, 30))
        roll = rng.random()
        digits = [k for k in range(i, j) if text[k].isdigit()]
        if roll < 0.4 and digits:  # a number changed: the file often stays valid TOML and a valid design
            k = digits[0]
            text = text[:k] + str(rng.choice((0, 1, 2, 7, 64, 65_537, 10**20))) + text[k + 1:]
        elif roll < 0.6:
            text = text[:i] + text[j:]
        elif roll < 0.7:
            text = text[:j] + text[i:j] + text[j:]
        else:
            noise = "".join(rng.choice(_TOML_ALPHABET) for _ in range(rng.randint(1, 12)))
            text = text[:i] + noise + text[j:]
    return text


def _extreme_layer(rng: random.Random) -> Layer:
    """A layer of any kind, built directly (as the app's forms do), with some settings at EXTREME_VALUES."""
    layer = _any_layer(rng, impossible_values=True)
    changes: dict[str, object] = {}
    for f in dataclasses.fields(layer):
        if f.name != "group" and rng.random() < 0.3:
            changes[f.name] = rng.choice(EXTREME_VALUES)
    return dataclasses.replace(layer, **changes)


def _large_design(rng: random.Random) -> Design:
    """A short design with sizes at and around the caps (MAX_SIZE, MAX_ELEMENTS): valid or not, never overflowing."""
    h, w, c = (rng.choice(_LARGE_DIMS) for _ in range(3))
    layers: list[Layer] = []
    if rng.random() < 0.7:
        layers.append(Conv2D(filters=rng.choice(_LARGE_DIMS), kernel=_pair(rng, 1, 3), strides=_pair(rng, 1, 2)))
    if rng.random() < 0.4:
        layers.append(DepthwiseConv2D(depth_multiplier=rng.choice(_LARGE_DIMS)))
    layers.append(GlobalAvgPool() if rng.random() < 0.5 else Flatten())
    classes = rng.choice(_LARGE_DIMS)
    if rng.random() < 0.5:
        layers.append(Dense(units=rng.choice(_LARGE_DIMS), activation="relu"))
    layers.append(Dense(units=classes, activation="softmax"))
    return Design(name="large", layers=tuple(layers), input_shape=(h, w, c), classes=classes)


def _odd_head_design(rng: random.Random) -> Design:
    """A small valid-looking design whose head mixes flatten, global_avg_pool, dense, batchnorm, activation and
    dropout on vectors of 1 to 3 values: the corners of the converters' graph rewriting."""
    classes = rng.choice((1, 2, 3))
    layers: list[Layer] = []
    if rng.random() < 0.5:
        layers.append(Conv2D(filters=rng.choice((1, 2)), kernel=_pair(rng, 1, 2), activation=rng.choice(ACTIVATIONS)))
    layers.append(GlobalAvgPool() if rng.random() < 0.5 else Flatten())
    for _ in range(rng.randint(0, 4)):
        kind = rng.choice(("flatten", "dense", "batchnorm", "activation", "dropout"))
        if kind == "dense":
            layers.append(Dense(units=rng.choice((1, 2, 3)), activation=rng.choice(ACTIVATIONS),
                                use_bias=rng.random() < 0.7))
        elif kind == "batchnorm":
            layers.append(BatchNorm())
        elif kind == "activation":
            layers.append(Activation(activation=rng.choice(ACTIVATIONS)))
        elif kind == "dropout":
            layers.append(Dropout(rate=_rate(rng)))
        else:
            layers.append(Flatten())
    layers.append(Dense(units=classes, activation=rng.choice(ACTIVATIONS), use_bias=rng.random() < 0.7))
    if rng.random() < 0.3:
        layers.append(Flatten())
    shape = (rng.choice((1, 2, 4)), rng.choice((1, 2, 4)), rng.choice((1, 2)))
    return Design(name="head", layers=tuple(layers), input_shape=shape, classes=classes)


def fuzz_case(rng: random.Random, bases: Sequence[Design]) -> tuple[str, Callable[[], Design]]:
    """One fuzz input as (what it is, a function that loads it the way the app and CLI do).

    Kinds, in equal shares: ``stack`` (random kinds in random order, analysed directly), ``extreme-stack``
    (layers built with extreme values), ``large`` (sizes at the caps), ``odd-head`` (flatten, dense, batchnorm
    on vectors of 1 to 3 values), ``mutated-preset`` (a preset's document with settings replaced by
    extremes, written as TOML and loaded), ``mutated-text`` (a preset's or a random design's TOML text with
    random edits) and ``bytes`` (random bytes read as a design file). ``bases`` are the designs to mutate
    (the presets: passed in, as the core does not import the presets package).
    """
    kind = rng.choice(("stack", "extreme-stack", "large", "odd-head", "mutated-preset", "mutated-text", "bytes"))
    if kind in ("large", "odd-head"):
        built = _large_design(rng) if kind == "large" else _odd_head_design(rng)
        return kind, lambda: built
    if kind == "stack":
        design = (random_layer_stack(rng, impossible_values=rng.random() < 0.5) if rng.random() < 0.7
                  else random_design(rng))
        return kind, lambda: design
    if kind == "extreme-stack":
        base = random_layer_stack(rng)
        layers = tuple(_extreme_layer(rng) if rng.random() < 0.4 else layer for layer in base.layers)
        shape = tuple(rng.choice(EXTREME_VALUES) if rng.random() < 0.15 else v for v in base.input_shape)
        classes = rng.choice(EXTREME_VALUES) if rng.random() < 0.15 else base.classes
        extreme = Design(name=base.name, layers=layers, input_shape=shape, classes=classes)  # type: ignore[arg-type]
        return kind, lambda: extreme
    if kind == "mutated-preset":
        doc = _mutate_document(rng, designfile.design_to_dict(rng.choice(bases)))
        try:
            text = tomli_w.dumps(doc)
        except (TypeError, ValueError):  # a table inside an array of scalars, say: not writable as TOML
            return kind, lambda: designfile.design_from_dict(doc)
        return kind, lambda: designfile.loads(text, source="mutated preset")
    if kind == "mutated-text":
        source = rng.choice(bases) if rng.random() < 0.5 else random_design(rng)
        text = _mutate_text(rng, designfile.dumps(source))
        return kind, lambda: designfile.loads(text, source="mutated text")
    raw = bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
    if rng.random() < 0.5:  # half of them start as TOML, so the parser gets past the first byte
        raw = designfile.dumps(random_design(rng)).encode()[: rng.randint(0, 400)] + raw
    return kind, lambda: designfile.loads_bytes(raw, source="random bytes")


def every_footprint(design: Design) -> list[Footprint]:
    """Analyse ``design`` once and estimate it with every runtime, dtype and compression (DesignError if invalid)."""
    from designer.tflm import estimate_tflm
    from designer.xcubeai import estimate_xcubeai

    analysis = analyze(design)
    out = [estimate_xcubeai(analysis, dtype=d, compression=c) for d in DTYPES for c in COMPRESSIONS]
    return out + [estimate_tflm(analysis, dtype=d) for d in DTYPES]


_FOOTPRINT_INTS = ("params_total", "params_trainable", "macc", "weights_bytes", "runtime_flash_bytes",
                   "activations_bytes", "runtime_ram_bytes", "flash_bytes", "ram_bytes")
_LAYER_INTS = ("index", "params", "macc", "weights_bytes", "ram_bytes")


def footprint_problems(fp: Footprint, board: Board) -> list[str]:
    """What is wrong with an estimate's numbers: a size that is not a non-negative int, a shape that is not
    positive ints, an inference time on ``board`` that is not a finite non-negative float. Empty when sound."""
    where = f"{fp.runtime}/{fp.dtype}/{fp.compression}"
    problems = []
    named = [(name, getattr(fp, name)) for name in _FOOTPRINT_INTS]
    named += [(f"layer {row.index} {name}", getattr(row, name)) for row in fp.layers for name in _LAYER_INTS]
    for name, value in named:
        if type(value) is not int or value < 0:
            problems.append(f"{where}: {name} = {value!r}")
    for row in fp.layers:
        if not row.output_shape or any(type(v) is not int or v < 1 for v in row.output_shape):
            problems.append(f"{where}: layer {row.index} output_shape = {row.output_shape!r}")
    ms = inference_ms(fp.macc, board, fp.dtype)
    if not (math.isfinite(ms) and ms >= 0):
        problems.append(f"{where}: inference_ms = {ms!r}")
    return problems


def _stack_cost(items: tuple[Item, ...], shape: Shape) -> tuple[int, int, Shape] | None:
    """(params, MACC, output shape) of a stack on ``shape``, or None when it cannot be built there."""
    try:
        rows, out = analyze_stack(items, shape)
    except DesignError:
        return None
    return sum(r.params_total for r in rows), sum(r.macc for r in rows), out


def _same_stride(size: int, out: int) -> int | None:
    # The stride a 'same' window needs to take ``size`` to ``out`` (ceil(size / s) == out).
    return next((s for s in range(1, size + 1) if -(-size // s) == out), None)


def _shortcut(rng: random.Random, shape: Shape, out: Shape, group: str) -> tuple[Item, ...] | None:
    """A shortcut taking ``shape`` to the main path's ``out``: the identity when they agree (mostly), else a
    1x1 conv projection (with or without batchnorm), or a pool when only the size changes; None if none fits."""
    if out == shape and rng.random() < 0.75:
        return ()
    strides = (_same_stride(shape[0], out[0]), _same_stride(shape[1], out[1]))
    if strides[0] is None or strides[1] is None:
        return None
    pair = (strides[0], strides[1])
    if out[2] == shape[2] and pair != (1, 1) and rng.random() < 0.3:
        cls = MaxPool if rng.random() < 0.5 else AvgPool
        return (cls(pool=pair, padding="same", group=group),)
    conv = Conv2D(filters=out[2], kernel=(1, 1), strides=pair, padding=rng.choice(PADDINGS),
                  activation=rng.choice(("linear", "linear", "relu")), use_bias=rng.random() < 0.5, group=group)
    return (conv, BatchNorm(group=group)) if rng.random() < 0.5 else (conv,)


def _block(rng: random.Random, shape: Shape, group: str, depth: int, budget: tuple[int, int]) -> Residual | None:
    """A residual block on a feature map: 1 to 4 trunk items (a nested block among them while ``depth`` > 0),
    a shortcut that meets it, any activation after the add; None when no try fits ``budget`` (params, MACC)."""
    for _ in range(12):
        main: list[Item] = []
        at = shape
        for _ in range(rng.randint(1, 4)):
            item: Item = (_block(rng, at, group, depth - 1, budget) if depth > 0 and rng.random() < 0.25
                          else _trunk_layer(rng, at, group))
            cost = _stack_cost((item,), at) if item is not None else None
            if cost is None or cost[2][2] > _MAX_CHANNELS:
                continue
            main.append(item)
            at = cost[2]
        if not main:
            continue
        shortcut = _shortcut(rng, shape, at, group)
        if shortcut is None:
            continue
        block = Residual(main=tuple(main), shortcut=shortcut, activation=rng.choice(ACTIVATIONS), group=group)
        cost = _stack_cost((block,), shape)
        if cost is not None and cost[0] < budget[0] and cost[1] < budget[1]:
            return block
    return None


def _vector_block(rng: random.Random, width: int, group: str) -> Residual:
    """A block on a vector (dense, batchnorm, activation, dropout), identity or a dense projection."""
    units = rng.choice((16, 32, 64))
    main: list[Item] = [Dense(units=units, activation=rng.choice(ACTIVATIONS), use_bias=rng.random() < 0.8,
                              group=group)]
    main += [rng.choice((BatchNorm(group=group), Activation(activation=rng.choice(ACTIVATIONS), group=group),
                         Dropout(rate=_rate(rng), group=group))) for _ in range(rng.randint(0, 2))]
    shortcut: tuple[Item, ...] = () if units == width else (Dense(units=units, activation="linear", group=group),)
    return Residual(main=tuple(main), shortcut=shortcut, activation=rng.choice(ACTIVATIONS), group=group)


def random_residual_design(rng: random.Random, *, max_items: int = 10, input_shape: Shape = (32, 32, 3),
                           classes: int = 10, name: str = "residual") -> Design:
    """A valid design mixing residual blocks with plain layers, below PARAMS_BUDGET and about MACC_BUDGET.

    A trunk of up to ``max_items`` items: plain layers as random_design draws them, and blocks (identity or
    projection shortcuts, 1x1 conv +- batchnorm or pool; nested up to two deep; every feature-map kind inside).
    At least one block. Then the flattening step, sometimes as a block of its own (main global_avg_pool or
    flatten + dense, shortcut the same flattening + dense), an optional vector block (dense, batchnorm,
    activation, dropout inside), and dense(classes).
    """
    shape: Shape = tuple(input_shape)
    params = macc = 0
    items: list[Item] = []
    n_items = rng.randint(1, max(1, max_items))
    for k in range(3 * n_items):
        if len(items) >= n_items:
            break
        group = f"stack {k + 1}"
        budget = (PARAMS_BUDGET - params - _gap_head_reserve(_MAX_CHANNELS, classes) - 20_000, MACC_BUDGET - macc)
        want_block = rng.random() < 0.5 or (len(items) == n_items - 1 and not any(
            isinstance(i, Residual) for i in items))
        item: Item | None = _block(rng, shape, group, 2, budget) if want_block else _trunk_layer(rng, shape, group)
        cost = _stack_cost((item,), shape) if item is not None else None
        if cost is None or cost[2][2] > _MAX_CHANNELS or cost[0] >= budget[0] or cost[1] >= budget[1]:
            continue
        items.append(item)  # type: ignore[arg-type]  # not None: cost was computed
        params, macc, shape = params + cost[0], macc + cost[1], cost[2]
    if not any(isinstance(i, Residual) for i in items):
        items.append(Residual(main=(BatchNorm(group="stack"),), group="stack"))
    channels = shape[2]
    flatten: Item = GlobalAvgPool(group="head")
    if rng.random() < 0.3:
        flat: Layer = Flatten(group="head") if shape[0] * shape[1] * channels <= 1024 else GlobalAvgPool(group="head")
        width = shape[0] * shape[1] * channels if isinstance(flat, Flatten) else channels
        units = rng.choice((16, 32))
        flatten = Residual(main=(flat, Dense(units=units, group="head")),
                           shortcut=(flat, Dense(units=units, use_bias=False, group="head")),
                           activation=rng.choice(ACTIVATIONS), group="head")
        width = units
    else:
        flatten = GlobalAvgPool(group="head") if rng.random() < 0.7 or channels * shape[0] * shape[1] > 4096 \
            else Flatten(group="head")
        width = channels if isinstance(flatten, GlobalAvgPool) else channels * shape[0] * shape[1]
    head: list[Item] = [flatten]
    if rng.random() < 0.5 and width <= 256:  # a dense on a wide flatten would blow the params budget
        head.append(_vector_block(rng, width, "head"))
    head.append(Dense(units=classes, activation=rng.choice(("softmax", "linear")), group="head"))
    return Design(name=name, layers=(*items, *head), input_shape=tuple(input_shape), classes=classes)
