"""Build the real Keras model of a design (used by tests, training and export; never by the app process)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from designer.design import Design, analyze
from designer.layers import (
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
    MaxPool,
    SpatialDropout,
)

if TYPE_CHECKING:
    import keras


def keras_layer(layer: Layer, name: str) -> Any:
    """The Keras layer for one design layer."""
    # Imported here: keras pulls in TensorFlow (~5 s), which the app and the estimators must never pay.
    import keras

    if isinstance(layer, Conv2D):
        return keras.layers.Conv2D(layer.filters, layer.kernel, strides=layer.strides,
                                   padding=layer.padding, activation=layer.activation,
                                   use_bias=layer.use_bias, name=name)
    if isinstance(layer, DepthwiseConv2D):
        return keras.layers.DepthwiseConv2D(layer.kernel, strides=layer.strides, padding=layer.padding,
                                            depth_multiplier=layer.depth_multiplier,
                                            activation=layer.activation, use_bias=layer.use_bias,
                                            name=name)
    if isinstance(layer, BatchNorm):
        return keras.layers.BatchNormalization(name=name)
    if isinstance(layer, Activation):
        return keras.layers.Activation(layer.activation, name=name)
    if isinstance(layer, MaxPool):
        return keras.layers.MaxPooling2D(layer.pool, strides=layer.strides, padding=layer.padding, name=name)
    if isinstance(layer, AvgPool):
        return keras.layers.AveragePooling2D(layer.pool, strides=layer.strides, padding=layer.padding,
                                             name=name)
    if isinstance(layer, Dropout):
        return keras.layers.Dropout(layer.rate, name=name)
    if isinstance(layer, SpatialDropout):
        return keras.layers.SpatialDropout2D(layer.rate, name=name)
    if isinstance(layer, Flatten):
        return keras.layers.Flatten(name=name)
    if isinstance(layer, GlobalAvgPool):
        return keras.layers.GlobalAveragePooling2D(name=name)
    if isinstance(layer, Dense):
        return keras.layers.Dense(layer.units, activation=layer.activation, use_bias=layer.use_bias,
                                  name=name)
    raise TypeError(f"no Keras layer for kind '{layer.kind}'")


def layer_names(design: Design) -> list[str]:
    """Stable Keras layer names: ``<index>_<kind>``, so reports and checkpoints map back to our rows."""
    return [f"l{i:02d}_{layer.kind}" for i, layer in enumerate(design.layers)]


def build_model(design: Design, *, batch_size: int | None = None, validate: bool = True) -> keras.Model:
    """A functional Keras model of the design. ``batch_size=1`` gives converter-friendly static shapes."""
    import keras  # see keras_layer

    if validate:
        analyze(design)
    inputs = keras.Input(shape=design.input_shape, batch_size=batch_size, name="input")
    x = inputs
    for layer, name in zip(design.layers, layer_names(design), strict=True):
        x = keras_layer(layer, name)(x)
    return keras.Model(inputs, x, name=_model_name(design.name))


def _model_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return cleaned or "design"
