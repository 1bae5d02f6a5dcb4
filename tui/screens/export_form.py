"""The export form (e): every option of ``cnn-designer export`` (output folder, board, compression and data
set first, the image counts and stedgeai under "more"); Enter starts the export job from any field.

It says what will be exported: the design's best completed training run when one matches the design as
edited, else the design itself, untrained (random weights; the bundle and its summary say so). For a run the
dataset field holds the data set the run recorded: export does not follow a path in the run's config.json
outside the run folder unasked, so the form shows it and the job passes it explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.suggester import SuggestFromList
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from designer.footprint import COMPRESSIONS
from tui.jobs.settings import CIFAR10, ExportSettings
from tui.screens.checked_form import CheckedFormScreen
from tui.widgets.form_input import FormInput
from tui.widgets.state_checkbox import StateCheckbox

_COUNTS = (("calibration_images", "calibration images", "training images that calibrate int8"),
           ("eval_images", "test images", "at most this many, float32 vs int8"),
           ("micro_eval_images", "micro images", "of those, run on tflite-micro: the reported accuracy"))


class ExportFormScreen(CheckedFormScreen[ExportSettings]):
    """Dismisses with valid ExportSettings, or None when cancelled."""

    def __init__(self, settings: ExportSettings, boards: Sequence[str], source: Content, *,
                 datasets: Sequence[str] = ()) -> None:
        super().__init__()
        self.settings = settings
        self.boards = list(boards) if settings.board in boards else [settings.board, *boards]
        self.source = source
        self.datasets = list(datasets)

    def _input(self, key: str, label: str, value: str, placeholder: str = "", **kwargs: object) -> ComposeResult:
        with Horizontal(classes="form-row"):
            yield Label(label, classes="form-label")
            yield FormInput(value, id=f"x-{key}", placeholder=placeholder, **kwargs)  # type: ignore[arg-type]

    def compose(self) -> ComposeResult:
        s = self.settings
        with Vertical(id="export-form", classes="dialog"):
            yield Label("Export for STM32", classes="dialog-title")
            yield Static(self.source, id="export-source")
            with VerticalScroll(id="form-fields"):
                yield from self._input("out", "output folder", s.out_dir)
                with Horizontal(classes="form-row"):
                    yield Label("board", classes="form-label")
                    # Text prompts: a str prompt is markup, and board names come from the user's boards file.
                    yield Select([(Text(b), b) for b in self.boards], value=s.board, allow_blank=False,
                                 id="x-board")
                with Horizontal(classes="form-row"):
                    yield Label("compression", classes="form-label")
                    yield Select([(c, c) for c in COMPRESSIONS], value=s.compression, allow_blank=False,
                                 id="x-compression")
                yield from self._input("data", "dataset", s.data, "empty: the run's own, or none (untrained)",
                                       suggester=SuggestFromList([*self.datasets, CIFAR10], case_sensitive=False))
                yield Label("more", classes="form-section")
                for key, label, placeholder in _COUNTS:
                    yield from self._input(key, label, str(getattr(s, key)), placeholder)
                yield StateCheckbox("run stedgeai analyze when it is on PATH", s.stedgeai, id="x-stedgeai")
            yield Static("", id="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export", id="apply", variant="primary")
                yield Button("Cancel", id="cancel")
            yield Label("[dim]Enter to start (from any field) · Space toggles · Escape to cancel[/dim]")

    def on_mount(self) -> None:
        self.query_one("#x-out", Input).focus()
        self._check()

    def value(self) -> ExportSettings:
        """The form as ExportSettings (ValueError naming the field for anything impossible)."""
        counts: dict[str, int] = {}
        for key, label, _ in _COUNTS:
            text = self.query_one(f"#x-{key}", Input).value.strip()
            try:
                counts[key] = int(text)
            except ValueError:
                raise ValueError(f"{label}: expected an integer, received '{text}'") from None
        return ExportSettings(out_dir=self.query_one("#x-out", Input).value.strip(),
                              board=str(self.query_one("#x-board", Select).value),
                              compression=str(self.query_one("#x-compression", Select).value),
                              data=self.query_one("#x-data", Input).value.strip(),
                              stedgeai=self.query_one("#x-stedgeai", Checkbox).value, **counts)
