"""Import a Keras model (``.keras`` or legacy ``.h5``) as a design: its layers and blocks, never its weights.

The model is read from its config JSON (the ``.keras`` zip's ``config.json``, the ``.h5`` file's
``model_config`` attribute) with the standard library and h5py, so reading never deserialises anything:
no Keras object is built, no code in the file can run, and TensorFlow is not imported (the app can call
``load_keras_design`` on its own thread). Every layer must be one of ``SUPPORTED`` and every nested object
(initializer, regularizer, dtype policy) Keras' own; anything else is a DesignError naming the layer, its
class and what is supported, raised before Keras sees the file. Only ``keras_count_params`` loads the model,
with ``safe_mode=True`` and ``compile=False``, after the config has passed, to check our count against Keras.

The graph becomes the design tree: a chain of layers, where each ``Add`` of two tensors that fork from one
tensor is a Residual block (main = the path with more layers, shortcut = the other, the identity when it is
the fork itself) and an activation that alone reads the add's output becomes the block's activation. Blocks
nest. Settings that do not change shapes or parameter counts (initializers, regularizers, constraints, BN
momentum/epsilon, dropout seeds) are not part of a design: regularizers and constraints are listed in
``KerasImport.ignored`` so the command can say they were dropped.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from designer.design import Design, DesignError, analyze_stack
from designer.layers import (
    ACTIVATIONS,
    PADDINGS,
    Activation,
    AvgPool,
    BatchNorm,
    Conv2D,
    Dense,
    DepthwiseConv2D,
    Dropout,
    Flatten,
    GlobalAvgPool,
    Item,
    Layer,
    MaxPool,
    Residual,
    SpatialDropout,
    item_at,
    iter_layers,
)

SUPPORTED: tuple[str, ...] = (
    "InputLayer", "Conv2D", "DepthwiseConv2D", "BatchNormalization", "Activation", "ReLU", "Softmax",
    "MaxPooling2D", "AveragePooling2D", "Dropout", "SpatialDropout2D", "Flatten", "GlobalAveragePooling2D",
    "Dense", "Add",
)
"""Keras layer classes an imported model may contain."""

SUFFIXES: tuple[str, ...] = (".keras", ".h5", ".hdf5")

_MODEL_CLASSES = ("Functional", "Sequential", "Model")
_IGNORED_KEYS = ("kernel_regularizer", "bias_regularizer", "activity_regularizer", "depthwise_regularizer",
                 "beta_regularizer", "gamma_regularizer", "kernel_constraint", "bias_constraint",
                 "depthwise_constraint", "beta_constraint", "gamma_constraint")


@dataclass(frozen=True)
class KerasImport:
    """A model read as a design, with what the design leaves out."""

    design: Design
    model_class: str  # "Functional" or "Sequential"
    keras_layers: int  # layers in the model's config, InputLayer included
    ignored: tuple[str, ...] = field(default=())  # "kernel_regularizer (L2) on conv2d, conv2d_1", ...


@dataclass
class _Node:
    """One Keras layer of the config: its design layer (None for InputLayer and Add) and its input layers."""

    name: str
    class_name: str
    layer: Layer | None
    inputs: list[str]
    activation: str = ""  # Activation/ReLU/Softmax: the function, for absorbing it into a block's add


class _Fail(Exception):
    """A layer-level refusal, located (file, layer) by the caller."""


# ------------------------------------------------------------------------------------------- reading


def _read_config(path: Path) -> dict[str, Any]:
    """The model config JSON of a .keras zip or an .h5 file, read without deserialising anything."""
    suffix = path.suffix  # case-sensitive, as Keras' own load_model tells the formats apart
    if suffix not in SUFFIXES:
        raise DesignError(f"not a Keras model file: expected {', '.join(SUFFIXES)}, received '{path.suffix}'",
                          source=str(path))
    if not path.is_file():
        raise DesignError("no such file", source=str(path))
    try:
        if suffix == ".keras":
            if not zipfile.is_zipfile(path):
                raise DesignError("not a .keras file (a .keras file is a zip archive)", source=str(path))
            with zipfile.ZipFile(path) as archive:
                count = archive.namelist().count("config.json")
                if count != 1:
                    # Two would let what we check differ from what Keras reads.
                    raise DesignError(f"not a .keras file: the archive has {count} config.json entries, not one",
                                      source=str(path))
                text = archive.read("config.json").decode("utf-8")
        else:
            # Imported here: h5py loads the HDF5 library (~0.1 s), needed only for .h5 files.
            import h5py

            with h5py.File(path, "r") as f:
                raw = f.attrs.get("model_config")
            if raw is None:
                raise DesignError("no model_config in this .h5 file (a weights-only file, not a saved model?)",
                                  source=str(path))
            text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        config = json.loads(text)
    except DesignError:
        raise
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError, KeyError) as exc:
        raise DesignError(f"cannot read the model: {' '.join(str(exc).split())}", source=str(path)) from None
    if not isinstance(config, dict):
        raise DesignError("the model config is not a JSON object", source=str(path))
    return config


# --------------------------------------------------------------------------------- layer mapping


def _check_objects(value: Any, key: str) -> None:
    """Refuse any nested object that is not Keras' own: a custom module or a function would run code."""
    if isinstance(value, list):
        for v in value:
            _check_objects(v, key)
        return
    if not isinstance(value, dict):
        return
    if "class_name" in value:
        module = value.get("module")
        if module is not None and module != "keras" and not str(module).startswith("keras."):
            raise _Fail(f"'{key}' is a custom object ({value.get('class_name')} from module '{module}'); "
                        "only Keras' own objects are read")
        if value.get("class_name") in ("function", "__lambda__") or value.get("registered_name") not in (
                None, value.get("class_name")):
            raise _Fail(f"'{key}' is a custom object ({value.get('registered_name') or value.get('class_name')}); "
                        "only Keras' own objects are read")
    for v in value.values():
        _check_objects(v, key)


def _pair(cfg: dict[str, Any], key: str) -> tuple[int, int]:
    value = cfg.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return (value[0], value[1])
    raise _Fail(f"{key}={value!r} is not a pair of integers")


def _activation(cfg: dict[str, Any], key: str = "activation") -> str:
    value = cfg.get(key)
    if value is None:
        return "linear"
    if not isinstance(value, str) or value not in ACTIVATIONS:
        raise _Fail(f"{key}={value!r} is not supported; supported: {', '.join(ACTIVATIONS)}")
    return value


def _require(cfg: dict[str, Any], key: str, allowed: tuple[Any, ...], what: str) -> None:
    if cfg.get(key, allowed[0]) not in allowed:
        raise _Fail(f"{key}={cfg.get(key)!r} is not supported ({what})")


def _padding(cfg: dict[str, Any]) -> str:
    value = cfg.get("padding", "valid")
    if value not in PADDINGS:
        raise _Fail(f"padding={value!r} is not supported; supported: {', '.join(PADDINGS)}")
    return str(value)


def _spatial(cfg: dict[str, Any]) -> None:
    _require(cfg, "data_format", (None, "channels_last"), "only channels_last")
    if "dilation_rate" in cfg and _pair(cfg, "dilation_rate") != (1, 1):
        raise _Fail(f"dilation_rate={cfg['dilation_rate']!r} is not supported (only 1)")


def _conv(cfg: dict[str, Any]) -> Layer:
    _spatial(cfg)
    _require(cfg, "groups", (1,), "only 1")
    return Conv2D(filters=int(cfg["filters"]), kernel=_pair(cfg, "kernel_size"), strides=_pair(cfg, "strides"),
                  padding=_padding(cfg), activation=_activation(cfg), use_bias=bool(cfg.get("use_bias", True)))


def _depthwise(cfg: dict[str, Any]) -> Layer:
    _spatial(cfg)
    return DepthwiseConv2D(kernel=_pair(cfg, "kernel_size"), strides=_pair(cfg, "strides"), padding=_padding(cfg),
                           depth_multiplier=int(cfg.get("depth_multiplier", 1)), activation=_activation(cfg),
                           use_bias=bool(cfg.get("use_bias", True)))


def _batchnorm(cfg: dict[str, Any]) -> Layer:
    axis = cfg.get("axis", -1)
    if isinstance(axis, list) and len(axis) == 1:
        axis = axis[0]
    if axis not in (-1, 3):
        raise _Fail(f"axis={cfg.get('axis')!r} is not supported (only the channels axis, -1)")
    for key in ("center", "scale"):
        _require(cfg, key, (True,), "a design's batchnorm has 4 weights per channel")
    _require(cfg, "renorm", (False,), "only plain batch normalization")
    return BatchNorm()


def _relu(cfg: dict[str, Any]) -> Layer:
    if cfg.get("negative_slope", 0.0) or cfg.get("threshold", 0.0):
        raise _Fail("negative_slope and threshold are not supported (only relu and relu6)")
    max_value = cfg.get("max_value")
    if max_value is None:
        return Activation(activation="relu")
    if max_value == 6:
        return Activation(activation="relu6")
    raise _Fail(f"max_value={max_value!r} is not supported (only none = relu, or 6 = relu6)")


def _softmax(cfg: dict[str, Any]) -> Layer:
    _require(cfg, "axis", (-1,), "only the last axis")
    return Activation(activation="softmax")


def _pool(cls: type[MaxPool] | type[AvgPool]) -> Callable[[dict[str, Any]], Layer]:
    def build(cfg: dict[str, Any]) -> Layer:
        _require(cfg, "data_format", (None, "channels_last"), "only channels_last")
        pool = _pair(cfg, "pool_size")
        strides = pool if cfg.get("strides") is None else _pair(cfg, "strides")
        # Keras writes strides=None as the pool size; the design spells the default as None.
        return cls(pool=pool, strides=None if strides == pool else strides, padding=_padding(cfg))
    return build


def _dropout(cfg: dict[str, Any]) -> Layer:
    if cfg.get("noise_shape") is not None:
        raise _Fail("noise_shape is not supported (use SpatialDropout2D to drop whole channels)")
    return Dropout(rate=float(cfg.get("rate", 0.5)))


def _spatial_dropout(cfg: dict[str, Any]) -> Layer:
    _require(cfg, "data_format", (None, "channels_last"), "only channels_last")
    return SpatialDropout(rate=float(cfg.get("rate", 0.5)))


def _flatten(cfg: dict[str, Any]) -> Layer:
    _require(cfg, "data_format", (None, "channels_last"), "only channels_last")
    return Flatten()


def _gap(cfg: dict[str, Any]) -> Layer:
    _require(cfg, "data_format", (None, "channels_last"), "only channels_last")
    _require(cfg, "keepdims", (False,), "the design's global_avg_pool gives a vector")
    return GlobalAvgPool()


def _dense(cfg: dict[str, Any]) -> Layer:
    if cfg.get("quantization_config") is not None or cfg.get("lora_rank"):
        raise _Fail("quantized or LoRA dense layers are not supported")
    return Dense(units=int(cfg["units"]), activation=_activation(cfg), use_bias=bool(cfg.get("use_bias", True)))


_BUILDERS: dict[str, Callable[[dict[str, Any]], Layer]] = {
    "Conv2D": _conv, "DepthwiseConv2D": _depthwise, "BatchNormalization": _batchnorm,
    "Activation": lambda cfg: Activation(activation=_activation(cfg)), "ReLU": _relu, "Softmax": _softmax,
    "MaxPooling2D": _pool(MaxPool), "AveragePooling2D": _pool(AvgPool), "Dropout": _dropout,
    "SpatialDropout2D": _spatial_dropout, "Flatten": _flatten, "GlobalAveragePooling2D": _gap, "Dense": _dense,
}


def _unsupported(name: str, class_name: str) -> str:
    what = "a nested model" if class_name in _MODEL_CLASSES else "not supported"
    return f"layer '{name}' ({class_name}) is {what}; supported layers: {', '.join(SUPPORTED)}"


# ------------------------------------------------------------------------------------------ graph


def _history(arg: Any) -> list[tuple[str, int]]:
    """(layer name, node index) of each tensor in a Keras 3 inbound-node argument (a tensor or a list)."""
    if isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__":
        history = arg["config"]["keras_history"]
        return [(str(history[0]), int(history[1]))]
    if isinstance(arg, list):
        return [h for a in arg for h in _history(a)]
    return []


def _inbound(entry: dict[str, Any], name: str) -> list[str]:
    """The layers a Functional-model layer reads (Keras 3's dict nodes and tf.keras' list nodes)."""
    nodes = entry.get("inbound_nodes") or []
    if len(nodes) > 1:
        raise _Fail(f"layer '{name}' ({entry.get('class_name')}) is called more than once (a shared layer); "
                    "each layer must be used once")
    if not nodes:
        return []
    node = nodes[0]
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        history = _history(node.get("args", []))
    else:  # tf.keras 2: [[layer, node_index, tensor_index, kwargs], ...]
        history = [(str(t[0]), int(t[1])) for t in node]
    if any(index != 0 for _, index in history):
        raise _Fail(f"layer '{name}' ({entry.get('class_name')}) reads a shared layer's second call; each layer "
                    "must be used once")
    return [layer for layer, _ in history]


def _endpoints(value: Any, what: str) -> list[str]:
    """Layer names of a Functional config's input_layers/output_layers (one [name, 0, 0] or a list of them)."""
    if isinstance(value, list) and value and isinstance(value[0], str):
        return [value[0]]
    if isinstance(value, list) and all(isinstance(v, list) and v for v in value):
        return [str(v[0]) for v in value]
    raise _Fail(f"cannot read the model's {what}: {value!r}")


def _input_shape(cfg: dict[str, Any]) -> tuple[int, ...] | None:
    shape = cfg.get("batch_shape", cfg.get("batch_input_shape"))
    if shape is None:
        return None
    dims = list(shape)[1:]
    if len(dims) != 3 or not all(isinstance(d, int) and d > 0 for d in dims):
        raise _Fail(f"input shape {dims} is not supported: the model must take an image (height, width, "
                    "channels) of a fixed size")
    return tuple(dims)


class _Reader:
    """The Keras config of one model as nodes, then as a design tree."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.model_class = str(config.get("class_name"))
        if self.model_class not in _MODEL_CLASSES:
            raise _Fail(f"the file holds a {self.model_class}, not a Keras Sequential or Functional model")
        _check_objects({k: v for k, v in config.items() if k != "config"}, "model")
        body = config.get("config")
        if not isinstance(body, dict) or not isinstance(body.get("layers"), list):
            raise _Fail("the model config has no layer list")
        _check_objects({k: v for k, v in body.items() if k != "layers"}, "model")
        self.nodes: dict[str, _Node] = {}
        self.ignored: dict[str, list[str]] = {}
        self.input_shape: tuple[int, ...] | None = None
        self.layer_count = len(body["layers"])
        entries = [self._entry(e) for e in body["layers"]]
        if self.model_class == "Sequential":
            self._chain(entries, body)
        else:
            for entry, node in entries:
                node.inputs = _inbound(entry, node.name) if node.class_name != "InputLayer" else []
                self._add(node)
            inputs = _endpoints(body.get("input_layers"), "inputs")
            outputs = _endpoints(body.get("output_layers"), "outputs")
            if len(inputs) != 1 or len(outputs) != 1:
                raise _Fail(f"the model has {len(inputs)} inputs and {len(outputs)} outputs; a design has one "
                            "of each")
            self.input, self.output = inputs[0], outputs[0]
            if self.input not in self.nodes or self.nodes[self.input].class_name != "InputLayer":
                raise _Fail(f"the model's input '{self.input}' is not an InputLayer")
        if self.input_shape is None:
            raise _Fail("the model does not say its input shape (build it with keras.Input(shape=...))")
        self.consumers: dict[str, list[str]] = {name: [] for name in self.nodes}
        for node in self.nodes.values():
            for t in node.inputs:
                if t not in self.nodes:
                    raise _Fail(f"layer '{node.name}' reads '{t}', which is not a layer of the model")
                self.consumers[t].append(node.name)
        self.visited: set[str] = set()
        self.forks: dict[str, str] = {}

    def _entry(self, entry: Any) -> tuple[dict[str, Any], _Node]:
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            raise _Fail(f"a layer entry is not a Keras layer config: {str(entry)[:80]}")
        cfg = entry["config"]
        class_name = str(entry.get("class_name"))
        name = str(entry.get("name", cfg.get("name", class_name)))
        module = entry.get("module")
        if class_name not in SUPPORTED:
            raise DesignError(_unsupported(name, class_name))
        if (module is not None and module != "keras.layers") or entry.get("registered_name") not in (
                None, class_name):
            raise DesignError(f"layer '{name}' ({class_name}) is a custom layer (module '{module}', registered "
                              f"as '{entry.get('registered_name')}'); supported: Keras' own {', '.join(SUPPORTED)}")
        try:
            for key, value in cfg.items():
                _check_objects(value, key)
            if class_name == "InputLayer":
                self.input_shape = _input_shape(cfg)
                return entry, _Node(name, class_name, None, [])
            shape = _input_shape(cfg)
            if shape is not None:  # a tf.keras Sequential's first layer carries the input shape
                self.input_shape = self.input_shape or shape
            layer = None if class_name == "Add" else _BUILDERS[class_name](cfg)
        except _Fail as exc:
            raise DesignError(f"layer '{name}' ({class_name}): {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise DesignError(f"layer '{name}' ({class_name}): unreadable setting {exc}") from None
        for key in _IGNORED_KEYS:
            value = cfg.get(key)
            if value is not None:
                what = value.get("class_name", "") if isinstance(value, dict) else str(value)
                self.ignored.setdefault(f"{key} ({what})", []).append(name)
        activation = layer.activation_fn if isinstance(layer, Activation) else ""
        return entry, _Node(name, class_name, layer, [], activation=activation)

    def _add(self, node: _Node) -> None:
        if node.name in self.nodes:
            raise _Fail(f"two layers are named '{node.name}'")
        self.nodes[node.name] = node

    def _chain(self, entries: list[tuple[dict[str, Any], _Node]], body: dict[str, Any]) -> None:
        """A Sequential model: each layer reads the one before; an implicit input gets its own node."""
        if self.input_shape is None and body.get("build_input_shape") is not None:
            self.input_shape = _input_shape({"batch_shape": body["build_input_shape"]})
        self.input = "<input>"
        previous = self.input
        self._add(_Node(self.input, "InputLayer", None, []))
        for _, node in entries:
            if node.class_name == "InputLayer":
                continue
            if node.class_name == "Add":
                raise DesignError(f"layer '{node.name}' (Add) cannot be in a Sequential model")
            node.inputs = [previous]
            self._add(node)
            previous = node.name
        self.output = previous

    # ---- tree

    def _fail(self, name: str, reason: str) -> DesignError:
        return DesignError(f"layer '{name}' ({self.nodes[name].class_name}) {reason}")

    def _spine(self, tensor: str) -> list[str]:
        """The tensors from ``tensor`` back to the input, stepping over each block from its add to its fork."""
        out = [tensor]
        while tensor != self.input:
            node = self.nodes[tensor]
            if node.class_name == "InputLayer":
                raise self._fail(tensor, "is a second input; a design has one input")
            tensor = self._fork(node) if node.class_name == "Add" else node.inputs[0]
            out.append(tensor)
        return out

    def _fork(self, add: _Node) -> str:
        """The tensor both inputs of ``add`` start from (one of them when it is an identity shortcut)."""
        if add.name not in self.forks:
            if len(add.inputs) != 2:
                raise self._fail(add.name, f"adds {len(add.inputs)} tensors; a residual add joins exactly two")
            if add.inputs[0] == add.inputs[1]:
                raise self._fail(add.name, "adds a tensor to itself; a residual block needs a main path")
            first, second = self._spine(add.inputs[0]), set(self._spine(add.inputs[1]))
            self.forks[add.name] = next(t for t in first if t in second)  # the input is on both spines
        return self.forks[add.name]

    def _visit(self, name: str) -> None:
        if name in self.visited:
            raise self._fail(name, "is read from outside its residual block; supported graphs are chains of "
                                   "layers and blocks, each add joining two paths from one fork")
        self.visited.add(name)

    def _block(self, add: _Node, activation: str) -> Residual:
        fork = self._fork(add)
        paths = [self._stack(fork, t) for t in add.inputs]
        # The longer path is the main one; on a tie Keras' first input (designer.keras_build adds main first).
        main, shortcut = (paths[1], paths[0]) if len(iter_layers(paths[1])) > len(iter_layers(paths[0])) else paths
        return Residual(main=main, shortcut=shortcut, activation=activation)

    def _stack(self, fork: str, end: str) -> tuple[Item, ...]:
        """The items from ``fork`` (exclusive) to ``end`` (inclusive), walking back from ``end``."""
        items: list[Item] = []
        tensor = end
        while tensor != fork:
            node = self.nodes[tensor]
            if node.class_name == "InputLayer":
                raise DesignError(f"the graph is not a chain of layers and residual blocks near '{end}'")
            self._visit(node.name)
            source = self.nodes[node.inputs[0]] if node.inputs else None
            if node.activation and source is not None and source.class_name == "Add" and \
                    self.consumers[source.name] == [node.name]:
                # An activation that alone reads an add is the block's activation after the add.
                self._visit(source.name)
                items.append(self._block(source, node.activation))
                tensor = self._fork(source)
            elif node.class_name == "Add":
                items.append(self._block(node, "linear"))
                tensor = self._fork(node)
            else:
                assert node.layer is not None  # every non-Add, non-input node maps to a layer
                items.append(node.layer)
                tensor = node.inputs[0]
        return tuple(reversed(items))

    def tree(self) -> tuple[tuple[Item, ...], dict[int, str]]:
        """The design's stack and the Keras name of each layer object (by id, to name analysis errors: every
        node built its own layer object, so ids are distinct while the reader lives)."""
        items = self._stack(self.input, self.output)
        unused = [n for n in self.nodes if n not in self.visited and n != self.input]
        if unused:
            raise self._fail(unused[0], "does not lead to the model's output; a design is one path from input "
                                        "to output")
        names = {id(n.layer): n.name for n in self.nodes.values() if n.layer is not None}
        return items, names


# ---------------------------------------------------------------------------------------------- API


def read_keras_design(path: str | os.PathLike[str]) -> KerasImport:
    """Read a .keras/.h5 model as a valid design (analyze() passes); DesignError names the file and layer.

    Never deserialises the model and never imports TensorFlow (see the module docstring).
    """
    p = Path(path)
    config = _read_config(p)
    try:
        reader = _Reader(config)
        items, names = reader.tree()
    except _Fail as exc:
        raise DesignError(str(exc), source=str(p)) from None
    except DesignError as exc:
        raise exc.in_source(str(p)) from None
    assert reader.input_shape is not None  # _Reader refuses a model without one
    design = Design(name=p.stem, layers=items, input_shape=reader.input_shape, classes=1,
                    notes=f"imported from {p.name} ({reader.model_class}); weights not imported")
    out_shape = _output_shape(design, names, str(p))
    if len(out_shape) != 1:
        raise DesignError(f"the model's output shape is {out_shape}; a design ends with a vector of class scores "
                          "(flatten or global_avg_pool, then dense)", source=str(p))
    design = replace(design, classes=out_shape[0])
    ignored = tuple(f"{what} on {_some(on)}" for what, on in reader.ignored.items())
    return KerasImport(design=design, model_class=reader.model_class, keras_layers=reader.layer_count,
                       ignored=ignored)


def _some(names: list[str], shown: int = 3) -> str:
    """``a, b, c`` or ``a, b, c and 6 more``: enough to find them, short enough for one line."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _output_shape(design: Design, names: dict[int, str], source: str) -> tuple[int, ...]:
    """The design's output shape; a shape error names the Keras layer it happened at."""
    try:
        return analyze_stack(design.layers, design.input_shape)[1]
    except DesignError as exc:
        layer = item_at(design.layers, exc.path) if exc.path else None
        where = f"layer '{names[id(layer)]}'" if id(layer) in names else "the model"
        raise DesignError(f"{where}: {exc.reason}", source=source) from None


def load_keras_design(path: str | os.PathLike[str]) -> Design:
    """The design of a .keras/.h5 model (its layers, not its weights); DesignError naming file and layer.

    Safe and quick for the app: reads the config only, runs no code from the file, imports no TensorFlow.
    """
    return read_keras_design(path).design


def keras_count_params(path: str | os.PathLike[str]) -> int:
    """Keras' own count_params() of the model file, loaded with safe_mode=True and compile=False.

    Call it only after read_keras_design accepted the file, so Keras sees nothing we have not checked.
    DesignError when Keras cannot load it (e.g. damaged weights).
    """
    # The module sets TF_CPP_MIN_LOG_LEVEL; its fd helper keeps the C++ banners TensorFlow prints anyway
    # (oneDNN, absl) off the command's stderr, where only our one line belongs.
    from designer.tflite_tools import _fd_captured

    try:
        with _fd_captured(2):
            # Imported here: keras pulls in TensorFlow (~5 s), which reading the design itself never needs.
            import keras

            model = keras.saving.load_model(str(path), compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many kinds (ValueError, OSError, TypeError) for a bad file
        raise DesignError(f"Keras could not load the model: {' '.join(str(exc).split())[:300]}",
                          source=str(path)) from None
    return int(model.count_params())
