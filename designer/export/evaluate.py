"""Run the exported .tflite files: quantization parameters, predictions and accuracy.

Accuracy is measured with the tflite-micro interpreter (TFLM's reference kernels, whose int8 output bytes are
what a board computes, CMSIS-NN included); LiteRT (``ai_edge_litert``, XNNPACK by default) gives a second,
labelled column: on Model5's 10,000 test images its int8 bytes matched tflite-micro's on only 3,808 (issue 15).
Neither needs TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from designer.export.firmware import TestVectors

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class TensorQuant:
    """A tensor's dtype and affine quantization (scale 0 / zero point 0 for a float tensor)."""

    dtype: str  # numpy dtype name, e.g. "int8"
    shape: tuple[int, ...]
    scale: float
    zero_point: int


def _interpreter(tflite_bytes: bytes, *, delegates: bool = True) -> Any:
    # Imported here: only export and tests need it (it has no TensorFlow import and loads in ~0.01 s).
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if delegates else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = Interpreter(model_content=tflite_bytes, experimental_op_resolver_type=resolver)
    interp.allocate_tensors()
    return interp


def io_quantization(tflite_bytes: bytes) -> tuple[TensorQuant, TensorQuant]:
    """(input, output) dtype, shape and quantization of a single-input single-output model."""
    interp = _interpreter(tflite_bytes)

    def quant(detail: dict[str, Any]) -> TensorQuant:
        scale, zero = detail["quantization"]
        return TensorQuant(detail["dtype"].__name__, tuple(int(d) for d in detail["shape"]), float(scale),
                           int(zero))

    return quant(interp.get_input_details()[0]), quant(interp.get_output_details()[0])


def quantize_input(x: np.ndarray, q: TensorQuant) -> np.ndarray:
    """Float images to the model's input dtype (identity for a float model)."""
    import numpy as np  # see _interpreter

    if q.dtype == "float32":
        return x.astype(np.float32)
    info = np.iinfo(q.dtype)
    return np.clip(np.round(x / q.scale) + q.zero_point, info.min, info.max).astype(q.dtype)


def predict(tflite_bytes: bytes, images: np.ndarray) -> np.ndarray:
    """Raw outputs (the model's dtype) for each image, one invoke per image (the models have batch 1)."""
    import numpy as np  # see _interpreter

    interp = _interpreter(tflite_bytes)
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    q_in, _ = io_quantization(tflite_bytes)
    rows = []
    for image in images:
        interp.set_tensor(inp["index"], quantize_input(image[None, ...], q_in))
        interp.invoke()
        rows.append(interp.get_tensor(out["index"])[0].copy())
    return np.stack(rows) if rows else np.zeros((0, int(out["shape"][-1])), dtype=out["dtype"])


def micro_predict(tflite_bytes: bytes, images: np.ndarray, *, arena_bytes: int | None = None) -> np.ndarray:
    """Raw outputs of the tflite-micro interpreter (reference kernels) for each image, one invoke each.

    ``images`` are float model inputs; an int8 model gets them quantized like :func:`quantize_input`.
    """
    import numpy as np  # see _interpreter
    from tflite_micro import runtime  # Linux x86_64 wheels only; the export needs it anyway for the arena

    q_in, q_out = io_quantization(tflite_bytes)
    micro = runtime.Interpreter.from_bytes(tflite_bytes, arena_size=arena_bytes or max(1 << 21, 12 * len(tflite_bytes)))
    rows = []
    for image in images:
        micro.set_input(quantize_input(image[None, ...], q_in), 0)
        micro.invoke()
        rows.append(np.asarray(micro.get_output(0))[0].copy())
    return np.stack(rows) if rows else np.zeros((0, q_out.shape[-1]), dtype=q_out.dtype)


def micro_predict_int8(tflite_bytes: bytes, inputs: np.ndarray) -> np.ndarray:
    """tflite-micro's int8 outputs for already quantized int8 inputs (the test vectors)."""
    import numpy as np  # see _interpreter
    from tflite_micro import runtime  # see micro_predict

    micro = runtime.Interpreter.from_bytes(tflite_bytes, arena_size=max(1 << 21, 12 * len(tflite_bytes)))
    rows = []
    for x in inputs:
        micro.set_input(np.asarray(x, dtype=np.int8)[None, ...], 0)
        micro.invoke()
        rows.append(np.asarray(micro.get_output(0))[0].copy())
    return np.stack(rows)


@dataclass(frozen=True)
class Comparison:
    """float32 vs int8 on the same images. Accuracies are fractions (None without labels)."""

    images: int
    float32_accuracy: float | None
    int8_accuracy: float | None
    agreement: float  # fraction of images where both give the same top-1 class

    @property
    def drop_points(self) -> float | None:
        """Accuracy lost by int8, in percentage points."""
        if self.float32_accuracy is None or self.int8_accuracy is None:
            return None
        return (self.float32_accuracy - self.int8_accuracy) * 100


def compare(float_bytes: bytes, int8_bytes: bytes, images: np.ndarray, labels: np.ndarray | None, *,
            interpreter: str = "litert") -> Comparison:
    """Top-1 accuracy of both models (when labels are given) and how often they agree, with ``litert`` or
    ``tflite-micro``."""
    run = {"litert": predict, "tflite-micro": micro_predict}[interpreter]
    return comparison_of(run(float_bytes, images), run(int8_bytes, images), labels)


def comparison_of(float_out: np.ndarray, int8_out: np.ndarray, labels: np.ndarray | None) -> Comparison:
    """The Comparison of two models' raw outputs on the same images."""
    import numpy as np  # see _interpreter

    top_f, top_q = float_out.argmax(axis=1), int8_out.argmax(axis=1)
    n = len(top_f)
    agreement = float(np.mean(top_f == top_q)) if n else 0.0
    if labels is None or not n:
        return Comparison(n, None, None, agreement)
    return Comparison(n, float(np.mean(top_f == labels)), float(np.mean(top_q == labels)), agreement)


def ops_used(tflite_bytes: bytes) -> list[str]:
    """The builtin op names the model uses, sorted (what a TFLM MicroMutableOpResolver must register)."""
    interp = _interpreter(tflite_bytes, delegates=False)  # XNNPACK would show up as one DELEGATE op
    return sorted({str(op["op_name"]) for op in interp._get_ops_details()})


@dataclass(frozen=True)
class Accuracy:
    """float32 vs int8, with tflite-micro (the reported figures) and with LiteRT (a second column)."""

    micro: Comparison
    litert: Comparison
    micro_evaluated_on: str
    litert_evaluated_on: str
    litert_int8_bytes_equal: int  # of the tflite-micro images, how many LiteRT int8 outputs are byte-equal
    litert_int8_top1_equal: int


def evaluate_accuracy(float_bytes: bytes, int8_bytes: bytes, images: np.ndarray, labels: np.ndarray | None, *,
                      micro_images: int, seed: int) -> tuple[Accuracy, np.ndarray, np.ndarray | None]:
    """float32 vs int8 with tflite-micro on a seeded sample of at most ``micro_images`` (it takes ~20 ms per
    Model5 image) and with LiteRT on all ``images``; also returns the tflite-micro sample (images, labels)."""
    import numpy as np  # see _interpreter

    what = "test images" if labels is not None else "random calibration images (no labels: agreement only)"
    rows = np.arange(len(images))
    if micro_images < len(images):
        rows = np.sort(np.random.default_rng(seed + 2).choice(len(images), size=micro_images, replace=False))
    micro_x, micro_y = images[rows], (labels[rows] if labels is not None else None)
    lite_f, lite_q = predict(float_bytes, images), predict(int8_bytes, images)
    micro_f, micro_q = micro_predict(float_bytes, micro_x), micro_predict(int8_bytes, micro_x)
    sample = "" if len(rows) == len(images) else f"a seeded sample of {len(rows):,} of "
    acc = Accuracy(
        micro=comparison_of(micro_f, micro_q, micro_y), litert=comparison_of(lite_f, lite_q, labels),
        micro_evaluated_on=f"{sample}{len(images):,} {what}", litert_evaluated_on=f"{len(images):,} {what}",
        litert_int8_bytes_equal=int(np.sum(np.all(lite_q[rows] == micro_q, axis=1))),
        litert_int8_top1_equal=int(np.sum(lite_q[rows].argmax(1) == micro_q.argmax(1))))
    return acc, micro_x, micro_y


TEST_VECTOR_COUNT = 3
"""Inputs in <c_name>_test_vectors.h: enough to show a wrong build, small in flash (3 KiB each at 32x32x3)."""


def make_test_vectors(int8_bytes: bytes, images: np.ndarray, labels: np.ndarray | None, *, shape: tuple[int, ...],
                 input_range: tuple[float, float], seed: int) -> TestVectors:
    """The first TEST_VECTOR_COUNT ``images`` (test-split images when ``labels`` are given) or, without
    labels, seeded synthetic inputs uniform in ``input_range``; with tflite-micro's int8 outputs for them."""
    import numpy as np  # see _interpreter

    q_in, _ = io_quantization(int8_bytes)
    if labels is not None:
        chosen, truth = images[:TEST_VECTOR_COUNT], [int(v) for v in labels[:TEST_VECTOR_COUNT]]
        source = f"{len(chosen)} images of the run's test split (the first of the seeded evaluation sample)"
    else:
        lo, hi = input_range
        rng = np.random.default_rng(seed + 1)
        chosen = (lo + (hi - lo) * rng.random((TEST_VECTOR_COUNT, *shape))).astype(np.float32)
        truth = [-1] * len(chosen)
        source = (f"{len(chosen)} seeded synthetic inputs, uniform in [{lo:g}, {hi:g}] (no data set: the export "
                  "has no test images)")
    inputs = np.stack([quantize_input(x[None, ...], q_in)[0] for x in chosen]).astype(np.int8)
    outputs = micro_predict_int8(int8_bytes, inputs).astype(np.int8)
    return TestVectors(tuple(x.tobytes() for x in inputs), tuple(y.tobytes() for y in outputs), tuple(truth),
                       source, labels is not None)
