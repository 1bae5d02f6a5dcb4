"""The conv-group form: n convolutions (each optionally with batchnorm), an optional pool and dropout."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Static

from tui.editing import BlockSpec, EditError
from tui.screens.checked_form import CheckedFormScreen
from tui.widgets.form_input import FormInput
from tui.widgets.state_checkbox import StateCheckbox


class BlockFormScreen(CheckedFormScreen[BlockSpec]):
    """Dismisses with a valid BlockSpec, or None when cancelled; invalid numbers are refused inline."""

    errors = (ValueError, EditError)

    def compose(self) -> ComposeResult:
        spec = BlockSpec()
        with Vertical(id="block-form", classes="dialog"):
            yield Label("Add a conv group", classes="dialog-title")
            for key, value in (("convs", spec.convs), ("filters", spec.filters), ("kernel", spec.kernel),
                               ("dropout", spec.dropout)):
                with Horizontal(classes="form-row"):
                    yield Label(key, classes="form-label")
                    yield FormInput(str(value), id=f"b-{key}")
            yield StateCheckbox("batchnorm after each conv", spec.batchnorm, id="b-batchnorm")
            yield StateCheckbox("2x2 max pool", spec.pool, id="b-pool")
            yield Static("", id="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Add", id="apply", variant="primary")
                yield Button("Cancel", id="cancel")

    def value(self) -> BlockSpec:
        """The form as a BlockSpec (ValueError/EditError for anything impossible)."""
        def number(key: str, kind: type) -> int | float:
            text = self.query_one(f"#b-{key}", Input).value.strip()
            try:
                return kind(text)
            except ValueError:
                raise ValueError(f"{key}: expected {'an integer' if kind is int else 'a number'}, "
                                 f"received '{text}'") from None
        return BlockSpec(convs=int(number("convs", int)), filters=int(number("filters", int)),
                         kernel=int(number("kernel", int)), dropout=float(number("dropout", float)),
                         batchnorm=self.query_one("#b-batchnorm", Checkbox).value,
                         pool=self.query_one("#b-pool", Checkbox).value)
