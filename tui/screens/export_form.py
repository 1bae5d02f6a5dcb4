"""The export form (E): output folder, board and compression; Enter starts the export job.

It says what will be exported: the design's best completed training run when one matches the design as
edited, else the design itself, untrained (random weights; the bundle and its summary say so).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Input, Label, Select, Static

from designer.footprint import COMPRESSIONS
from tui.job_settings import ExportSettings
from tui.screens.checked_form import CheckedFormScreen
from tui.widgets.form_input import FormInput


class ExportFormScreen(CheckedFormScreen[ExportSettings]):
    """Dismisses with valid ExportSettings, or None when cancelled."""

    def __init__(self, settings: ExportSettings, boards: Sequence[str], source: Content) -> None:
        super().__init__()
        self.settings = settings
        self.boards = list(boards) if settings.board in boards else [settings.board, *boards]
        self.source = source

    def compose(self) -> ComposeResult:
        with Vertical(id="export-form", classes="dialog"):
            yield Label("Export for STM32", classes="dialog-title")
            yield Static(self.source, id="export-source")
            with Horizontal(classes="form-row"):
                yield Label("output folder", classes="form-label")
                yield FormInput(self.settings.out_dir, id="x-out")
            with Horizontal(classes="form-row"):
                yield Label("board", classes="form-label")
                # Text prompts: a str prompt is markup, and board names come from the user's boards file.
                yield Select([(Text(b), b) for b in self.boards], value=self.settings.board, allow_blank=False,
                             id="x-board")
            with Horizontal(classes="form-row"):
                yield Label("compression", classes="form-label")
                yield Select([(c, c) for c in COMPRESSIONS], value=self.settings.compression, allow_blank=False,
                             id="x-compression")
            yield Static("", id="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export", id="apply", variant="primary")
                yield Button("Cancel", id="cancel")
            yield Label("[dim]Enter to start · Escape to cancel[/dim]")

    def on_mount(self) -> None:
        self.query_one("#x-out", Input).focus()

    def value(self) -> ExportSettings:
        """The form as ExportSettings (ValueError for anything impossible)."""
        return ExportSettings(out_dir=self.query_one("#x-out", Input).value.strip(),
                              board=str(self.query_one("#x-board", Select).value),
                              compression=str(self.query_one("#x-compression", Select).value))
