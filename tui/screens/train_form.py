"""The train form (t): every option of ``cnn-designer train``, basic ones first, the rest under "more";
validated on every change, Enter starts the job from any field.

Like the CLI, the form follows the training recipe (designer.training.recipe): the recipe select picks one,
the line under it says what the job will train with, and each of the recipe's settings (learning rate,
weight decay, label smoothing, shift, augment) left empty or at "recipe's" is the recipe's (the placeholder
shows its value); a value typed there overrides it.

The dataset field offers the data sets found in the current folder (Tab completes; the line under it lists
them) and says what cifar10 needs (Keras downloads it on first use, which fails offline). Picking a run to
resume fills the dataset field with the data set that run recorded: the run's config.json is not followed
outside the run folder unasked, so the form shows it and the job passes it explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select, Static

from designer.training.protocol import MIXED_PRECISION, RECIPES, STRATEGIES, TrainConfig
from designer.training.recipe import RECIPE_TABLE, Recipe, resolve_recipe
from designer.training.runs import RunError, multi_worker_task
from tui.jobs.settings import CIFAR10, TrainSettings
from tui.screens.checked_form import CheckedFormScreen
from tui.widgets.form_input import FormInput

BASIC: tuple[tuple[str, str, str], ...] = (
    ("epochs", "epochs", ""),
    ("batch_size", "batch size", "images per step"),
)
RECIPE_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("learning_rate", "learning rate", "peak rate, after the warm-up"),
    ("weight_decay", "weight decay", "AdamW's; 0: plain Adam"),
    ("label_smoothing", "label smoothing", "0 .. 1"),
    ("translate", "shift", "largest, a share of the image size; 0: flips only"),
)
"""The recipe's numeric settings: empty means the recipe's value, which the placeholder shows."""
MORE: tuple[tuple[str, str, str], ...] = (
    ("validation_split", "validation split", "share held out, e.g. 0.1"),
    ("seed", "seed", "empty: random (recorded in the run)"),
    ("early_stopping", "early stopping", "epochs without a better val_accuracy; 0: off"),
    ("reduce_lr", "reduce LR", "halve after N epochs without a better val_loss (replaces cosine); 0: off"),
    ("limit", "image limit", "empty: all training images"),
)
CPU_DEVICES = ("cpu_devices", "CPU devices", "logical CPU devices, for mirrored without GPUs")
"""(TrainSettings field, label, placeholder) of each text input, top to bottom."""

_RECIPES_OWN_KEYS = {key for key, _, _ in RECIPE_FIELDS}
_FLOATS = {"validation_split", *_RECIPES_OWN_KEYS}
_OPTIONAL = {"seed", "limit", *_RECIPES_OWN_KEYS}
_NUMBERS: dict[str, tuple[str, type[int] | type[float], bool]] = {
    key: (label, float if key in _FLOATS else int, key in _OPTIONAL)
    for key, label, _ in (*BASIC, *RECIPE_FIELDS, *MORE, CPU_DEVICES)
}
"""field -> (label, number type, whether empty means None)."""

RECIPES_OWN = "recipe"
AUGMENT: tuple[tuple[str, str], ...] = (("recipe's", RECIPES_OWN), ("on", "on"), ("off", "off"))
"""The augment select: (label, value); the recipe's, or on / off whatever the recipe says."""
_AUGMENT_VALUE = {None: RECIPES_OWN, True: "on", False: "off"}

STRATEGY_HELP = ("mirrored: the local GPUs (or the CPU devices below); multi-worker: every machine runs the "
                 "same job, TF_CONFIG in the app's environment naming the cluster (README: More than one device)")

NEW_RUN = ""
"""The resume select's value for a new run."""


def recipe_placeholder(recipe: Recipe, key: str, hint: str) -> str:
    """``recipe: 0.002 · hint``: what an empty override field trains with."""
    return f"recipe: {getattr(recipe, key):g} · {hint}"


class TrainFormScreen(CheckedFormScreen[TrainSettings]):
    """Dismisses with valid TrainSettings, or None when cancelled; opens with the last values used.

    The recipe's settings left empty (or augment at "recipe's") follow the picked recipe, whose line under
    the select says what the job will train with, the overrides applied.

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

    def _select(self, key: str, label: str, options: Sequence[tuple[str, str]], value: str) -> ComposeResult:
        with Horizontal(classes="form-row"):
            yield Label(label, classes="form-label")
            yield Select(options, value=value, allow_blank=False, id=f"t-{key}")

    def compose(self) -> ComposeResult:
        found = ", ".join(self.datasets) if self.datasets else "none in this folder"
        recipe = RECIPE_TABLE[self.settings.recipe]
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
                yield Label("more", classes="form-section")
                yield from self._select("recipe", "recipe", [(r, r) for r in RECIPES], self.settings.recipe)
                yield Static(Content(recipe.describe()), id="t-recipe-help", classes="form-help")
                for key, label, hint in RECIPE_FIELDS:
                    yield from self._row(key, label, recipe_placeholder(recipe, key, hint))
                yield from self._select("augment", "augment", AUGMENT, _AUGMENT_VALUE[self.settings.augment])
                yield from self._select("mixed_precision", "mixed precision", [(m, m) for m in MIXED_PRECISION],
                                        self.settings.mixed_precision)
                for key, label, placeholder in MORE:
                    yield from self._row(key, label, placeholder)
                yield from self._select("strategy", "strategy", [(s, s) for s in STRATEGIES],
                                        self.settings.strategy)
                yield Static(Content(STRATEGY_HELP), id="t-strategy-help", classes="form-help")
                yield from self._row(*CPU_DEVICES)
                with Horizontal(classes="form-row"):
                    yield Label("resume", classes="form-label")
                    yield Select([("a new run", NEW_RUN), *((Content(run), run) for run in self.runs)],
                                 value=self.settings.resume if self.settings.resume in self.runs else NEW_RUN,
                                 allow_blank=False, id="t-resume")
            yield Static("", id="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Train", id="apply", variant="primary")
                yield Button("Cancel", id="cancel")
            yield Label("[dim]Enter to start (from any field) · Space opens a list · Escape to cancel[/dim]")

    def on_mount(self) -> None:
        self.query_one("#t-data", Input).focus()
        self._check()

    @on(Select.Changed, "#t-resume")
    def _resume_picked(self, event: Select.Changed) -> None:
        recorded = self.runs.get(str(event.value), "")
        if recorded:  # the data set that run trained on, for the user to see and confirm
            self.query_one("#t-data", Input).value = recorded

    @on(Select.Changed, "#t-recipe")
    def _recipe_picked(self, event: Select.Changed) -> None:
        recipe = RECIPE_TABLE.get(str(event.value))
        if recipe is not None:  # the empty fields now mean this recipe's values: say which
            for key, _, hint in RECIPE_FIELDS:
                self.query_one(f"#t-{key}", Input).placeholder = recipe_placeholder(recipe, key, hint)

    def _check(self) -> TrainSettings | None:
        """The base check, and the recipe line: what the job trains with (the picked recipe while invalid)."""
        result = super()._check()
        recipe = RECIPE_TABLE.get(str(self.query_one("#t-recipe", Select).value), RECIPE_TABLE["default"])
        if result is not None:
            recipe = resolve_recipe(TrainConfig(design=self.design_name, **result.options()))  # type: ignore[arg-type]
        self.query_one("#t-recipe-help", Static).update(Content(recipe.describe()))
        return result

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
                empty = (" or empty" if optional else "") + (" (the recipe's)" if key in _RECIPES_OWN_KEYS else "")
                raise ValueError(f"{label}: expected {what}{empty}, received '{text}'") from None
        strategy = str(self.query_one("#t-strategy", Select).value)
        if strategy == "multi-worker":  # the worker would fail at once: say it here, in the worker's words
            try:
                multi_worker_task(os.environ.get("TF_CONFIG"))
            except RunError as exc:
                raise ValueError(f"strategy: {str(exc).removeprefix('--strategy ')}") from None
        augment = str(self.query_one("#t-augment", Select).value)
        return TrainSettings(data=self.query_one("#t-data", Input).value.strip(),
                             recipe=str(self.query_one("#t-recipe", Select).value),
                             augment=None if augment == RECIPES_OWN else augment == "on",
                             mixed_precision=str(self.query_one("#t-mixed_precision", Select).value),
                             strategy=strategy, resume=str(self.query_one("#t-resume", Select).value),
                             **numbers)  # type: ignore[arg-type]
