"""designer.tflite_tools.tflite_graph: what the converter is handed instead of the trained Keras model.

A BatchNormalization the converter cannot fold (after an activation, a pool, the input or another BN)
becomes a 1x1 depthwise conv. Checked here: the float function is unchanged, foldable BNs are left to the
converter, the .tflite has the ops we say, and int8 follows float better than the converter's MUL + ADD.
"""

from __future__ import annotations

import numpy as np
import pytest

from designer.design import Design
from designer.layers import (
    Activation,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool,
    MaxPool,
    Residual,
    SpatialDropout,
)

pytest.importorskip("tensorflow", reason="the converter needs TensorFlow")
pytest.importorskip("ai_edge_litert", reason="LiteRT runs the converted models")

from designer import tflite_tools  # noqa: E402  (after the skips: it is only useful with TensorFlow)
from designer.export.evaluate import ops_used, predict  # noqa: E402
from designer.keras_build import build_model  # noqa: E402

# Every place a BN can sit: first layer, after a linear conv (folds), after an activation, after a BN,
# after a dropout that follows a linear conv (folds: dropout is gone at inference), after a pool, on a vector.
EVERY_PLACE = Design(
    name="bn places",
    layers=(BatchNorm(), Conv2D(filters=6, kernel=(3, 3), activation="linear"), BatchNorm(),
            Activation(activation="relu"), BatchNorm(), BatchNorm(), Conv2D(filters=6, kernel=(3, 3),
                                                                              activation="linear"),
            SpatialDropout(rate=0.2), BatchNorm(),
            MaxPool(), BatchNorm(), Flatten(), Dense(units=8, activation="relu"), BatchNorm(), Dropout(rate=0.1),
            Dense(units=4, activation="softmax")),
    input_shape=(12, 12, 3),
    classes=4,
)


def _kinds(model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def test_only_unfoldable_feature_map_batchnorms_are_rewritten() -> None:
    model = tflite_tools.make_representative(build_model(EVERY_PLACE))
    graph = tflite_tools.tflite_graph(model)
    kinds = _kinds(graph)
    # 1st BN (input), 3rd (after ReLU), 4th (after a BN), 6th (after a pool) become depthwise convs; the 2nd
    # and 5th follow a linear conv and stay for the converter to fold; the vector BN stays (folds forward).
    assert kinds.count("DepthwiseConv2D") == 4
    assert kinds.count("BatchNormalization") == 3
    assert graph.inputs[0].shape[0] == 1
    names = [layer.name for layer in graph.layers if type(layer).__name__ == "DepthwiseConv2D"]
    assert names == ["l00_batchnorm", "l04_batchnorm", "l05_batchnorm", "l10_batchnorm"]


def test_the_float_function_is_unchanged() -> None:
    model = tflite_tools.make_representative(build_model(EVERY_PLACE), seed=3)
    graph = tflite_tools.tflite_graph(model)
    x = np.random.default_rng(0).random((5, 12, 12, 3), dtype=np.float32)
    expected = np.asarray(model(x, training=False))
    got = np.concatenate([np.asarray(graph(x[i:i + 1], training=False)) for i in range(len(x))])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_the_tflite_has_depthwise_convs_not_mul_add() -> None:
    model = tflite_tools.make_representative(build_model(EVERY_PLACE))
    for dtype in ("float32", "int8"):
        ops = ops_used(tflite_tools.convert(model, dtype))
        assert "DEPTHWISE_CONV_2D" in ops, (dtype, ops)
        assert "MUL" not in ops and "ADD" not in ops, (dtype, ops)


def _mul_add_int8(model, representative) -> bytes:
    """What the converter makes of ``model`` without the rewrite (batch 1, BN lowered to MUL + ADD)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return bytes(converter.convert())


def test_int8_follows_float_closer_than_mul_add() -> None:
    """A BN after ReLU whose channels have very different scales (a trained net's near-dead channels):
    MUL + ADD quantize all channels' scale with one step, the depthwise conv per channel."""
    import keras

    design = Design(name="wide bn", layers=(Conv2D(filters=8, kernel=(3, 3)), BatchNorm(),  # ReLU conv
                                            Flatten(), Dense(units=3, activation="softmax")),
                    input_shape=(6, 6, 3), classes=3)
    keras.utils.set_random_seed(0)
    model = build_model(design, batch_size=1)
    bn = model.get_layer("l01_batchnorm")
    gamma = np.geomspace(0.02, 3.0, 8).astype("float32")
    bn.set_weights([gamma, np.linspace(-0.5, 0.5, 8, dtype="float32"), np.zeros(8, "float32"),
                    np.ones(8, "float32")])
    x = np.random.default_rng(1).random((64, 6, 6, 3), dtype=np.float32)

    def representative():
        for image in x[:32]:
            yield [image[None, ...]]

    float_out = np.asarray(model(x, training=False))

    def error(tflite: bytes) -> float:
        q = predict(tflite, x).astype(np.float32)
        return float(np.abs((q + 128) / 256 - float_out).mean())  # softmax output: scale 1/256, zero -128

    rewritten = error(tflite_tools.convert(model, "int8", representative))
    mul_add = error(_mul_add_int8(model, representative))
    assert ops_used(_mul_add_int8(model, representative)).count("MUL") == 1  # the comparison is what we think
    assert rewritten < mul_add, (rewritten, mul_add)


# A residual model: a BN right after a linear conv folds (ResNet's Conv -> BN), one at the start of a
# block whose input the identity shortcut also reads does not (folding it would change the shortcut), one
# after an add does not; the Add keeps both of its inputs through the rebuild.
RESIDUAL = Design(
    name="bn in blocks",
    layers=(Conv2D(filters=6, activation="linear"), BatchNorm(), Activation(activation="relu"),
            Conv2D(filters=6, activation="linear"),
            Residual(main=(BatchNorm(), Conv2D(filters=6, activation="linear"), BatchNorm()), activation="linear"),
            BatchNorm(), Residual(main=(Conv2D(filters=8, strides=(2, 2), activation="linear"), BatchNorm()),
                                  shortcut=(Conv2D(filters=8, kernel=(1, 1), strides=(2, 2), activation="linear"),
                                            BatchNorm())),
            GlobalAvgPool(), Dense(units=4, activation="softmax")),
    input_shape=(8, 8, 3),
    classes=4,
)


def test_residual_batchnorms_fold_only_where_nothing_else_reads_the_conv() -> None:
    model = tflite_tools.make_representative(build_model(RESIDUAL), seed=5)
    assert tflite_tools.unfoldable_batchnorms(model) == ["l04m0_batchnorm", "l05_batchnorm"]
    graph = tflite_tools.tflite_graph(model)
    assert _kinds(graph).count("Add") == 2 and graph.inputs[0].shape[0] == 1
    x = np.random.default_rng(2).random((4, 8, 8, 3), dtype=np.float32)
    expected = np.asarray(model(x, training=False))
    got = np.concatenate([np.asarray(graph(x[i:i + 1], training=False)) for i in range(len(x))])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    for dtype in ("float32", "int8"):
        ops = ops_used(tflite_tools.convert(model, dtype))
        assert "ADD" in ops and "MUL" not in ops, (dtype, ops)


@pytest.mark.slow
def test_the_tflm_estimate_rewrites_the_same_batchnorms() -> None:
    """designer.tflm lowers a feature-map BN as a depthwise conv exactly where tflite_graph rewrites one
    (the rest fold), on the residual presets and 24 generated residual designs: one rule, two passes."""
    import random

    from designer.design import analyze
    from designer.generate import random_residual_design
    from designer.graph import lower
    from designer.tflm import _Lowering
    from presets import load_preset

    designs = [load_preset("resnet8"), load_preset("model19"),
               *(random_residual_design(random.Random(seed), name=f"res{seed}") for seed in range(24))]
    for design in designs:
        graph = lower(analyze(design))
        lowering = _Lowering(graph, design.name, "int8")
        ops = lowering.run()
        estimated = [graph.nodes[op.layer].name for op in ops
                     if op.kind == "DEPTHWISE_CONV_2D" and graph.nodes[op.layer].stats.layer.kind == "batchnorm"]
        rewritten = tflite_tools.unfoldable_batchnorms(build_model(design))
        assert sorted(estimated) == sorted(rewritten), design.name
