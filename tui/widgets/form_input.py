"""The Input every form uses: its own keys (Backspace, Delete, arrows, Home/End) applied in the order typed.

Textual's Input inserts a printable key in its own ``_on_key``, but a key bound to an action (Backspace is
``delete_left``) is not handled there: the Key event bubbles up through every container to the App, whose
binding check then runs the Input's action. Each hop is another message queue, so in a burst of keys (a
paste, a fast typist, tmux send-keys) the characters typed after a Backspace are inserted before it runs:
``0``, Backspace, ``48`` gave ``04``. Here a key the Input itself binds runs at once, in the Input's queue,
between the characters before and after it.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class FormInput(Input):
    """An Input whose bound keys take effect in order with the characters around them."""

    async def _on_key(self, event: events.Key) -> None:
        if not event.is_printable:
            for binding in self._bindings.key_to_bindings.get(event.key, ()):
                if not binding.priority and await self.app.run_action(binding.action, self):
                    event.stop()
                    event.prevent_default()
                    return
        await super()._on_key(event)
