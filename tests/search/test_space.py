"""The search space: every sample is a valid design of the space's input and classes, the space's choices
all show up in the designs, a seed design shapes the space, and a space survives the study's JSON."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

import pytest

from designer.design import analyze
from designer.layers import BatchNorm, Conv2D, DepthwiseConv2D, GlobalAvgPool, Residual, iter_layers
from designer.search.space import (
    SpaceError,
    family_space,
    sample,
    space_from_design,
    space_from_dict,
)
from presets import load_preset


def _random_suggest(rng: random.Random, asked: dict[str, Sequence[object]] | None = None):
    def suggest(name: str, choices: Sequence[object]) -> object:
        if asked is not None:
            asked[name] = choices
        return rng.choice(list(choices))
    return suggest


@pytest.mark.parametrize("shape", [(8, 8, 3), (32, 32, 3), (28, 28, 1), (5, 7, 1)])
def test_every_sample_is_a_valid_design(shape: tuple[int, int, int]) -> None:
    space = family_space(shape, 4, residual=True)
    rng = random.Random(0)
    for i in range(150):
        design = sample(space, _random_suggest(rng), f"t{i}")
        analysis = analyze(design)  # raises on any impossible shape
        assert design.input_shape == shape and analysis.layers[-1].output_shape == (4,)


def test_the_space_choices_all_appear() -> None:
    space = family_space((32, 32, 3), 10, residual=True)
    rng = random.Random(1)
    seen: set[str] = set()
    asked: dict[str, Sequence[object]] = {}
    for i in range(200):
        design = sample(space, _random_suggest(rng, asked), f"t{i}")
        layers = iter_layers(design.layers)
        seen |= {"separable"} if any(isinstance(x, DepthwiseConv2D) for x in layers) else set()
        seen |= {"bn"} if any(isinstance(x, BatchNorm) for x in layers) else set()
        seen |= {"residual"} if any(isinstance(x, Residual) for x in design.layers) else set()
        seen |= {"gap"} if any(isinstance(x, GlobalAvgPool) for x in design.layers) else set()
        seen |= {f"k{x.kernel[0]}" for x in layers if isinstance(x, Conv2D | DepthwiseConv2D)}
        seen |= {f"drop{x.rate}" for x in layers if x.kind == "dropout"}
    assert {"separable", "bn", "residual", "gap", "k3", "k5", "drop0.1", "drop0.5"} <= seen
    assert {"groups", "bn", "conv", "g1_filters", "g3_convs", "g2_kernel", "g1_residual", "dense_units",
            "head", "head_dropout"} <= set(asked)


def test_a_seed_design_shapes_the_space() -> None:
    model2 = load_preset("model2")
    space = space_from_design(model2)
    convs = [x for x in model2.layers if isinstance(x, Conv2D)]
    assert len(space.groups) == space.group_counts[0] >= 2
    assert space.input_shape == model2.input_shape and space.classes == model2.classes
    assert convs[0].filters in space.groups[0].filters
    design = sample(space, _random_suggest(random.Random(2)), "x")
    analyze(design)


def test_a_design_without_convs_cannot_seed() -> None:
    mlp = load_preset("model2").with_layers([x for x in load_preset("model2").layers
                                             if x.kind in ("flatten", "dense")])
    with pytest.raises(SpaceError, match="no conv2d layers"):
        space_from_design(mlp)


def test_a_space_round_trips_through_json() -> None:
    for space in (family_space((8, 8, 3), 3, residual=True), space_from_design(load_preset("model5"))):
        assert space_from_dict(json.loads(json.dumps(space.to_dict()))) == space
    with pytest.raises(SpaceError, match="does not read"):
        space_from_dict({"groups": 3})


@pytest.mark.slow
def test_sampled_designs_match_keras() -> None:
    # Keras checks our numbers for what the search proposes too: separable convs, BN placements, residual groups.
    from tests.test_keras_agreement import assert_keras_agrees

    space = family_space((16, 16, 3), 5, residual=True)
    rng = random.Random(5)
    covered: set[str] = set()
    built = 0
    for i in range(60):  # build only the samples that add a feature not yet built: ~2 s each
        design = sample(space, _random_suggest(rng), f"t{i}")
        layers = iter_layers(design.layers)
        features = {x.kind for x in layers} | {f"{x.kind}-in-block" for x in design.layers if isinstance(x, Residual)}
        features |= {"projection" for x in design.layers if isinstance(x, Residual) and x.shortcut}
        if features <= covered:
            continue
        covered |= features
        assert_keras_agrees(design, analyze(design))
        built += 1
    assert {"depthwise_conv2d", "batchnorm", "activation", "residual-in-block", "projection",
            "global_avg_pool"} <= covered and built <= 8
