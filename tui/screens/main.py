"""The designer's main screen: the layer stack, the budget panel and the jobs pane, with the main bindings.

The bindings live here, not on the app, so they are inactive while a dialog is open; each one calls an
``app.`` action, and the app also offers every one of them in the command palette.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.widgets.budget_panel import BudgetPanel
from tui.widgets.jobs_pane import JobsPane
from tui.widgets.layer_table import LayerTable
from tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from tui.jobs.events import JobRunner

KEYS: tuple[tuple[str, str, str, bool], ...] = (
    ("enter", "dialog('edit_layer')", "Edit layer", True),
    ("a", "dialog('add_layer')", "Add layer", True),
    ("g", "dialog('add_conv_group')", "Add conv group (block)", False),
    ("R", "dialog('add_residual')", "Add residual block", False),
    ("x,delete", "delete", "Delete layer", True),
    ("D", "duplicate", "Duplicate layer", False),
    ("shift+up,left_square_bracket", "move(-1)", "Move layer up", False),
    ("shift+down,right_square_bracket", "move(1)", "Move layer down", False),
    ("plus,equals_sign", "bump(1)", "Filters/units +8", False),
    ("minus", "bump(-1)", "Filters/units -8", False),
    ("n", "toggle_bn", "Toggle batchnorm after the layer", False),
    ("u,ctrl+z", "undo", "Undo", True),
    ("U,ctrl+y", "redo", "Redo", False),
    ("r", "cycle_runtime", "Runtime xcubeai <-> tflm", False),
    ("d", "cycle_dtype", "dtype float32 <-> int8", False),
    ("c", "cycle_compression", "Compression none/low/medium/high", False),
    ("b", "dialog('pick_board')", "Board", True),
    ("L", "dialog('latency_budget')", "Latency budget (ms)", False),
    ("o", "dialog('open_file')", "Open a design file", False),
    ("s,ctrl+s", "save", "Save", True),
    ("w", "dialog('save_as')", "Save as", False),
    ("N", "dialog('notebook')", "Notebook view", True),
    ("M", "dialog('memory')", "Memory view (activations per layer)", False),
    ("t", "dialog('train')", "Train", True),
    ("e", "dialog('export')", "Export", True),
    ("S", "search", "Search designs that fit the board", False),
    ("k", "cancel_job", "Cancel the newest job", False),
    ("question_mark", "dialog('show_help')", "Keys", True),
    ("q", "quit", "Quit", True),
)
"""(keys, app action, description, shown in the footer) for every main binding."""

FOOTER_LABELS = {"Add layer": "Add", "Delete layer": "Delete", "Notebook view": "Notebook"}
"""Shorter footer words for some shown keys (the help overlay and the palette keep the long ones): at 100
columns every shown key, Quit and Keys last, must still fit."""

COMPACT_FOOTER_BELOW = 120
"""Screen width (cells) under which the footer is drawn compact."""

_KEY_NAMES = {"question_mark": "?", "plus": "+", "equals_sign": "=", "minus": "-",
              "left_square_bracket": "[", "right_square_bracket": "]"}


def display_keys(keys: str) -> str:
    """``plus,equals_sign`` as ``+ / =``."""
    return " / ".join(_KEY_NAMES.get(k, k) for k in keys.split(","))


class MainScreen(Screen[None]):
    """The layer table on the left; the budget panel above the jobs pane on the right."""

    BINDINGS = [Binding(keys, f"app.{action}", FOOTER_LABELS.get(description, description) if shown else description,
                        show=shown, key_display=display_keys(keys)
                        if shown and "," not in keys and keys in _KEY_NAMES else None)
                for keys, action, description, shown in KEYS]

    def __init__(self, runner: JobRunner, on_mounted: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.runner = runner
        self._on_mounted = on_mounted

    def on_mount(self) -> None:
        # Called with the widgets mounted but before the screen's first layout (ScreenResume comes after
        # Mount): the app fills them here, so its first frame is the real one and it is laid out only once.
        if self._on_mounted is not None:
            self._on_mounted()

    def on_resize(self, event: events.Resize) -> None:
        # Below 120 columns the footer drops its padding, so every shown key still fits (Quit and Keys last).
        self.query_one(Footer).compact = event.size.width < COMPACT_FOOTER_BELOW

    def compose(self) -> ComposeResult:
        yield TitleBar()
        # A grid on the screen itself (tui/app.tcss), not a row container inside it: one widget fewer to style,
        # lay out and paint for the first frame (~4 ms).
        yield LayerTable(id="layers")
        with Vertical(id="side"):
            yield BudgetPanel(id="budget")
            yield JobsPane(self.runner, id="jobs")
        yield Static("", id="status")
        yield Footer()
