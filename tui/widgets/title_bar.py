"""The app's title line: the command palette's icon on the left, the title and sub-title centred.

It draws what Textual's Header (which it replaced) draws, cell for cell: an 8-cell icon area, the title in
the middle cut with an ellipsis when it does not fit, and the 10 cells Header keeps for its clock. Header is
four widgets (itself, the icon, the title, the clock space), each with its styles, bindings and watchers, and
that cost ~6 ms of the app's start-up for one line of text; this is one widget. Clicking the icon opens the
command palette, as Header's does; Header's click-to-grow (a 3-line header) is left out.
"""

from __future__ import annotations

from textual.content import Content
from textual.events import Click, Leave, MouseMove
from textual.widget import Widget

ICON = "⭘"
ICON_CELLS = 8
"""Cells of the icon area: one of padding, the icon, the rest blank (Header's HeaderIcon)."""
RIGHT_CELLS = 10
"""Blank cells on the right (Header's space for a clock, kept so that the title sits where it did)."""
PALETTE_TIP = "Open the command palette"


class TitleBar(Widget):
    """One line: the icon (a click opens the command palette) and the screen's or app's title — sub-title."""

    DEFAULT_CSS = """
    TitleBar {
        dock: top;
        width: 100%;
        height: 1;
        background: $panel;
        color: $foreground;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's own parameter name
        super().__init__(id=id)
        self._over_icon = False

    def on_mount(self) -> None:
        for obj in (self.app, self.screen):
            self.watch(obj, "title", self._retitle, init=False)
            self.watch(obj, "sub_title", self._retitle, init=False)

    def _retitle(self) -> None:
        self.refresh()

    def title_content(self) -> Content:
        """The title and sub-title as the app formats them (the screen's, where it sets its own)."""
        screen = self.screen
        title = screen.title if screen.title is not None else self.app.title
        sub_title = screen.sub_title if screen.sub_title is not None else self.app.sub_title
        return self.app.format_title(title, sub_title)

    def render(self) -> Content:
        width = self.size.width
        middle = max(0, width - ICON_CELLS - RIGHT_CELLS)
        title = self.title_content().rstrip().truncate(middle, ellipsis=True)
        left = (middle - title.cell_length) // 2
        icon = Content(f" {ICON}").pad_right(ICON_CELLS - 1 - Content(ICON).cell_length)
        if self._over_icon:
            icon = icon.stylize("on $foreground 10%")
        line = Content.assemble(icon, " " * left, title, " " * (middle - left - title.cell_length), " " * RIGHT_CELLS)
        return line.truncate(width)

    def on_mouse_move(self, event: MouseMove) -> None:
        self._hover(event.x < ICON_CELLS)

    def on_leave(self, event: Leave) -> None:
        self._hover(False)

    def _hover(self, over: bool) -> None:
        if over != self._over_icon:
            self._over_icon = over
            self.tooltip = PALETTE_TIP if over and self.app.ENABLE_COMMAND_PALETTE else None
            self.refresh()

    async def on_click(self, event: Click) -> None:
        if event.x < ICON_CELLS and self.app.ENABLE_COMMAND_PALETTE:
            event.stop()
            await self.run_action("app.command_palette")
