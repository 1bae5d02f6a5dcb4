"""TensorFlow Lite Micro footprint estimate of a design: .tflite file size, tensor arena, runtime library.

Pure Python and fast (well under 2 ms for a preset): no TensorFlow. It predicts the graph the TFLite
converter really produces (``_lower``), then reproduces TFLite Micro's memory layout:

* which ops and tensors exist: dropouts vanish; a BatchNorm right after a conv/depthwise/dense with no
  activation folds into it, one right before a Dense folds into that Dense (except when that Dense is linear
  and feeds another Dense), any other BatchNorm becomes MUL + ADD with their own activation tensors; ReLU and
  ReLU6 fuse into the op before them when it can take a fused activation (conv, depthwise, dense, ADD,
  pools); tanh, sigmoid and softmax are ops of their own; Flatten is a RESHAPE (none when the map is 1x1);
  GlobalAveragePooling is MEAN (which asks for scratch buffers).
* the non-persistent head: TFLM's GreedyMemoryPlanner (buffers sorted by size, ties with the later tensor
  first, each placed at the lowest offset free for its whole lifetime; sizes rounded up to 16 bytes).
* the persistent tail: per tensor a TfLiteEvalTensor (24 B), per op a NodeAndRegistration (64 B) plus the
  kernel's op data and builtin params (calibrated per op kind), per conv/depthwise (and int8 dense) output
  channel a multiplier and a shift (int32 each), and a fixed part (allocator, graph, input/output tensors).
* the flatbuffer: weights at 1 B (int8) / 4 B (float32), int32 biases for int8, 12 B of quantization
  parameters per int8 channel, tensor names as the converter writes them, per tensor/op/buffer overhead and
  fixed metadata, calibrated on real files.

Checked against the real converter and the tflite-micro Python interpreter (tests/test_tflm.py): arena and
file within 2 % for every preset and for generated designs.

Note for the README (32-bit MCU vs this measurement): the arena figures are calibrated on the 64-bit host
that runs tflite-micro's Python interpreter. The head (activation buffers) is identical on a Cortex-M. The
persistent tail holds pointers and C structs (TfLiteEvalTensor, NodeAndRegistration, kernel op data) that
are smaller with 4-byte pointers, so on a 32-bit MCU the tail is roughly 30-40 % smaller and the arena a
little smaller than estimated here: the estimate errs on the safe side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from designer.design import Analysis, LayerStats
from designer.footprint import Footprint, LayerFootprint

_ALIGN = 16  # TFLM aligns every arena buffer to 16 bytes

# Persistent tail, 64-bit host (fitted on 45 int8 + 45 float32 converted models, max error 16 B).
_EVAL_TENSOR_BYTES = 24  # TfLiteEvalTensor: data pointer, dims pointer, type
_NODE_BYTES = 64  # NodeAndRegistration
_TAIL_FIXED_BYTES = {"int8": 720, "float32": 656}  # allocator, graph arrays, input/output TfLiteTensors
_OP_TAIL_BYTES = {  # kernel op data + builtin params per op kind (same for both dtypes)
    "CONV_2D": 104, "DEPTHWISE_CONV_2D": 104, "FULLY_CONNECTED": 112, "ADD": 64, "MUL": 64,
    "AVERAGE_POOL_2D": 72, "MAX_POOL_2D": 72, "MEAN": 72, "RESHAPE": 40, "SOFTMAX": 88,
    "LOGISTIC": 16, "TANH": 16, "RELU": 24, "RELU6": 24,
}

# Library code on a Cortex-M4/M7 built with -Os (reference kernels), in bytes. An estimate from typical
# TFLM builds, not a measurement: the interpreter core plus each distinct op kernel the model registers.
_CORE_FLASH_BYTES = 28_000
_KERNEL_FLASH_BYTES = {
    "CONV_2D": 6_000, "DEPTHWISE_CONV_2D": 6_000, "FULLY_CONNECTED": 3_500, "ADD": 3_500, "MUL": 2_500,
    "AVERAGE_POOL_2D": 2_500, "MAX_POOL_2D": 2_000, "MEAN": 3_500, "RESHAPE": 500, "SOFTMAX": 3_000,
    "LOGISTIC": 2_000, "TANH": 2_000, "RELU": 1_000, "RELU6": 1_000,
}
_RUNTIME_RAM_BYTES = 1_500  # MicroInterpreter, allocator and op resolver objects outside the arena

_FUSABLE = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "AVERAGE_POOL_2D",
                      "MAX_POOL_2D"})
_FOLDS_BN = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"})
_ACT_OPS = {"relu": "RELU", "relu6": "RELU6", "tanh": "TANH", "sigmoid": "LOGISTIC", "softmax": "SOFTMAX"}
_ACT_NAMES = {"relu": "Relu", "relu6": "Relu6", "tanh": "Tanh", "sigmoid": "Sigmoid", "softmax": "Softmax"}


@dataclass
class _Const:
    """A constant tensor (weights, bias, BN scale/offset, shape)."""

    elements: int
    elem_bytes: int  # bytes per element in the file
    quant_channels: int  # quantization entries (0: no quantization table)
    name_len: int
    dedup_key: tuple[object, ...] | None = None  # identical zero biases share one tensor (float32)


@dataclass
class _Op:
    kind: str
    layer: int  # design layer index that produced it
    out_elements: int
    out_name_len: int
    consts: list[_Const] = field(default_factory=list)
    scratch_bytes: list[int] = field(default_factory=list)
    act: str = "linear"
    channels: int = 0  # output channels of a conv/depthwise/dense


def _r16(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def _model_name(name: str) -> str:
    # Same cleaning as designer.keras_build: the converter prefixes tensor names with it.
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return cleaned or "design"


class _Lowering:
    """Builds the op list the converter emits for a design (see the module docstring for the rules)."""

    def __init__(self, analysis: Analysis, dtype: str) -> None:
        self.int8 = dtype == "int8"
        self.elem = 1 if self.int8 else 4
        self.prefix = len(_model_name(analysis.design.name)) + 3  # "<model>_1/"
        self.stats = [s for s in analysis.layers if s.layer.kind not in ("dropout", "spatial_dropout")]
        self.ops: list[_Op] = []
        self.last_layer = -1  # design index of the layer that produced the current tensor's op

    def seg(self, s: LayerStats) -> int:
        """Length of one "<model>_1/l07_conv2d_1/" name segment."""
        return self.prefix + len(f"l{s.index:02d}_{s.layer.kind}_1/")

    def emit(self, op: _Op) -> _Op:
        self.ops.append(op)
        return op

    def activation(self, s: LayerStats, act: str, *, own_layer: bool) -> None:
        if act == "linear":
            return
        last = self.ops[-1] if self.ops else None
        if act in ("relu", "relu6") and last is not None and (own_layer or self.last_layer == last.layer):
            if last.kind in _FUSABLE and last.act == "linear":
                last.act = act
                last.out_name_len += self.seg(s) + len(_ACT_NAMES[act]) + 1
                return
        if last is not None and act in ("relu", "relu6") and (last.act == act or last.kind == _ACT_OPS[act]):
            return  # relu(relu(x)) and relu6(relu6(x)) are folded away
        self.emit(_Op(_ACT_OPS[act], s.index, math.prod(s.output_shape), self.seg(s) + len(_ACT_NAMES[act])))

    def weighted(self, s: LayerStats, kind: str, weights: int, channels: int, base: str, bias_name: int) -> None:
        layer = s.layer
        seg = self.seg(s)
        consts = [_Const(weights, self.elem, channels if self.int8 else 0, seg + len(base))]
        use_bias = getattr(layer, "use_bias", True)
        if use_bias:
            consts.append(_Const(channels, 4, channels if self.int8 else 0, bias_name))
        else:
            consts.append(_Const(channels, 4, channels if self.int8 else 0, len("arith.constant"),
                                 None if self.int8 else ("zero", channels)))
        out_name = bias_name + 1 if use_bias else seg + len(base) + 1
        self.emit(_Op(kind, s.index, math.prod(s.output_shape), out_name, consts, channels=channels))
        self.activation(s, layer.activation_fn, own_layer=True)

    def next_layers(self, pos: int) -> list[LayerStats]:
        return self.stats[pos + 1:]

    def run(self) -> list[_Op]:
        for pos, s in enumerate(self.stats):
            layer, kind, seg = s.layer, s.layer.kind, self.seg(s)
            out = math.prod(s.output_shape)
            if kind in ("conv2d", "depthwise_conv2d"):
                kh, kw = layer.kernel
                cin, cout = s.input_shape[-1], s.output_shape[-1]
                conv = kind == "conv2d"
                weights = kh * kw * cout * (cin if conv else 1)
                base = "convolution" if conv else "depthwise"
                bias_name = 3 * seg + len("BiasAdd;") + len(base) + 1 + len("Squeeze")
                self.weighted(s, "CONV_2D" if conv else "DEPTHWISE_CONV_2D", weights, cout, base, bias_name)
            elif kind == "dense":
                units = s.output_shape[0]
                bias_name = seg + len("BiasAdd")
                self.weighted(s, "FULLY_CONNECTED", units * s.input_shape[0], units, "MatMul", bias_name)
                self.ops[-1].out_name_len = 2 * seg + len("MatMul;BiasAdd")
            elif kind == "batchnorm":
                if self.bn_folds(pos):
                    continue
                c = s.output_shape[-1]
                q = 1 if self.int8 else 0
                self.emit(_Op("MUL", s.index, out, seg + len("batchnorm/mul_1"),
                              [_Const(c, self.elem, q, seg + len("batchnorm/mul"))]))
                self.emit(_Op("ADD", s.index, out, seg + len("batchnorm/add_1"),
                              [_Const(c, self.elem, q, seg + len("batchnorm/sub"))]))
            elif kind == "activation":
                self.activation(s, layer.activation, own_layer=False)
            elif kind in ("maxpool", "avgpool"):
                op = "MAX_POOL_2D" if kind == "maxpool" else "AVERAGE_POOL_2D"
                self.emit(_Op(op, s.index, out, seg + len("MaxPool2d" if kind == "maxpool" else "AvgPool")))
            elif kind == "flatten":
                if s.input_shape[0] == 1 and s.input_shape[1] == 1:
                    continue  # a 1x1 map feeds the dense directly
                self.emit(_Op("RESHAPE", s.index, out, seg + len("Reshape"),
                              [_Const(2, 4, 0, len("arith.constant"), ("shape", out))]))
            elif kind == "global_avg_pool":
                scratch = [4 * out] if self.int8 else []
                self.emit(_Op("MEAN", s.index, out, seg + len("Mean"),
                              [_Const(2, 4, 0, seg + len("Mean/reduction_indices"))], scratch + [16, 16]))
            else:
                raise ValueError(f"no TFLite Micro lowering for layer kind '{kind}'")
            self.last_layer = s.index
        for op, nxt in zip(self.ops, self.ops[1:], strict=False):
            if op.kind == "FULLY_CONNECTED" and op.act == "linear" and nxt.kind == "FULLY_CONNECTED":
                del op.consts[1:]  # the converter moves a linear dense's bias into the next dense's bias
        return self.ops

    def bn_folds(self, pos: int) -> bool:
        """Whether the BatchNorm at ``pos`` disappears into a neighbouring conv/depthwise/dense."""
        s = self.stats[pos]
        last = self.ops[-1] if self.ops else None
        if (last is not None and last.layer == self.last_layer and last.kind in _FOLDS_BN
                and last.act == "linear" and pos > 0 and self.stats[pos - 1].index == last.layer):
            return True
        rest = self.next_layers(pos)
        if len(s.output_shape) == 1 and rest and rest[0].layer.kind == "dense":
            # Folded forward into the dense, except a linear dense that feeds another dense.
            # The folded offset needs the dense's bias; a linear dense feeding a dense has lost its bias.
            linear = rest[0].layer.activation_fn == "linear"
            return rest[0].layer.use_bias and not (linear and len(rest) > 1 and rest[1].layer.kind == "dense")
        return False


@dataclass(frozen=True)
class _Plan:
    head_bytes: int
    live_bytes_per_op: tuple[int, ...]


def _plan(sizes: list[int], first: list[int], last: list[int], n_ops: int) -> _Plan:
    """TFLM's GreedyMemoryPlanner: largest first (ties: later buffer first), lowest offset that fits."""
    order = sorted(range(len(sizes)), key=lambda i: (-sizes[i], -i))
    placed: list[tuple[int, int, int, int]] = []  # offset, size, first, last
    for i in order:
        size, f, lst = sizes[i], first[i], last[i]
        live = sorted((p for p in placed if p[2] <= lst and p[3] >= f), key=lambda p: p[0])
        offset = 0
        for p_off, p_size, _, _ in live:
            if p_off >= offset + size:
                break
            offset = max(offset, p_off + p_size)
        placed.append((offset, size, f, lst))
    head = max((p[0] + p[1] for p in placed), default=0)
    live_per_op = tuple(sum(p[1] for p in placed if p[2] <= t <= p[3]) for t in range(n_ops))
    return _Plan(head, live_per_op)


# Flatbuffer bytes besides weight data and names, fitted by least squares on 68 real files per dtype
# (presets and generated designs). Int8 tensors are nearly all quantized, so the per-tensor and
# per-quantized-tensor terms only make sense together (about 118 B per quantized tensor).
_FILE_COEFS = {
    "int8": {"tensor": -56, "quant_tensor": 174, "quant_channel": 12, "op": -2, "op_kind": 33, "fixed": 653},
    "float32": {"tensor": 87, "quant_tensor": 0, "quant_channel": 0, "op": 21, "op_kind": 24, "fixed": 526},
}


def _pad4(n: int) -> int:
    return (n + 3) // 4 * 4


def estimate_tflm(analysis: Analysis, *, dtype: str) -> Footprint:
    """The TFLite Micro footprint of an analysed design for ``float32`` or full-integer ``int8``."""
    lowering = _Lowering(analysis, dtype)
    ops = lowering.run()
    elem = lowering.elem
    int8 = lowering.int8

    # Activation buffers: the input, every op's output (read by the next op; the model output lives to the
    # end), then each op's scratch buffers, in the order TFLM requests them.
    sizes = [_r16(math.prod(analysis.design.input_shape) * elem)]
    first, last = [0], [0]
    for i, op in enumerate(ops):
        sizes.append(_r16(op.out_elements * elem))
        first.append(i)
        last.append(i + 1)
    for i, op in enumerate(ops):
        for scratch in op.scratch_bytes:
            sizes.append(_r16(scratch))
            first.append(i)
            last.append(i)
    plan = _plan(sizes, first, last, len(ops))

    consts: list[_Const] = []
    seen: set[tuple[object, ...]] = set()
    for op in ops:
        for c in op.consts:
            if c.dedup_key is not None:
                if c.dedup_key in seen:
                    continue
                seen.add(c.dedup_key)
            consts.append(c)
    n_tensors = 1 + len(ops) + len(consts)

    # Per-channel output multiplier and shift (int32 each) of conv/depthwise, and of dense when int8.
    channel_arrays = sum(2 * _r16(4 * op.channels) for op in ops
                         if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D") or (op.kind == "FULLY_CONNECTED" and int8))
    tail = (_TAIL_FIXED_BYTES[dtype] + _EVAL_TENSOR_BYTES * n_tensors + _NODE_BYTES * len(ops)
            + sum(_OP_TAIL_BYTES[op.kind] for op in ops) + channel_arrays)
    arena = plan.head_bytes + tail

    file_bytes = _file_bytes(ops, consts, n_tensors, int8)

    kinds = {op.kind for op in ops}
    runtime_flash = _CORE_FLASH_BYTES + sum(_KERNEL_FLASH_BYTES[k] for k in kinds)

    rows = _layer_rows(analysis, ops, plan)
    macc = sum(r.macc for r in rows)
    return Footprint(
        design=analysis.design.name, runtime="tflm", dtype=dtype, compression="none",
        params_total=analysis.params_total, params_trainable=analysis.params_trainable, macc=macc,
        weights_bytes=file_bytes, runtime_flash_bytes=runtime_flash, activations_bytes=arena,
        runtime_ram_bytes=_RUNTIME_RAM_BYTES, layers=rows,
    )


def _file_bytes(ops: list[_Op], consts: list[_Const], n_tensors: int, int8: bool) -> int:
    """Size of the .tflite flatbuffer."""
    data = sum(_r16(c.elements * c.elem_bytes) for c in consts)
    names = (_pad4(len("serving_default_input:0") + 1) + sum(_pad4(c.name_len + 1) for c in consts)
             + sum(_pad4(op.out_name_len + 1) for op in ops[:-1]) + _pad4(len("StatefulPartitionedCall_1:0") + 1))
    quant_tensors = (1 + len(ops) + sum(1 for c in consts if c.quant_channels)) if int8 else 0
    quant_channels = (1 + len(ops) + sum(c.quant_channels for c in consts)) if int8 else 0
    k = _FILE_COEFS["int8" if int8 else "float32"]
    return (k["fixed"] + data + names + k["tensor"] * n_tensors + k["quant_tensor"] * quant_tensors
            + k["quant_channel"] * quant_channels + k["op"] * len(ops) + k["op_kind"] * len({op.kind for op in ops}))


def _layer_rows(analysis: Analysis, ops: list[_Op], plan: _Plan) -> tuple[LayerFootprint, ...]:
    weights: dict[int, int] = {}
    ram: dict[int, int] = {}
    for i, op in enumerate(ops):
        weights[op.layer] = weights.get(op.layer, 0) + sum(c.elements * c.elem_bytes for c in op.consts)
        ram[op.layer] = max(ram.get(op.layer, 0), plan.live_bytes_per_op[i])
    return tuple(
        LayerFootprint(index=s.index, kind=s.layer.kind, output_shape=s.output_shape, params=s.params_total,
                       macc=s.macc if s.index in ram else 0, weights_bytes=weights.get(s.index, 0),
                       ram_bytes=ram.get(s.index, 0))
        for s in analysis.layers
    )
