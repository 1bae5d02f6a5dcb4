"""Estimate what X-CUBE-AI 10.2 ``analyze`` (ST Edge AI Core 2.2, target stm32l4) reports for a design.

Pure Python, no TensorFlow. The design is lowered once (designer.graph.lower: a graph of ops and tensors with
lifetimes, residual blocks included), turned into the c-layers X-CUBE-AI generates, and four figures are
modelled the way the report builds them (Total Flash = weights + library flash, Total RAM = activations +
library RAM). Every rule below names the real report that shows it (shared/seed/xcubeai/, transcribed in
tests/xcubeai_reports.py; tests check all nine: weights and MACC exact, flash within 0.5 %, RAM within 1 %).

c-layers (the reports' "C-Layers" tables):

* Dropout, SpatialDropout and Flatten vanish (every report). An Activation is a Nonlinearity c-layer; a
  Conv2D/Dense with its own activation is two c-layers, the op then a Nonlinearity (Model2, 32x2: a conv is
  never fused with its ReLU alone).
* A BatchNorm folds into the conv/dense that feeds only it through vanished layers and has no activation yet
  (VGG report: conv -> SpatialDropout -> BN, "-768 vs float model" = both BNs gone; a conv without bias gains
  one per filter), or forward into a Dense it reaches through dropout/flatten (Model5: BN after Dense(128)).
  Otherwise it is a ScaleBias c-layer, 2 floats per channel: after a ReLU (the seed's style, every notebook
  report) and on the network input (VGG and 32x2 reports: input ReLU + BN = Nonlinearity + ScaleBias).
* Fusion: conv [-> folded BN] [-> activation] -> max/avg pool becomes ONE conv c-layer whose output is the
  pooled map (VGG report: conv2d_4 = 950,304 MACC = conv 884,768 + ReLU 32,768 + pool 32,768; 6 c-layers).
  A ScaleBias between them blocks it (the seed's conv -> ReLU -> BN -> pool keeps 4 c-layers: Model2, 32x2),
  as does any other reader of a tensor in between (a residual shortcut). A pool straight after a linear conv
  is assumed to fuse too (the fused kernel's activation is optional: ``nl_func``).
* A residual add is an Eltwise c-layer; the activation after it a separate Nonlinearity (assumed: no report
  has a block; X-CUBE-AI's generated network.c for residual Keras models, public, shows ``eltwise_N`` then
  ``nl_N_nl``, the eltwise output in place on the main path's output).
* MACC: the per-layer MACC of designer.layers for every layer that survives (folded BN counts 0; a fused
  c-layer is the sum of its layers). The add counts 1 per output element (designer.layers.Add, assumed).
* Weights: float32 4 B each. Compression low/medium/high stores qualifying Dense weights 8-bit / 4-bit plus a
  256- / 16-entry float codebook, biases float (course CNN, Model2, 32x2 low/high: ``c4(128x1024)`` = 65,600 B).
  Which Dense layers qualify is calibrated: those holding >= ``_COMPRESS_MIN_SHARE`` of the float weights
  (2048x10 of Model2 is, 512x10 of the course CNN and 128x10 of Model5 are not; the notebook ROMs need
  Model10's 40x128 compressed and its 128x10 not).

Activations (an address-space allocator replaying the c-layers over the graph's tensor lifetimes):

* Inputs and outputs live inside the buffer. Nonlinearity, ScaleBias, Eltwise, pooling and GAP work in place
  on an input they read last; a tensor still needed later (a block input feeding the shortcut) stays where it
  is and the op writes elsewhere, so a block's input lives until its add.
* A conv/dense output goes to free space if it fits (above its input first), else next to its input (the
  buffer grows) or overlapping the input it reads last: row streaming, the output starts at least (kh-1)
  output rows below the input and ends at least (kh-1) rows + the per-row growth before the input's end;
  the im2col scratch (kh*kw*Cin floats, ``scratch0``) sits next to the output, away from the input. Calibrated
  on Models 8-11 (three 32-filter convs drift and grow the buffer: 155K).
* An op whose input stays alive after it (a block input, read again by the shortcut or the add) puts its
  output below that input first, so the shortcut can later stream over the block input into the space the
  main path freed (public generated network.c of a float residual network, 26x10x1: the main path's first
  conv output at offset 0, the block input above it at 6,240, the 1x1 shortcut's output streaming from 2,400
  over both; STEdgeAI's int8 ResNet-8 code puts the main path below the block input the same way). That
  network: 17,472 B vs its declared 16,464 B (+6 %; its squeeze-and-excitation head is not a layer kind
  here, the block sets the peak).
* The network input is never overlapped by a plain conv, and stays "the network input" through the layers
  that work in place on it (course CNN, Model2, Model5: 12,288 + 131,072 + 108 = 143,468 B; 32x2: the same
  143,468 B behind an input ReLU + BN).
* A fused conv + pool carries a second scratch, ``scratch1`` = pool rows x conv width x filters (the conv rows
  one pooled row is made from; public generated network.c: ``conv2d_0_scratch1`` shape (12, 10, 2) for a
  10-wide 12-filter conv, 2x2 pool), and its pooled output may overlap its input, the network input included
  (the same public code: a fused conv's output ends 10,304 B inside the network input; this rule gives
  10,752 B there), by the same streaming rule with pooled rows. VGG report: 51,584 B vs 52,076 B (-0.9 %);
  that public network (64x64x1, three fused conv + pool c-layers): 84,032 B vs its declared 84,324 B (-0.35 %).

Library RAM (data+bss) and flash (text+rodata+data): a fixed part plus a cost per c-layer and per tensor
(array + tensor descriptors), fitted exactly on the course CNN, Model2 and Model5 (integer costs), with a
conv-vs-ScaleBias split (the reports always pair them) taken from Models 9-13, a +500 B flash constant and a
lighter runtime for GAP heads (-4,000 B of kernel code, no report: calibrated on the ROMs of Models 7, 9, 10,
11, 13). The fused conv + pool kernel adds 1,564 B of runtime text (VGG report: 11,304 vs 9,740) and one
scratch tensor per fused c-layer. The flash constant costs 0.35 % on the Model2 report and buys Models 1 and 3.

Known misses against the notebook: Model7's RAM (84K; this model says 86K, 2.4 % high): with 16 first filters
the real tool seems to overlap the network input, which the reports rule out for 32 filters.

int8 (``INT8_BASIS``). Sources: the ST model zoo's published int8 footprints (STM32H7, "input / output
allocated", uint8 input and float32 output: shared/reference/st-model-zoo-int8.json, and the STM32Cube.AI
8.1.0 version of STMicroelectronics/stm32ai-modelzoo image_classification/pretrained_models/resnetv1/README.md:
ResNet-8 45.41 KiB) and one public generated layout, the X-CUBE-AI 8.0.1 (stm32h7, allocate-inputs/outputs)
c_graph of an int8 CIFAR-100 ResNet with 19 c-layers, every buffer's size and offset (j0shmillar/uNPU-Bench
npu/stm32h7a3/stm32h_resnet/resnet_stm32h/.ai/network_resnet_full_integer_quant.tflite_c_graph.json
@6bf01c2a04b9, "the c_graph" below; transcribed in tests).

* Weights: int8 weights 1 B, int32 biases 4 B (one per filter of every conv/dense: a folded BN gives a bias),
  no per-channel parameters in the weights. The c_graph's weights pool, 386,672 B, exactly; and every zoo
  model the layer kinds build: ResNet-8 78,744 B = 76.9 KiB, ResNet-32 464.38 KiB, ST MNIST 10.08 KiB,
  MobileNet v1 0.25 214.69 / 214.55 KiB, FdMobileNet 0.25 128.32 KiB. A ScaleBias that cannot fold is a 1x1
  depthwise conv in int8 (int8 scale + int32 bias per channel, how designer.tflm hands it to the converter).
* A ReLU/ReLU6 after an int8 conv, dense or add (own or as the next layer, its only reader) is fused into it,
  as the TFLite converter fuses it (the c_graph has no Nonlinearity c-layer; ``forward_conv2d_nl_pool``).
  An int8 1x1 conv keeps the pool after it apart (the c_graph: ``conv2d_18``, then ``pool_19``).
* Scratch (the c_graph, all 14 convs exact): a kxk conv (k > 1), two int16 im2col columns (4 B per kernel tap)
  + 4 B per output channel + an int16 copy of its weights capped at 5,120 B (``conv2d_0``: 108 + 64 + 864 =
  1,036; ``conv2d_2``, 20 -> 20 channels: 720 + 80 + 5,120 = 5,920; ``conv2d_20``, 128 -> 128: 10,240); a 1x1
  conv, two int16 input columns, 4 B per input channel (``conv2d_17``, 96 channels: 384). A fused conv + pool
  adds ``scratch1`` = pool rows x conv width x filters (2x32x20 = 1,280). Depthwise and dense kernels: none
  (assumed; no public int8 layout has one).
* Allocation: packed. The buffer is the largest sum of what is alive while one c-layer runs (its inputs, the
  tensors kept for later, its output and scratch): the c_graph's 46,880 B is exactly ``conv2d_1_output`` +
  ``conv2d_2_scratch0`` + ``conv2d_2_output`` (20,480 + 5,920 + 20,480), and this rule gives that network
  46,880 B. Its convs never overlap their inputs; an eltwise, pool or GAP reading a tensor for the last time
  works in place (``eltwise_3`` writes over ``conv2d_2_output``). The int8 network input is one byte longer
  than its values (the c_graph's 32x32x3 input array: 3,073 B).
* The zoo's ends (``io="uint8-float"``, the default; ``"int8"`` for an int8-in/out model like the c_graph's):
  the uint8 input is converted to int8 in place (FdMobileNet 128x128x3 publishes 56.16 KiB, less than a uint8
  input and its int8 copy side by side, 96 KiB), the int8 output copied to float32 (4 B per class).
* A strided int8 conv writes each output row over input rows it has consumed, (kh - 1) output rows behind
  (no layout shows it; FdMobileNet's published 56.16 KiB is below its 3x3 stride-2 first conv's input +
  output side by side, 80 KiB).

Where that leaves the published figures (activations, ours vs zoo; the tests keep these):
ResNet-8 54,400 B = 53.13 KiB: X-CUBE-AI 7.3 55.28 (-3.9 %), 8.1 45.41 (+17.0 %), 9.1 / 10.0 / STEdgeAI 3.0
62.51 (-15.0 %): inside the versions' spread [45.41, 62.51] KiB, below the JSON's lowest row (7.3). The peak
is stack 1's second conv: block input + first conv output + its output + 5,248 B scratch. 7.3 and 9.1+ hold
2.2 and 9.6 KiB more there, 8.1 overlaps (45.41 KiB is under the 48 KiB three 32x32x16 tensors take); no
public layout of those versions says how. (STEdgeAI code seen without a citable source pads each 'same' conv's
input into a copy, 34x34x16 = 18,496 B: not modelled.) ResNet-32 the same 53.13 KiB (its peak is the same
stack): 7.3 55.28 (-3.9 %), 45.41 (+17.0 %). ST MNIST 14.88 KiB vs 17.21 (-13.6 %). MobileNet v1 0.25:
96x96x3 54.03 vs 66.96 (-19.3 %; 7.3 39.56), 96x96x1 54.03 vs 52.8 (+2.3 %), 224x224x3 294.03 vs 272.96
(+7.7 %). FdMobileNet 0.25: 128x128x3 48.56 vs 56.16 (-13.5 %), 224x224x3 147.56 vs 157.03 (-6.0 %). MLPerf
Tiny's ResNet-8 (int8 in/out) under X-CUBE-AI 7.1.0: 49,123 B (mlcommons/tiny_results_v0.7
closed/STMicroelectronics/code/NUCLEO_L4R5ZI/image_classification/IC01.ioc, ActivationBufferSizeList); this
model 54,400 B (+10.7 %). The library figures reuse the float stm32l4 model (the zoo's H7 runtime RAM and
code flash are another series and build: not calibrated).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from designer.design import Analysis, LayerStats
from designer.footprint import Footprint, LayerFootprint
from designer.graph import Graph, lower

# Dense layers holding at least this share of the float weight bytes are compressed (see module docstring).
_COMPRESS_MIN_SHARE = 0.025
_CODEBOOK_BITS = {"none": 0, "low": 8, "medium": 4, "high": 4}
_VANISH = frozenset({"dropout", "spatial_dropout", "flatten"})
_IN_PLACE = frozenset({"nl", "sb", "pool", "gap", "eltwise"})
# Activations an int8 conv/dense/add applies itself (TFLite's fused_activation_function): no Nonlinearity.
_INT8_FUSED = frozenset({"relu", "relu6"})
# The int16 weight copy an int8 conv keeps in its scratch is capped at 5 KiB (module docstring).
_INT8_WEIGHT_CACHE = 5_120
_INT8_INPUT_EXTRA = 1
_INT8_IO = ("uint8-float", "int8")  # the network's ends: the ST zoo's models, or int8 in and out

# Library RAM: cifar10_data.o data + a fixed part of cifar10.o, then descriptors per c-layer and per tensor.
# Fitted exactly on Model2 (5,320), Model5 (7,948) and the course CNN (8,656); conv/ScaleBias split on
# the notebook's Models 9-13 (conv layers carry more parameters: strides, pads, dilation, groups).
_RAM_FIXED = 88 + 420
_RAM_PER_CLAYER = 96
_RAM_PER_TENSOR = 84
_CONV_EXTRA = 48  # added to each conv c-layer, taken from each ScaleBias
# output, weights, bias, scratch (a fused conv + pool has a second scratch); an eltwise, its output.
_TENSORS = {"conv": 4, "nl": 1, "sb": 3, "pool": 1, "gap": 1, "dense": 3, "eltwise": 1}
_BSS_FIXED = 124
_BSS_PER_CLAYER = {"nl": 12, "pool": 12, "gap": 12, "dense": 12, "eltwise": 12}

# Library flash: runtime kernels (NetworkRuntime1020_CM4_GCC.a), toolchain, cifar10_data.o and cifar10.o
# text (pointer set-up per activation array and per weight array), rodata (8 B per c-layer) and data.
_RUNTIME_TEXT = 9_740
_RUNTIME_TEXT_FUSED_POOL = 11_304 - 9_740  # the fused conv + pool kernel (VGG report)
_RUNTIME_TEXT_GAP_HEAD = -4_000  # calibrated on notebook ROMs, no report has a GAP head
_TOOLCHAIN = 614 + 24
_DATA_OBJ = 48 + 16 + 88
_NET_TEXT_FIXED = 284 + 500  # +500: calibrated on the notebook (Models 1 and 3)
_TEXT_PER_ACT_ARRAY = 16
_TEXT_PER_WEIGHT_ARRAY = 20
_TEXT_PER_COMPRESSED = 8
_RODATA_PER_CLAYER = 8

INT8_BASIS = ("int8: weights as the ST model zoo publishes them (STM32H7; X-CUBE-AI 7.3-10.0 and STEdgeAI Core "
              "3.0 agree); activations laid out as X-CUBE-AI 8.0.1 does for stm32h7 (a public c_graph, exact), "
              "uint8 input and float32 output allocated as the zoo measures: ResNet-8 53.1 KiB, inside the "
              "zoo's versions 45.4 (8.1) .. 62.5 KiB (9.1+), 3.9 % under 7.3's 55.3; library RAM/flash from the "
              "X-CUBE-AI 10.2 stm32l4 float model (not calibrated for int8)")
"""Which tool version and series an int8 X-CUBE-AI figure follows (Footprint.note; the README says the same)."""
_FLOAT_BASIS = "float32: X-CUBE-AI 10.2 (ST Edge AI Core 2.2) analyze, stm32l4, calibrated on nine real reports"


@dataclass
class _CLayer:
    """One generated c-layer: its kind, the analysis rows it comes from, its tensors and sizes."""

    kind: str  # conv, nl, sb, pool, gap, dense, eltwise
    rows: list[int]  # analysis rows merged into it (the first is the op's own row)
    inputs: tuple[int, ...]  # tensor ids (designer.graph), after dropped and folded layers
    output: int
    in_bytes: int
    out_bytes: int
    scratch_bytes: int = 0
    kernel_rows: int = 1
    out_rows: int = 1
    weights: dict[int, int] = field(default_factory=dict)  # weight bytes by analysis row
    compressed: bool = False
    linear: bool = True  # a conv/dense whose output is still the raw product (a BN after it folds)
    pool: tuple[int, int] | None = None  # the (rows, cols) of a fused pool window
    streams: bool = True  # a conv whose output may overlap the input it reads last (int8: strided convs only)


def _real_consumers(graph: Graph, tensor: int) -> list[int]:
    """The nodes reading ``tensor``, looking through the layers that vanish (dropout, flatten)."""
    out: list[int] = []
    for n in graph.tensors[tensor].consumers:
        node = graph.nodes[n]
        if node.stats.layer.kind in _VANISH:
            out += _real_consumers(graph, node.output)
        else:
            out.append(n)
    return out


def _weights_bytes(s: LayerStats, dtype: str, channels: int, extra_bias: int = 0) -> int:
    """A conv/dense's weights: float32 4 B each; int8 weights 1 B and int32 biases (no per-channel params)."""
    if dtype == "float32":
        return 4 * (s.params_total + extra_bias)
    n_bias = (channels if getattr(s.layer, "use_bias", True) else 0) + extra_bias
    return (s.params_total - (n_bias - extra_bias)) + 4 * n_bias


def _int8_conv_scratch(kh: int, kw: int, cin: int, cout: int) -> int:
    """``scratch0`` of an int8 conv (see the module docstring): a 1x1 kernel, two int16 input columns; a larger
    one, two int16 im2col columns, an int32 per output channel and an int16 copy of the weights up to 5 KiB."""
    if kh == kw == 1:
        return 4 * cin
    return 4 * kh * kw * cin + 4 * cout + min(2 * kh * kw * cin * cout, _INT8_WEIGHT_CACHE)


def _lower(graph: Graph, dtype: str, compression: str) -> list[_CLayer]:
    """The c-layers X-CUBE-AI generates for the graph, before fusion (see _fuse)."""
    elem = 1 if dtype == "int8" else 4
    total_float = 4 * sum(n.stats.params_trainable for n in graph.nodes)
    alias: dict[int, int] = {}  # tensor -> the tensor holding its data (a dropped or folded layer's output)
    made: dict[int, _CLayer] = {}  # real tensor -> the c-layer writing it
    out: list[_CLayer] = []

    def size(t: int) -> int:
        return graph.tensors[t].elements * elem

    def own_activation(c: _CLayer, s: LayerStats) -> None:
        if dtype == "int8" and s.layer.activation_fn in _INT8_FUSED:
            c.linear = False  # the quantized op clamps its own output
            return
        # The op writes a tensor of its own (numbered past the graph's), its Nonlinearity reads it.
        raw = len(graph.tensors) + s.index
        c.output, c.linear = raw, False
        made[raw] = c
        emit(_CLayer("nl", [s.index], (raw,), node.output, c.out_bytes, c.out_bytes))

    def emit(c: _CLayer) -> _CLayer:
        out.append(c)
        made[c.output] = c
        return c

    for node in graph.nodes:
        s, layer, kind = node.stats, node.stats.layer, node.stats.layer.kind
        ins = tuple(alias.get(t, t) for t in node.inputs)
        t_in, t_out = ins[0], node.output
        if kind in _VANISH:
            alias[t_out] = t_in
            continue
        if kind in ("conv2d", "depthwise_conv2d"):
            kh, kw = layer.kernel  # type: ignore[attr-defined]
            cin, cout = s.input_shape[-1], s.output_shape[-1]
            if kind == "depthwise_conv2d":
                scratch = 0  # depthwise kernels need no im2col (float reports; int8 assumed)
            elif dtype == "int8":
                scratch = _int8_conv_scratch(kh, kw, cin, cout)
            else:
                scratch = kh * kw * cin * 4  # im2col: one kernel column of floats
            c = emit(_CLayer("conv", [s.index], ins, t_out, size(t_in), size(t_out), scratch, kh,
                             s.output_shape[0], {s.index: _weights_bytes(s, dtype, cout)},
                             streams=dtype == "float32" or layer.strides != (1, 1)))
            if layer.activation_fn != "linear":
                own_activation(c, s)
        elif kind == "batchnorm":
            prev = made.get(t_in)
            after = _real_consumers(graph, t_out)
            into_dense = len(after) == 1 and graph.nodes[after[0]].stats.layer.kind == "dense"
            if prev is not None and prev.kind in ("conv", "dense") and prev.linear \
                    and len(_real_consumers(graph, t_in)) == 1:
                # Folded backward into the conv/dense that feeds only it; a conv without bias gains one.
                row = prev.rows[0]
                if not getattr(graph.nodes[row].stats.layer, "use_bias", True):
                    prev.weights[row] = _weights_bytes(graph.nodes[row].stats, dtype, s.output_shape[-1],
                                                       s.output_shape[-1])
                alias[t_out] = t_in
            elif into_dense:
                alias[t_out] = t_in  # folded forward into the Dense it reaches through dropout/flatten
            else:
                # A ScaleBias: scale and bias per channel (float32; int8: a 1x1 depthwise, int8 + int32).
                ch = s.output_shape[-1]
                emit(_CLayer("sb", [s.index], ins, t_out, size(t_in), size(t_out),
                             weights={s.index: ch * (8 if dtype == "float32" else 5)}))
        elif kind == "activation":
            prev = made.get(t_in)
            if layer.activation_fn == "linear":
                alias[t_out] = t_in
            elif dtype == "int8" and layer.activation_fn in _INT8_FUSED and prev is not None \
                    and prev.kind in ("conv", "dense", "eltwise") and prev.linear \
                    and len(_real_consumers(graph, t_in)) == 1:
                prev.linear = False  # fused into the quantized op before it, as the TFLite converter does
                prev.rows.append(s.index)
                alias[t_out] = t_in
            else:
                emit(_CLayer("nl", [s.index], ins, t_out, size(t_in), size(t_out)))
        elif kind in ("maxpool", "avgpool"):
            emit(_CLayer("pool", [s.index], ins, t_out, size(t_in), size(t_out)))
        elif kind == "global_avg_pool":
            emit(_CLayer("gap", [s.index], ins, t_out, size(t_in), size(t_out)))
        elif kind == "dense":
            units, n_in = s.output_shape[-1], s.input_shape[-1]
            n_w = n_in * units
            bias = units if layer.use_bias else 0  # type: ignore[attr-defined]
            bits = _CODEBOOK_BITS[compression] if dtype == "float32" else 0
            compressed = bits > 0 and 4 * (n_w + bias) >= _COMPRESS_MIN_SHARE * total_float
            if compressed:
                wb = math.ceil(n_w * bits / 8) + 4 * (2 ** bits) + 4 * bias
            else:
                wb = _weights_bytes(s, dtype, units)
            c = emit(_CLayer("dense", [s.index], ins, t_out, size(t_in), size(t_out), weights={s.index: wb},
                             compressed=compressed))
            if layer.activation_fn != "linear":
                own_activation(c, s)
        elif kind == "add":
            c = emit(_CLayer("eltwise", [s.index], ins, t_out, size(t_in), size(t_out)))
            if layer.activation_fn != "linear":
                own_activation(c, s)
    return out


def _readers(clayers: list[_CLayer]) -> dict[int, int]:
    """How many c-layers read each tensor."""
    count: dict[int, int] = {}
    for c in clayers:
        for t in c.inputs:
            count[t] = count.get(t, 0) + 1
    return count


def _fuse(clayers: list[_CLayer], graph: Graph, elem: int) -> list[_CLayer]:
    """Fold each pool into the conv before it: conv [-> Nonlinearity] -> pool becomes one c-layer whose output
    is the pooled map, when every tensor in between has no other reader (see the module docstring)."""
    readers = _readers(clayers)
    by_output = {c.output: c for c in clayers}
    gone: set[int] = set()
    for p in clayers:
        if p.kind != "pool":
            continue
        chain = [by_output.get(p.inputs[0])]
        if chain[0] is not None and chain[0].kind == "nl":
            chain.append(by_output.get(chain[0].inputs[0]))
        conv = chain[-1]
        if conv is None or conv.kind != "conv" or conv.pool is not None \
                or any(readers.get(c.output, 0) != 1 for c in chain if c is not None):
            continue
        if elem == 1 and graph.nodes[conv.rows[0]].stats.layer.kernel == (1, 1):  # type: ignore[attr-defined]
            continue  # an int8 1x1 conv keeps its pool apart (public c_graph: conv2d_18, then pool_19)
        layer = graph.nodes[p.rows[0]].stats.layer
        conv_out = graph.nodes[conv.rows[0]].stats.output_shape
        # scratch1: the conv output rows one pooled row is made from (pool rows x width x filters).
        conv.scratch_bytes += layer.pool[0] * conv_out[1] * conv_out[2] * elem  # type: ignore[attr-defined]
        conv.pool = layer.pool  # type: ignore[attr-defined]
        conv.rows += [r for c in chain[:-1] for r in c.rows] + p.rows
        conv.output, conv.out_bytes = p.output, p.out_bytes
        conv.out_rows = graph.nodes[p.rows[0]].stats.output_shape[0]
        gone.update(id(c) for c in chain[:-1])
        gone.add(id(p))
    return [c for c in clayers if id(c) not in gone]


class _Arena:
    """Linear address space of the activations buffer; it may grow at either end."""

    def __init__(self, input_tensor: int, input_bytes: int) -> None:
        self.lo, self.hi = 0, input_bytes
        self.live: dict[int, tuple[int, int]] = {input_tensor: (0, input_bytes)}
        # The network input's buffer (kept by the layers working in place on it) is never overlapped.
        self.network_input = {input_tensor}

    def _gap(self, need: int, start: int, end: int, keep: bool) -> int | None:
        """Start of free space for ``need`` bytes: above the input first, then below it, then anywhere; below
        first when the input stays alive (``keep``: a block input its shortcut streams over later)."""
        taken = sorted(self.live.values())
        free, cursor = [], self.lo
        for a, b in taken:
            if a > cursor:
                free.append((cursor, a))
            cursor = max(cursor, b)
        if self.hi > cursor:
            free.append((cursor, self.hi))
        above = next((a for a, b in free if a == end and b - a >= need), None)
        below = next((b - need for a, b in free if b == start and b - a >= need), None)
        for choice in ((below, above) if keep else (above, below)):
            if choice is not None:
                return choice
        return next((a for a, b in free if b - a >= need), None)

    def place(self, c: _CLayer, dies: set[int]) -> int:
        """Place c's output (and scratch); free the inputs it reads last; return the bytes spanned while it runs."""
        regions = [self.live[t] for t in c.inputs if t in self.live]
        start, end = self.live[c.inputs[0]]
        in_place = next((t for t in c.inputs if t in dies), None) if c.kind in _IN_PLACE else None
        if in_place is not None:
            # Element-wise ops work in place; pooling writes each output behind the window it has read.
            a, _ = self.live[in_place]
            out = (a, a + c.out_bytes)
            if in_place in self.network_input:
                self.network_input.add(c.output)
            span = self._span(regions + [out])
        else:
            need = c.out_bytes + c.scratch_bytes
            gap = self._gap(need, start, end, c.inputs[0] not in dies)
            if gap is not None:
                # The scratch goes on the output's side away from the input.
                out_start = gap if gap >= end else gap + c.scratch_bytes
                out = (out_start, out_start + c.out_bytes)
                span = self._span(regions + [(gap, gap + need)])
            else:
                out, span = self._grow(c, start, end, dies, regions)
        for t in c.inputs:
            if t in dies:
                self.live.pop(t, None)
        self.live[c.output] = out
        return span

    def _span(self, regions: list[tuple[int, int]]) -> int:
        every = list(self.live.values()) + regions
        return max(b for _, b in every) - min(a for a, _ in every)

    def _grow(self, c: _CLayer, start: int, end: int, dies: set[int],
              regions: list[tuple[int, int]]) -> tuple[tuple[int, int], int]:
        # Grow: next to the input (above), or overlapping it when allowed, whichever keeps the buffer smaller.
        need = c.out_bytes + c.scratch_bytes
        above_start = end if all(b <= end for a, b in self.live.values()) else self.hi
        options = [(max(self.hi, above_start + need) - self.lo, "above")]
        below_end = start if all(a >= start for a, b in self.live.values()) else self.lo
        if c.inputs[0] not in dies:
            # The input stays (a block input): the output may go below it, where its shortcut streams later.
            options.append((self.hi - min(self.lo, below_end - need), "below"))
        overlap_start = 0
        if c.kind == "conv" and c.streams and c.inputs[0] in dies \
                and (c.pool is not None or c.inputs[0] not in self.network_input):
            row = c.out_bytes // max(c.out_rows, 1)
            growth = max(0, row - c.in_bytes // max(c.out_rows, 1))
            margin_start = (c.kernel_rows - 1) * row
            margin_end = (c.kernel_rows - 1) * row + growth
            overlap_start = min(start - margin_start, end - margin_end - c.out_bytes)
            clear = all(b <= overlap_start - c.scratch_bytes or a >= overlap_start + c.out_bytes
                        for t, (a, b) in self.live.items() if t != c.inputs[0])
            if clear:
                options.append((self.hi - min(self.lo, overlap_start - c.scratch_bytes), "overlap"))
        best = min(options, key=lambda o: o[0])[1]
        if best == "below":
            self.lo = min(self.lo, below_end - need)
            out = (below_end - c.out_bytes, below_end)
            return out, self._span(regions + [(below_end - need, below_end)])
        if best == "above":
            out = (above_start, above_start + c.out_bytes)
            self.hi = max(self.hi, above_start + need)
            return out, self._span(regions + [(above_start, above_start + need)])
        self.lo = min(self.lo, overlap_start - c.scratch_bytes)
        out = (overlap_start, overlap_start + c.out_bytes)
        return out, self._span(regions + [(overlap_start - c.scratch_bytes, end)])


def _library(clayers: list[_CLayer]) -> tuple[int, int]:
    """(flash, RAM) bytes of the runtime library for these c-layers."""
    n = len(clayers)
    fused = sum(c.pool is not None for c in clayers)
    tensors = 1 + sum(_TENSORS[c.kind] for c in clayers) + fused
    conv_extra = _CONV_EXTRA * sum((c.kind == "conv") - (c.kind == "sb") for c in clayers)
    data_bss = _RAM_FIXED + _RAM_PER_CLAYER * n + _RAM_PER_TENSOR * tensors + conv_extra
    bss = _BSS_FIXED + sum(_BSS_PER_CLAYER.get(c.kind, 0) for c in clayers)
    act_arrays = 1 + n + sum(c.kind == "conv" for c in clayers) + fused
    weight_arrays = 2 * sum(c.kind in ("conv", "sb", "dense") for c in clayers)
    text = (_RUNTIME_TEXT + (_RUNTIME_TEXT_GAP_HEAD if any(c.kind == "gap" for c in clayers) else 0)
            + (_RUNTIME_TEXT_FUSED_POOL if fused else 0)
            + _NET_TEXT_FIXED + _TEXT_PER_ACT_ARRAY * act_arrays + _TEXT_PER_WEIGHT_ARRAY * weight_arrays
            + _TEXT_PER_COMPRESSED * sum(c.compressed for c in clayers))
    flash = text + _TOOLCHAIN + _RODATA_PER_CLAYER * n + (data_bss - 88 - bss) + _DATA_OBJ
    return flash, data_bss


def lower_clayers(analysis: Analysis, dtype: str = "float32", compression: str = "none") -> list[_CLayer]:
    """The c-layers X-CUBE-AI generates for an analysed design (fused, folded, dropped layers merged)."""
    graph = lower(analysis)
    return _fuse(_lower(graph, dtype, compression), graph, 1 if dtype == "int8" else 4)


def _last_reads(clayers: list[_CLayer], output_tensor: int) -> dict[int, int]:
    """For each tensor, the position of the last c-layer reading it (the network output lives to the end)."""
    last: dict[int, int] = {}
    for pos, c in enumerate(clayers):
        for t in c.inputs:
            last[t] = pos
    last[output_tensor] = len(clayers)
    return last


def _float_activations(clayers: list[_CLayer], graph: Graph) -> tuple[int, list[int]]:
    """The float32 activations buffer (the address-space allocator) and the bytes spanned while each c-layer runs."""
    last = _last_reads(clayers, graph.output_tensor)
    arena = _Arena(graph.input_tensor, graph.tensors[graph.input_tensor].elements * 4)
    spans = [arena.place(c, {t for t in c.inputs if last.get(t) == pos}) for pos, c in enumerate(clayers)]
    return arena.hi - arena.lo, spans


def _int8_activations(clayers: list[_CLayer], graph: Graph, io: str) -> tuple[int, list[int]]:
    """The int8 activations buffer, packed (see the module docstring): the largest sum of the tensors alive while
    one c-layer runs, its output and scratch included; and that sum for each c-layer.

    ``io`` is how the network's ends are allocated: ``"uint8-float"`` (the ST zoo's models: a uint8 input
    converted to int8, an int8 output converted to float32) or ``"int8"`` (int8 in and out)."""
    if io not in _INT8_IO:
        raise ValueError(f"int8 io must be one of {', '.join(_INT8_IO)}; got {io!r}")
    last = _last_reads(clayers, graph.output_tensor)
    n_in = graph.tensors[graph.input_tensor].elements
    # The int8 input array is one byte longer than its values (public c_graph: 3,073 B for 32x32x3).
    size: dict[int, int] = {graph.input_tensor: n_in + _INT8_INPUT_EXTRA}
    live = {graph.input_tensor}
    # The uint8 -> int8 Conversion works in place (FdMobileNet 128x128x3: 56.16 KiB published, under the
    # 96 KiB a uint8 input and its int8 copy would take side by side).
    peak = size[graph.input_tensor]
    sums: list[int] = []
    for pos, c in enumerate(clayers):
        dies = {t for t in c.inputs if last.get(t) == pos}
        in_place = c.kind in _IN_PLACE and any(t in dies for t in c.inputs)
        running = sum(size[t] for t in live) + c.scratch_bytes + (0 if in_place else c.out_bytes)
        if c.kind == "conv" and c.streams and c.inputs[0] in dies:
            # A strided conv writes each output row over input rows it has consumed, (kh-1) rows behind.
            lag = (c.kernel_rows - 1) * c.out_bytes // max(c.out_rows, 1)
            union = max(size[c.inputs[0]], c.out_bytes + lag)
            running -= size[c.inputs[0]] + c.out_bytes - union
        sums.append(running)
        live -= dies
        live.add(c.output)
        size[c.output] = c.out_bytes
    out = graph.tensors[graph.output_tensor].elements
    if io == "uint8-float":
        sums[-1] = max(sums[-1], size[clayers[-1].output] + 4 * out)  # int8 output + its float32 copy
    return max([peak] + sums), sums


def estimate_xcubeai(analysis: Analysis, *, dtype: str, compression: str, io: str = "uint8-float") -> Footprint:
    """Footprint as X-CUBE-AI would report it (float32: 10.2 ``analyze``, the stm32l4 reports; int8: INT8_BASIS,
    with the network's ends allocated as ``io`` says, the ST zoo's uint8 input and float32 output by default)."""
    graph = lower(analysis)
    elem = 1 if dtype == "int8" else 4
    clayers = _fuse(_lower(graph, dtype, compression), graph, elem)
    if dtype == "int8":
        activations, spans = _int8_activations(clayers, graph, io)
    else:
        activations, spans = _float_activations(clayers, graph)
    live: dict[int, int] = {}
    weights: dict[int, int] = {}
    for c, span in zip(clayers, spans, strict=True):
        for r in c.rows:
            live[r] = max(live.get(r, 0), span)
        for r, wb in c.weights.items():
            weights[r] = weights.get(r, 0) + wb
    kept = {r for c in clayers for r in c.rows}
    rows = tuple(
        LayerFootprint(index=s.index, kind=s.layer.kind, output_shape=s.output_shape, params=s.params_total,
                       macc=s.macc if s.index in kept else 0, weights_bytes=weights.get(s.index, 0),
                       ram_bytes=live.get(s.index, 0), live_bytes=live.get(s.index, 0))
        for s in analysis.layers
    )
    lib_flash, lib_ram = _library(clayers)
    return Footprint(
        design=analysis.design.name, runtime="xcubeai", dtype=dtype, compression=compression,
        params_total=analysis.params_total, params_trainable=analysis.params_trainable,
        macc=sum(r.macc for r in rows), weights_bytes=sum(weights.values()), runtime_flash_bytes=lib_flash,
        activations_bytes=activations, runtime_ram_bytes=lib_ram, layers=rows,
        note=INT8_BASIS if dtype == "int8" else _FLOAT_BASIS,
    )
