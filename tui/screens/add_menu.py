"""The add menu: pick a layer kind to insert below the cursor's row, a whole conv group, or a residual block."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from designer.layers import LAYER_TYPES
from tui.screens import DIALOG_CSS

BLOCK = "block"
"""The menu choice that opens the conv-group form instead of inserting one layer."""
RESIDUAL = "residual"
"""The menu choice that opens the residual-block form."""


class AddMenuScreen(ModalScreen[str | None]):
    """Dismisses with a layer kind, BLOCK, RESIDUAL, or None when cancelled."""

    CSS_PATH = DIALOG_CSS

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="add-menu", classes="dialog"):
            yield Label("Add below the selected row", classes="dialog-title")
            options = [Option("conv group (block) …", id=BLOCK), Option("residual block …", id=RESIDUAL)]
            options += [Option(kind, id=kind) for kind in LAYER_TYPES]
            yield OptionList(*options, id="add-options")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        """Close without adding."""
        self.dismiss(None)
