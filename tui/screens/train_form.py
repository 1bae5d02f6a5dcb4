"""The train form (t): every option of ``cnn-designer train``, basic ones first, the rest under "more";
validated on every change, Enter starts the job from any field.

The dataset field offers the data sets found in the current folder (Tab completes; the line under it lists
them) and says what cifar10 needs (Keras downloads it on first use, which fails offline). Picking a run to
resume fills the dataset field with the data set that run recorded: the run's config.json is not followed
outside the run folder unasked, so the form shows it and the job passes it explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.suggester import SuggestFromList
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from tui.job_settings import CIFAR10, STRATEGIES, TrainSettings
from tui.screens.checked_form import CheckedFormScreen
from tui.widgets.form_input import FormInput
from tui.widgets.state_checkbox import StateCheckbox

BASIC: tuple[tuple[str, str, str], ...] = (
    ("epochs", "epochs", ""),
    ("batch_size", "batch size", "images per step"),
    ("learning_rate", "learning rate", "Adam's, e.g. 0.001"),
)
MORE: tuple[tuple[str, str, str], ...] = (
    ("validation_split", "validation split", "share held out, e.g. 0.1"),
    ("seed", "seed", "empty: random (recorded in the run)"),
    ("early_stopping", "early stopping", "epochs without a better val_accuracy; 0: off"),
    ("reduce_lr", "reduce LR", "halve after N epochs without a better val_loss; 0: off"),
    ("limit", "image limit", "empty: all training images"),
    ("cpu_devices", "CPU devices", "logical CPU devices, for mirrored without GPUs"),
)
"""(TrainSettings field, label, placeholder) of each text input, top to bottom."""

_NUMBERS: dict[str, tuple[str, type[int] | type[float], bool]] = {
    key: (label, float if key in ("learning_rate", "validation_split") else int, key in ("seed", "limit"))
    for key, label, _ in BASIC + MORE
}
"""field -> (label, number type, whether empty means None)."""

NEW_RUN = ""
"""The resume select's value for a new run."""


class TrainFormScreen(CheckedFormScreen[TrainSettings]):
    """Dismisses with valid TrainSettings, or None when cancelled; opens with the last values used.

    ``data`` is the dataset field's first text (the remembered one, else a data set found here, else empty);
    ``datasets`` what was found in the current folder; ``runs`` (run folder, the data it recorded) for each of
    the design's runs that can be resumed.
    """

    def __init__(self, settings: TrainSettings, design_name: str, *, data: str | None = None,
                 datasets: Sequence[str] = (), runs: Sequence[tuple[str, str]] = (), cifar10_note: str = "") -> None:
        super().__init__()
        self.settings = settings
        self.design_name = design_name
        self.data = settings.data if data is None else data
        self.datasets = list(datasets)
        self.runs = dict(runs)
        self.cifar10_note = cifar10_note

    def _row(self, key: str, label: str, placeholder: str) -> ComposeResult:
        value = getattr(self.settings, key)
        with Horizontal(classes="form-row"):
            yield Label(label, classes="form-label")
            yield FormInput("" if value is None else str(value), id=f"t-{key}", placeholder=placeholder)

    def compose(self) -> ComposeResult:
        found = ", ".join(self.datasets) if self.datasets else "none in this folder"
        with Vertical(id="train-form", classes="dialog"):
            yield Label(Content(f"Train {self.design_name}"), classes="dialog-title")
            with VerticalScroll(id="form-fields"):
                with Horizontal(classes="form-row"):
                    yield Label("dataset", classes="form-label")
                    yield FormInput(self.data, id="t-data",
                                    placeholder="an image folder, .tar.gz/.zip, .npz or cifar10",
                                    suggester=SuggestFromList([*self.datasets, CIFAR10], case_sensitive=False))
                yield Static(Content(f"found here: {found} (Tab completes)\n{self.cifar10_note}"),
                             id="t-data-help", classes="form-help")
                for key, label, placeholder in BASIC:
                    yield from self._row(key, label, placeholder)
                yield StateCheckbox("augment (random flips and shifts)", self.settings.augment, id="t-augment")
                yield Label("more", classes="form-section")
                for key, label, placeholder in MORE:
                    yield from self._row(key, label, placeholder)
                with Horizontal(classes="form-row"):
                    yield Label("strategy", classes="form-label")
                    yield Select([(s, s) for s in STRATEGIES], value=self.settings.strategy, allow_blank=False,
                                 id="t-strategy")
                with Horizontal(classes="form-row"):
                    yield Label("resume", classes="form-label")
                    yield Select([("a new run", NEW_RUN), *((Content(run), run) for run in self.runs)],
                                 value=self.settings.resume if self.settings.resume in self.runs else NEW_RUN,
                                 allow_blank=False, id="t-resume")
            yield Static("", id="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Train", id="apply", variant="primary")
                yield Button("Cancel", id="cancel")
            yield Label("[dim]Enter to start (from any field) · Space toggles · Escape to cancel[/dim]")

    def on_mount(self) -> None:
        self.query_one("#t-data", Input).focus()
        self._check()

    @on(Select.Changed, "#t-resume")
    def _resume_picked(self, event: Select.Changed) -> None:
        recorded = self.runs.get(str(event.value), "")
        if recorded:  # the data set that run trained on, for the user to see and confirm
            self.query_one("#t-data", Input).value = recorded

    def value(self) -> TrainSettings:
        """The form as TrainSettings (ValueError naming the field for anything impossible)."""
        numbers: dict[str, int | float | None] = {}
        for key, (label, kind, optional) in _NUMBERS.items():
            text = self.query_one(f"#t-{key}", Input).value.strip()
            if optional and not text:
                numbers[key] = None
                continue
            try:
                numbers[key] = kind(text)
            except ValueError:
                what = "an integer" if kind is int else "a number"
                raise ValueError(f"{label}: expected {what}{' or empty' if optional else ''}, "
                                 f"received '{text}'") from None
        return TrainSettings(data=self.query_one("#t-data", Input).value.strip(),
                             augment=self.query_one("#t-augment", Checkbox).value,
                             strategy=str(self.query_one("#t-strategy", Select).value),
                             resume=str(self.query_one("#t-resume", Select).value),
                             **numbers)  # type: ignore[arg-type]
