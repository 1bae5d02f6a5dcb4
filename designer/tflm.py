"""TensorFlow Lite Micro footprint estimate of a design: .tflite file size, tensor arena, runtime library.

Pure Python and fast (well under 2 ms for a preset): no TensorFlow. It starts from the lowering
(designer.graph.lower: one node per analysis row, tensors with their readers), predicts the graph the
TFLite converter really produces (``_Lowering``), then reproduces TFLite Micro's memory layout:

* which ops and tensors exist: dropouts vanish; a BatchNorm fed by a conv/depthwise/dense with no
  activation that nothing else reads folds into it, one right before a Dense folds into that Dense (except
  when that Dense is linear and feeds another Dense), any other BatchNorm on a feature map is the 1x1
  depthwise conv that designer.tflite_tools.tflite_graph writes for it (the same rule:
  tflite_tools.unfoldable_batchnorms), one on a vector becomes MUL + ADD with their own activation
  tensors; ReLU and ReLU6 fuse into the op before them when it can take a fused activation (conv,
  depthwise, dense, ADD, pools) and nothing else reads that op's output; tanh, sigmoid and softmax are ops
  of their own; Flatten is a RESHAPE (none when the map is 1x1); GlobalAveragePooling is MEAN (which asks
  for scratch buffers); identical weightless ops on one tensor (the flatten or GAP both paths of a block
  start with) are one op.
* residual blocks: the join is an ADD of (main, shortcut) with the block's ReLU/ReLU6 fused into it (the
  Keras Add + Activation pair; other activations stay ops named after the ``lNN_add_<act>`` layer). On a
  1x1 map or a vector the converter writes the add as a bias add: the shortcut reshaped to a vector
  (RESHAPE, shared by adds reading the same tensor) plus ADD. A BN folded into a conv renames its bias.
* the op order: the converter's, not the tree's. It imports the TensorFlow graph in reverse post-order of
  a depth-first walk from the graph's sources (the input and every constant, largest name first), so a
  weightless op on a shortcut (a pool) often runs before the main path (``_Lowering.order``). Lifetimes
  follow that order: a tensor lives from its op to its last reader, so a shortcut stays alive across the
  main path.
* the non-persistent head: TFLM's GreedyMemoryPlanner (buffers sorted by size, ties with the later tensor
  first, each placed at the lowest offset free for its whole lifetime; sizes rounded up to 16 bytes).
* the persistent tail on the 64-bit host: per tensor a TfLiteEvalTensor (24 B), per op a
  NodeAndRegistration (64 B) plus the kernel's op data and builtin params (calibrated per op kind), per
  conv/depthwise (and int8 dense) output channel a multiplier and a shift (int32 each), and a fixed part
  (allocator, graph, input/output tensors).
* the flatbuffer: weights at 1 B (int8) / 4 B (float32) padded to 16 B, int32 biases for int8, 12 B of
  quantization parameters per int8 channel, the tensor names exactly as the converter writes them (fused
  ops join their layers' names with ';', clashes get a numeric suffix; a dense without bias has no bias
  tensor, a BatchNorm folded into a conv, a depthwise conv or a following dense renames its tensors), and
  per tensor / shape dimension / op input / op kind overheads calibrated on real files.

Two arenas (Footprint.tflm). ``arena_host_bytes`` is what tflite-micro's Python interpreter reports (the
figure checked in CI). ``arena_cortex_m_bytes`` (= Footprint.activations_bytes, the board budget's figure)
is the arena on a 32-bit Cortex-M4/M7 with the CMSIS-NN kernels:

* the same head, planned again with the scratch buffers CMSIS-NN's int8 kernels request (``_cmsis_scratch``:
  designer.cortex_m's ``*_scratch_bytes``, CMSIS-NN's ``*_get_buffer_size``), each alive while its op runs;
* a 32-bit tail: per tensor and per op designer.cortex_m's Cortex-M struct sizes (TfLiteEvalTensor 12 B,
  NodeAndRegistration 32 B), the host op-data bytes scaled by 0.82 (op data keeps its int32 fields and loses
  4 B per pointer; the builtin params hold none), the per-channel int32 arrays unchanged, a fixed part, and
  cortex_m.cmsis_nn_op_data_extra_bytes per CMSIS-NN conv/depthwise op. The ratio and the fixed part were
  solved from two reference-kernel arenas measured on a Cortex-M4 (Model4 int8 36,520 B, Model5 76,820 B).

Checked against the real converter and the tflite-micro Python interpreter (tests/test_tflm.py): host
arena within 0.5 % and file within 2 % for every preset, 20 linear and 24 residual generated designs and
tiny int8 designs; the Cortex-M figure against the Cortex-M4 measurements (Model4 38,220 B, Model5
78,136 B with CMSIS-NN: both within 0.01 %).
"""

from __future__ import annotations

import math
from bisect import insort
from dataclasses import dataclass, field

from designer import cortex_m
from designer.design import Analysis, LayerStats
from designer.footprint import Footprint, LayerFootprint, TflmArena
from designer.graph import Graph, Node, lower
from designer.keras_build import add_activation_name

_ALIGN = cortex_m.ARENA_ALIGN_BYTES

# Persistent tail, 64-bit host (fitted on 45 int8 + 45 float32 converted models, max error 16 B), beside
# cortex_m.EVAL_TENSOR and cortex_m.NODE_AND_REGISTRATION per tensor and per op.
_TAIL_FIXED_BYTES = {"int8": 720, "float32": 656}  # allocator, graph arrays, input/output TfLiteTensors
_OP_TAIL_BYTES = {  # kernel op data + builtin params per op kind (same for both dtypes)
    "CONV_2D": 104, "DEPTHWISE_CONV_2D": 104, "FULLY_CONNECTED": 112, "ADD": 64, "MUL": 64,
    "AVERAGE_POOL_2D": 72, "MAX_POOL_2D": 72, "MEAN": 72, "RESHAPE": 40, "SOFTMAX": 88,
    "LOGISTIC": 16, "TANH": 16, "RELU": 24, "RELU6": 24,
}

# Persistent tail on a 32-bit Cortex-M: the struct sizes and CMSIS-NN's extra op data are designer.cortex_m's.
# Op data + builtin params keep their int32 fields and lose 4 B per pointer: 0.82 of the host figure,
# and the fixed part (allocator, graph arrays, two persistent TfLiteTensor of 40 B) is 312 B (int8): both
# solved from the reference-kernel arenas of Model4 and Model5 measured on a Cortex-M4 (36,520 B and 76,820 B).
_CM_OP_DATA_RATIO = 0.82
_CM_TAIL_FIXED_BYTES = {"int8": 312, "float32": 284}  # float32 scaled like the host's 656/720

# Library code on a Cortex-M4/M7 built with -Os (reference kernels), in bytes. An estimate from typical
# TFLM builds, not a measurement: the interpreter core plus each distinct op kernel the model registers.
_CORE_FLASH_BYTES = 28_000
_KERNEL_FLASH_BYTES = {
    "CONV_2D": 6_000, "DEPTHWISE_CONV_2D": 6_000, "FULLY_CONNECTED": 3_500, "ADD": 3_500, "MUL": 2_500,
    "AVERAGE_POOL_2D": 2_500, "MAX_POOL_2D": 2_000, "MEAN": 3_500, "RESHAPE": 500, "SOFTMAX": 3_000,
    "LOGISTIC": 2_000, "TANH": 2_000, "RELU": 1_000, "RELU6": 1_000,
}
# An ADD of two activations (a block's join) keeps 12 B more than the BatchNorm's ADD with a constant
# (fitted on 24 generated residual designs, both dtypes).
_JOIN_ADD_EXTRA_BYTES = 12
_RUNTIME_RAM_BYTES = 1_500  # MicroInterpreter, allocator and op resolver objects outside the arena

_FUSABLE = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "AVERAGE_POOL_2D",
                      "MAX_POOL_2D"})
_FOLDS_BN = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"})
_ACT_OPS = {"relu": "RELU", "relu6": "RELU6", "tanh": "TANH", "sigmoid": "LOGISTIC", "softmax": "SOFTMAX"}
_MERGED = frozenset({"flatten", "global_avg_pool", "maxpool", "avgpool"})  # weightless, merged when alike
_GONE = frozenset({"dropout", "spatial_dropout"})  # identity at inference: no op, no tensor
# The converter's name for the model input node; compared with layer names to order its graph walk.
_INPUT_NODE_NAME = "input"
_ACT_NAMES = {"relu": "Relu", "relu6": "Relu6", "tanh": "Tanh", "sigmoid": "Sigmoid", "softmax": "Softmax"}


@dataclass
class _Const:
    """A constant tensor (weights, bias, BN scale/offset, shape)."""

    elements: int
    elem_bytes: int  # bytes per element in the file
    quant_channels: int  # quantization entries (0: no quantization table)
    name: str
    rank: int = 1
    dedup_key: tuple[object, ...] | None = None  # identical zero biases share one tensor (float32)


@dataclass
class _Op:
    kind: str
    layer: int  # graph node id (== analysis row index) that produced it
    out_elements: int
    out_name: str
    out_rank: int
    consts: list[_Const] = field(default_factory=list)
    scratch_bytes: list[int] = field(default_factory=list)
    act: str = "linear"
    act_prefix: str = ""  # "<seg>Relu;" of the fused activation
    channels: int = 0  # output channels of a conv/depthwise/dense
    fused_bias: _Const | None = None  # the bias whose name carries the fused activation
    bn_prefix: str = ""  # names of a BatchNorm folded forward into this dense
    base_name: str = ""  # "<seg>convolution", "<seg>MatMul", ...
    inputs: list[int] = field(default_factory=list)  # values read (value -1: the model input; k: op k's output)
    unit: int = -1  # the Keras layer whose TF ops this op comes from: sets the converter's op order
    cmsis_scratch_bytes: int = 0  # the scratch buffer the CMSIS-NN int8 kernel requests (see _cmsis_scratch)


def _unique(name: str, used: set[str]) -> str:
    """The converter's unique tensor name: a clash gets the first free numeric suffix."""
    if name in used:
        k = 1
        while f"{name}{k}" in used:
            k += 1
        name = f"{name}{k}"
    used.add(name)
    return name


def _r16(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def _model_name(name: str) -> str:
    # Same cleaning as designer.keras_build: the converter prefixes tensor names with it.
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return cleaned or "design"


class _Lowering:
    """Builds the op list the converter emits for a lowered design (see the module docstring for the rules).

    Ops are emitted walking ``graph.nodes``; each op reads *values* (-1 is the model input, k the output of
    ``ops[k]``) and each graph tensor maps to the value holding it (a dropout, a folded BatchNorm, a fused
    ReLU or a 1x1 flatten add no value of their own). ``order()`` then puts the ops in the converter's order.
    """

    def __init__(self, graph: Graph, design_name: str, dtype: str) -> None:
        self.graph = graph
        self.int8 = dtype == "int8"
        self.elem = 1 if self.int8 else 4
        self.model = _model_name(design_name)
        self.prefix = self.model + "_1/"
        self.ops: list[_Op] = []
        self.value: dict[int, int] = {graph.input_tensor: -1}  # graph tensor -> value
        self.merged: dict[tuple[str, int], int] = {}  # (layer, value read) -> value of a weightless op
        self.pending_bn: dict[int, str] = {}  # dense node id -> names of a BatchNorm folded forward into it
        self.readers = [0] * len(graph.tensors)  # Keras layers reading each (dropout-resolved) tensor
        for node in graph.nodes:
            if node.stats.layer.kind not in _GONE:
                for t in node.inputs:
                    self.readers[self.resolve(t)] += 1
        # Keras layers (graph nodes, plus the Activation after an add) for the converter's op order.
        self.unit_names: list[str] = []
        self.unit_roots: list[bool] = []  # whether the layer has a constant input (a DFS root, see order())
        self.unit_inputs: list[list[int]] = []  # producing units (-1: the model input)
        self.unit_of_tensor: dict[int, int] = {graph.input_tensor: -1}

    def resolve(self, t: int) -> int:
        """The tensor a dropout chain passes on (dropouts are gone at inference)."""
        node = self.graph.producer_of(t)
        while node is not None and node.stats.layer.kind in _GONE:
            t = node.inputs[0]
            node = self.graph.producer_of(t)
        return t

    def seg(self, name: str) -> str:
        """One "<model>_1/l07_conv2d_1/" name segment."""
        return f"{self.prefix}{name}_1/"

    def unit(self, name: str, root: bool, inputs: list[int]) -> int:
        self.unit_names.append(name)
        self.unit_roots.append(root)
        self.unit_inputs.append(inputs)
        return len(self.unit_names) - 1

    def emit(self, op: _Op, inputs: list[int], unit: int) -> int:
        op.inputs, op.unit = inputs, unit
        self.ops.append(op)
        return len(self.ops) - 1

    def producer(self, value: int) -> _Op | None:
        return self.ops[value] if value >= 0 else None

    def activation(self, name: str, act: str, value: int, unit: int, *, own_layer: bool, sole: bool) -> int:
        """The value of ``act`` applied to ``value``: fused into its op, folded away, or an op of its own."""
        if act == "linear":
            return value
        last = self.producer(value)
        if act in ("relu", "relu6") and last is not None and (own_layer or sole):
            if last.kind in _FUSABLE and last.act == "linear":
                last.act = act
                last.act_prefix = self.seg(name) + _ACT_NAMES[act] + ";"
                return value
        if last is not None and act in ("relu", "relu6") and (last.act == act or last.kind == _ACT_OPS[act]):
            return value  # relu(relu(x)) and relu6(relu6(x)) are folded away
        return self.emit(_Op(_ACT_OPS[act], -1, 0, self.seg(name) + _ACT_NAMES[act], 0), [value], unit)

    def weighted(self, s: LayerStats, name: str, value: int, unit: int, kind: str, weights: int, channels: int,
                 base: str, bias_name: str, rank: int) -> int:
        layer = s.layer
        seg = self.seg(name)
        consts = [_Const(weights, self.elem, channels if self.int8 else 0, seg + base, rank)]
        use_bias = getattr(layer, "use_bias", True)
        op = _Op(kind, s.index, math.prod(s.output_shape), "", len(s.output_shape) + 1, consts, channels=channels,
                 base_name=seg + base)
        quant = channels if self.int8 else 0
        if use_bias:
            bias = _Const(channels, 4, quant, bias_name)
            consts.append(bias)
            op.fused_bias = bias
            op.bn_prefix = self.pending_bn.pop(s.index, "")
        elif kind != "FULLY_CONNECTED":
            if self.ops:
                zero = None if self.int8 else ("zero", channels)
                consts.append(_Const(channels, 4, quant, "arith.constant", 1, zero))
            else:  # the first op's zero bias takes the kernel's name (the kernel gets a suffix)
                consts.insert(0, _Const(channels, 4, quant, seg + base))
                consts[1].name = seg + base + "1"
                consts.reverse()
        return self.emit(op, [value], unit)

    def run(self) -> list[_Op]:
        for node in self.graph.nodes:
            s, name = node.stats, node.name
            layer, kind = s.layer, s.layer.kind
            if kind in _GONE:
                continue
            ins = [self.resolve(t) for t in node.inputs]
            values = [self.value[t] for t in ins]
            value = values[0]
            flat = len(s.input_shape) == 1 or s.input_shape[:2] == (1, 1)  # a flatten with nothing to do
            root = kind in ("conv2d", "depthwise_conv2d", "dense", "batchnorm", "global_avg_pool") or (
                kind == "flatten" and not flat)
            unit = self.unit(name, root, [self.unit_of_tensor[t] for t in ins])
            self.unit_of_tensor[node.output] = unit
            seg = self.seg(name)
            out = math.prod(s.output_shape)
            rank = len(s.output_shape) + 1
            sole = self.readers[ins[0]] == 1
            first = len(self.ops)
            # (kind and parameters, value read): its summary spells every parameter of these kinds.
            same = (f"{kind} {layer.summary()}", value) if kind in _MERGED else None
            if same is not None and same in self.merged:  # the converter merges identical ops on one tensor
                self.value[node.output] = self.merged[same]
                continue
            if kind in ("conv2d", "depthwise_conv2d"):
                kh, kw = layer.kernel
                cin, cout = s.input_shape[-1], s.output_shape[-1]
                conv = kind == "conv2d"
                weights = kh * kw * cout * (cin if conv else 1)
                base = "convolution" if conv else "depthwise"
                bias_name = f"{seg}BiasAdd;{seg}{base};{seg}Squeeze"
                value = self.weighted(s, name, value, unit, "CONV_2D" if conv else "DEPTHWISE_CONV_2D", weights,
                                      cout, base, bias_name, 4)
                self.ops[value].cmsis_scratch_bytes = _cmsis_scratch(s)
                value = self.activation(name, layer.activation_fn, value, unit, own_layer=True, sole=True)
            elif kind == "dense":
                units = s.output_shape[0]
                # A one-unit dense's bias is a plain Add in the converter's graph, and so is its name.
                bias = seg + ("Add" if units == 1 else "BiasAdd")
                value = self.weighted(s, name, value, unit, "FULLY_CONNECTED", units * s.input_shape[0], units,
                                      "MatMul", bias, 2)
                value = self.activation(name, layer.activation_fn, value, unit, own_layer=True, sole=True)
            elif kind == "batchnorm":
                if not self.bn_folds(node, ins[0], value):
                    c = s.output_shape[-1]
                    if len(s.output_shape) == 3:
                        # designer.tflite_tools.tflite_graph writes it as a 1x1 depthwise conv with the BN's name.
                        value = self.weighted(s, name, value, unit, "DEPTHWISE_CONV_2D", c, c, "depthwise",
                                              f"{seg}BiasAdd;{seg}depthwise;{seg}Squeeze", 4)
                        self.ops[value].cmsis_scratch_bytes = cortex_m.depthwise_scratch_bytes(c, c, 1, 1)
                    else:
                        q = 1 if self.int8 else 0
                        value = self.emit(_Op("MUL", s.index, out, seg + "batchnorm/mul_1", rank,
                                              [_Const(c, self.elem, q, seg + "batchnorm/mul")]), [value], unit)
                        value = self.emit(_Op("ADD", s.index, out, seg + "batchnorm/add_1", rank,
                                              [_Const(c, self.elem, q, seg + "batchnorm/sub")]), [value], unit)
            elif kind == "activation":
                value = self.activation(name, layer.activation, value, unit, own_layer=False, sole=sole)
            elif kind in ("maxpool", "avgpool"):
                op = "MAX_POOL_2D" if kind == "maxpool" else "AVERAGE_POOL_2D"
                value = self.emit(_Op(op, s.index, out, seg + ("MaxPool2d" if kind == "maxpool" else "AvgPool"),
                                      rank), [value], unit)
                if kind == "avgpool":
                    self.ops[value].cmsis_scratch_bytes = cortex_m.avgpool_scratch_bytes(s.output_shape[-1])
            elif kind == "flatten":
                if not flat:  # a vector or a 1x1 map is already flat: the converter drops the reshape
                    value = self.emit(_Op("RESHAPE", s.index, out, seg + "Reshape", rank,
                                          [_Const(2, 4, 0, "arith.constant", 1, ("shape", out))]), [value], unit)
            elif kind == "global_avg_pool":
                scratch = [4 * out] if self.int8 else []
                value = self.emit(_Op("MEAN", s.index, out, seg + "Mean", rank,
                                      [_Const(2, 4, 0, seg + "Mean/reduction_indices")], scratch + [16, 16]),
                                  [value], unit)
            elif kind == "add":
                value = self.add(node, values, unit)
            else:
                raise ValueError(f"no TFLite Micro lowering for layer kind '{kind}'")
            if same is not None:
                self.merged[same] = value
            for op in self.ops[first:]:
                if op.layer < 0:  # an activation op: the row it computes
                    op.layer, op.out_elements, op.out_rank = s.index, out, rank
            self.value[node.output] = value
        for op, readers in zip(self.ops, self.op_readers(), strict=True):
            if (op.kind == "FULLY_CONNECTED" and op.act == "linear" and len(op.consts) > 1 and len(readers) == 1
                    and readers[0].kind == "FULLY_CONNECTED"):
                del op.consts[1:]  # the converter moves a linear dense's bias into the next dense's bias
                op.fused_bias = None
        return self.ops

    def add(self, node: Node, values: list[int], unit: int) -> int:
        """A block's join: ADD, then its activation (ReLU/ReLU6 fused). On a 1x1 map or a vector the
        converter writes it as a bias add: the shortcut reshaped to a vector (RESHAPE) plus ADD."""
        s, name = node.stats, node.name
        seg = self.seg(name)
        out = math.prod(s.output_shape)
        rank = len(s.output_shape) + 1
        main, short = values
        if out == s.output_shape[-1]:
            if ("squeeze", short) in self.merged:  # two adds reading one shortcut share its reshape
                short = self.merged[("squeeze", short)]
            else:
                reshape = _Op("RESHAPE", s.index, out, seg + "Squeeze", 1,
                              [_Const(1, 4, 0, "arith.constant", 1, ("squeeze", out))])
                source = self.producer(short)
                key = ("squeeze", short)
                short = self.merged[key] = self.emit(reshape, [short], source.unit if source is not None else -1)
            op = _Op("ADD", s.index, out, seg + "BiasAdd", rank)
        else:
            op = _Op("ADD", s.index, out, seg + "Add", rank)
        value = self.emit(op, [main, short], unit)
        act = s.layer.activation_fn
        if act == "linear":
            return value
        act_name = add_activation_name(name, act)
        act_unit = self.unit(act_name, False, [unit])
        self.unit_of_tensor[node.output] = act_unit
        return self.activation(act_name, act, value, act_unit, own_layer=True, sole=True)

    def op_readers(self) -> list[list[_Op]]:
        """For each op (by position), the ops that read its output."""
        readers: list[list[_Op]] = [[] for _ in self.ops]
        for op in self.ops:
            for v in dict.fromkeys(op.inputs):
                if v >= 0:
                    readers[v].append(op)
        return readers

    @staticmethod
    def fold_names(op: _Op, bn: str) -> None:
        """Names of a depthwise conv with a BatchNorm folded into it: both layers' names, joined."""
        seg = op.base_name[: -len("depthwise")]
        mid = f"{op.base_name};{seg}BiasAdd;{seg}Squeeze" if op.fused_bias is not None else op.base_name
        weights, bias = (op.consts[1], op.consts[0]) if op.consts[0].elements == op.channels else op.consts
        weights.name = f"{bn}batchnorm/mul_1;{mid};{bn}batchnorm/mul"
        bias.name = f"{bn}batchnorm/add_1;{bn}batchnorm/mul_1;{mid};{bn}batchnorm/mul;{bn}batchnorm/sub"
        bias.dedup_key = None
        op.consts[:] = [weights, bias]
        op.fused_bias = bias

    @staticmethod
    def conv_fold_names(op: _Op, bn: str) -> None:
        """Names of a conv with a BatchNorm folded into it: its bias (and output) join both layers' names."""
        c = op.base_name[: -len("convolution")]
        bias = next(k for k in op.consts[1:] + op.consts[:1] if k.elem_bytes == 4 and k.rank == 1)
        if op.fused_bias is not None:
            bias.name = (f"{bn}batchnorm/add_1;{bn}batchnorm/mul_1;{c}Squeeze;{c}BiasAdd;{bn}batchnorm/mul;"
                         f"{c}convolution;{bn}batchnorm/sub")
        else:
            bias.name = f"{bn}batchnorm/add_1;{c}convolution;{bn}batchnorm/sub"
        bias.dedup_key = None
        op.fused_bias = bias

    def bn_folds(self, node: Node, tensor: int, value: int) -> bool:
        """Whether the BatchNorm ``node`` (reading graph ``tensor``, held by ``value``) disappears into a
        neighbouring conv/depthwise/dense (designer.tflite_tools.unfoldable_batchnorms for feature maps)."""
        s = node.stats
        last = self.producer(value)
        made_by = self.graph.producer_of(tensor)
        if (last is not None and made_by is not None and last.layer == made_by.id and last.kind in _FOLDS_BN
                and last.act == "linear" and made_by.stats.layer.kind != "batchnorm"
                and self.readers[tensor] == 1):
            if last.kind == "DEPTHWISE_CONV_2D":
                self.fold_names(last, self.seg(node.name))
            elif last.kind == "CONV_2D":
                self.conv_fold_names(last, self.seg(node.name))
            return True
        if len(s.output_shape) != 1 or self.readers[node.output] != 1:
            return False
        reader = next(n for n in self.graph.nodes if n.stats.layer.kind not in _GONE
                      and any(self.resolve(t) == node.output for t in n.inputs))
        if reader.stats.layer.kind != "dense":
            return False
        # Folded forward into the dense, except a linear dense that feeds another dense: the folded offset
        # needs the dense's bias, and a linear dense feeding a dense has lost its bias.
        dense = reader.stats.layer
        after = [n for n in self.graph.nodes if n.stats.layer.kind not in _GONE
                 and any(self.resolve(t) == reader.output for t in n.inputs)]
        feeds_dense = self.readers[reader.output] == 1 and after[0].stats.layer.kind == "dense"
        folds = dense.use_bias and not (dense.activation_fn == "linear" and feeds_dense)
        if folds:
            seg = self.seg(node.name)
            self.pending_bn[reader.id] = f"{seg}batchnorm/mul_1;{seg}batchnorm/add_1;"
        return folds

    def order(self) -> list[_Op]:
        """The ops in the converter's execution order.

        The converter imports the TensorFlow graph in reverse post-order of a depth-first walk from the
        graph's sources, out-edges visited by name (TF's GetReversePostOrder with a name comparator, pushed on a
        stack, so the largest name is walked first). The sources are the model input and every constant; a
        layer with a constant (kernel, BN statistics, reshape shape, mean axes) is therefore reached from its
        own constant, and a weightless op (pool, activation, add) belongs to the walk that reaches it first.
        That is why a pool on a shortcut often runs before the main path. Ops of one Keras layer stay together.
        """
        n = len(self.unit_names)
        children: list[list[int]] = [[] for _ in range(n + 1)]  # index n: the model input
        for u, ins in enumerate(self.unit_inputs):
            for p in dict.fromkeys(ins):
                children[n if p < 0 else p].append(u)
        names = [self.seg(name) for name in self.unit_names] + [_INPUT_NODE_NAME]
        roots = sorted([n] + [u for u in range(n) if self.unit_roots[u]], key=lambda u: names[u])
        stack: list[tuple[int, bool]] = [(u, False) for u in roots]
        visited = [False] * (n + 1)
        post: list[int] = []
        while stack:
            u, leave = stack.pop()
            if leave:
                post.append(u)
                continue
            if visited[u]:
                continue
            visited[u] = True
            stack.append((u, True))
            stack.extend((c, False) for c in sorted(children[u], key=lambda c: names[c]) if not visited[c])
        position = {u: k for k, u in enumerate(reversed(post))}
        position[-1] = -1
        ranked = sorted(range(len(self.ops)), key=lambda k: (position[self.ops[k].unit], k))
        new_index = {old: k for k, old in enumerate(ranked)}
        new_index[-1] = -1
        ops = [self.ops[k] for k in ranked]
        for op in ops:
            op.inputs = [new_index[v] for v in op.inputs]
        self.value = {t: new_index[v] for t, v in self.value.items()}
        self.ops = ops
        return ops

    def name_outputs(self) -> None:
        """Output tensor names: the fused activation joins the bias name; clashes get a numeric suffix."""
        used: set[str] = set()
        shared: dict[tuple[object, ...], str] = {}
        for op, readers in zip(self.ops, self.op_readers(), strict=True):
            prev = self.producer(op.inputs[0]) if op.inputs else None
            if (op.kind == "FULLY_CONNECTED" and len(op.consts) == 1 and prev is not None and prev.kind == "MEAN"
                    and not any(r.kind == "FULLY_CONNECTED" for r in readers)):
                used.add(op.base_name)  # the plain name went to a reshape the converter dropped
            if op.fused_bias is not None and op.kind == "FULLY_CONNECTED" and op.bn_prefix:
                w = op.consts[0].name
                op.fused_bias.name = f"{w};{op.act_prefix}{w[: -len('MatMul')]}BiasAdd"
                op.consts[0].name = op.bn_prefix + op.fused_bias.name
            elif op.fused_bias is not None:
                op.fused_bias.name = op.act_prefix + op.fused_bias.name
            if prev is not None and prev.kind == "RESHAPE" and op.kind in ("TANH", "LOGISTIC", "RELU", "RELU6"):
                # The converter moves an element-wise activation ahead of the reshape; both take its name.
                prev.out_name = op.out_name = f"{op.out_name};{prev.out_name}"
            for c in op.consts:
                if c.dedup_key is not None and c.dedup_key in shared:
                    c.name = shared[c.dedup_key]
                    continue
                c.name = _unique(c.name, used)
                if c.dedup_key is not None:
                    shared[c.dedup_key] = c.name
        for op in self.ops:
            if op.kind in _FOLDS_BN:
                w = op.consts[0].name
                if op.fused_bias is None:
                    name = op.act_prefix + op.base_name
                elif op.kind == "FULLY_CONNECTED" and op.bn_prefix:
                    name = w
                elif op.kind == "FULLY_CONNECTED":
                    seg = w[: -len("MatMul")]
                    name = f"{w};{op.act_prefix}{seg}BiasAdd"
                else:
                    name = op.fused_bias.name
            else:
                name = op.act_prefix + op.out_name
            op.out_name = _unique(name, used)
        if self.ops:
            self.ops[-1].out_name = "StatefulPartitionedCall_1:0"


@dataclass(frozen=True)
class _Plan:
    head_bytes: int
    live_bytes_per_op: tuple[int, ...]


def _plan(sizes: list[int], first: list[int], last: list[int], n_ops: int) -> _Plan:
    """TFLM's GreedyMemoryPlanner: largest first (ties: later buffer first), lowest offset that fits."""
    order = sorted(range(len(sizes)), key=lambda i: (-sizes[i], -i))
    placed: list[tuple[int, int, int, int]] = []  # offset, size, first, last; kept sorted by offset
    for i in order:
        size, f, lst = sizes[i], first[i], last[i]
        offset = 0
        for p_off, p_size, p_first, p_last in placed:
            if p_first > lst or p_last < f:
                continue  # not alive at the same time
            if p_off >= offset + size:
                break
            offset = max(offset, p_off + p_size)
        insort(placed, (offset, size, f, lst))
    head = max((p[0] + p[1] for p in placed), default=0)
    delta = [0] * (n_ops + 2)  # live bytes per op position, as a running sum of births and deaths
    for _, size, f, lst in placed:
        delta[f] += size
        delta[min(lst, n_ops) + 1] -= size
    live_per_op, running = [], 0
    for t in range(n_ops):
        running += delta[t]
        live_per_op.append(running)
    return _Plan(head, tuple(live_per_op))


# Flatbuffer bytes besides weight data and tensor names, fitted by least squares on 148 real files (presets
# and generated designs, both dtypes) whose tensor names the lowering reproduces exactly; worst residual
# 0.9 % of a 5 KiB file. Per tensor (name offset, shape vector: "dim" per dimension, buffer), per constant
# (its buffer table), per quantized tensor (scale and zero-point vectors: "quant_channel" per entry), per
# op (input/output vectors: "op_io" per entry, and the op kind's options table), per distinct op kind
# (operator code), plus the fixed part (header, subgraph, signature def, metadata).
_FILE_COEFS = {
    "int8": {"tensor": 138, "quant_tensor": 62, "quant_channel": 12, "const": -141, "op_kind": 29, "dim": 10,
             "op_io": -25, "fixed": 411},
    "float32": {"tensor": 195, "quant_tensor": 0, "quant_channel": 0, "const": -139, "op_kind": 18, "dim": 14,
                "op_io": -46, "fixed": 436},
}
_FILE_OP_COEFS = {
    "int8": {"CONV_2D": 17, "DEPTHWISE_CONV_2D": 36, "FULLY_CONNECTED": 53, "ADD": -26, "MUL": -26,
             "AVERAGE_POOL_2D": -34, "MAX_POOL_2D": -19, "MEAN": 28, "RESHAPE": 48, "SOFTMAX": -35,
             "LOGISTIC": -61, "TANH": -70, "RELU": -43, "RELU6": -43},
    "float32": {"CONV_2D": 14, "DEPTHWISE_CONV_2D": 13, "FULLY_CONNECTED": 47, "ADD": -9, "MUL": -9,
                "AVERAGE_POOL_2D": -21, "MAX_POOL_2D": -16, "MEAN": 19, "RESHAPE": 12, "SOFTMAX": -23,
                "LOGISTIC": -44, "TANH": -49, "RELU": -35, "RELU6": -35},
}


def _cmsis_scratch(s: LayerStats) -> int:
    """The scratch buffer CMSIS-NN's int8 kernel requests for a conv/depthwise row (designer.cortex_m)."""
    kh, kw = s.layer.kernel
    kind = "CONV_2D" if s.layer.kind == "conv2d" else "DEPTHWISE_CONV_2D"
    return cortex_m.cmsis_nn_scratch_bytes(kind, s.input_shape[-1], s.output_shape[-1], kh, kw)


# Residual designs add two op shapes the linear fit never saw: a join ADD (two activation inputs, no
# constant) and the RESHAPE that makes a 1x1 or vector add a bias add. Bytes each on top of the fit above,
# by least squares on 24 generated residual designs + 6 tiny ones per dtype (worst residual 1.7 %).
_FILE_JOIN_BYTES = {"int8": -20, "float32": -37}
_FILE_SQUEEZE_BYTES = {"int8": -98, "float32": -8}


def _pad4(n: int) -> int:
    return (n + 3) // 4 * 4


def estimate_tflm(analysis: Analysis, *, dtype: str) -> Footprint:
    """The TFLite Micro footprint of an analysed design for ``float32`` or full-integer ``int8``."""
    lowering = _Lowering(lower(analysis), analysis.design.name, dtype)
    lowering.run()
    ops = lowering.order()
    lowering.name_outputs()
    elem = lowering.elem
    int8 = lowering.int8

    # Activation buffers: the input, every op's output (alive from its op to its last reader; the model
    # output to the end), then each op's scratch buffers, in the order TFLM requests them.
    n = len(ops)
    last_read = [0] * (n + 1)  # by value + 1 (index 0: the model input)
    for i, op in enumerate(ops):
        for v in op.inputs:
            last_read[v + 1] = max(last_read[v + 1], i)
    sizes = [_r16(math.prod(analysis.design.input_shape) * elem)]
    first, last = [0], [last_read[0]]
    for i, op in enumerate(ops):
        sizes.append(_r16(op.out_elements * elem))
        first.append(i)
        last.append(n if i == n - 1 else last_read[i + 1])
    # The Cortex-M arena plans the same buffers plus the CMSIS-NN kernels' scratch (int8 only: the float
    # kernels are TFLM's reference ones), each alive while its op runs.
    scratch = [(i, s) for i, op in enumerate(ops) for s in op.scratch_bytes]
    cmsis = [(i, op.cmsis_scratch_bytes) for i, op in enumerate(ops) if int8 and op.cmsis_scratch_bytes]
    plan = _plan(sizes + [_r16(s) for _, s in scratch], first + [i for i, _ in scratch],
                 last + [i for i, _ in scratch], n)
    plan_m = _plan(sizes + [_r16(s) for _, s in scratch + cmsis], first + [i for i, _ in scratch + cmsis],
                   last + [i for i, _ in scratch + cmsis], n) if cmsis else plan

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
    # A one-unit int8 dense is quantized per tensor, so its kernel keeps no arrays (measured: 32 B less).
    channel_arrays = sum(2 * _r16(4 * op.channels) for op in ops
                         if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D")
                         or (op.kind == "FULLY_CONNECTED" and int8 and op.channels > 1))
    op_data = sum(_OP_TAIL_BYTES[op.kind] + (_JOIN_ADD_EXTRA_BYTES if op.kind == "ADD" and not op.consts else 0)
                  for op in ops)
    tail = (_TAIL_FIXED_BYTES[dtype] + cortex_m.EVAL_TENSOR.host_bytes * n_tensors
            + cortex_m.NODE_AND_REGISTRATION.host_bytes * len(ops) + op_data + channel_arrays)
    arena_host = plan.head_bytes + tail
    cmsis_op_data = sum(cortex_m.cmsis_nn_op_data_extra_bytes(op.kind) for op in ops) if int8 else 0
    tail_m = (_CM_TAIL_FIXED_BYTES[dtype] + cortex_m.EVAL_TENSOR.cortex_m_bytes * n_tensors
              + cortex_m.NODE_AND_REGISTRATION.cortex_m_bytes * len(ops) + round(_CM_OP_DATA_RATIO * op_data)
              + channel_arrays + cmsis_op_data)
    arena_m = _r16(plan_m.head_bytes + tail_m)

    file_bytes = _file_bytes(ops, consts, n_tensors, int8)

    kinds = {op.kind for op in ops}
    runtime_flash = _CORE_FLASH_BYTES + sum(_KERNEL_FLASH_BYTES[k] for k in kinds)

    rows = _layer_rows(lowering, plan, plan_m)
    macc = sum(r.macc for r in rows)
    return Footprint(
        design=analysis.design.name, runtime="tflm", dtype=dtype, compression="none",
        params_total=analysis.params_total, params_trainable=analysis.params_trainable, macc=macc,
        weights_bytes=file_bytes, runtime_flash_bytes=runtime_flash, activations_bytes=arena_m,
        runtime_ram_bytes=_RUNTIME_RAM_BYTES, layers=rows,
        tflm=TflmArena(arena_host_bytes=arena_host, arena_cortex_m_bytes=arena_m, kernels="cmsis-nn"),
    )


def _file_bytes(ops: list[_Op], consts: list[_Const], n_tensors: int, int8: bool) -> int:
    """Size of the .tflite flatbuffer."""
    data = sum(_r16(c.elements * c.elem_bytes) for c in consts)
    names = (_pad4(len("serving_default_input:0") + 1) + sum(_pad4(len(c.name) + 1) for c in consts)
             + sum(_pad4(len(op.out_name) + 1) for op in ops))
    quant_tensors = (1 + len(ops) + sum(1 for c in consts if c.quant_channels)) if int8 else 0
    quant_channels = (1 + len(ops) + sum(c.quant_channels for c in consts)) if int8 else 0
    dims = 4 + sum(op.out_rank for op in ops) + sum(c.rank for c in consts)
    # Inputs and output of each op; a dense without bias still has a (-1) bias slot.
    op_io = sum(2 + len(op.consts) + (op.kind in _FOLDS_BN and len(op.consts) == 1) for op in ops)
    dtype = "int8" if int8 else "float32"
    k, per_op = _FILE_COEFS[dtype], _FILE_OP_COEFS[dtype]
    return (k["fixed"] + data + names + k["tensor"] * n_tensors + k["const"] * len(consts)
            + k["quant_tensor"] * quant_tensors + k["quant_channel"] * quant_channels + k["dim"] * dims
            + k["op_io"] * op_io + k["op_kind"] * len({op.kind for op in ops}) + sum(per_op[op.kind] for op in ops)
            + _FILE_JOIN_BYTES[dtype] * sum(1 for op in ops if op.kind == "ADD" and not op.consts)
            + _FILE_SQUEEZE_BYTES[dtype] * sum(1 for op in ops if op.kind == "RESHAPE" and op.out_rank == 1))


def _layer_rows(lowering: _Lowering, plan: _Plan, plan_m: _Plan) -> tuple[LayerFootprint, ...]:
    """One row per analysis row: weights and live activation bytes of the op(s) that compute it.

    ``ram_bytes`` is the host planner's live total while the row's own op runs (0 for a row with no op);
    ``live_bytes`` the Cortex-M one (CMSIS-NN scratch included) while the op holding the row's value runs,
    so a folded BatchNorm, a fused activation or a dropout shows the buffers alive at that point.
    """
    ops = lowering.ops
    weights: dict[int, int] = {}
    ram: dict[int, int] = {}
    for i, op in enumerate(ops):
        weights[op.layer] = weights.get(op.layer, 0) + sum(c.elements * c.elem_bytes for c in op.consts)
        ram[op.layer] = max(ram.get(op.layer, 0), plan.live_bytes_per_op[i])
    rows = []
    for node in lowering.graph.nodes:
        s = node.stats
        value = lowering.value.get(lowering.resolve(node.output), -1)
        live = plan_m.live_bytes_per_op[value] if value >= 0 else 0
        rows.append(LayerFootprint(index=s.index, kind=s.layer.kind, output_shape=s.output_shape,
                                   params=s.params_total, macc=s.macc if s.index in ram else 0,
                                   weights_bytes=weights.get(s.index, 0), ram_bytes=ram.get(s.index, 0),
                                   live_bytes=live))
    return tuple(rows)
