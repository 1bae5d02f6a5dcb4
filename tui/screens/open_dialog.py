"""The open dialog (o): type a design file path or a preset id, with completion, or pick one from the list of
recent files, the designs in the current folder and every preset (a preset opens as an unsaved copy).

Typing filters the list; Tab takes the completion shown; ↓ moves into the list; Enter opens what is typed, or
the highlighted entry when the list has the focus.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from tui.files.open_choices import Choice
from tui.screens import DIALOG_CSS
from tui.widgets.form_input import FormInput

_KIND_STYLE = {"recent": "cyan", "design": "green", "model": "yellow", "preset": "magenta"}


def _prompt(choice: Choice) -> Content:
    # Variables, not f-string markup: file names are the user's text.
    return Content.from_markup(f"[{_KIND_STYLE.get(choice.kind, '')}]$kind[/] $name  [dim]$help[/dim]",
                               kind=f"{choice.kind:<6}", name=choice.name, help=choice.help)


class OpenScreen(ModalScreen[str | None]):
    """Dismisses with a preset id or a path to open, or None when cancelled."""

    CSS_PATH = DIALOG_CSS

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("down", "to_list", "List", show=False)]

    def __init__(self, choices: Sequence[Choice], value: str = "") -> None:
        super().__init__()
        self.choices = list(choices)
        self.value = value

    def compose(self) -> ComposeResult:
        # Completion offers preset ids and the listed paths (case-insensitive, so "mod" completes to model0).
        suggestions = [c.spec for c in self.choices if c.kind == "preset"] + [c.name for c in self.choices
                                                                             if c.kind != "preset"]
        with Vertical(id="open-dialog", classes="dialog"):
            yield Label("Open a design file, or a preset (by id, e.g. model5: opens a copy)",
                        classes="dialog-title")
            yield FormInput(self.value, id="open-input", placeholder="path/to/design.toml or model5",
                            suggester=SuggestFromList(suggestions, case_sensitive=False))
            yield OptionList(*self._options(""), id="open-list")
            yield Label("[dim]Tab complete · ↓ list · Enter open · Escape cancel[/dim]")

    def _options(self, text: str) -> list[Option]:
        needle = text.strip().lower()
        return [Option(_prompt(c), id=str(i)) for i, c in enumerate(self.choices)
                if not needle or needle in c.name.lower() or needle in c.spec.lower()]

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Changed)
    def _filter(self, event: Input.Changed) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(self._options(event.value))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[int(event.option.id or 0)].spec)

    def action_to_list(self) -> None:
        """Move from the path field into the list."""
        options = self.query_one(OptionList)
        if options.option_count:
            options.focus()
            options.highlighted = options.highlighted or 0

    def action_cancel(self) -> None:
        """Close without opening anything."""
        self.dismiss(None)
