"""The train form (T): dataset, epochs, batch size, learning rate and augmentation; Enter starts the job."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Checkbox, Input, Label, Static

from tui.job_settings import TrainSettings
from tui.screens.checked_form import CheckedFormScreen
from tui.widgets.form_input import FormInput

FIELDS: tuple[tuple[str, str, str], ...] = (
    ("data", "dataset", "cifar10, or an image folder / .tar.gz / .zip / .npz"),
    ("epochs", "epochs", ""),
    ("batch_size", "batch size", ""),
    ("learning_rate", "learning rate", ""),
)
"""(TrainSettings field, label, placeholder) for each input, top to bottom."""


class TrainFormScreen(CheckedFormScreen[TrainSettings]):
    """Dismisses with valid TrainSettings, or None when cancelled; opens with the last values used."""

    def __init__(self, settings: TrainSettings, design_name: str) -> None:
        super().__init__()
        self.settings = settings
        self.design_name = design_name

    def compose(self) -> ComposeResult:
        with Vertical(id="train-form", classes="dialog"):
            yield Label(Content(f"Train {self.design_name}"), classes="dialog-title")
            for key, label, placeholder in FIELDS:
                with Horizontal(classes="form-row"):
                    yield Label(label, classes="form-label")
                    yield FormInput(str(getattr(self.settings, key)), id=f"t-{key}", placeholder=placeholder)
            yield Checkbox("augment (random flips and shifts)", value=self.settings.augment, id="t-augment")
            yield Static("", id="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Train", id="apply", variant="primary")
                yield Button("Cancel", id="cancel")
            yield Label("[dim]Enter to start · Escape to cancel[/dim]")

    def on_mount(self) -> None:
        self.query_one("#t-data", Input).focus()

    def value(self) -> TrainSettings:
        """The form as TrainSettings (ValueError naming the field for anything impossible)."""
        def text(key: str) -> str:
            return self.query_one(f"#t-{key}", Input).value.strip()

        def number(key: str, label: str, kind: type[int] | type[float]) -> int | float:
            try:
                return kind(text(key))
            except ValueError:
                raise ValueError(f"{label}: expected {'an integer' if kind is int else 'a number'}, "
                                 f"received '{text(key)}'") from None
        return TrainSettings(data=text("data"), epochs=int(number("epochs", "epochs", int)),
                             batch_size=int(number("batch_size", "batch size", int)),
                             learning_rate=float(number("learning_rate", "learning rate", float)),
                             augment=self.query_one("#t-augment", Checkbox).value)
