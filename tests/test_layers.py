"""Unit tests of each layer kind's shape, params and MACC rules, and of analyze()'s errors.

MACC follows X-CUBE-AI's analyze report: a conv counts one MACC per kernel tap per output element, plus one per
bias, plus its nonlinearity (ReLU 1 and softmax 15 per output element); a pool one per window tap per output.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from designer.design import Design, DesignError, analyze, check_values
from designer.layers import (
    ACTIVATIONS,
    LAYER_TYPES,
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
    SpatialDropout,
)

# --- conv2d ---------------------------------------------------------------------------------------------


def test_conv2d_same_relu_matches_the_xcubeai_report() -> None:
    conv = Conv2D(filters=32, kernel=(3, 3), padding="same", activation="relu")
    out = conv.output_shape((32, 32, 3))
    assert out == (32, 32, 32)
    assert conv.params((32, 32, 3)) == (896, 896)
    assert conv.macc((32, 32, 3), out) == 884_768 + 32_768


@pytest.mark.parametrize(
    ("kernel", "strides", "padding", "expected"),
    [
        ((3, 3), (1, 1), "valid", (30, 30, 8)),
        ((5, 5), (2, 2), "valid", (14, 14, 8)),
        ((3, 3), (2, 2), "same", (16, 16, 8)),
        ((3, 1), (1, 1), "valid", (30, 32, 8)),
        ((1, 5), (2, 1), "valid", (16, 28, 8)),
        ((2, 4), (1, 2), "same", (32, 16, 8)),
    ],
)
def test_conv2d_output_shape(kernel: tuple[int, int], strides: tuple[int, int], padding: str,
                             expected: tuple[int, int, int]) -> None:
    conv = Conv2D(filters=8, kernel=kernel, strides=strides, padding=padding)
    assert conv.output_shape((32, 32, 3)) == expected


def test_conv2d_without_bias_or_activation() -> None:
    conv = Conv2D(filters=16, kernel=(3, 1), activation="linear", use_bias=False)
    out = conv.output_shape((8, 8, 4))
    assert conv.params((8, 8, 4)) == (3 * 1 * 4 * 16, 3 * 1 * 4 * 16)
    assert conv.macc((8, 8, 4), out) == 8 * 8 * 3 * 1 * 4 * 16


def test_conv2d_too_big_a_kernel_names_the_received_values() -> None:
    conv = Conv2D(filters=4, kernel=(3, 3), padding="valid")
    with pytest.raises(LayerShapeError) as info:
        conv.output_shape((2, 2, 3))
    assert str(info.value) == (
        "Computed output size would be zero or negative. Received input shape=(2, 2, 3), kernel=(3, 3), "
        "strides=(1, 1), padding='valid'."
    )


def test_conv2d_after_flatten_names_the_received_shape() -> None:
    with pytest.raises(LayerShapeError, match=r"conv2d needs a feature map.*received input shape=\(48,\)"):
        Conv2D(filters=4).output_shape((48,))


# --- depthwise_conv2d -----------------------------------------------------------------------------------


def test_depthwise_conv2d_with_depth_multiplier() -> None:
    layer = DepthwiseConv2D(kernel=(3, 3), depth_multiplier=2, activation="relu")
    out = layer.output_shape((16, 16, 8))
    assert out == (16, 16, 16)
    assert layer.params((16, 16, 8)) == (9 * 16 + 16, 9 * 16 + 16)
    assert layer.macc((16, 16, 8), out) == 16 * 16 * 9 * 16 + 16 + 16 * 16 * 16


def test_depthwise_conv2d_valid_stride_2_no_bias() -> None:
    layer = DepthwiseConv2D(kernel=(5, 3), strides=(2, 2), padding="valid", use_bias=False, activation="linear")
    out = layer.output_shape((11, 11, 4))
    assert out == (4, 5, 4)
    assert layer.params((11, 11, 4)) == (60, 60)
    assert layer.macc((11, 11, 4), out) == 4 * 5 * 15 * 4


# --- batchnorm, activation, dropouts --------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(8, 8, 16), (16,)])
def test_batchnorm_has_four_weights_per_channel_two_trainable(shape: tuple[int, ...]) -> None:
    bn = BatchNorm()
    assert bn.output_shape(shape) == shape
    assert bn.params(shape) == (4 * 16, 2 * 16)
    assert bn.macc(shape, shape) == 2 * math.prod(shape)


def test_softmax_on_ten_outputs_is_150_macc() -> None:
    act = Activation(activation="softmax")
    assert act.output_shape((10,)) == (10,)
    assert act.params((10,)) == (0, 0)
    assert act.macc((10,), (10,)) == 150


@pytest.mark.parametrize(("activation", "per_element"),
                         [("linear", 0), ("relu", 1), ("relu6", 1), ("sigmoid", 1), ("tanh", 1), ("softmax", 15)])
def test_activation_macc_per_element(activation: str, per_element: int) -> None:
    assert Activation(activation=activation).macc((4, 4, 2), (4, 4, 2)) == 32 * per_element


def test_dropouts_are_free_identities() -> None:
    for layer in (Dropout(rate=0.5), SpatialDropout(rate=0.3)):
        assert layer.output_shape((8, 8, 4)) == (8, 8, 4)
        assert layer.params((8, 8, 4)) == (0, 0)
        assert layer.macc((8, 8, 4), (8, 8, 4)) == 0
    assert Dropout(rate=0.5).output_shape((12,)) == (12,)


def test_spatial_dropout_needs_a_feature_map() -> None:
    with pytest.raises(LayerShapeError, match=r"spatial_dropout needs a feature map.*\(12,\)"):
        SpatialDropout().output_shape((12,))


# --- pools ----------------------------------------------------------------------------------------------


def test_maxpool_2x2_on_32x32x32_is_32768_macc() -> None:
    pool = MaxPool(pool=(2, 2))
    out = pool.output_shape((32, 32, 32))
    assert out == (16, 16, 32)
    assert pool.params((32, 32, 32)) == (0, 0)
    assert pool.macc((32, 32, 32), out) == 32_768


@pytest.mark.parametrize("cls", [MaxPool, AvgPool])
@pytest.mark.parametrize(
    ("pool", "strides", "padding", "expected"),
    [
        ((2, 2), None, "valid", (2, 2)),
        ((2, 2), None, "same", (3, 3)),
        ((3, 3), (1, 1), "valid", (3, 3)),
        ((3, 3), (2, 2), "same", (3, 3)),
        ((2, 1), None, "valid", (2, 5)),
        ((1, 3), (1, 2), "valid", (5, 2)),
    ],
)
def test_pool_output_shape(cls: type[MaxPool], pool: tuple[int, int], strides: tuple[int, int] | None,
                           padding: str, expected: tuple[int, int]) -> None:
    layer = cls(pool=pool, strides=strides, padding=padding)
    assert layer.output_shape((5, 5, 7)) == (*expected, 7)
    assert layer.effective_strides == (strides or pool)


def test_pool_larger_than_its_input_names_the_received_values() -> None:
    with pytest.raises(LayerShapeError) as info:
        AvgPool(pool=(3, 3)).output_shape((2, 2, 8))
    assert "Received input shape=(2, 2, 8), pool_size=(3, 3), strides=(3, 3), padding='valid'" in str(info.value)


# --- flatten, global_avg_pool, dense --------------------------------------------------------------------


def test_flatten() -> None:
    assert Flatten().output_shape((4, 4, 128)) == (2048,)
    assert Flatten().output_shape((12,)) == (12,)
    assert Flatten().params((4, 4, 128)) == (0, 0)


def test_global_avg_pool() -> None:
    gap = GlobalAvgPool()
    assert gap.output_shape((8, 8, 16)) == (16,)
    assert gap.macc((8, 8, 16), (16,)) == 1024
    with pytest.raises(LayerShapeError, match=r"global_avg_pool needs a feature map.*\(16,\)"):
        gap.output_shape((16,))


def test_dense_2048_to_128_relu_matches_the_xcubeai_report() -> None:
    dense = Dense(units=128, activation="relu")
    assert dense.output_shape((2048,)) == (128,)
    assert dense.params((2048,)) == (262_272, 262_272)
    assert dense.macc((2048,), (128,)) == 262_272 + 128


def test_dense_softmax_and_no_bias() -> None:
    assert Dense(units=10, activation="softmax").macc((128,), (10,)) == 1290 + 150
    assert Dense(units=10, use_bias=False).params((128,)) == (1280, 1280)


def test_dense_on_a_feature_map_names_the_received_shape() -> None:
    with pytest.raises(LayerShapeError, match=r"dense needs a flat input; received input shape=\(4, 4, 8\)"):
        Dense(units=10).output_shape((4, 4, 8))


# --- config, summary, immutability ----------------------------------------------------------------------


def test_config_writes_square_pairs_as_one_int_and_omits_default_pool_strides() -> None:
    assert Conv2D(filters=8, kernel=(3, 3), group="g").config() == {
        "group": "g", "filters": 8, "kernel": 3, "strides": 1, "padding": "same", "activation": "relu",
        "use_bias": True}
    assert Conv2D(filters=8, kernel=(3, 1)).config()["kernel"] == [3, 1]
    assert MaxPool(pool=(2, 2)).config() == {"pool": 2, "padding": "valid"}
    assert MaxPool(pool=(2, 2), strides=(1, 2)).config()["strides"] == [1, 2]


def test_summaries() -> None:
    assert Conv2D(filters=32).summary() == "32 3x3 s1 same relu"
    assert Conv2D(filters=8, use_bias=False, activation="linear").summary() == "8 3x3 s1 same linear nobias"
    assert MaxPool().summary() == "2x2 s2 valid"
    assert Dense(units=10, activation="softmax").summary() == "10 softmax"
    assert Dropout(rate=0.25).summary() == "0.25"


def test_layers_are_frozen_and_every_kind_is_registered() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Conv2D(filters=8).filters = 16  # type: ignore[misc]
    # Every kind, those that only reuse their base's dataclass included (designer.layers._same_fields): frozen
    # fields, value equality within a kind and never across kinds, a hash that follows equality, its own repr.
    required: dict[str, dict[str, object]] = {"conv2d": {"filters": 8}, "dense": {"units": 4}}
    for kind, cls in LAYER_TYPES.items():
        a, b = cls(group="g", **required.get(kind, {})), cls(group="g", **required.get(kind, {}))
        assert dataclasses.is_dataclass(a) and a == b and hash(a) == hash(b) and a is not b
        assert a != dataclasses.replace(a, group="h") and repr(a).startswith(f"{cls.__name__}(group='g'")
        for f in dataclasses.fields(a):
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(a, f.name, getattr(a, f.name))
        others = [c(group="g") for k, c in LAYER_TYPES.items() if k != kind and k not in required]
        assert all(a != other for other in others)
    assert set(LAYER_TYPES) == {"conv2d", "depthwise_conv2d", "batchnorm", "activation", "maxpool", "avgpool",
                                "dropout", "spatial_dropout", "flatten", "global_avg_pool", "dense"}


# --- check_values and analyze ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layer", "key", "received"),
    [
        (Conv2D(filters=0), "filters", "received 0"),
        (Conv2D(filters=8, kernel=(3, 0)), "kernel", "received [3, 0]"),
        (MaxPool(strides=(0, 1)), "strides", "received [0, 1]"),
        (DepthwiseConv2D(depth_multiplier=0), "depth_multiplier", "received 0"),
        (Dense(units=-1), "units", "received -1"),
        (Dropout(rate=1.0), "rate", "received 1.0"),
        (SpatialDropout(rate=-0.1), "rate", "received -0.1"),
        (Conv2D(filters=8, padding="full"), "padding", "received 'full'"),
        (Activation(activation="gelu"), "activation", "received 'gelu'"),
    ],
)
def test_check_values_names_the_key_and_received_value(layer: Layer, key: str, received: str) -> None:
    bad = check_values(layer)
    assert bad is not None
    assert bad[0] == key
    assert received in bad[1]


def test_check_values_accepts_every_default_and_activation() -> None:
    assert check_values(Conv2D(filters=1)) is None
    for activation in ACTIVATIONS:
        assert check_values(Dense(units=1, activation=activation)) is None


def _design(*layers: Layer, input_shape: tuple[int, ...] = (32, 32, 3), classes: int = 10) -> Design:
    return Design(name="t", layers=layers, input_shape=input_shape, classes=classes)


def test_analyze_totals_and_per_layer_rows() -> None:
    design = _design(Conv2D(filters=32), MaxPool(), Flatten(), Dense(units=10, activation="softmax"))
    analysis = analyze(design)
    assert [s.output_shape for s in analysis.layers] == [(32, 32, 32), (16, 16, 32), (8192,), (10,)]
    assert [s.input_shape for s in analysis.layers] == [(32, 32, 3), (32, 32, 32), (16, 16, 32), (8192,)]
    assert analysis.params_total == analysis.params_trainable == 896 + 81_930
    assert analysis.macc == 917_536 + 32_768 + 0 + 81_930 + 150
    assert analysis.layers[1].output_elements == 8192


def test_analyze_error_names_layer_index_kind_and_received_shape() -> None:
    design = _design(Conv2D(filters=8), Flatten(), Conv2D(filters=8), Dense(units=10))
    with pytest.raises(DesignError) as info:
        analyze(design)
    assert (info.value.index, info.value.kind) == (2, "conv2d")
    assert str(info.value).startswith("layer 2 (conv2d): conv2d needs a feature map")
    assert "received input shape=(8192,)" in str(info.value)


def test_too_many_stride_2_layers_on_a_small_input() -> None:
    design = _design(*[MaxPool()] * 3, Flatten(), Dense(units=10), input_shape=(4, 4, 1))
    with pytest.raises(DesignError, match=r"layer 2 \(maxpool\): Computed output size would be zero"):
        analyze(design)


def test_analyze_value_error_names_the_key() -> None:
    with pytest.raises(DesignError) as info:
        analyze(_design(Flatten(), Dropout(rate=1.5), Dense(units=10)))
    assert (info.value.index, info.value.kind, info.value.key) == (1, "dropout", "rate")
    assert "layer 1 (dropout), key 'rate': must be in [0, 1), received 1.5" in str(info.value)


def test_analyze_output_must_match_classes() -> None:
    with pytest.raises(DesignError, match=r"output shape is \(5,\) but classes=10"):
        analyze(_design(Flatten(), Dense(units=5)))
    with pytest.raises(DesignError, match=r"output shape is \(32, 32, 3\) but classes=10"):
        analyze(_design())


def test_analyze_rejects_a_bad_input_shape_and_classes() -> None:
    with pytest.raises(DesignError, match=r"key 'input_shape'.*received \[32, 32\]"):
        analyze(_design(Flatten(), Dense(units=10), input_shape=(32, 32)))
    with pytest.raises(DesignError, match=r"key 'classes'.*received 0"):
        analyze(_design(Flatten(), Dense(units=0), classes=0))


def test_design_error_in_source_prefixes_the_file() -> None:
    exc = DesignError("must be positive", index=3, kind="conv2d", key="filters").in_source("a.toml")
    assert str(exc) == "a.toml, layer 3 (conv2d), key 'filters': must be positive"


# --- properties -----------------------------------------------------------------------------------------

_sizes = st.integers(min_value=1, max_value=40)


@given(h=_sizes, w=_sizes, k=st.tuples(st.integers(1, 7), st.integers(1, 7)),
       s=st.tuples(st.integers(1, 3), st.integers(1, 3)), padding=st.sampled_from(["valid", "same"]))
def test_conv_shape_is_positive_or_a_clear_error(h: int, w: int, k: tuple[int, int], s: tuple[int, int],
                                                padding: str) -> None:
    conv = Conv2D(filters=4, kernel=k, strides=s, padding=padding)
    try:
        out = conv.output_shape((h, w, 3))
    except LayerShapeError as exc:
        assert padding == "valid" and (k[0] > h or k[1] > w)
        assert f"Received input shape={(h, w, 3)}" in str(exc)
        return
    if padding == "same":
        assert out == (math.ceil(h / s[0]), math.ceil(w / s[1]), 4)
    else:
        assert out == ((h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1, 4)
