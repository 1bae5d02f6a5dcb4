"""A question with a few one-key answers (quit with unsaved changes, restore after a crash)."""

from __future__ import annotations

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from tui.screens import DIALOG_CSS


class ConfirmScreen(ModalScreen[str]):
    """Dismisses with the chosen answer's key; Escape answers ``cancel_key``. ``text`` is plain text (it holds
    design names and paths), never markup."""

    CSS_PATH = DIALOG_CSS

    def __init__(self, title: str, text: str, answers: list[tuple[str, str]], *, cancel_key: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.answers = answers  # (key, label), the key doubles as the keyboard shortcut
        self.cancel_key = cancel_key

    BINDINGS = [Binding("escape", "answer('')", "Cancel", show=False)]

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm", classes="dialog"):
            yield Label(Content(self.title_text), classes="dialog-title")
            yield Static(Content(self.text), id="confirm-text")
            with Horizontal(classes="dialog-buttons"):
                for key, label in self.answers:
                    yield Button(f"{label} [{key}]", id=f"answer-{key}")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id and event.button.id.startswith("answer-"):
            self.dismiss(event.button.id.removeprefix("answer-"))

    def on_key(self, event: events.Key) -> None:
        if event.character in {key for key, _ in self.answers}:
            event.stop()
            self.dismiss(event.character)

    def action_answer(self, key: str) -> None:
        """Answer with ``key``."""
        self.dismiss(key or self.cancel_key)
