"""A modal form re-checked on every change: the error shows inline and Apply stays disabled until valid.

Subclasses compose an ``#form-error`` Static and ``#apply`` / ``#cancel`` buttons, and implement ``value()``
(raising one of ``errors`` for anything impossible); the form dismisses with that value, or None on cancel.
Enter applies from any field, a checkbox or a closed select included (Space toggles a checkbox and opens a
select); only on a button or in an open select's list does Enter do what it does there.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual import on
from textual.actions import SkipAction
from textual.binding import Binding
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Checkbox, Input, Select, Static

from tui.screens import DIALOG_CSS

ResultT = TypeVar("ResultT")


class CheckedFormScreen(ModalScreen[ResultT | None]):
    """Base of the app's small forms (train, export, conv group, custom board)."""

    CSS_PATH = DIALOG_CSS

    BINDINGS = [Binding("escape", "cancel", "Cancel"),
                Binding("enter", "enter", "Apply", show=False, priority=True)]

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
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _changed(self) -> None:
        self._check()

    def action_enter(self) -> None:
        """Enter: apply, unless a button or an open select's list has the focus."""
        enter_applies(self)
        self.action_apply()

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


def enter_applies(screen: Screen[object]) -> None:
    """Raise SkipAction (Enter goes on to the focused widget) when a button or an open select has the focus:
    there Enter presses the button or picks the option, as everywhere."""
    focused = screen.focused
    if focused is None:
        return
    if isinstance(focused, Button) or any(isinstance(node, Select) and node.expanded
                                          for node in focused.ancestors_with_self):
        raise SkipAction
