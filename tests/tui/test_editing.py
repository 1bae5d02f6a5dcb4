"""Unit tests of the pure edit operations and the undo history (no textual involved)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from designer.design import Design, DesignError, analyze
from designer.layers import BatchNorm, Conv2D, Dense, Flatten, MaxPool, SpatialDropout
from presets import load_preset
from tui.editing import (
    BUMP_STEP,
    BlockSpec,
    EditError,
    History,
    add_block,
    bump,
    default_layer,
    delete_layer,
    duplicate_layer,
    insert_layers,
    move_layer,
    next_group_name,
    replace_layer,
    toggle_batchnorm,
)


@pytest.fixture
def model5() -> Design:
    return load_preset("model5")


def test_replace_layer_makes_a_new_value_and_drops_notebook(model5: Design) -> None:
    new = replace_layer(model5, 6, Conv2D(filters=48, group="conv group 2"))
    assert new.layers[6].filters == 48  # type: ignore[attr-defined]
    assert model5.layers[6].filters == 64  # type: ignore[attr-defined]
    assert new.notebook is None and model5.notebook is not None
    assert analyze(new).params_total < analyze(model5).params_total


def test_insert_and_delete(model5: Design) -> None:
    with_pool = insert_layers(model5, 3, [MaxPool()])
    assert len(with_pool.layers) == len(model5.layers) + 1
    assert isinstance(with_pool.layers[3], MaxPool)
    assert delete_layer(with_pool, 3).layers == model5.layers
    with pytest.raises(EditError):
        insert_layers(model5, 99, [MaxPool()])
    with pytest.raises(EditError):
        delete_layer(model5, len(model5.layers))


def test_deleting_flatten_gives_an_invalid_design_not_an_exception(model5: Design) -> None:
    broken = delete_layer(model5, 18)
    with pytest.raises(DesignError, match="dense needs a flat input"):
        analyze(broken)


def test_move_clamps_and_joins_the_neighbouring_group(model5: Design) -> None:
    moved, at = move_layer(model5, 5, 1)  # last layer of group 1 moves into group 2
    assert at == 6 and isinstance(moved.layers[6], SpatialDropout)
    assert moved.layers[6].group == "conv group 2"
    back, at = move_layer(moved, 6, -1)
    assert at == 5 and back.layers[5].group == "conv group 2"
    same, at = move_layer(model5, 0, -1)
    assert same is model5 and at == 0


def test_duplicate(model5: Design) -> None:
    new = duplicate_layer(model5, 0)
    assert new.layers[0] == new.layers[1] == model5.layers[0]
    assert len(new.layers) == len(model5.layers) + 1


def test_bump_filters_and_units_with_a_floor(model5: Design) -> None:
    assert bump(model5, 6, -1).layers[6].filters == 64 - BUMP_STEP  # type: ignore[attr-defined]
    assert bump(model5, 19, 1).layers[19].units == 128 + BUMP_STEP  # type: ignore[attr-defined]
    tiny = replace_layer(model5, 0, Conv2D(filters=3))
    assert bump(tiny, 0, -1).layers[0].filters == 1  # type: ignore[attr-defined]
    with pytest.raises(EditError, match="minimum"):
        bump(replace_layer(model5, 0, Conv2D(filters=1)), 0, -1)
    with pytest.raises(EditError, match="batchnorm"):
        bump(model5, 1, 1)


def test_toggle_batchnorm(model5: Design) -> None:
    without = toggle_batchnorm(model5, 0)  # conv followed by BN: BN goes
    assert not isinstance(without.layers[1], BatchNorm)
    again = toggle_batchnorm(without, 0)  # and comes back, in the same group
    assert again.layers == model5.layers
    assert toggle_batchnorm(model5, 1).layers == without.layers  # on the BN row itself
    with pytest.raises(EditError):
        toggle_batchnorm(model5, 4)  # a pool


def test_add_block_names_a_new_group_and_stays_valid(model5: Design) -> None:
    spec = BlockSpec(convs=3, filters=16, batchnorm=True, pool=True, dropout=0.2)
    new = add_block(model5, 18, spec)
    group = [layer for layer in new.layers if layer.group == "conv group 4"]
    assert [layer.kind for layer in group] == ["conv2d", "batchnorm"] * 3 + ["maxpool", "spatial_dropout"]
    assert next_group_name(model5) == "conv group 4"
    analyze(new)
    bare = add_block(model5, 18, BlockSpec(convs=1, batchnorm=False, pool=False, dropout=0.0))
    assert [layer.kind for layer in bare.layers[18:20]] == ["conv2d", "flatten"]
    with pytest.raises(EditError):
        BlockSpec(convs=0)
    with pytest.raises(EditError):
        BlockSpec(dropout=1.0)


def test_default_layers_are_possible() -> None:
    assert isinstance(default_layer("dense"), Dense)
    assert isinstance(default_layer("flatten", "head"), Flatten)
    assert default_layer("conv2d", "g").group == "g"


def test_history_undo_redo(model5: Design) -> None:
    h = History(model5)
    assert not h.can_undo and not h.can_redo
    a = bump(model5, 0, 1)
    b = bump(a, 0, 1)
    h = h.push(a).push(b)
    assert h.present == b and h.can_undo
    assert h.push(b) is h  # pushing the same value records nothing
    h = h.undo().undo()
    assert h.present == model5 and h.can_redo
    assert h.present.notebook is not None  # undo gives back the unmodified preset, notebook figures and all
    h = h.redo()
    assert h.present == a
    h = h.push(delete_layer(a, 1))  # a new edit drops the redo branch
    assert not h.can_redo
    with pytest.raises(EditError):
        History(model5).undo()
    with pytest.raises(EditError):
        History(model5).redo()


def test_history_limit(model5: Design) -> None:
    h = History(model5, limit=3)
    d = model5
    for _ in range(5):
        d = bump(d, 0, 1)
        h = h.push(d)
    assert len(h.past) == 3


def test_pure_modules_import_no_textual() -> None:
    code = ("import sys, tui.editing, tui.jobs.events, tui.files.recovery, tui.budget, tui.notebook_rows; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'tensorflow', 'keras')]; "
            "print(bad); assert not bad")
    subprocess.run([sys.executable, "-c", code], check=True)
