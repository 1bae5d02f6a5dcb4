"""A modal form re-checked on every keystroke: the error shows inline and Apply stays disabled until valid.

Subclasses compose an ``#form-error`` Static and ``#apply`` / ``#cancel`` buttons, and implement ``value()``
(raising one of ``errors`` for anything impossible); the form dismisses with that value, or None on cancel.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual import on
from textual.binding import Binding
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

ResultT = TypeVar("ResultT")


class CheckedFormScreen(ModalScreen[ResultT | None]):
    """Base of the app's small forms (train, export, conv group, custom board)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    errors: ClassVar[tuple[type[Exception], ...]] = (ValueError,)
    """Exceptions value() raises for an impossible form; their message is shown inline."""

    def value(self) -> ResultT:
        """The form's value; raises one of ``errors`` when it is impossible."""
        raise NotImplementedError

    def _check(self) -> ResultT | None:
        try:
            result = self.value()
        except self.errors as exc:
            self.query_one("#form-error", Static).update(Content(str(exc)))  # holds typed text: plain
            self.query_one("#apply", Button).disabled = True
            return None
        self.query_one("#form-error", Static).update("")
        self.query_one("#apply", Button).disabled = False
        return result

    @on(Input.Changed)
    def _changed(self) -> None:
        self._check()

    @on(Input.Submitted)
    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        """Accept the form if it is valid."""
        result = self._check()
        if result is not None:
            self.dismiss(result)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without a result."""
        self.dismiss(None)
