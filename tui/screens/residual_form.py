"""The residual-block forms: one adds a block (filters, convs in the main path, stride, batchnorm, shortcut,
activation after the add), one edits a block as a unit (the add's activation, its shortcut, its group).

Both re-check on every change, like the other forms: the block must meet with itself (main path and shortcut
give one shape) and, in a design that was valid, keep the design valid (the error names what breaks). The
shortcut choice offers the identity only where the shapes allow it (same shape in and out of the main path);
a projection is a 1x1 conv with the main path's stride and output channels, then batchnorm.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from designer.design import Design
from designer.layers import ACTIVATIONS, Item, Residual, Shape
from tui.editing import (
    EditError,
    ResidualSpec,
    TreePath,
    identity_fits,
    input_shape_at,
    item,
    next_group_name,
    path_label,
    projection_for,
    residual_block,
)
from tui.screens.checked_form import CheckedFormScreen
from tui.screens.layer_form import check_item
from tui.widgets.form_input import FormInput

_PROJECTION = "projection"
_IDENTITY = "identity"
_KEEP = "keep"


def _row(label: str, widget: Input | Select[str]) -> Horizontal:
    return Horizontal(Label(label, classes="form-label"), widget, classes="form-row")


def _last_fields(activation: str, group: str) -> ComposeResult:
    """The fields both forms end with: the activation after the add, the group label."""
    yield _row("after the add", Select([(a, a) for a in ACTIVATIONS], value=activation, allow_blank=False,
                                       id="r-activation"))
    yield _row("group", FormInput(group, id="r-group"))


def _buttons(apply: str) -> ComposeResult:
    """Under the fields: the error line and the buttons (outside the scrolling fields, so always in view)."""
    yield Static("", id="form-error")
    yield Horizontal(Button(apply, id="apply", variant="primary"), Button("Cancel", id="cancel"),
                     classes="dialog-buttons")


class _BlockForm(CheckedFormScreen[Residual]):
    """What both forms share: a shortcut choice whose options follow the shapes, re-checked on every change."""

    errors: ClassVar[tuple[type[Exception], ...]] = (ValueError, EditError)

    # The fields scroll so that the buttons stay on a 100x30 screen (the dialog is at most 90% high).
    DEFAULT_CSS = """
    _BlockForm #residual-fields {
        height: auto;
        max-height: 50vh;
    }
    """

    def __init__(self, design: Design, at: TreePath) -> None:
        super().__init__()
        self.design = design
        self.at = at
        self.in_shape: Shape | None = input_shape_at(design, at)
        self._offered: list[str] = []

    def _shortcut_options(self, main: tuple[Item, ...]) -> list[tuple[str, str]]:
        raise NotImplementedError

    def _offer(self, main: tuple[Item, ...]) -> None:
        """Offer the shortcuts these shapes allow (the identity only where in and out shapes agree)."""
        select: Select[str] = self.query_one("#r-shortcut", Select)
        options = self._shortcut_options(main)
        if [v for _, v in options] != self._offered:
            self._offered = [v for _, v in options]
            keep = select.value
            with select.prevent(Select.Changed):
                select.set_options(options)
                if keep in [v for _, v in options]:
                    select.value = keep

    def _checked(self, block: Residual, *, insert: bool) -> Residual:
        error = check_item(self.design, self.at, block, insert=insert)
        if error:
            raise ValueError(error)
        return block

    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _other_changed(self) -> None:
        self._check()

    def _shape_text(self) -> str:
        return "unknown (an earlier layer cannot be built)" if self.in_shape is None else "x".join(
            map(str, self.in_shape))


class ResidualFormScreen(_BlockForm):
    """Add a residual block at ``at``; dismisses with the block, or None when cancelled."""

    def compose(self) -> ComposeResult:
        channels = self.in_shape[-1] if self.in_shape is not None and len(self.in_shape) == 3 else 32
        spec = ResidualSpec(filters=channels)
        with Vertical(id="residual-form", classes="dialog"):
            yield Label("Add a residual block", classes="dialog-title")
            yield Static(Content(f"at {path_label(self.at)}, input {self._shape_text()}"), classes="form-note")
            with VerticalScroll(id="residual-fields"):
                for key, value in (("filters", spec.filters), ("convs", spec.convs), ("kernel", spec.kernel),
                                   ("strides", spec.strides)):
                    yield _row(key, FormInput(str(value), id=f"r-{key}"))
                yield Checkbox("batchnorm after each conv (and in the projection)", value=spec.batchnorm,
                               id="r-batchnorm")
                yield _row("shortcut", Select([("projection: 1x1 conv + batchnorm", _PROJECTION)],
                                              allow_blank=False, id="r-shortcut"))
                yield from _last_fields(spec.activation, next_group_name(self.design, "residual"))
            yield from _buttons("Add")

    def on_mount(self) -> None:
        self._check()
        if identity_fits(residual_block(self._spec(_PROJECTION)).main, self.in_shape):
            self.query_one("#r-shortcut", Select).value = _IDENTITY  # ResNet's own choice where it fits
        self.query_one("#r-filters", Input).focus()

    def _shortcut_options(self, main: tuple[Item, ...]) -> list[tuple[str, str]]:
        options = [("projection: 1x1 conv + batchnorm", _PROJECTION)]
        if identity_fits(main, self.in_shape):
            options.insert(0, ("identity (no layers)", _IDENTITY))
        return options

    def _spec(self, shortcut: str) -> ResidualSpec:
        def number(key: str) -> int:
            text = self.query_one(f"#r-{key}", Input).value.strip()
            try:
                return int(text)
            except ValueError:
                raise ValueError(f"{key}: expected an integer, received '{text}'") from None
        return ResidualSpec(filters=number("filters"), convs=number("convs"), kernel=number("kernel"),
                            strides=number("strides"), batchnorm=self.query_one("#r-batchnorm", Checkbox).value,
                            shortcut=shortcut, activation=str(self.query_one("#r-activation", Select).value))

    def value(self) -> Residual:
        """The block the form describes (ValueError/EditError for anything impossible)."""
        self._offer(residual_block(self._spec(_PROJECTION)).main)
        block = residual_block(self._spec(str(self.query_one("#r-shortcut", Select).value)),
                               self.query_one("#r-group", Input).value.strip())
        return self._checked(block, insert=True)


class ResidualEditScreen(_BlockForm):
    """Edit the residual block at ``at`` as a unit; dismisses with the new block, or None when cancelled.

    Its layers are edited in their own rows (the layer form); here: the shortcut (keep it, the identity where
    the shapes allow, or a projection made to fit), the activation after the add, and the group label.
    """

    def __init__(self, design: Design, at: TreePath) -> None:
        super().__init__(design, at)
        block = item(self.design, at)
        assert isinstance(block, Residual)
        self.original = block

    def compose(self) -> ComposeResult:
        block = self.original
        with Vertical(id="residual-form", classes="dialog"):
            yield Label(Content(f"Edit block {path_label(self.at)}: residual"), classes="dialog-title")
            yield Static(Content(f"input {self._shape_text()}; {block.summary()}. Its layers: Enter on their rows."),
                         classes="form-note")
            options = self._shortcut_options(block.main)
            self._offered = [v for _, v in options]
            with VerticalScroll(id="residual-fields"):
                yield _row("shortcut", Select(options, value=options[0][1], allow_blank=False, id="r-shortcut"))
                yield from _last_fields(block.activation, block.group)
            yield from _buttons("Apply")

    def on_mount(self) -> None:
        self._check()
        self.query_one("#r-shortcut", Select).focus()

    def _shortcut_options(self, main: tuple[Item, ...]) -> list[tuple[str, str]]:
        block = self.original
        kinds = ", ".join(i.kind for i in block.shortcut) or "identity"
        options: list[tuple[str, str]] = [(f"keep: {kinds}", _KEEP)]  # always possible: edit the rest only
        if block.shortcut and identity_fits(main, self.in_shape):
            options.append(("identity (no layers)", _IDENTITY))
        options.append(("projection: 1x1 conv + batchnorm", _PROJECTION))
        return options

    def value(self) -> Residual:
        """The edited block (ValueError/EditError for anything impossible)."""
        choice = self.query_one("#r-shortcut", Select).value
        shortcut = (self.original.shortcut if choice == _KEEP else () if choice == _IDENTITY
                    else projection_for(self.original, self.in_shape))
        group = self.query_one("#r-group", Input).value.strip()
        block = replace(regroup(self.original, self.original.group, group), shortcut=shortcut,
                        activation=str(self.query_one("#r-activation", Select).value))
        return self._checked(block, insert=False)


def regroup(block: Residual, old: str, new: str) -> Residual:
    """``block`` relabelled ``new``, and every item inside it that carried its old label ``old`` too."""
    def moved(items: tuple[Item, ...]) -> tuple[Item, ...]:
        return tuple(regroup(i, old, new) if isinstance(i, Residual) and i.group == old
                     else replace(i, group=new) if i.group == old else i for i in items)
    return replace(block, group=new, main=moved(block.main), shortcut=moved(block.shortcut))
