"""The TFLM tensor arena on a 32-bit Cortex-M, derived from tflite-micro's measurement on the 64-bit host.

The export measures the arena with tflite-micro's Python interpreter (``print_allocations()``), which runs the
reference kernels on a 64-bit host. A board differs in two ways, and this module turns the host figure into
the two figures <c_name>_config.h states (reference kernels, CMSIS-NN kernels). It starts from the measured
file, where designer.tflm estimates from the design (``Footprint.tflm.arena_cortex_m_bytes``; the report shows
both); to use that figure instead, replace :func:`cortex_m_arena_from_host_measurement`, the only entry point,
and its :class:`CortexMArena`.

The struct sizes and the CMSIS-NN formulas are designer.cortex_m's (shared with designer.tflm), each with
its source there.

1. **The head** (the memory planner's activation buffers) is target-independent for the reference kernels.
   CMSIS-NN kernels add a scratch buffer per op, requested in ``Prepare`` and planned with the activations
   live during that op, so the head grows by ``max_i(live_i + scratch_i) - max_i(live_i)``; the sizes are
   ``cortex_m.cmsis_nn_scratch_bytes`` (CMSIS-NN's ``*_get_buffer_size`` for a DSP core without MVE).
2. **The tail** (persistent structs) holds pointers, which halve on a 32-bit target. Each itemised
   ``print_allocations`` category shrinks by its struct's saving (``TfLiteEvalTensor`` 24 -> 12 B,
   ``NodeAndRegistration`` 64 -> 32 B, a persistent ``TfLiteTensor`` 64 -> 40 B plus its
   ``TfLiteAffineQuantization`` 24 -> 12 B), and conv, depthwise and fully connected op data lose their two
   ``int32_t*`` halves (8 B each). The rest of the tail (the allocator and planner objects, builtin option
   structs, subgraph and scratch-handle arrays) is not itemised by ``print_allocations``; it is counted at
   half its host size: the firmware uses a plain ``MicroAllocator``, not the Python interpreter's
   ``RecordingMicroAllocator``, and those objects are mostly pointers and ``size_t``. CMSIS-NN adds
   ``cortex_m.cmsis_nn_op_data_extra_bytes`` per conv and depthwise conv (12 B, from the board).

Checked against a Cortex-M4 build (QEMU mps2-an386, issue 15): Model4 int8 needs 38,220 B with CMSIS-NN
(head 34,368 + tail 3,844) and 36,520 B with the reference kernels, Model5 78,136 B and 76,820 B; this module
gives 38,290 / 36,594 B and 78,190 / 76,894 B (0.07-0.2 % above, never below; tests/export/test_cortex_m_arena.py
re-derives them from the presets). No TensorFlow here: the flatbuffer is read with LiteRT's schema module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from designer import cortex_m

ALIGN_BYTES = cortex_m.ARENA_ALIGN_BYTES
UNITEMISED_TAIL_FRACTION = 0.5
"""The part of the host tail print_allocations does not itemise, as a fraction kept on a 32-bit target."""

_CATEGORY = re.compile(r"'([^']+)' used (\d+) bytes with alignment overhead \(requested \d+ bytes for (\d+) ")
_TOTALS = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


def _align(n: int) -> int:
    return -(-n // ALIGN_BYTES) * ALIGN_BYTES


@dataclass(frozen=True)
class HostAllocations:
    """``print_allocations()`` of the tflite-micro Python interpreter (64-bit host), in bytes and counts."""

    total_bytes: int
    head_bytes: int
    tail_bytes: int
    categories: dict[str, tuple[int, int]]
    """Category name (e.g. 'TfLiteEvalTensor data') -> (bytes used with alignment, number of allocations)."""

    def used(self, name: str) -> int:
        """Bytes of one category (0 when absent)."""
        return self.categories.get(name, (0, 0))[0]

    def count(self, name: str) -> int:
        """Allocations (tensors, structs) of one category (0 when absent)."""
        return self.categories.get(name, (0, 0))[1]


def parse_allocations(text: str) -> HostAllocations:
    """Read ``print_allocations()``'s text; ValueError when the totals are missing."""
    totals = {name: int(n) for name, n in _TOTALS.findall(text)}
    if set(totals) != {"total", "head", "tail"}:
        raise ValueError(f"not print_allocations() output (no arena totals): {text[:300]!r}")
    categories = {name: (int(used), int(count)) for name, used, count in _CATEGORY.findall(text)}
    return HostAllocations(totals["total"], totals["head"], totals["tail"], categories)


def measure_host_allocations(tflite_bytes: bytes, arena_size: int | None = None) -> HostAllocations:
    """Construct the model in tflite-micro's Python interpreter and parse its ``print_allocations()``."""
    # The capture helper lives with the other tflite-micro measurements (C code writes past sys.stderr).
    from designer.tflite_tools import _fd_captured, _micro_interpreter

    interpreter = _micro_interpreter(tflite_bytes, arena_size or max(1 << 20, 12 * len(tflite_bytes)))
    with _fd_captured(2) as text:
        interpreter.print_allocations()
    return parse_allocations(text())


@dataclass(frozen=True)
class GraphOp:
    """One operator of the int8 graph, with what the CMSIS-NN scratch formulas need."""

    name: str  # builtin name, e.g. "CONV_2D"
    inputs: tuple[int, ...]  # tensor indices (-1: optional input absent)
    outputs: tuple[int, ...]
    scratch_bytes: int  # CMSIS-NN scratch buffer this op requests (0 for reference kernels and most ops)


@dataclass(frozen=True)
class Graph:
    """The int8 model's first subgraph: its ops in order and the activation tensors' sizes."""

    op_codes: tuple[str, ...]  # the model's operator codes, in the file's order (what the resolver registers)
    ops: tuple[GraphOp, ...]
    activation_bytes: dict[int, int]  # non-constant tensor index -> bytes
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


_DTYPE_BYTES = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 9: 1, 10: 8, 16: 4}  # schema TensorType -> bytes


def _schema() -> Any:
    # Imported here: LiteRT's generated flatbuffer reader (no TensorFlow), only the export needs it.
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def builtin_names() -> dict[int, str]:
    """Builtin operator code -> name, from the schema LiteRT ships."""
    s = _schema()
    return {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}


def _scratch(name: str, op: Any, tensors: Any) -> int:
    """CMSIS-NN scratch bytes for one op (designer.cortex_m's formulas), from its tensors' shapes."""
    if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D"):
        return 0
    c_in = int(tensors(op.Inputs(0)).ShapeAsNumpy()[-1])
    c_out = int(tensors(op.Outputs(0)).ShapeAsNumpy()[-1])
    if name == "AVERAGE_POOL_2D":
        return cortex_m.cmsis_nn_scratch_bytes(name, c_in, c_out)
    filt = tensors(op.Inputs(1)).ShapeAsNumpy()  # OHWI for conv, 1HWC for depthwise
    return cortex_m.cmsis_nn_scratch_bytes(name, c_in, c_out, int(filt[1]), int(filt[2]))


def read_graph(tflite_bytes: bytes) -> Graph:
    """The ops, operator codes and activation tensors of a .tflite's first subgraph."""
    s = _schema()
    model = s.Model.GetRootAs(tflite_bytes, 0)
    names = builtin_names()
    codes = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        # Codes above 127 live only in BuiltinCode; older files only in the deprecated int8 field.
        codes.append(names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM"))
    graph = model.Subgraphs(0)
    ops = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        name = codes[op.OpcodeIndex()]
        ops.append(GraphOp(name, tuple(int(t) for t in op.InputsAsNumpy()),
                           tuple(int(t) for t in op.OutputsAsNumpy()), _scratch(name, op, graph.Tensors)))
    produced = {t for op in ops for t in op.outputs}
    inputs = tuple(int(t) for t in graph.InputsAsNumpy())
    activations = {}
    for t in sorted(produced | set(inputs)):
        tensor = graph.Tensors(t)
        count = 1
        for d in tensor.ShapeAsNumpy() if tensor.ShapeLength() else ():
            count *= max(int(d), 1)
        activations[t] = count * _DTYPE_BYTES.get(tensor.Type(), 4)
    return Graph(tuple(codes), tuple(ops), activations, inputs, tuple(int(t) for t in graph.OutputsAsNumpy()))


def live_bytes(graph: Graph) -> list[int]:
    """For each op, the aligned bytes of the activation tensors alive while it runs (first to last use)."""
    first: dict[int, int] = {t: 0 for t in graph.inputs}
    last: dict[int, int] = {}
    for i, op in enumerate(graph.ops):
        for t in op.outputs:
            first.setdefault(t, i)
        for t in (*op.inputs, *op.outputs):
            if t in graph.activation_bytes:
                last[t] = i
    for t in graph.outputs:
        last[t] = len(graph.ops) - 1
    return [sum(_align(size) for t, size in graph.activation_bytes.items()
                if first.get(t, 0) <= i <= last.get(t, -1)) for i in range(len(graph.ops))]


@dataclass(frozen=True)
class CortexMArena:
    """The arena a 32-bit Cortex-M needs, per kernel set, in bytes (see the module docstring)."""

    host_total_bytes: int  # measured: tflite-micro Python interpreter, 64-bit host, reference kernels
    head_bytes: int  # measured head: the same on any target with reference kernels
    reference_tail_bytes: int  # derived 32-bit tail, reference kernels
    cmsis_nn_tail_bytes: int
    cmsis_nn_scratch_head_bytes: int  # what CMSIS-NN scratch buffers add to the head
    largest_scratch_bytes: int
    largest_scratch_op: str  # e.g. "CONV_2D #2", "" when no op asks for scratch

    @property
    def reference_bytes(self) -> int:
        """Arena with the reference kernels on a 32-bit target."""
        return self.head_bytes + self.reference_tail_bytes

    @property
    def cmsis_nn_bytes(self) -> int:
        """Arena with the CMSIS-NN kernels (what STM32 builds use) on a 32-bit target."""
        return self.head_bytes + self.cmsis_nn_scratch_head_bytes + self.cmsis_nn_tail_bytes


def cortex_m_arena_from_host_measurement(host: HostAllocations, graph: Graph) -> CortexMArena:
    """Derive the 32-bit reference and CMSIS-NN arenas from the host measurement and the graph.

    Replace with designer.tflm's Cortex-M estimate once it has one: this is the only entry point.
    """
    eval_n = host.count("TfLiteEvalTensor data")
    node_n = host.count("NodeAndRegistration struct")
    tensor_n = host.count("Persistent TfLiteTensor data")
    itemised = sum(used for used, _ in host.categories.values())
    unitemised = max(host.tail_bytes - itemised, 0)
    saving = (eval_n * cortex_m.EVAL_TENSOR.saving_bytes + node_n * cortex_m.NODE_AND_REGISTRATION.saving_bytes
              + tensor_n * (cortex_m.PERSISTENT_TENSOR.saving_bytes + cortex_m.AFFINE_QUANTIZATION.saving_bytes)
              + sum(cortex_m.op_data_pointer_saving_bytes(op.name) for op in graph.ops)
              + int(unitemised * (1 - UNITEMISED_TAIL_FRACTION)))
    tail_ref = max(host.tail_bytes - saving, 0)
    cmsis_op_data = sum(cortex_m.cmsis_nn_op_data_extra_bytes(op.name) for op in graph.ops)
    live = live_bytes(graph)
    peak = max(live, default=0)
    with_scratch = [n + _align(op.scratch_bytes) for n, op in zip(live, graph.ops, strict=True)]
    extra = max(max(with_scratch, default=0) - peak, 0)
    largest = max(range(len(graph.ops)), key=lambda i: graph.ops[i].scratch_bytes, default=None)
    largest_bytes = graph.ops[largest].scratch_bytes if largest is not None else 0
    return CortexMArena(
        host_total_bytes=host.total_bytes, head_bytes=host.head_bytes, reference_tail_bytes=tail_ref,
        cmsis_nn_tail_bytes=tail_ref + cmsis_op_data,
        cmsis_nn_scratch_head_bytes=extra, largest_scratch_bytes=largest_bytes,
        largest_scratch_op=f"{graph.ops[largest].name} #{largest}" if largest_bytes else "")
