"""The real TensorFlow Lite toolchain: make a Keras model trained-like, convert it, measure its TFLM arena.

These functions check designer.tflm's estimates and are reused by the export feature. TensorFlow and
tflite-micro are imported only inside the functions that need them, never at module level, because the app
process must not pay TensorFlow's ~5 s start-up.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras
    import numpy as np

TFLITE_DTYPES = ("float32", "int8")

# Quiet TensorFlow's C++ logging (it writes to stderr, which the export job keeps as its log).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@dataclass(frozen=True)
class ArenaMeasurement:
    """TFLite Micro's own account of a model's tensor arena (RecordingMicroAllocator), in bytes.

    Measured on the host running the Python interpreter (64-bit): the persistent tail holds pointers and
    C structs that are smaller on a 32-bit Cortex-M.
    """

    total_bytes: int  # "Arena allocation total": head + tail
    head_bytes: int  # non-persistent head: activation buffers laid out by the memory planner
    tail_bytes: int  # persistent tail: tensor structs, op data, quantization params


@contextmanager
def _fd_redirected(fd: int, target: int) -> Iterator[None]:
    """Point file descriptor ``fd`` at ``target`` for the block (C code writes past Python's sys.std*)."""
    saved = os.dup(fd)
    try:
        os.dup2(target, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


@contextmanager
def _fd_captured(fd: int) -> Iterator[Callable[[], str]]:
    """Capture what C code writes to ``fd``; the yielded function returns the text once the block ends."""
    captured: list[str] = []
    with tempfile.TemporaryFile() as tmp:
        with _fd_redirected(fd, tmp.fileno()):
            yield lambda: "".join(captured)
        tmp.seek(0)
        captured.append(tmp.read().decode("utf-8", errors="replace"))


def make_representative(model: keras.Model, *, seed: int = 0) -> keras.Model:
    """Give a freshly built model trained-like weights, in place, and return it.

    The converter folds Keras' default BatchNorm statistics (mean 0, variance 1, gamma 1, beta 0) and zero
    biases away, which shrinks both the file and the arena below what a trained model needs. Every BN
    statistic and every bias gets a seeded non-default value; kernels keep their (already random) init.
    """
    # Imported here: numpy only, but keep the module light for callers that never measure.
    import numpy as np

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "BatchNormalization":
            gamma, beta, mean, var = (w.shape for w in layer.get_weights())
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma).astype("float32"),
                rng.uniform(-0.2, 0.2, beta).astype("float32"),
                rng.uniform(-0.2, 0.2, mean).astype("float32"),
                rng.uniform(0.5, 1.5, var).astype("float32"),
            ])
        elif getattr(layer, "use_bias", False) and layer.get_weights():
            weights = layer.get_weights()
            weights[-1] = rng.uniform(-0.1, 0.1, weights[-1].shape).astype("float32")
            layer.set_weights(weights)
    return model


# Layers after which the converter folds a BatchNormalization into the layer's weights (when it is linear).
_FOLDS_BN = ("Conv2D", "DepthwiseConv2D", "Dense")
_INFERENCE_IDENTITY = ("Dropout", "SpatialDropout2D")  # gone from the inference graph


def _bn_as_depthwise(bn: Any) -> Any:
    """A 1x1 DepthwiseConv2D computing ``bn``'s inference affine ``a * x + b``, with ``bn``'s name."""
    import keras  # see tflite_graph
    import numpy as np

    gamma, beta, mean, var = (np.asarray(w, dtype=np.float64) for w in bn.get_weights())
    scale = gamma / np.sqrt(var + bn.epsilon)
    layer = keras.layers.DepthwiseConv2D(1, use_bias=True, name=bn.name)
    layer.build(bn.input.shape)
    layer.set_weights([scale.reshape(1, 1, -1, 1).astype("float32"), (beta - mean * scale).astype("float32")])
    return layer


def _inputs(layer: Any) -> list[Any]:
    """The Keras tensors a layer of a functional model is called on (one, or several for an Add)."""
    value = layer.input
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _source(tensor: Any) -> Any:
    """The layer that produced a Keras tensor of a functional model."""
    return tensor._keras_history.operation


def unfoldable_batchnorms(model: keras.Model) -> list[str]:
    """Names of the BatchNormalization layers on a feature map that the TFLite converter cannot fold into
    a neighbour: any not fed by a linear conv/depthwise/dense (dropouts aside) whose output nothing else
    reads, e.g. one after an activation, a pool, an add, the input or another BatchNorm, or one at the start
    of a residual block whose input the shortcut also reads. ``tflite_graph`` rewrites exactly these.

    Walks the functional graph (each layer's producer), so it holds for residual models as for a chain.
    """
    readers: dict[str, int] = {}
    for layer in model.layers:
        if type(layer).__name__ != "InputLayer":
            for tensor in _inputs(layer):
                name = _source(tensor).name
                readers[name] = readers.get(name, 0) + 1
    rewritten: set[str] = set()
    for layer in model.layers:
        if type(layer).__name__ != "BatchNormalization" or len(layer.input.shape) != 4:
            continue
        previous = _source(layer.input)
        only_reader = readers.get(previous.name, 0) == 1
        while type(previous).__name__ in _INFERENCE_IDENTITY and only_reader:
            previous = _source(previous.input)  # gone at inference: the BN reads what the dropout read
            only_reader = readers.get(previous.name, 0) == 1
        foldable = (type(previous).__name__ in _FOLDS_BN and only_reader and previous.name not in rewritten
                    and previous.get_config().get("activation") == "linear")
        if not foldable:
            rewritten.add(layer.name)  # a BatchNorm after this one is rewritten too, never folded into it
    return [layer.name for layer in model.layers if layer.name in rewritten]


def tflite_graph(model: keras.Model) -> keras.Model:
    """The graph cnn-designer hands the converter: ``model`` with a static batch of 1, and each of its
    ``unfoldable_batchnorms`` as a 1x1 depthwise convolution with the same float function.

    A static batch keeps Flatten one RESHAPE (an unknown batch lowers it to 4 extra ops). The converter
    lowers an unfoldable BatchNorm to MUL + ADD with per-tensor int8 constants: two requantizations and a
    scale shared by all channels, which cost Model2 (BN after ReLU) 1.37 points of int8 accuracy. A
    depthwise conv is one op with a per-channel scale and an int32 bias (0.22 points). The layer keeps the
    BatchNorm's name, so the tensor names (and designer.tflm's estimate) follow the design's rows.
    The functional graph is rebuilt layer by layer in the model's (topological) order, each layer called
    on the new tensors of its own inputs, so residual models (an Add of two paths) keep their wiring; every
    layer must be called once (true of every model keras_build makes). The model's own weights are shared.
    """
    # Imported here: keras pulls in TensorFlow (~5 s).
    import keras

    rewrite = set(unfoldable_batchnorms(model))
    source = model.inputs[0]
    inputs = keras.Input(shape=source.shape[1:], batch_size=1, name=source.name.split(":")[0])
    new: dict[int, Any] = {id(source): inputs}
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        args = [new[id(t)] for t in _inputs(layer)]
        call = _bn_as_depthwise(layer) if layer.name in rewrite else layer
        new[id(layer.output)] = call(args if isinstance(layer.input, (list, tuple)) else args[0])
    return keras.Model(inputs, new[id(model.outputs[0])], name=model.name)


def random_representative_data(input_shape: tuple[int, ...], *, samples: int = 8,
                               seed: int = 0) -> Callable[[], Iterator[list[np.ndarray]]]:
    """A representative dataset of uniform [0, 1) images (enough to calibrate ranges for a size estimate)."""
    import numpy as np  # see make_representative

    def gen() -> Iterator[list[np.ndarray]]:
        rng = np.random.default_rng(seed)
        for _ in range(samples):
            yield [rng.random((1, *input_shape), dtype=np.float32)]

    return gen


def convert(model: keras.Model, dtype: str,
            representative_data: Callable[[], Iterator[list[Any]]] | None = None) -> bytes:
    """Convert a Keras model to a .tflite flatbuffer: ``float32``, or full-integer ``int8`` (int8 in/out).

    The converter sees ``tflite_graph(model)`` (batch 1, unfoldable BatchNorms as 1x1 depthwise convs).

    ``representative_data`` calibrates int8 ranges; when None, uniform random images in [0, 1) are used.
    The converter's stdout chatter ("Saved artifact at ...") is kept off stdout so this can run inside a
    JSON-lines worker.
    """
    if dtype not in TFLITE_DTYPES:
        raise ValueError(f"unknown dtype '{dtype}'; choose one of {', '.join(TFLITE_DTYPES)}")
    # Imported here: TensorFlow costs ~5 s and ~500 MB, which the app process must never pay.
    import tensorflow as tf

    model = tflite_graph(model)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if dtype == "int8":
        shape = tuple(int(d) for d in model.inputs[0].shape[1:])
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_data or random_representative_data(shape)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with open(os.devnull, "w") as devnull, _fd_redirected(1, devnull.fileno()):
        return bytes(converter.convert())


def _micro_interpreter(tflite_bytes: bytes, arena_size: int) -> Any:
    # Imported here: tflite-micro ships Linux x86_64 wheels only; callers skip cleanly without it.
    from tflite_micro import runtime

    return runtime.Interpreter.from_bytes(tflite_bytes, arena_size=arena_size)


_ALLOC_LINE = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


def measure_arena(tflite_bytes: bytes, *, arena_size: int | None = None) -> ArenaMeasurement:
    """Load the model in the tflite-micro interpreter and read its arena use from ``print_allocations()``.

    ``arena_size`` defaults to a generous bound; it only needs to be large enough to construct.
    """
    size = arena_size or max(1 << 20, 12 * len(tflite_bytes))
    interpreter = _micro_interpreter(tflite_bytes, size)
    with _fd_captured(2) as text:
        interpreter.print_allocations()
    found = {name: int(n) for name, n in _ALLOC_LINE.findall(text())}
    if set(found) != {"total", "head", "tail"}:
        raise RuntimeError(f"could not read the arena size from print_allocations(): {text()[:500]!r}")
    return ArenaMeasurement(found["total"], found["head"], found["tail"])


def constructs(tflite_bytes: bytes, arena_size: int) -> bool:
    """Whether the tflite-micro interpreter allocates this model's tensors in an arena of ``arena_size``."""
    # A failed allocation logs to the C-level stderr; keep it out of the caller's log.
    with open(os.devnull, "w") as devnull, _fd_redirected(2, devnull.fileno()):
        try:
            _micro_interpreter(tflite_bytes, arena_size)
        except RuntimeError:
            return False
    return True


def smallest_arena(tflite_bytes: bytes, *, upper_bytes: int | None = None) -> int:
    """The smallest ``arena_size`` (bytes) that constructs, by binary search.

    The search never goes below the persistent tail: tflite-micro's Python interpreter crashes the process
    (SIGSEGV, measured on a 2,336 B linear model at 400 B and a 4,896 B residual one at 2,480 B) instead of
    failing when an arena cannot hold its persistent allocations, and no arena smaller than the tail plus a
    non-empty head can construct anyway.
    """
    measured = measure_arena(tflite_bytes)
    hi = upper_bytes or measured.total_bytes + 64
    while not constructs(tflite_bytes, hi):
        hi *= 2
    lo = measured.tail_bytes if measured.head_bytes > 0 else 0  # invariant: lo fails, hi constructs
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if constructs(tflite_bytes, mid):
            hi = mid
        else:
            lo = mid
    return hi
