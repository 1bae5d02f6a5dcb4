"""The memory view (M): per layer, the activation bytes alive while it runs, as bars against the board's RAM,
with the peak layer named.

TFLM's figure is its planner's (``LayerFootprint.live_bytes``: every tensor alive while the op runs, shortcuts
across a block included, on a Cortex-M with CMSIS-NN scratch); X-CUBE-AI's is the layer's own activation
buffers (``ram_bytes``), which is what its allocator reports per c-layer. The runtime's own RAM is not in the
bars: the board's budget line is its RAM less that part.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from designer.boards import Board
from designer.footprint import Footprint, LayerFootprint
from tui.budget import human_bytes
from tui.screens import DIALOG_CSS

BAR_WIDTH = 48


def live_of(layer: LayerFootprint) -> int:
    """The bytes alive while ``layer`` runs: the planner's figure where the runtime gives one."""
    return layer.live_bytes or layer.ram_bytes


def memory_lines(footprint: Footprint, board: Board, names: dict[int, str] | None = None) -> list[Content]:
    """The view's lines: a heading naming the peak, then one bar per layer (``names``: index -> label)."""
    layers = footprint.layers
    if not layers:
        return [Content("no layers")]
    budget = max(1, board.ram_bytes - footprint.runtime_ram_bytes)
    peak = max(layers, key=live_of)
    scale = max(budget, live_of(peak))
    mark = min(BAR_WIDTH - 1, round(budget / scale * BAR_WIDTH))
    label_width = max(len((names or {}).get(lf.index, lf.kind)) for lf in layers)
    lines = [Content.from_markup(
        "[b]peak[/b]: layer $index ($kind), $peak of $budget for activations on $board "
        "($ram RAM less $runtime for the runtime)",
        index=str(peak.index), kind=peak.kind, peak=human_bytes(live_of(peak)), budget=human_bytes(budget),
        board=board.name, ram=human_bytes(board.ram_bytes), runtime=human_bytes(footprint.runtime_ram_bytes)),
        Content("")]
    for lf in layers:
        live = live_of(lf)
        filled = round(live / scale * BAR_WIDTH)
        cells = ["█" if i < filled else ("│" if i == mark else "░") for i in range(BAR_WIDTH)]
        style = "red" if live > budget else ("bold yellow" if lf is peak else "green")
        label = (names or {}).get(lf.index, lf.kind)
        lines.append(Content.assemble(f"{lf.index:>3} {label:<{label_width}} ", ("".join(cells), style),
                                      f" {human_bytes(live):>10}", (" ◀ peak" if lf is peak else "", "bold")))
    return lines


class MemoryScreen(ModalScreen[None]):
    """The memory view over the designer; Escape (or M) closes it."""

    CSS_PATH = DIALOG_CSS

    BINDINGS = [Binding("escape,M,q", "close", "Close")]

    def __init__(self, footprint: Footprint, board: Board, settings: str, names: dict[int, str]) -> None:
        super().__init__()
        self.footprint = footprint
        self.board = board
        self.settings = settings
        self.names = names

    def compose(self) -> ComposeResult:
        with Vertical(id="memory", classes="dialog"):
            yield Label(Content.from_markup("Memory: activations alive per layer, $settings  "
                                            "[dim]│ the board's budget · Escape close[/dim]",
                                            settings=self.settings), classes="dialog-title")
            with VerticalScroll(id="memory-bars"):
                yield Static(Content("\n").join(memory_lines(self.footprint, self.board, self.names)),
                             id="memory-text")

    def action_close(self) -> None:
        """Back to the designer."""
        self.dismiss(None)
