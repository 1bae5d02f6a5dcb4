"""The app as its dialogs and forms see it: :class:`Host`, the members of ``tui.app.DesignerApp`` that
``tui.dialogs`` and the search form use (state to read, and the app's own methods to apply an answer).

They annotate with Host rather than with DesignerApp because the app imports them (a dialog's module when it
first opens): importing the app back, even only for typing, made an import circle. So nothing here imports the
app, a dialog or a screen. tests/tui/test_import_graph.py checks that tui/ has no import cycle and that
DesignerApp has every member of Host, with the same parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from textual.screen import Screen

    from designer.boards import Board
    from designer.design import Design
    from tui.budget import Budget, Settings
    from tui.editing import Target, TreePath
    from tui.files.places import Places
    from tui.files.recovery import RecoveryFile
    from tui.jobs.events import JobRunner

ResultT = TypeVar("ResultT")


class Host(Protocol):
    """What a dialog needs from the app it opens over."""

    boards: list[Board]
    board: Board
    path: str | None  # the design's file (None: unsaved); a restored recovery file sets it
    places: Places
    recovery: RecoveryFile
    runner: JobRunner
    settings: Settings
    budget: Budget | None

    @property
    def design(self) -> Design:
        """The design being edited."""
        ...

    @property
    def target(self) -> Target | None:
        """What the row under the cursor stands for."""
        ...

    @property
    def runs_dir(self) -> Path:
        """Where training runs go (and are looked for)."""
        ...

    def push_screen(self, screen: Screen[ResultT], callback: Callable[[ResultT | None], None] | None = None,
                    wait_for_dismiss: bool = False, *, mode: str | None = None) -> Any:
        """Open ``screen`` over the app; ``callback`` gets its answer (textual's App.push_screen)."""
        ...

    def edit(self, operation: Callable[[], Design], *, cursor: Target | TreePath | int | None = None,
             message: str = "") -> None:
        """Apply ``operation``'s new design as an edit (an EditError shows in the status line)."""
        ...

    def apply_edit(self, design: Design, *, cursor: Target | TreePath | int | None = None,
                   message: str = "") -> None:
        """Record ``design`` as an edit."""
        ...

    def set_status(self, text: str, *, error: bool = False) -> None:
        """Show one line of plain text under the table."""
        ...

    def set_board(self, board: Board) -> None:
        """Check the design against ``board``."""
        ...

    def set_latency_budget(self, ms: float | None) -> None:
        """The user's latency budget in ms (None: the board's)."""
        ...

    def save_to(self, path: str) -> bool:
        """Save the design to ``path``; whether it was saved."""
        ...

    def open_path(self, path: str) -> None:
        """Open a design file or a preset id."""
        ...

    def open_copy(self, design: Design, source: str) -> None:
        """Open ``design`` as an unsaved copy."""
        ...

    def start_job(self, kind: str, extra: dict[str, object] | None = None) -> None:
        """Start a ``kind`` job on the design."""
        ...

    def quit_clean(self) -> None:
        """Quit now: stop the jobs and remove the recovery file."""
        ...
