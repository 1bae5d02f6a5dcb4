"""The custom-board form: name, core, clock (MHz), flash and RAM (KiB), validated as you type."""

from __future__ import annotations

from dataclasses import replace

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select, Static

from designer.boards import CORES, Board
from tui.screens.checked_form import CheckedFormScreen
from tui.widgets.form_input import FormInput

_NUMBERS = (("clock_mhz", "clock (MHz)"), ("flash_kib", "flash (KiB)"), ("ram_kib", "RAM (KiB)"))


class CustomBoardScreen(CheckedFormScreen[Board]):
    """Dismisses with a board built from the form (starting from ``template``), or None."""

    def __init__(self, template: Board) -> None:
        super().__init__()
        self.template = template

    def compose(self) -> ComposeResult:
        t = self.template
        values = {"clock_mhz": f"{t.clock_mhz:g}", "flash_kib": str(t.flash_bytes // 1024),
                  "ram_kib": str(t.ram_bytes // 1024)}
        with Vertical(id="custom-board", classes="dialog"):
            yield Label("Custom board", classes="dialog-title")
            with Horizontal(classes="form-row"):
                yield Label("name", classes="form-label")
                yield FormInput("custom board", id="c-name")
            with Horizontal(classes="form-row"):
                yield Label("core", classes="form-label")
                yield Select([(c, c) for c in CORES], value=t.core, allow_blank=False, id="c-core")
            for key, label in _NUMBERS:
                with Horizontal(classes="form-row"):
                    yield Label(label, classes="form-label")
                    yield FormInput(values[key], id=f"c-{key}")
            yield Static("", id="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Use board", id="apply", variant="primary")
                yield Button("Cancel", id="cancel")

    def value(self) -> Board:
        """The form as a Board; ValueError names the field that is wrong."""
        name = self.query_one("#c-name", Input).value.strip()
        if not name:
            raise ValueError("name: must not be empty")
        numbers: dict[str, float] = {}
        for key, label in _NUMBERS:
            text = self.query_one(f"#c-{key}", Input).value.strip()
            try:
                numbers[key] = float(text)
            except ValueError:
                raise ValueError(f"{label}: expected a number, received '{text}'") from None
            if numbers[key] <= 0:
                raise ValueError(f"{label}: must be positive, received {text}")
        core = str(self.query_one("#c-core", Select).value)
        return replace(self.template, name=name, mcu="custom", core=core, series=self.template.series,
                       clock_hz=round(numbers["clock_mhz"] * 1e6), flash_bytes=round(numbers["flash_kib"] * 1024),
                       ram_bytes=round(numbers["ram_kib"] * 1024), ram_region="", note="entered by hand")
