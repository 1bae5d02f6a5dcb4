"""The lowering: an analysed design (a tree of layers and residual blocks) as a flat graph of ops and tensors.

This is the one place the tree becomes a graph. The X-CUBE-AI and TFLM estimators, the Keras build and the
memory picture all start from ``lower(analysis)``, never from their own walk of the tree, so they all see
the same tensors (house style, "When the design stops being a line").

* ``Graph.nodes`` are in execution order, one per row of ``analysis.layers`` (same order, ``node.id`` equals
  the row's ``index`` and its position): for a block, its main path, then its shortcut, then the add node,
  whose two inputs are (main-path output, shortcut output). Dropout rows are nodes too (identity at
  inference: a pass that drops them re-points their consumers itself).
* ``Graph.tensors``: tensor 0 is the design's input; every node produces exactly one tensor. An identity
  shortcut produces no tensor of its own: the add reads the block input, which therefore stays alive across
  the whole main path.
* Lifetimes are node positions: a tensor is live from ``first_use`` (its producer's position, 0 for the
  input) to ``last_use`` (its last consumer's position; the graph output lives to the last node), both
  inclusive, the way TFLite Micro's planner sees first and last use.
* ``Node.name`` is the Keras layer name designer.keras_build gives the node (and the converter then puts in
  tensor names): ``l03_conv2d`` for a top-level layer at index 3, as always; inside a block the path is
  spelled with ``m``/``s`` for main/shortcut, e.g. ``l03m1_conv2d`` (main layer 1 of the block at item 3),
  ``l03s0_conv2d`` (its first shortcut layer), ``l03_add`` (its join), ``l03m2m0_conv2d`` (nested).

A linear design lowers to a chain: node i reads tensor i and writes tensor i + 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from designer.design import Analysis, LayerStats
from designer.layers import BRANCHES, MAIN, SHORTCUT, Shape


@dataclass(frozen=True)
class Tensor:
    """One value flowing between nodes (no batch axis in ``shape``)."""

    id: int
    shape: Shape
    producer: int | None  # node id; None for the design's input
    consumers: tuple[int, ...]  # node ids, in execution order
    first_use: int  # node position where the tensor comes alive
    last_use: int  # last node position that needs it (inclusive)

    @property
    def elements(self) -> int:
        """Number of values in the tensor."""
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class Node:
    """One op: a layer of the design, or the add joining a residual block (``stats.role == "add"``)."""

    id: int  # == position in Graph.nodes == stats.index
    name: str  # the Keras layer name (see the module docstring)
    stats: LayerStats
    inputs: tuple[int, ...]  # tensor ids: one, or (main output, shortcut output) for an add
    output: int  # tensor id


@dataclass(frozen=True)
class Graph:
    """The lowered design: nodes in execution order and the tensors between them."""

    nodes: tuple[Node, ...]
    tensors: tuple[Tensor, ...]  # by id: tensors[t].id == t
    input_tensor: int
    output_tensor: int

    def live_at(self, position: int) -> tuple[Tensor, ...]:
        """The tensors alive while node ``position`` runs (its inputs, its output and any kept for later)."""
        return tuple(t for t in self.tensors if t.first_use <= position <= t.last_use)

    def producer_of(self, tensor: int) -> Node | None:
        """The node writing ``tensor`` (None for the design's input)."""
        producer = self.tensors[tensor].producer
        return None if producer is None else self.nodes[producer]


def node_name(stats: LayerStats) -> str:
    """The stable Keras layer name of an analysis row (see the module docstring)."""
    path = stats.path or (stats.index,)
    text = f"l{path[0]:02d}"
    for k in range(1, len(path), 2):
        text += f"{BRANCHES[path[k]][0]}{path[k + 1]}"
    return f"{text}_{stats.layer.kind}"


def lower(analysis: Analysis) -> Graph:
    """The graph of an analysed design (the analysis is valid by construction, so this never fails)."""
    shapes: list[Shape] = [tuple(analysis.design.input_shape)]
    producers: list[int | None] = [None]
    inputs_of: list[tuple[int, ...]] = []
    # The tensor feeding the next node of each open stack, keyed by the stack's path prefix.
    current: dict[tuple[int, ...], int] = {(): 0}
    # For each open block (its path), the tensor it was fed.
    block_input: dict[tuple[int, ...], int] = {}

    def feed(prefix: tuple[int, ...]) -> int:
        # The first node of a stack inside a block reads the block's input; later ones, the previous output.
        if prefix not in current:
            block = prefix[:-1]
            if block not in block_input:
                block_input[block] = feed(block[:-1])
            current[prefix] = block_input[block]
        return current[prefix]

    for stats in analysis.layers:
        path = stats.path or (stats.index,)
        if stats.role == "add":
            start = block_input.pop(path)  # the main path is never empty, so it was fed
            main = current.pop((*path, MAIN))
            short = current.pop((*path, SHORTCUT), start)  # no shortcut layers: the identity reads the input
            ins: tuple[int, ...] = (main, short)
            prefix = path[:-1]
        else:
            prefix = path[:-1]
            ins = (feed(prefix),)
        out = len(shapes)
        shapes.append(stats.output_shape)
        producers.append(stats.index)
        inputs_of.append(ins)
        current[prefix] = out

    last = len(inputs_of) - 1
    consumers: list[list[int]] = [[] for _ in shapes]
    for node_id, ins in enumerate(inputs_of):
        for t in ins:
            consumers[t].append(node_id)
    output = current[()]
    tensors = []
    for t, shape in enumerate(shapes):
        producer = producers[t]
        first = 0 if producer is None else producer
        tensors.append(Tensor(id=t, shape=shape, producer=producer, consumers=tuple(consumers[t]), first_use=first,
                              last_use=last if t == output else max(consumers[t], default=first)))
    nodes = tuple(Node(id=s.index, name=node_name(s), stats=s, inputs=inputs_of[s.index], output=s.index + 1)
                  for s in analysis.layers)
    return Graph(nodes=nodes, tensors=tuple(tensors), input_tensor=0, output_tensor=output)
