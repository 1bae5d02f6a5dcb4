"""Keras checks our numbers: every preset and hundreds of generated designs, layer by layer.

Residual designs too (the residual presets and RESIDUAL_SEEDS generated designs mixing identity and
projection blocks, nested, with every layer kind inside): the model is built from the lowering
(designer.graph), so each Keras layer must also read from the layers the graph says it reads from.

For a valid design, the real Keras model (built, never compiled) must give each layer the output shape,
count_params() and trainable count that analyze() gives. For random, often invalid stacks, analyze() either
succeeds (and Keras agrees) or raises DesignError, never anything else; and a DesignError means Keras cannot
build that layer either, except for our deliberate stricter rules:

- dense needs a flat input (Keras' Dense would silently act on the last axis of a feature map);
- the design's output must be (classes,) (Keras builds any output);
- value checks (check_values: rate must be in [0, 1), so rate = 1.0, which Keras accepts, is refused; Keras
  refuses filters = 0, units = 0 and rate > 1 on its own, but we do not depend on it).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

import pytest

from designer.design import Analysis, Design, DesignError, analyze
from designer.generate import PARAMS_BUDGET, deep_design, random_design, random_layer_stack, random_residual_design
from designer.graph import Graph, lower
from designer.keras_build import add_activation_name, build_model, layer_names
from designer.layers import (
    ACTIVATIONS,
    LAYER_TYPES,
    PADDINGS,
    Add,
    AvgPool,
    Conv2D,
    Dense,
    DepthwiseConv2D,
    MaxPool,
    Residual,
    has_blocks,
)
from presets import load_preset, preset_ids

keras = pytest.importorskip("keras")

VALID_SEEDS = range(220)
RESIDUAL_SEEDS = range(210)
STACK_SEEDS = range(600)
_CLEAR_EVERY = 25
_built = 0


@pytest.fixture(autouse=True)
def _clear_keras_session() -> Iterator[None]:
    # Every model adds layers and variables to Keras' global state; clearing now and then keeps it flat.
    global _built
    yield
    _built += 1
    if _built % _CLEAR_EVERY == 0:
        keras.backend.clear_session()


def _trainable(weights: list[Any]) -> int:
    return sum(math.prod(w.shape) for w in weights)


def assert_keras_agrees(design: Design, analysis: Analysis) -> None:
    """Every layer's output shape, params and trainable params, and the totals, equal Keras'."""
    model = build_model(design, validate=False)
    assert tuple(model.input.shape[1:]) == design.input_shape
    for stats, name in zip(analysis.layers, layer_names(design), strict=True):
        layer = model.get_layer(name)
        where = f"{design.name} layer {stats.index} ({stats.layer.kind}, {stats.layer.config()}) on {stats.input_shape}"
        assert tuple(layer.output.shape[1:]) == stats.output_shape, where
        assert layer.count_params() == stats.params_total, where
        assert _trainable(layer.trainable_weights) == stats.params_trainable, where
    assert tuple(model.output.shape[1:]) == (design.classes,)
    assert model.count_params() == analysis.params_total
    assert _trainable(model.trainable_weights) == analysis.params_trainable
    if has_blocks(design.layers):
        _assert_wired_as_the_graph(model, lower(analysis))


def _keras_output_layer(graph: Graph, tensor: int) -> str:
    """The Keras layer that produces a graph tensor: the node's layer, or the Activation after an add."""
    node = graph.producer_of(tensor)
    if node is None:
        return "input"
    layer = node.stats.layer
    if isinstance(layer, Add) and layer.activation != "linear":
        return add_activation_name(node.name, layer.activation)
    return node.name


def _assert_wired_as_the_graph(model: Any, graph: Graph) -> None:
    for node in graph.nodes:
        inputs = model.get_layer(node.name).input
        inputs = inputs if isinstance(inputs, list) else [inputs]
        sources = [t._keras_history.operation.name for t in inputs]
        assert sources == [_keras_output_layer(graph, t) for t in node.inputs], node.name


@pytest.mark.parametrize("preset_id", preset_ids())
def test_preset_matches_keras(preset_id: str) -> None:
    design = load_preset(preset_id)
    assert_keras_agrees(design, analyze(design))


@pytest.mark.parametrize("seed", VALID_SEEDS)
def test_generated_design_matches_keras(seed: int) -> None:
    design = random_design(random.Random(seed), name=f"random_{seed}")
    assert_keras_agrees(design, analyze(design))


@pytest.mark.parametrize("seed", RESIDUAL_SEEDS)
def test_generated_residual_design_matches_keras(seed: int) -> None:
    design = random_residual_design(random.Random(seed), name=f"residual_{seed}")
    assert_keras_agrees(design, analyze(design))


def test_generated_residual_designs_cover_blocks_of_every_kind() -> None:
    blocks: list[tuple[Residual, int]] = []

    def walk(items: tuple[Any, ...], depth: int) -> None:
        for item in items:
            if isinstance(item, Residual):
                blocks.append((item, depth))
                walk(item.main + item.shortcut, depth + 1)

    for seed in RESIDUAL_SEEDS:
        walk(random_residual_design(random.Random(seed)).layers, 0)
    inside = {layer.kind for block, _ in blocks for layer in block.main + block.shortcut
              if not isinstance(layer, Residual)}
    assert inside == set(LAYER_TYPES)
    assert {block.identity for block, _ in blocks} == {True, False}
    assert {depth for _, depth in blocks} == {0, 1, 2}
    assert {block.activation for block, _ in blocks} == set(ACTIVATIONS)
    assert {layer.kind for block, _ in blocks for layer in block.shortcut} >= {"conv2d", "batchnorm", "maxpool",
                                                                               "avgpool", "dense", "flatten"}


def test_deep_design_matches_keras() -> None:
    design = deep_design(100)
    assert len(design.layers) == 100
    assert_keras_agrees(design, analyze(design))


def test_generated_designs_cover_every_kind_and_setting() -> None:
    designs = [random_design(random.Random(seed)) for seed in VALID_SEEDS]
    layers = [layer for d in designs for layer in d.layers]
    assert {layer.kind for layer in layers} == set(LAYER_TYPES)
    convs = [layer for layer in layers if isinstance(layer, Conv2D)]
    assert {k for c in convs for k in c.kernel} == {1, 2, 3, 4, 5}
    assert any(c.kernel[0] != c.kernel[1] for c in convs)
    assert {s for c in convs for s in c.strides} == {1, 2}
    assert {c.padding for c in convs} == set(PADDINGS)
    assert {c.activation for c in convs} == set(ACTIVATIONS)
    assert {c.depth_multiplier for c in layers if isinstance(c, DepthwiseConv2D)} >= {1, 2}
    pools = [layer for layer in layers if isinstance(layer, MaxPool | AvgPool)]
    assert {p.strides is None for p in pools} == {True, False}
    assert {p.padding for p in pools} == set(PADDINGS)
    # batchnorm both on feature maps and on vectors.
    bn_ranks = {len(s.input_shape) for d in designs for s in analyze(d).layers if s.layer.kind == "batchnorm"}
    assert bn_ranks == {1, 3}
    for d in designs:
        last = d.layers[-1]
        assert isinstance(last, Dense) and last.units == d.classes
        assert analyze(d).params_total < PARAMS_BUDGET


def _is_deliberate_rule(exc: DesignError) -> bool:
    if exc.index is None:
        return True  # the output-must-be-(classes,) rule
    if exc.key:
        return True  # a check_values rule
    return exc.kind == "dense" and "flat input" in exc.reason


@pytest.mark.parametrize("chunk", range(6))
def test_random_stack_is_valid_or_a_design_error(chunk: int) -> None:
    counts = {"valid": 0, "keras also fails": 0, "deliberate": 0}
    for seed in STACK_SEEDS[chunk::6]:
        design = random_layer_stack(random.Random(seed), impossible_values=seed % 3 == 0, name=f"stack_{seed}")
        try:
            analysis = analyze(design)
        except DesignError as exc:
            assert str(exc)  # any other exception type propagates and fails the test
            if _is_deliberate_rule(exc):
                counts["deliberate"] += 1
                continue
            # A shape error: Keras must refuse the same layer (the stack up to it builds in neither).
            assert exc.index is not None and exc.kind == design.layers[exc.index].kind, str(exc)
            prefix = design.with_layers(design.layers[: exc.index + 1])
            with pytest.raises(ValueError):
                build_model(prefix, validate=False)
            if exc.index:
                # ... and everything before it Keras does build.
                build_model(design.with_layers(design.layers[: exc.index]), validate=False)
            counts["keras also fails"] += 1
        else:
            assert_keras_agrees(design, analysis)
            counts["valid"] += 1
        keras.backend.clear_session()
    # The generator must exercise each outcome, or this test proves little.
    assert all(counts.values()), counts
