"""The named recipes: resolution and overrides, the real Keras schedule and optimizer, the augmenting pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from designer.training.datasets import load_data, make_pipelines
from designer.training.protocol import RECIPES, TrainConfig
from designer.training.recipe import (
    RECIPE_TABLE,
    compile_model,
    learning_rate_schedule,
    resolve_recipe,
)

from .conftest import TINY_INPUT, tiny_design


def test_every_recipe_name_has_settings() -> None:
    assert set(RECIPE_TABLE) == set(RECIPES)
    assert all(recipe.name == name for name, recipe in RECIPE_TABLE.items())


def test_default_recipe_augments_and_anneals_and_seed_is_plain_adam() -> None:
    default = resolve_recipe(TrainConfig(design="m"))
    assert (default.name, default.augment, default.schedule, default.weight_decay > 0) == ("default", True,
                                                                                         "cosine", True)
    seed = resolve_recipe(TrainConfig(design="m", recipe="seed"))
    assert (seed.learning_rate, seed.weight_decay, seed.schedule, seed.augment) == (1e-3, 0.0, "constant", False)
    assert seed.describe() == "seed: Adam lr 0.001, constant, no augmentation"


def test_explicit_settings_override_the_recipe() -> None:
    recipe = resolve_recipe(TrainConfig(design="m", learning_rate=0.01, augment=False, weight_decay=0.0,
                                        label_smoothing=0.1))
    assert (recipe.name, recipe.learning_rate, recipe.augment, recipe.weight_decay, recipe.label_smoothing) == (
        "default", 0.01, False, 0.0, 0.1)
    assert "label smoothing 0.1" in recipe.describe()
    # ReduceLROnPlateau cannot change a schedule object's rate: --reduce-lr replaces the cosine schedule.
    plateau = resolve_recipe(TrainConfig(design="m", reduce_lr=3))
    assert (plateau.schedule, plateau.warmup_epochs) == ("plateau", 0)


def test_cosine_schedule_warms_up_then_decays_to_zero_at_the_last_step() -> None:
    recipe = RECIPE_TABLE["default"]
    schedule = learning_rate_schedule(recipe, steps_per_epoch=100, epochs=10)
    peak = recipe.learning_rate
    assert float(schedule(0)) == pytest.approx(peak / 10)
    assert float(schedule(100)) == pytest.approx(peak * 0.55, rel=1e-3)  # half-way through 2 warm-up epochs
    assert float(schedule(200)) == pytest.approx(peak)
    assert float(schedule(600)) == pytest.approx(peak / 2, rel=1e-3)  # cosine half-way
    assert float(schedule(999)) < peak * 1e-4 and float(schedule(1000)) == pytest.approx(0.0, abs=1e-12)
    # Too few epochs for the warm-up: it takes at most half the run.
    short = learning_rate_schedule(recipe, steps_per_epoch=10, epochs=1)
    assert float(short(5)) == pytest.approx(peak)
    assert learning_rate_schedule(RECIPE_TABLE["seed"], 100, 10) == 1e-3


def test_compile_uses_adamw_for_the_default_and_adam_for_seed() -> None:
    import keras

    from designer.keras_build import build_model

    design = tiny_design()
    model = build_model(design)
    compile_model(model, design, RECIPE_TABLE["default"], steps_per_epoch=10, epochs=5)
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    assert model.optimizer.weight_decay == pytest.approx(RECIPE_TABLE["default"].weight_decay)
    assert isinstance(model.optimizer._learning_rate, keras.optimizers.schedules.CosineDecay)
    compile_model(model, design, RECIPE_TABLE["seed"], steps_per_epoch=10, epochs=5)
    assert type(model.optimizer) is keras.optimizers.Adam
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1e-3)


def test_augmented_batches_keep_labels_and_range_but_move_pixels(npz_data: Path) -> None:
    data = load_data(str(npz_data), TINY_INPUT, 3, seed=0)
    plain = make_pipelines(data, 58, seed=1)
    augmented = make_pipelines(data, 58, augment=True, seed=1)
    (x0, y0), (x1, y1) = next(iter(plain.train)), next(iter(augmented.train))
    np.testing.assert_array_equal(y0.numpy(), y1.numpy())  # same shuffle: augmentation does not touch labels
    assert x1.shape == x0.shape and x1.dtype.name == "float32"
    assert 0.0 <= float(x1.numpy().min()) and float(x1.numpy().max()) <= 1.0
    moved = np.abs(x1.numpy() - x0.numpy()).reshape(len(x0), -1).max(axis=1) > 1e-6
    assert moved.mean() > 0.5  # flips (half) and translations (almost all) change most images
    # Validation and test batches are never augmented.
    np.testing.assert_allclose(next(iter(augmented.test))[0].numpy(), data.x_test[:58] / 255.0, rtol=1e-6)


def test_shifts_are_whole_pixels_and_translate_zero_is_flips_only() -> None:
    from designer.training.datasets import augmentation

    rng = np.random.default_rng(0)
    # Distinct values everywhere: a bilinear (sub-pixel) shift would make values that are not in the input.
    x = rng.permutation(8 * 16 * 16 * 3).astype(np.float32).reshape(8, 16, 16, 3)
    shifted = np.asarray(augmentation(3, 0.25)(x, training=True))
    assert np.isin(shifted, x).all()
    assert any(not np.array_equal(s, i) and not np.array_equal(s, i[:, ::-1]) for s, i in zip(shifted, x, strict=True))
    flipped = np.asarray(augmentation(3, 0.0)(x, training=True))
    assert all(np.array_equal(f, i) or np.array_equal(f, i[:, ::-1]) for f, i in zip(flipped, x, strict=True))


def test_translate_is_a_recipe_setting_checked_by_the_config() -> None:
    assert resolve_recipe(TrainConfig(design="m")).translate == pytest.approx(0.1)
    flips = resolve_recipe(TrainConfig(design="m", translate=0.0))
    assert flips.translate == 0.0 and flips.describe().endswith("cosine decay to 0, flips")
    with pytest.raises(ValueError, match="translate must be in"):
        TrainConfig(design="m", translate=0.5)


def test_one_hot_labels_for_label_smoothing(npz_data: Path) -> None:
    data = load_data(str(npz_data), TINY_INPUT, 3, seed=0)
    pipes = make_pipelines(data, 8, one_hot=True)
    _, y = next(iter(pipes.val))
    assert y.shape == (6, 3)
    np.testing.assert_array_equal(np.argmax(y.numpy(), axis=1), data.y_val)
