"""Build the real Keras model of a design (used by tests, training and export; never by the app process).

The model is built from the lowering (designer.graph.lower): one Keras layer per graph node, named
``Node.name`` (``l03_conv2d`` for a top-level layer, ``l03m1_conv2d`` inside a block, see designer.graph), so
a linear design gives the same layers and names as it always did. A residual block's join is a Keras ``Add``
named ``lNN_add`` over (main output, shortcut output), followed, unless the block's activation is linear,
by an ``Activation`` layer named ``lNN_add_<activation>`` (``add_activation_name``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from designer.design import Design, DesignError, analyze
from designer.graph import Graph, lower
from designer.layers import (
    Activation,
    Add,
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
    has_blocks,
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


def _chain_names(design: Design) -> list[str]:
    return [f"l{i:02d}_{layer.kind}" for i, layer in enumerate(design.layers)]


def layer_names(design: Design) -> list[str]:
    """Stable Keras layer names, one per row of ``analyze(design).layers`` (designer.graph.node_name), so
    reports and checkpoints map back to our rows; a linear design that does not analyse gets
    ``l<index>_<kind>`` per layer all the same."""
    try:
        return [node.name for node in lower(analyze(design)).nodes]
    except DesignError:
        if has_blocks(design.layers):
            raise
        return _chain_names(design)


def add_activation_name(add_name: str, activation: str) -> str:
    """The Keras name of the Activation layer after a block's add (``l03_add`` -> ``l03_add_relu``)."""
    return f"{add_name}_{activation}"


def build_graph(graph: Graph, design: Design, *, batch_size: int | None = None) -> keras.Model:
    """The functional Keras model of a lowered design: one layer per node, tensors wired as in ``graph``."""
    import keras  # see keras_layer

    inputs = keras.Input(shape=design.input_shape, batch_size=batch_size, name="input")
    values: dict[int, Any] = {graph.input_tensor: inputs}
    for node in graph.nodes:
        layer = node.stats.layer
        if isinstance(layer, Add):
            x = keras.layers.Add(name=node.name)([values[t] for t in node.inputs])
            if layer.activation != "linear":
                x = keras.layers.Activation(layer.activation,
                                            name=add_activation_name(node.name, layer.activation))(x)
        else:
            x = keras_layer(layer, node.name)(values[node.inputs[0]])
        values[node.output] = x
    return keras.Model(inputs, values[graph.output_tensor], name=_model_name(design.name))


def build_model(design: Design, *, batch_size: int | None = None, validate: bool = True) -> keras.Model:
    """A functional Keras model of the design. ``batch_size=1`` gives converter-friendly static shapes.

    The model follows ``lower(analyze(design))``. With ``validate=False`` a linear design that does not
    analyse is still handed to Keras layer by layer (tests compare Keras' own refusals with ours); a design
    with residual blocks must always analyse.
    """
    import keras  # see keras_layer

    try:
        graph = lower(analyze(design))
    except DesignError:
        if validate or has_blocks(design.layers):
            raise
    else:
        return build_graph(graph, design, batch_size=batch_size)
    inputs = keras.Input(shape=design.input_shape, batch_size=batch_size, name="input")
    x = inputs
    for layer, name in zip(design.layers, _chain_names(design), strict=True):
        x = keras_layer(layer, name)(x)
    return keras.Model(inputs, x, name=_model_name(design.name))


def _model_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return cleaned or "design"
