"""A checkbox that says its state in words: Textual's draws the same ▐X▌ on and off (only the colour
changes), so a form's "augment" read the same either way."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox


class StateCheckbox(Checkbox):
    """``augment: on`` / ``augment: off``; Space (or a click) toggles it. ``text`` is plain text."""

    def __init__(self, text: str, value: bool = False, *, id: str | None = None) -> None:  # noqa: A002
        self.text = text
        super().__init__(self._label_for(value), value, id=id)

    def _label_for(self, value: bool) -> Content:
        return Content.assemble(self.text, ": ", ("on", "bold") if value else ("off", "dim"))

    def watch_value(self) -> None:
        self.label = self._label_for(self.value)
