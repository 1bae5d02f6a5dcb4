"""Residual blocks in the design model: analysis over the tree, the lowering to a graph, and the TOML round trip.

The lowering is what every later pass (estimators, Keras build, memory picture) starts from, so its
invariants are checked on hand-written blocks and on generated designs: inputs are produced before they are
read, lifetimes cover every use, a block's input stays alive across its main path, a linear design is a chain.
"""

from __future__ import annotations

import random

import pytest

from designer import designfile
from designer.design import Design, DesignError, analyze
from designer.generate import random_design, random_residual_design
from designer.graph import Graph, lower, node_name
from designer.layers import (
    MAIN,
    SHORTCUT,
    BatchNorm,
    Conv2D,
    Dense,
    Flatten,
    GlobalAvgPool,
    MaxPool,
    Residual,
    item_at,
)

STEM = Conv2D(filters=16, use_bias=False)
PROJECTION = Residual(
    main=(Conv2D(filters=32, strides=(2, 2)), BatchNorm()),
    shortcut=(Conv2D(filters=32, kernel=(1, 1), strides=(2, 2), activation="linear"),),
    group="stack 2",
)
NESTED = Residual(main=(Conv2D(filters=32), Residual(main=(BatchNorm(),), activation="linear")), activation="tanh")
DESIGN = Design("blocks", (STEM, PROJECTION, NESTED, GlobalAvgPool(), Dense(units=10)))


def _check_graph(graph: Graph) -> None:
    """The invariants every pass relies on."""
    assert [n.id for n in graph.nodes] == list(range(len(graph.nodes)))
    assert [t.id for t in graph.tensors] == list(range(len(graph.tensors)))
    assert graph.tensors[graph.input_tensor].producer is None
    for node in graph.nodes:
        assert graph.tensors[node.output].producer == node.id
        assert len(node.inputs) == (2 if node.stats.role == "add" else 1)
        for t in node.inputs:
            tensor = graph.tensors[t]
            # Produced earlier, alive when read, and its shape is what the row says it reads.
            assert tensor.producer is None or tensor.producer < node.id
            assert tensor.first_use <= node.id <= tensor.last_use
            assert node.id in tensor.consumers
            assert tensor.shape == node.stats.input_shape
        assert graph.tensors[node.output].shape == node.stats.output_shape
    for tensor in graph.tensors:
        if tensor.id != graph.output_tensor:
            assert tensor.consumers, f"tensor {tensor.id} is never read"
            assert tensor.last_use == max(tensor.consumers)
    assert graph.tensors[graph.output_tensor].last_use == len(graph.nodes) - 1
    assert len({n.name for n in graph.nodes}) == len(graph.nodes)


def test_analysis_is_flat_in_execution_order_with_paths_and_roles() -> None:
    rows = analyze(DESIGN).layers
    assert [(s.path, s.role, s.layer.kind) for s in rows] == [
        ((0,), "", "conv2d"),
        ((1, MAIN, 0), "main", "conv2d"), ((1, MAIN, 1), "main", "batchnorm"),
        ((1, SHORTCUT, 0), "shortcut", "conv2d"), ((1,), "add", "add"),
        ((2, MAIN, 0), "main", "conv2d"), ((2, MAIN, 1, MAIN, 0), "main", "batchnorm"), ((2, MAIN, 1), "add", "add"),
        ((2,), "add", "add"),
        ((3,), "", "global_avg_pool"), ((4,), "", "dense"),
    ]
    assert [s.index for s in rows] == list(range(len(rows)))
    for s in rows:
        if s.role != "add":
            assert item_at(DESIGN.layers, s.path) is s.layer
    add = rows[4]
    assert (add.input_shape, add.output_shape, add.params_total) == ((16, 16, 32), (16, 16, 32), 0)
    # The add: one op per output element, plus the block's ReLU counted like an activation layer.
    assert add.macc == 2 * 16 * 16 * 32
    assert rows[7].macc == 16 * 16 * 32  # linear: the add alone
    assert rows[3].input_shape == (32, 32, 16)  # the shortcut reads the block input
    assert analyze(DESIGN).params_total == 16 * 27 + (9 * 16 * 32 + 32) + 128 + (16 * 32 + 32) + (9 * 32 * 32 + 32) \
        + 128 + 33 * 10


def test_a_linear_design_analyses_as_before_and_lowers_to_a_chain() -> None:
    design = random_design(random.Random(3))
    rows = analyze(design).layers
    assert [(s.index, s.path, s.role) for s in rows] == [(i, (i,), "") for i in range(len(design.layers))]
    graph = lower(analyze(design))
    _check_graph(graph)
    assert [(n.inputs, n.output) for n in graph.nodes] == [((i,), i + 1) for i in range(len(rows))]
    assert [n.name for n in graph.nodes] == [f"l{i:02d}_{layer.kind}" for i, layer in enumerate(design.layers)]


def test_lowering_keeps_the_block_input_alive_across_the_main_path() -> None:
    graph = lower(analyze(DESIGN))
    _check_graph(graph)
    names = [n.name for n in graph.nodes]
    assert names == ["l00_conv2d", "l01m0_conv2d", "l01m1_batchnorm", "l01s0_conv2d", "l01_add", "l02m0_conv2d",
                     "l02m1m0_batchnorm", "l02m1_add", "l02_add", "l03_global_avg_pool", "l04_dense"]
    stem_out = graph.tensors[graph.nodes[0].output]
    # Read by the first main layer and by the projection after the whole main path.
    assert stem_out.consumers == (1, 3) and (stem_out.first_use, stem_out.last_use) == (0, 3)
    add = graph.nodes[4]
    assert add.inputs == (graph.nodes[2].output, graph.nodes[3].output)
    # Identity shortcuts: the add reads the block input, which lives until the add.
    outer_in = graph.nodes[4].output
    assert graph.nodes[8].inputs == (graph.nodes[7].output, outer_in)
    assert graph.tensors[outer_in].last_use == 8
    inner_in = graph.nodes[5].output
    assert graph.nodes[7].inputs == (graph.nodes[6].output, inner_in)
    assert {t.id for t in graph.live_at(6)} >= {outer_in, inner_in}


@pytest.mark.parametrize("seed", range(60))
def test_generated_residual_designs_lower_consistently(seed: int) -> None:
    design = random_residual_design(random.Random(seed), name=f"res_{seed}")
    analysis = analyze(design)
    graph = lower(analysis)
    _check_graph(graph)
    assert [n.stats for n in graph.nodes] == list(analysis.layers)
    assert [n.name for n in graph.nodes] == [node_name(s) for s in analysis.layers]
    # Every block's input stays alive until its add; every add reads its main path's last row.
    for node in graph.nodes:
        if node.stats.role == "add":
            block = item_at(design.layers, node.stats.path)
            assert isinstance(block, Residual)
            main_last = graph.producer_of(node.inputs[0])
            assert main_last is not None and main_last.stats.path[:len(node.stats.path) + 1] == (
                *node.stats.path, MAIN)
            inside = [n.id for n in graph.nodes if n.stats.path[:len(node.stats.path)] == node.stats.path
                      and n.id != node.id]
            fed = graph.nodes[min(inside)].inputs[0]  # the block input, read by its first main-path row
            # Alive across the whole main path and into the next node (the first shortcut layer, or the add).
            assert all(graph.tensors[fed] in graph.live_at(p) for p in range(min(inside), main_last.id + 2))
            if block.identity:
                assert node.inputs[1] == fed
    assert designfile.loads(designfile.dumps(design)) == design


def test_paths_that_do_not_meet_name_the_block_the_shapes_and_the_fix() -> None:
    block = Residual(main=(Conv2D(filters=32, strides=(2, 2)),))
    design = Design("d", (STEM, block, GlobalAvgPool(), Dense(units=10)))
    with pytest.raises(DesignError) as info:
        analyze(design)
    assert str(info.value) == ("layer 1 (residual): the main path gives (16, 16, 32) but the identity shortcut "
                               "gives (32, 32, 16); use a projection shortcut: a 1x1 conv2d with filters=32 and "
                               "strides=2")
    assert (info.value.index, info.value.path) == (1, (1,))
    # A wrong projection: same fix; a block closing on a vector cannot be fixed by a conv.
    wrong = Residual(main=(Conv2D(filters=32, strides=(2, 2)),), shortcut=(Conv2D(filters=32, kernel=(1, 1)),))
    with pytest.raises(DesignError, match=r"shortcut gives \(32, 32, 32\); use a projection shortcut"):
        analyze(Design("d", (STEM, wrong, GlobalAvgPool(), Dense(units=10))))
    flat = Residual(main=(Flatten(),))
    with pytest.raises(DesignError, match="keep flatten/global_avg_pool out of it"):
        analyze(Design("d", (STEM, flat, Dense(units=10))))


def test_an_error_inside_a_nested_block_names_the_whole_path() -> None:
    inner = Residual(main=(MaxPool(pool=(64, 64)),))
    design = Design("d", (STEM, Residual(main=(BatchNorm(), inner)), GlobalAvgPool(), Dense(units=10)))
    with pytest.raises(DesignError) as info:
        analyze(design)
    assert str(info.value).startswith("layer 1 (residual), main layer 1 (residual), main layer 0 (maxpool): ")
    assert info.value.path == (1, MAIN, 1, MAIN, 0)
    assert info.value.in_source("f.toml").path == info.value.path
    empty = Design("d", (STEM, Residual(main=()), GlobalAvgPool(), Dense(units=10)))
    with pytest.raises(DesignError, match=r"layer 1 \(residual\), key 'main'"):
        analyze(empty)


def test_the_issue_toml_block_reads_and_round_trips(tmp_path) -> None:
    text = """
[[layers]]
kind = "conv2d"
filters = 16

[[layers]]
kind = "residual"
activation = "relu"
group = "stack 2"
  [[layers.main]]
  kind = "conv2d"
  filters = 32
  strides = 2
  [[layers.main]]
  kind = "batchnorm"
  [[layers.shortcut]]
  kind = "conv2d"
  filters = 32
  kernel = 1
  strides = 2
  activation = "linear"
  [[layers.main]]
  kind = "residual"
    [[layers.main.main]]
    kind = "batchnorm"

[[layers]]
kind = "global_avg_pool"

[[layers]]
kind = "dense"
units = 10
"""
    design = designfile.loads(text, validate=True)
    block = design.layers[1]
    assert isinstance(block, Residual)
    assert block.main[:2] == PROJECTION.main and block.shortcut == PROJECTION.shortcut
    assert block.main[2] == Residual(main=(BatchNorm(),)) and block.group == "stack 2"
    path = tmp_path / "d.toml"
    designfile.save(design, path)
    assert designfile.load(path) == design
