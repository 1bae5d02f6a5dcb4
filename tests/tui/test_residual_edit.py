"""Edits by tree path inside residual blocks, the residual-block builder, and the table's rows for a tree
(pure: no app running)."""

from __future__ import annotations

import pytest

from designer.design import Design, DesignError, analyze
from designer.graph import lower
from designer.layers import MAIN, SHORTCUT, BatchNorm, Conv2D, MaxPool, Residual, item_at
from presets import load_preset
from tui.editing import (
    EditError,
    ResidualSpec,
    Target,
    bump,
    delete_layer,
    duplicate_layer,
    group_at,
    identity_fits,
    input_shape_at,
    insert_layers,
    insert_point,
    move_layer,
    path_label,
    projection_for,
    replace_layer,
    residual_block,
    toggle_batchnorm,
)
from tui.widgets.layer_rows import layer_rows, live_bytes, tree_rows


@pytest.fixture(scope="module")
def resnet8() -> Design:
    """The ResNet-8 preset: a stem, three blocks (identity, projection, projection), a head."""
    return load_preset("resnet8")


def test_edits_by_path_rebuild_only_the_block_and_stay_valid(resnet8: Design) -> None:
    path = (4, MAIN, 0)  # the strided conv of stack 2
    wider = replace_layer(resnet8, path, Conv2D(filters=48, strides=(2, 2), activation="linear", group="stack 2"))
    assert item_at(wider.layers, path).filters == 48  # type: ignore[union-attr]
    assert item_at(resnet8.layers, path).filters == 32  # type: ignore[union-attr]  # the old value is untouched
    assert wider.layers[3] is resnet8.layers[3] and wider.layers[5] is resnet8.layers[5]
    # 48 filters: the conv and the batchnorm after it grow, the next conv reads 48 channels.
    grown = (3 * 3 * 16 * 48 + 48) + 4 * 48 + (3 * 3 * 48 * 32 + 32)
    was = (3 * 3 * 16 * 32 + 32) + 4 * 32 + (3 * 3 * 32 * 32 + 32)
    assert analyze(wider).params_total == analyze(resnet8).params_total + grown - was
    assert bump(resnet8, path, 2).layers[4].main[0].filters == 48  # type: ignore[union-attr]


def test_insert_delete_move_duplicate_inside_a_block(resnet8: Design) -> None:
    block = resnet8.layers[4]
    assert isinstance(block, Residual)
    inserted = insert_layers(resnet8, (4, MAIN, 5), [BatchNorm(group="stack 2")])
    assert len(item_at(inserted.layers, (4,)).main) == len(block.main) + 1  # type: ignore[union-attr]
    assert delete_layer(inserted, (4, MAIN, 5)) == resnet8.with_layers(resnet8.layers)
    moved, where = move_layer(resnet8, (4, MAIN, 2), -1)
    assert where == (4, MAIN, 1) and item_at(moved.layers, where).kind == "activation"
    assert move_layer(resnet8, (4, SHORTCUT, 0), 1) == (resnet8, (4, SHORTCUT, 0))  # clamped to its path
    with_bn = toggle_batchnorm(resnet8, (4, SHORTCUT, 0))
    assert [i.kind for i in item_at(with_bn.layers, (4,)).shortcut] == ["conv2d", "batchnorm"]  # type: ignore[union-attr]
    assert analyze(with_bn).params_total == analyze(resnet8).params_total + 4 * 32
    with pytest.raises(EditError, match="no layer 4s3"):
        delete_layer(resnet8, (4, SHORTCUT, 3))
    with pytest.raises(EditError, match="no residual block at 0"):
        delete_layer(resnet8, (0, MAIN, 0))


def test_a_block_moves_and_copies_as_a_unit(resnet8: Design) -> None:
    twice = duplicate_layer(resnet8, (3,))
    assert twice.layers[3] == twice.layers[4] == resnet8.layers[3] and len(twice.layers) == len(resnet8.layers) + 1
    assert analyze(twice).params_total == analyze(resnet8).params_total + 2 * (3 * 3 * 16 * 16 + 16) + 2 * 4 * 16
    moved, where = move_layer(resnet8, (5,), -1)
    assert where == (4,) and moved.layers[4] == resnet8.layers[5]
    gone = delete_layer(resnet8, 4)
    assert [i.kind for i in gone.layers].count("residual") == 2
    with pytest.raises(EditError, match="put the cursor on a conv inside it"):
        bump(resnet8, (4,), 1)


def test_insert_point_is_the_row_below(resnet8: Design) -> None:
    assert insert_point(resnet8, Target((2,))) == (3,)
    assert insert_point(resnet8, Target((4,), "block")) == (4, MAIN, 0)
    assert insert_point(resnet8, Target((3,), "identity")) == (3, SHORTCUT, 0)
    assert insert_point(resnet8, Target((3,), "add")) == (4,)
    assert insert_point(resnet8, Target((4, MAIN, 4))) == (4, MAIN, 5)
    assert insert_point(resnet8, None) == (0,)
    assert group_at(resnet8, (4, MAIN, 0)) == "stack 2" and group_at(resnet8, (1,)) == "stem"
    assert input_shape_at(resnet8, (4, MAIN, 0)) == (32, 32, 16)
    assert input_shape_at(resnet8, (4, MAIN, 1)) == (16, 16, 32)
    assert input_shape_at(resnet8, (6,)) == (8, 8, 64)
    assert path_label((4, SHORTCUT, 0)) == "4s0" and path_label((5, MAIN, 2, MAIN, 0)) == "5m2m0"


def test_residual_block_builder_and_shortcuts() -> None:
    spec = ResidualSpec(filters=32, convs=2, strides=2, shortcut="projection")
    block = residual_block(spec, "r")
    assert [i.kind for i in block.main] == ["conv2d", "batchnorm", "activation", "conv2d", "batchnorm"]
    assert [i.kind for i in block.shortcut] == ["conv2d", "batchnorm"]
    assert block.shortcut[0].strides == (2, 2) and block.shortcut[0].kernel == (1, 1)  # type: ignore[union-attr]
    same = residual_block(ResidualSpec(filters=32, shortcut="identity"))
    assert identity_fits(same.main, (16, 16, 32)) and not identity_fits(same.main, (32, 32, 16))
    assert not identity_fits(block.main, (32, 32, 32))  # stride 2 halves the map: only a projection meets it
    head = load_preset("resnet8").layers[-2:]  # flatten, dense
    built = analyze(Design("t", (block, same, *head), input_shape=(32, 32, 16)))
    assert built.params_total == (3 * (3 * 3 * 32 * 32 + 32) + (3 * 3 * 16 * 32 + 32)  # the 3x3 convs
                                  + 5 * 4 * 32 + (16 * 32 + 32)  # five batchnorms, the 1x1 projection
                                  + 16 * 16 * 32 * 10 + 10)  # the dense head
    assert not identity_fits(block.main, None)
    plain = residual_block(ResidualSpec(filters=8, convs=1, batchnorm=False, shortcut="identity"))
    assert [(i.kind, i.activation) for i in plain.main] == [("conv2d", "linear")]  # type: ignore[union-attr]
    made = projection_for(Residual(main=block.main), (32, 32, 16))
    assert [(i.kind, getattr(i, "strides", None), getattr(i, "filters", None)) for i in made] == [
        ("conv2d", (2, 2), 32), ("batchnorm", None, None)]
    with pytest.raises(EditError, match="at least one conv"):
        ResidualSpec(convs=0)
    with pytest.raises(EditError, match="shortcut must be one of"):
        ResidualSpec(shortcut="sideways")
    with pytest.raises(DesignError, match="use a projection shortcut"):
        analyze(Design("t", (residual_block(ResidualSpec(filters=32, strides=2, shortcut="identity")),),
                       input_shape=(32, 32, 16), classes=16))


def test_the_table_rows_mirror_the_tree(resnet8: Design) -> None:
    tree, rows, _ = layer_rows(resnet8, None, None)
    # 6 top-level layers; each block adds a header, an add, and its paths (an identity shortcut: one row).
    assert len(rows) == 6 + (1 + 5 + 1 + 1) + 2 * (1 + 5 + 1 + 1)
    by_label = {r[0]: r for r in rows if r[0]}
    assert by_label["3"][3] == "┌ residual" and by_label["3"][4] == "main 5, identity"
    assert by_label["4s0"][3] == "│ ↳ conv2d" and by_label["4s0"][6] == "544"
    identity = [y for y, t in enumerate(tree) if t.target.role == "identity"]
    assert [rows[y][3] for y in identity] == ["│ ↳ identity"]
    adds = [rows[y] for y, t in enumerate(tree) if t.target.role == "add"]
    assert [(a[3], a[4], a[5]) for a in adds] == [("└ + add", "relu", "32x32x16"), ("└ + add", "relu", "16x16x32"),
                                                   ("└ + add", "relu", "8x8x64")]
    assert sum(int(r[6].replace(",", "")) for r in rows if r[6]) == 78_666  # every param once
    # Nested blocks nest their brackets.
    inner = Residual(main=(Conv2D(filters=16, activation="linear"),))
    nested = resnet8.with_layers((*resnet8.layers[:3], Residual(main=(inner, BatchNorm())), *resnet8.layers[4:]))
    kinds = [r[3] for r in layer_rows(nested, None, None)[1][3:9]]
    assert kinds == ["┌ residual", "│ ┌ residual", "│ │ conv2d", "│ │ ↳ identity", "│ └ + add", "│ batchnorm"]
    assert [t.target for t in tree_rows(nested.layers)[3:5]] == [Target((3,), "block"), Target((3, MAIN, 0), "block")]


def test_peak_ram_counts_the_live_shortcut(resnet8: Design) -> None:
    analysis = analyze(resnet8)
    live = live_bytes(analysis, "float32")
    graph = lower(analysis)
    for node in graph.nodes:  # the sweep agrees with the graph's own lifetimes
        assert live[node.id] == sum(4 * t.elements for t in graph.live_at(node.id))
    # In stack 1 (identity) a main-path layer holds its input, its output and the block's input: 3 x 64 KiB.
    tree, rows, _ = layer_rows(resnet8, None, None)
    assert {r[0]: r[9] for r in rows}["3m1"] == "192.0 KiB"
    peak = [y for y, r in enumerate(rows) if "▲" in r[1]]
    assert len(peak) == 1 and rows[peak[0]][9] == "192.0 KiB" and rows[peak[0]][0].startswith("3m")
    assert {r[0]: r[9] for r in layer_rows(resnet8, None, None, "int8")[1]}["3m1"] == "48.0 KiB"
    heaviest = [r[0] for r in rows if "◆" in r[1]]
    assert heaviest == ["5m3"]  # most params without an estimate: the 64-filter 3x3 conv


def test_an_invalid_block_marks_its_row(resnet8: Design) -> None:
    broken = replace_layer(resnet8, (3, MAIN, 3), Conv2D(filters=24, activation="linear", group="stack 1"))
    tree, rows, _ = layer_rows(broken, None, None)
    marked = [r[0] for r in rows if r[1] == "✗"]
    assert marked == ["3"]  # the block whose paths no longer meet
    assert {r[6] for r in rows if r[6]} == {"–"}
    bad_layer = replace_layer(resnet8, (4, MAIN, 0), MaxPool(pool=(64, 64)))
    assert [r[0] for r in layer_rows(bad_layer, None, None)[1] if r[1] == "✗"] == ["4m0"]
