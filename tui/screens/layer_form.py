"""The layer edit form: one field per setting, validated on every keystroke, never applying an invalid value.

Validation runs in three steps and the first failure is shown inline under the fields: the text must parse
(an integer, a number, ``3`` or ``3x2`` for a window), the layer must be possible (designfile's strict
checks), and the shapes must still work. The shape check takes the whole design when it was valid before the
edit (so a change that breaks a later layer is refused, naming that layer); when the design is already
invalid it checks only this layer against its input, so the form still helps repair a broken stack. A layer
inside a residual block is named by its tree path and replaced there (tui.editing).
Enter or "Apply" dismisses with the new layer only while there is no error; Escape cancels.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from designer.design import Design, DesignError, analyze, analyze_stack
from designer.designfile import layer_from_dict
from designer.layers import ACTIVATIONS, PADDINGS, Item, Layer, LayerShapeError
from tui.editing import Where, input_shape_at, insert_layers, item, path_label, replace_layer
from tui.screens import DIALOG_CSS
from tui.screens.checked_form import enter_applies
from tui.widgets.form_input import FormInput

_CHOICES = {"padding": PADDINGS, "activation": ACTIVATIONS}


def _pair_text(value: tuple[int, int] | None) -> str:
    if value is None:
        return ""
    return str(value[0]) if value[0] == value[1] else f"{value[0]}x{value[1]}"


def parse_field(key: str, annotation: str, text: str) -> Any:
    """A field's typed-in text as a TOML-style value; ValueError names the key and the text."""
    text = text.strip()
    try:
        if annotation.startswith("tuple[int, int]"):
            if not text:
                if "None" in annotation:
                    return None
                raise ValueError
            parts = text.replace(",", "x").replace(" ", "x").split("x")
            values = [int(p) for p in parts if p]
            if len(values) == 1:
                return values[0]
            if len(values) == 2:
                return values
            raise ValueError
        if annotation == "int":
            return int(text)
        if annotation == "float":
            return float(text)
    except ValueError:
        what = {"int": "an integer", "float": "a number"}.get(annotation, "an integer or HxW, e.g. 3 or 3x2")
        raise ValueError(f"{key}: expected {what}, received '{text}'") from None
    return text


def check_item(design: Design, where: Where, new: Item, *, insert: bool = False) -> str:
    """Why ``new`` cannot replace the item at ``where`` (or be inserted there), or "" when it can.

    A design that was valid must stay valid (the error names the layer that breaks); in a design that was not,
    only the item against its own input is checked, so a form still helps repair a broken stack.
    """
    try:
        analyze(design)
    except DesignError:
        pass
    else:
        try:
            analyze(insert_layers(design, where, [new]) if insert else replace_layer(design, where, new))
        except DesignError as exc:
            return str(exc)
        return ""
    in_shape = input_shape_at(design, where)
    if in_shape is None:
        return ""
    try:
        _, out = analyze_stack((new,), in_shape)
        if math.prod(out) < 1:
            raise LayerShapeError(f"output shape {out} is empty")
    except (DesignError, LayerShapeError) as exc:
        reason = exc.reason if isinstance(exc, DesignError) else str(exc)
        inner = f", {exc.inner}" if isinstance(exc, DesignError) and exc.inner else ""
        return f"layer {path_label(where)} ({new.kind}){inner}: {reason}"
    return ""


def validate(design: Design, where: Where, data: dict[str, Any]) -> tuple[Layer | None, str]:
    """The layer the form describes and "" when it may be applied, else (None or the layer, the error)."""
    try:
        layer = layer_from_dict(data, where if isinstance(where, int) else None)
    except DesignError as exc:
        if isinstance(where, int):
            return None, str(exc)
        where_text = ", ".join([f"layer {path_label(where)}" + (f" ({exc.kind})" if exc.kind else ""),
                                *([f"key '{exc.key}'"] if exc.key else [])])
        return None, f"{where_text}: {exc.reason}"
    return layer, check_item(design, where, layer)


class LayerFormScreen(ModalScreen[Layer | None]):
    """Edit the layer at ``where`` (an index or a tree path) of ``design``; dismisses with the new layer, or None
    when cancelled."""

    CSS_PATH = DIALOG_CSS

    BINDINGS = [Binding("escape", "cancel", "Cancel"),
                Binding("enter", "enter", "Apply", show=False, priority=True)]

    def __init__(self, design: Design, where: Where) -> None:
        super().__init__()
        self.design = design
        self.index = where
        original = item(design, where)
        assert isinstance(original, Layer)  # a block has its own form (tui.screens.residual_form)
        self.original: Layer = original
        self.error = ""
        self.candidate: Layer | None = self.original

    def compose(self) -> ComposeResult:
        with Vertical(id="form", classes="dialog"):
            yield Label(Content.from_markup("Edit layer $where: [b]$kind[/b]", where=path_label(self.index),
                                            kind=self.original.kind), classes="dialog-title")
            with VerticalScroll(id="form-fields"):
                # The layer's own settings first; the display-only group label last.
                for f in sorted(fields(self.original), key=lambda f: f.name == "group"):
                    yield from self._field(f.name, str(f.type), getattr(self.original, f.name))
            yield Static("", id="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Apply", id="apply", variant="primary")
                yield Button("Cancel", id="cancel")

    def _field(self, key: str, annotation: str, value: Any) -> ComposeResult:
        widget: Widget
        if key in _CHOICES:
            widget = Select([(c, c) for c in _CHOICES[key]], value=value, allow_blank=False, id=f"f-{key}")
        elif annotation == "bool":
            widget = Checkbox(key, value=value, id=f"f-{key}")
        elif annotation.startswith("tuple"):
            widget = FormInput(_pair_text(value), id=f"f-{key}",
                           placeholder="default" if "None" in annotation else "3 or 3x2")
        else:
            widget = FormInput(str(value), id=f"f-{key}")
        with Horizontal(classes="form-row"):
            yield Label(key, classes="form-label")
            yield widget

    def on_mount(self) -> None:
        self.query_one("#form-fields").query(Input).first().focus()

    def form_data(self) -> dict[str, Any]:
        """The fields as a layer table (raises ValueError for text that does not parse)."""
        data: dict[str, Any] = {"kind": self.original.kind}
        for f in fields(self.original):
            widget = self.query_one(f"#f-{f.name}")
            if isinstance(widget, Select):
                data[f.name] = widget.value
            elif isinstance(widget, Checkbox):
                data[f.name] = widget.value
            elif isinstance(widget, Input):
                if f.name == "group":
                    data[f.name] = widget.value.strip()
                    continue
                value = parse_field(f.name, str(f.type), widget.value)
                if value is not None:
                    data[f.name] = value
        return data

    def revalidate(self) -> None:
        """Check the form and show the first error (or nothing) under the fields."""
        try:
            self.candidate, self.error = validate(self.design, self.index, self.form_data())
        except ValueError as exc:
            self.candidate, self.error = None, str(exc)
        self.query_one("#form-error", Static).update(Content(self.error))  # holds typed text: plain
        self.query_one("#form-error").set_class(bool(self.error), "-error")
        self.query_one("#apply", Button).disabled = bool(self.error)

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _changed(self) -> None:
        self.revalidate()

    def action_enter(self) -> None:
        """Enter applies from any field, a checkbox or a closed select too (as in the other forms)."""
        enter_applies(self)
        self.action_apply()

    @on(Input.Submitted)
    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        """Apply the edit if the form is valid; otherwise keep the form open with its error."""
        self.revalidate()
        if self.error or self.candidate is None:
            self.app.bell()
            return
        self.dismiss(self.candidate)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without changing anything."""
        self.dismiss(None)
