"""Run the exported .tflite files with the LiteRT interpreter: quantization parameters, predictions, accuracy.

LiteRT (``ai_edge_litert``) loads without TensorFlow, so this is also what tests use to cross-check the
tflite-micro interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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


def compare(float_bytes: bytes, int8_bytes: bytes, images: np.ndarray, labels: np.ndarray | None) -> Comparison:
    """Top-1 accuracy of both models (when labels are given) and how often they agree."""
    import numpy as np  # see _interpreter

    top_f = predict(float_bytes, images).argmax(axis=1)
    top_q = predict(int8_bytes, images).argmax(axis=1)
    n = len(images)
    agreement = float(np.mean(top_f == top_q)) if n else 0.0
    if labels is None or not n:
        return Comparison(n, None, None, agreement)
    return Comparison(n, float(np.mean(top_f == labels)), float(np.mean(top_q == labels)), agreement)


def ops_used(tflite_bytes: bytes) -> list[str]:
    """The builtin op names the model uses, sorted (what a TFLM MicroMutableOpResolver must register)."""
    interp = _interpreter(tflite_bytes, delegates=False)  # XNNPACK would show up as one DELEGATE op
    return sorted({str(op["op_name"]) for op in interp._get_ops_details()})
