"""The cnn-designer app: state (one immutable Design plus its undo history), actions, and the factory.

Every edit goes through ``apply_edit``: it pushes the new Design onto the history, recomputes the counters
synchronously, redraws, and (once the frame is out) autosaves to the recovery file in a worker thread. An edit that
makes the design invalid is kept (so the user can repair it, or undo); the budget panel then shows the
DesignError and greys the last valid figures, and the layer table marks the failing layer with ✗. An estimator
that fails with anything else (a bug) shows as "estimator error: ..." the same way; it never takes the app down.

The installed presets are read-only: a preset opened by id or by a path into the presets folder is an unsaved
copy (``s`` asks where to save), and no save goes into that folder (see tui.files.sources). Everything a user typed
or a file held reaches the screen as plain text, never as markup. An unexpected error writes a crash log and
keeps the unsaved design in the recovery file; ``run_app`` then exits 1 with one line saying where the log is.
This module and everything it imports stay free of TensorFlow (a test checks sys.modules). It imports only
what the first frame needs: the dialogs (``tui.dialogs`` and their screens), the job events and cards, and the
real job runner (see ``run_app``) are imported when first used.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterable
from dataclasses import fields, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from designer.boards import Board, load_catalogue
from designer.design import Design, DesignError
from designer.designfile import save
from designer.layers import Dense, Flatten, Layer
from tui.budget import (
    COMPRESSION_INT8_NOTE,
    Budget,
    RunAccuracy,
    Settings,
    compute_budget,
    estimator_failed,
    matrix_for,
    provisional_matrix,
)
from tui.editing import (
    BlockSpec,
    EditError,
    History,
    Target,
    TreePath,
    block_layers,
    bump,
    bump_target,
    delete_layer,
    duplicate_layer,
    item,
    move_layer,
    path_label,
    toggle_batchnorm,
)
from tui.files.places import Places
from tui.files.preferences import latency_budget_ms, remember_latency_budget
from tui.files.recovery import RecoveryFile, write_crash_log
from tui.files.sources import LOAD_ERRORS, in_presets, load_error_text, read_only_reason, resolve_design
from tui.screens.main import KEYS, MainScreen, display_keys
from tui.widgets.budget_panel import BudgetPanel
from tui.widgets.jobs_pane import JobsPane
from tui.widgets.layer_table import LayerTable

if TYPE_CHECKING:
    from tui.jobs.events import JobRunner


APP_SWITCH_INTERVAL_S = 0.001
"""The interpreter's thread switch interval while the app runs (see run_app)."""


def new_design() -> Design:
    """The design a bare ``cnn-designer`` starts with: one conv group and a dense head."""
    head: list[Layer] = [Flatten(group="head"), Dense(units=10, activation="softmax", group="head")]
    return Design(name="untitled", layers=tuple(block_layers(BlockSpec(), "conv group 1")) + tuple(head))


class DesignerApp(App[None]):
    """Edit a CNN design against a board's budget; train and export it through a JobRunner."""

    TITLE = "cnn-designer"
    CSS_PATH = "app.tcss"

    def __init__(self, design: Design, *, runner: JobRunner, path: str | None = None,
                 board: Board | None = None, boards: list[Board] | None = None,
                 settings: Settings | None = None, places: Places | None = None,
                 offer_recovery: bool = True) -> None:
        super().__init__()
        catalogue = load_catalogue() if boards is None or board is None else None
        self.boards: list[Board] = boards if boards is not None else list(catalogue or [])
        self.board: Board = board if board is not None else catalogue.default  # type: ignore[union-attr]
        self.history = History(design)
        self.saved_design: Design = design
        self.path = None if path is not None and in_presets(path) else path  # a preset opens as a copy
        self.places = places or Places()
        self.runner = runner
        self.recovery = RecoveryFile(self.places.state_dir)
        self.settings = settings or Settings(latency_budget_ms=latency_budget_ms(self.recovery.directory))
        self.offer_recovery = offer_recovery
        self.last_valid: Design | None = None
        self.budget: Budget | None = None
        self.status = ""
        self._autosave_pending = False
        self.crash_log: Path | None = None
        """Where the traceback of an unexpected error went (set once, by the first one)."""
        self.crashed: BaseException | None = None
        """The first unexpected error (None while all is well)."""
        self._matrix_pending = False
        self.runs: dict[tuple[object, ...], RunAccuracy] = {}
        """Design key (tui.jobs.run_index.design_key) -> its latest training run, loaded after the first frame."""

    # --- state -------------------------------------------------------------------------------------------

    @property
    def design(self) -> Design:
        """The design being edited."""
        return self.history.present

    @property
    def dirty(self) -> bool:
        """Whether the design differs from the file it was opened from / last saved to."""
        return self.design != self.saved_design

    @property
    def main(self) -> MainScreen:
        """The designer screen (there is exactly one, at the bottom of the screen stack)."""
        return self.screen_stack[0]  # type: ignore[return-value]

    @property
    def table(self) -> LayerTable:
        """The layer stack."""
        return self.main.query_one(LayerTable)

    @property
    def jobs(self) -> JobsPane:
        """The jobs pane."""
        return self.main.query_one(JobsPane)

    def get_default_screen(self) -> MainScreen:
        # The designer screen is the app's first screen, not one pushed over Textual's empty default screen
        # (which would be composed, styled and switched away from before the first frame). It calls
        # _first_draw once its widgets are mounted, before its first paint: an empty first frame would cost a
        # second full layout and repaint before the design shows.
        return MainScreen(self.runner, on_mounted=self._first_draw)

    def _first_draw(self) -> None:
        # As after an edit: the current estimate now, the other three runtime x dtype cells (and the first
        # import of the TFLM estimator, ~5 ms) right after the first frame.
        self.refresh_view(edit=True)
        self.table.focus()
        if self.offer_recovery:
            self._offer_recovery()
        self.call_after_refresh(self._started)

    def _started(self) -> None:
        # Start-up allocates ~10^5 long-lived objects (the command line even pauses the collector while it
        # imports and starts the app, see tui.cli.main). After the first frame they are frozen, never scanned
        # again: otherwise every full collection during editing rescans them (~15 ms, a dropped frame).
        # (No collection first: a full one here would hold up the first frame's write, ~50 ms.)
        gc.freeze()
        if not gc.isenabled():
            gc.enable()
        self.reload_runs()

    def reload_runs(self) -> None:
        """Look up the training runs again (in a thread), for the budget panel's accuracy."""
        if self.runs_dir.is_dir():
            self.run_worker(self._load_runs, thread=True, group="runs", exclusive=True, description="runs")

    def _load_runs(self) -> None:
        from tui.jobs.run_index import latest_runs

        try:
            runs = latest_runs(self.runs_dir)
        except OSError:
            return  # an unreadable runs folder: no accuracy to show, nothing to report
        self.call_from_thread(self._runs_loaded, runs)

    def _runs_loaded(self, runs: dict[tuple[object, ...], RunAccuracy]) -> None:
        self.runs = runs
        self.refresh_view()

    def _run_of(self, design: Design) -> RunAccuracy | None:
        if not self.runs:
            return None
        from tui.jobs.run_index import design_key

        return self.runs.get(design_key(design))

    def refresh_view(self, *, edit: bool = False) -> None:
        """Recompute the counters from the design and redraw the table, the panel and the title. After an
        ``edit`` (and for the first frame) the panel's runtime × dtype matrix (three more estimates) is filled
        in after the frame."""
        try:
            budget = compute_budget(self.design, self.board, self.settings, self.last_valid, matrix=not edit)
        except Exception as exc:  # noqa: BLE001 - an estimator bug must not take the user's edits down with it
            budget = estimator_failed(self.budget, exc, self.settings)
        if edit and budget.footprint is not None and not budget.estimator_error:
            budget = replace(budget, matrix=provisional_matrix(self.budget, self.settings, budget.footprint,
                                                               self.board))
            if any(cell.stale for cell in budget.matrix):
                self._schedule_matrix()
        if not budget.stale:
            self.last_valid = self.design
        run = self._run_of(self.design)
        if run is not None:
            budget = replace(budget, run=run)
        self.budget = budget
        self.table.show(self.design, None if budget.stale else budget.footprint, budget.error_index,
                        dtype=self.settings.dtype)
        self.main.query_one(BudgetPanel).show(self.design, self.board, self.settings, budget)
        where = self.path or "not saved"
        self.sub_title = f"{self.design.name} — {where}{' — modified' if self.dirty else ''}"
        if budget.estimator_error:
            self.set_status(budget.error or "", error=True)
        elif budget.error is not None and self.table.analysed:
            # The design is valid; only the estimator refuses it (residual blocks, for now): keep the edit's own
            # message in front.
            note = f"no estimate: {budget.error}"
            self.set_status(note if not self.status or note in self.status else f"{self.status} · {note}",
                            error=True)
        elif budget.error is not None:
            self.set_status(f"Design invalid: {budget.error}", error=True)

    def _schedule_matrix(self) -> None:
        # After the edit's frame, not before it (as the autosave): the edit shows at once, the matrix a frame
        # later. Edits handled before that frame share one matrix.
        if not self._matrix_pending:
            self._matrix_pending = True
            self.call_after_refresh(self._fill_matrix)

    def _fill_matrix(self) -> None:
        self._matrix_pending = False
        budget = self.budget
        design = self.last_valid if budget is not None and budget.stale else self.design
        if budget is None or budget.footprint is None or budget.estimator_error or design is None:
            return
        try:
            matrix = matrix_for(design, self.board, self.settings, budget.footprint)
        except Exception:  # noqa: BLE001 - its cells stay grey; the estimate itself is shown
            return
        self.budget = replace(budget, matrix=matrix)
        self.main.query_one(BudgetPanel).show(self.design, self.board, self.settings, self.budget)

    def set_status(self, text: str, *, error: bool = False) -> None:
        """Show one line under the table (errors in red); ``text`` is plain text (file names, typed values)."""
        self.status = text
        status = self.main.query_one("#status", Static)
        status.update(Content(text), layout=False)  # one line high (app.tcss): no layout pass on every edit
        status.set_class(error, "-error")

    def apply_edit(self, design: Design, *, cursor: Target | TreePath | int | None = None,
                   message: str = "") -> None:
        """Record an edit, recompute, redraw and autosave; ``cursor`` is the row to select (a Target, a tree
        path, or a top-level index). An edit that brings the design back to the saved file's (+ then -) is
        the saved design itself: unmodified, with its notebook figures back."""
        if design != self.saved_design and same_network(design, self.saved_design):
            design = self.saved_design
        self.history = self.history.push(design)
        self.set_status(message)
        self.refresh_view(edit=True)
        if cursor is not None:
            self.table.select_target(cursor)
        self._schedule_autosave()

    def _schedule_autosave(self) -> None:
        # After the repaint, not before it: the write (~3 ms of CPU for a 100-layer design, in a thread that
        # holds the GIL) would otherwise run while the edit's frame is drawn. Edits in one frame share a write.
        if not self._autosave_pending:
            self._autosave_pending = True
            self.call_after_refresh(self._autosave)

    def _autosave(self) -> None:
        if not self._autosave_pending:
            return  # quitting, or already written
        self._autosave_pending = False
        design, path = self.design, self.path
        # A description, or Textual would make one with repr(work): the whole design, on every edit.
        if design == self.saved_design:
            self.run_worker(partial(self._keep_recovery, None, None), thread=True, group="autosave",
                            description="clear recovery")
        else:
            self.run_worker(partial(self._keep_recovery, design, path), thread=True, group="autosave",
                            description="autosave")

    def _keep_recovery(self, design: Design | None, path: str | None) -> None:
        """Write ``design`` to the recovery file (None: clear it), in a worker thread; a full disk or a state
        dir that cannot be written shows in the status line instead of ending the app."""
        try:
            if design is None:
                self.recovery.clear()
            else:
                self.recovery.write(design, path)
        except OSError as exc:
            self.call_from_thread(self.set_status, f"autosave failed: {exc.strerror or exc}", error=True)

    def edit(self, operation: Callable[[], Design], *, cursor: Target | TreePath | int | None = None,
             message: str = "") -> None:
        """Apply ``operation``'s new design as an edit; an EditError shows in the status line instead."""
        try:
            design = operation()
        except EditError as exc:
            self.set_status(str(exc), error=True)
            self.bell()
            return
        self.apply_edit(design, cursor=cursor, message=message)

    @property
    def index(self) -> int:
        """The row under the cursor (for a linear design, the layer index)."""
        return self.table.layer_index

    @property
    def target(self) -> Target | None:
        """What the row under the cursor stands for (None for an empty design)."""
        return self.table.target

    def _unit(self) -> tuple[Target, TreePath] | None:
        """The cursor's Target and the item an edit applies to (a whole block on its header or add row);
        None, with a reason in the status line, on a row that is no item (an identity shortcut)."""
        target = self.target
        if target is None or target.unit is None:
            self.set_status("the identity shortcut is no layer: a adds one to it, Enter makes it a projection"
                            if target is not None else "the design is empty: a adds a layer", error=True)
            self.bell()
            return None
        return target, target.unit

    # --- layer edits -------------------------------------------------------------------------------------

    def on_layer_table_row_selected(self, event: LayerTable.RowSelected) -> None:
        self.action_dialog("edit_layer")

    def action_dialog(self, name: str) -> None:
        """Open the dialog ``tui.dialogs.<name>`` (a form, menu, picker, prompt or overlay) over the designer."""
        from tui import dialogs

        getattr(dialogs, name)(self)

    def action_delete(self) -> None:
        """Delete the selected layer (a whole block on its header or add row)."""
        if (unit := self._unit()) is None:
            return
        target, path = unit
        self.edit(lambda: delete_layer(self.design, path), cursor=Target(path),
                  message=f"{self._what(path)} deleted")

    def _what(self, path: TreePath) -> str:
        """``layer 3m1`` or ``block 4``: the item at ``path`` in the design as it is now, for a status line."""
        return f"{'block' if item(self.design, path).kind == 'residual' else 'layer'} {path_label(path)}"

    def action_duplicate(self) -> None:
        """Copy the selected layer (or block) right after it."""
        if (unit := self._unit()) is None:
            return
        target, path = unit
        what = self._what(path)
        self.edit(lambda: duplicate_layer(self.design, path), cursor=Target((*path[:-1], path[-1] + 1), target.role),
                  message=f"{what} duplicated")

    def action_move(self, delta: int) -> None:
        """Move the selected layer (or block) up (-1) or down (+1) on its path."""
        if (unit := self._unit()) is None:
            return
        target, path = unit
        noun = self._what(path).split()[0]
        try:
            design, moved = move_layer(self.design, path, delta)
        except EditError as exc:
            self.set_status(str(exc), error=True)
            return
        assert isinstance(moved, tuple)
        self.apply_edit(design, cursor=Target(moved, target.role),
                        message=f"{noun} moved to {path_label(moved)}")

    def action_bump(self, direction: int) -> None:
        """Filters (conv) or units (dense) of the selected layer up or down by one step."""
        if (unit := self._unit()) is None:
            return
        target, path = unit
        before = self.design
        try:
            after = bump(before, path, direction)
        except EditError as exc:
            self.set_status(str(exc), error=True)
            self.bell()
            return
        key = bump_target(before, path)
        self.apply_edit(after, cursor=target, message=f"layer {path_label(path)}: {key} "
                        f"{getattr(item(before, path), key)} → {getattr(item(after, path), key)}")

    def action_toggle_bn(self) -> None:
        """Add or remove the batchnorm after the selected conv or dense layer."""
        if (unit := self._unit()) is None:
            return
        target, path = unit
        self.edit(lambda: toggle_batchnorm(self.design, path), cursor=target)

    def action_undo(self) -> None:
        """Step back one edit."""
        self._history_step(self.history.undo, "undone")

    def action_redo(self) -> None:
        """Redo an undone edit."""
        self._history_step(self.history.redo, "redone")

    def _history_step(self, step: Callable[[], History], what: str) -> None:
        try:
            self.history = step()
        except EditError as exc:
            self.set_status(str(exc), error=True)
            return
        self.set_status(what)
        self.refresh_view(edit=True)
        self._schedule_autosave()

    # --- estimate settings and board ---------------------------------------------------------------------

    def _set_settings(self, settings: Settings) -> None:
        self.settings = settings
        self.set_status(f"estimating for {settings.describe()}")
        self.refresh_view()

    def action_cycle_runtime(self) -> None:
        """xcubeai <-> tflm."""
        self._set_settings(self.settings.next_runtime())

    def action_cycle_dtype(self) -> None:
        """float32 <-> int8."""
        self._set_settings(self.settings.next_dtype())

    def action_cycle_compression(self) -> None:
        """none -> low -> medium -> high -> none (X-CUBE-AI float32 only)."""
        self._set_settings(self.settings.next_compression())
        if self.settings.runtime == "tflm":
            self.set_status(f"compression {self.settings.compression}: TFLM has no weight compression")
        elif self.settings.dtype == "int8":
            self.set_status(f"compression {self.settings.compression}: {COMPRESSION_INT8_NOTE}")

    def set_board(self, board: Board) -> None:
        """Check the design against ``board``."""
        if board.name not in [b.name for b in self.boards]:
            self.boards.append(board)
        self.board = board
        self.set_status(f"board: {board.name}")
        self.refresh_view()

    # --- files -------------------------------------------------------------------------------------------

    def save_to(self, path: str) -> bool:
        """Save the design to ``path``; the recovery file goes once the design is safe. Never into the
        installed presets folder: that is refused with a status line and nothing is written."""
        reason = read_only_reason(path)
        if reason is not None:
            self.set_status(f"cannot save: {reason}", error=True)
            self.bell()
            return False
        try:
            save(self.design, path)
        except OSError as exc:
            self.set_status(f"cannot save {path}: {exc.strerror or exc}", error=True)
            return False
        self.path = path
        self.saved_design = self.design
        self.run_worker(partial(self._keep_recovery, None, None), thread=True, group="autosave",
                        description="clear recovery")
        self._remember(path)
        self.set_status(f"saved {path}")
        self.refresh_view()
        return True

    def action_save(self) -> None:
        """Save to the design's file (asks for one the first time)."""
        if self.path is None:
            self.action_dialog("save_as")
        else:
            self.save_to(self.path)

    def open_path(self, path: str) -> None:
        """Open a design file or a preset id (the previous design stays one undo away). A preset, by id or by
        a path into the presets folder, opens as an unsaved copy, as ``--preset`` does; a Keras model
        (``.keras``/``.h5``) is imported in a worker thread and opens as an unsaved design."""
        from designer.keras_import import SUFFIXES  # (a light module: it reads configs, imports no TensorFlow)

        if Path(path).suffix in SUFFIXES:  # case-sensitive, as Keras tells its formats apart
            self.set_status(f"importing {path}…")
            self.run_worker(partial(self._import_keras, path), thread=True, group="import",
                            description=f"import {path}")
            return
        try:
            design, source = resolve_design(path)
        except LOAD_ERRORS as exc:
            self.set_status(load_error_text(path, exc), error=True)
            return
        preset = source.startswith("preset ")
        self.path = None if preset else path
        if not preset:
            self._remember(path)
        self.saved_design = design
        self.last_valid = None
        message = (f"opened a copy of {source} (presets are read-only: s asks where to save)" if preset
                   else f"opened {path}")
        self.apply_edit(design, cursor=0, message=message)

    def _import_keras(self, path: str) -> None:
        """Read the model's layers (config only: no code from the file runs, no TensorFlow), in a worker
        thread; the design, or the one-line refusal, goes back to the app's thread."""
        from designer.keras_import import load_keras_design

        try:
            design = load_keras_design(path)
        except DesignError as exc:
            self.call_from_thread(self.set_status, f"cannot import: {exc}", error=True)
            return
        self.call_from_thread(self._imported, path, design)

    def _imported(self, path: str, design: Design) -> None:
        self.open_unsaved(design, f"imported {path}: its layers, not its weights (s asks where to save the design)")

    def open_unsaved(self, design: Design, message: str) -> None:
        """Open ``design`` as a new design that is in no file of the user's yet (s asks where to save it); the
        previous design stays one undo away."""
        self.path = None
        self.saved_design = design
        self.last_valid = None
        self.apply_edit(design, cursor=0, message=message)

    def _remember(self, path: str) -> None:
        from tui.files.recent import remember

        remember(self.recovery.directory, path)

    def open_copy(self, design: Design, source: str) -> None:
        """Open ``design`` as an unsaved copy (the notebook view's rows): ``s`` asks where to save it."""
        self.open_unsaved(design, f"opened a copy of {source} (unsaved: s asks where to save)")

    def _offer_recovery(self) -> None:
        recovered = self.recovery.read()
        if recovered is None:
            return
        if recovered.design == self.design:
            self.recovery.clear()
            return
        from tui import dialogs

        dialogs.offer_recovery(self, recovered)

    # --- jobs and quit -----------------------------------------------------------------------------------

    def start_job(self, kind: str, extra: dict[str, object] | None = None) -> None:
        """Start a ``kind`` job on the design with the current settings (``extra`` adds or overrides options)."""
        options: dict[str, object] = {"runtime": self.settings.runtime, "dtype": self.settings.dtype,
                                      "compression": self.settings.compression, "board": self.board.name,
                                      "path": self.path, "runs_dir": str(self.runs_dir), **(extra or {})}
        card = self.jobs.start(kind, self.design, options)
        if card.status == "unavailable":
            self.set_status(card.message, error=True)
        else:
            self.set_status(f"{kind} job {card.job_id} started")

    def on_jobs_pane_job_ended(self, event: JobsPane.JobEnded) -> None:
        if event.kind == "train":
            self.reload_runs()  # the panel's accuracy is the latest run's

    def set_latency_budget(self, ms: float | None) -> None:
        """The user's latency budget in ms (None: the board's, if it has one), remembered for next time."""
        remember_latency_budget(self.recovery.directory, ms)
        self._set_settings(replace(self.settings, latency_budget_ms=ms))

    def action_search(self) -> None:
        """The search form for the current design; Enter starts the search as a job."""
        from tui.screens.search_form import open_search_form  # not needed for the first frame

        open_search_form(self)

    def on_search_card_open_best(self, event: Message) -> None:
        """Open a search's best design (a search card's Enter) as a new unsaved design."""
        path, number = event.path, event.number  # type: ignore[attr-defined]
        try:
            design, _source = resolve_design(path)
        except LOAD_ERRORS as exc:
            self.set_status(load_error_text(path, exc), error=True)
            return
        trial = f"trial {number}" if number is not None else "the best design"
        self.open_unsaved(design, f"opened the search's {trial} ({path}) as a new unsaved design: s asks where "
                                  "to save it")
        self.table.focus()  # back to editing it

    @property
    def runs_dir(self) -> Path:
        """Where training runs go (and are looked for)."""
        return self.places.runs_dir or Path("runs")

    def action_cancel_job(self) -> None:
        """Ask the newest queued or running job to stop."""
        card = self.jobs.cancel_latest()
        if card is None:
            self.set_status("no job to cancel")
        else:
            self.set_status(f"cancelling {card.kind} job {card.job_id}")

    def _handle_exception(self, error: Exception) -> None:
        # Every unhandled exception (handlers, workers, rendering) comes here: Textual sets the return code to
        # 1, keeps the error for Pilot, and closes the app. Before that, the unsaved design goes to the
        # recovery file (the last autosave may be an edit behind) and the traceback to a crash log; what
        # Textual would print on exit (a traceback with the locals, pages of them) is dropped: run_app prints
        # one line naming the log instead. (Harlequin overrides this hook too; Textual is pinned exactly.)
        if self.crashed is None:
            from textual.worker import WorkerFailed

            self.crashed = error.error if isinstance(error, WorkerFailed) else error
            self._autosave_pending = False
            if self.dirty:
                try:
                    self.recovery.write(self.design, self.path)
                except (OSError, DesignError):
                    pass  # the crash log below still says what happened
            self.crash_log = write_crash_log(self.crashed, self.recovery.directory)
        super()._handle_exception(error)
        self._exit_renderables.clear()

    async def action_quit(self) -> None:
        """Quit; with unsaved changes, ask first."""
        if not self.dirty:
            self.quit_clean()
            return
        from tui import dialogs

        dialogs.confirm_quit(self)

    def quit_clean(self) -> None:
        """Quit now: stop the jobs and remove the recovery file."""
        self._autosave_pending = False  # an edit's write still to come must not bring the file back
        self.jobs.cancel_all()
        self.recovery.clear()
        self.exit()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for keys, action, description, _ in KEYS:
            if action == "quit":
                continue
            yield SystemCommand(description, f"key: {display_keys(keys)}", partial(self.run_action, action))
        if screen is not self.main:
            return  # opening replaces the design: only from the designer itself
        from textual.markup import escape

        from tui.files.open_choices import open_choices

        # "Open preset Model5", found by typing "model5"; the palette reads titles as markup, and file names
        # are the user's text.
        for choice in open_choices(self.places.designs_dir or Path.cwd(), self.recovery.directory):
            yield SystemCommand(f"Open {choice.kind} {escape(choice.name)}", escape(choice.help),
                                partial(self.open_path, choice.spec))


def same_network(a: Design, b: Design) -> bool:
    """Whether two designs differ at most in the preset's notebook figures (which an edit drops)."""
    return all(getattr(a, f.name) == getattr(b, f.name) for f in fields(Design) if f.name != "notebook")


def create_app(design: Design | None = None, *, runner: JobRunner | None = None, path: str | None = None,
               board: Board | None = None, boards: list[Board] | None = None, settings: Settings | None = None,
               places: Places | None = None, offer_recovery: bool = True) -> DesignerApp:
    """The app factory (tests and the CLI): ``runner`` defaults to one that says no runner is installed."""
    if runner is None:
        from tui.jobs.events import UnavailableRunner

        runner = UnavailableRunner()
    return DesignerApp(design or new_design(), runner=runner, path=path, board=board,
                       boards=boards, settings=settings, places=places, offer_recovery=offer_recovery)


def run_app(design: Design | None = None, path: str | None = None, *, runner: JobRunner | None = None) -> int:
    """Open the app on ``design`` (None: a new one) saving to ``path``; returns an exit status for the CLI.

    The command line has loaded and checked the design (its errors name the file) and paused the garbage
    collector (see DesignerApp._started). ``runner`` defaults to the real one, built when a job first needs it.
    """
    if runner is None:
        from tui.jobs.deferred import DeferredRunner

        runner = DeferredRunner.of_process_runner()
    # A new path that does not exist yet is where the first save goes.
    app = create_app(design, runner=runner, path=path)
    # Textual hands each frame to its writer thread, and key presses come in on its input thread: each waits
    # for the GIL while the main thread works, by default up to 5 ms (the switch interval). The first frame
    # is followed by more work (the matrix's other cells, the footer's keys), so it reached the terminal ~5 ms
    # after it was drawn. 1 ms keeps output and input prompt; only these threads contend, so nothing slows.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(APP_SWITCH_INTERVAL_S)
    try:
        app.run()
    except Exception as exc:  # noqa: BLE001 - outside the message loop (the driver, the terminal): same report
        if app.crashed is None:
            app.crashed, app.crash_log = exc, write_crash_log(exc, app.recovery.directory)
    finally:
        sys.setswitchinterval(interval)
    if app.crashed is None and not app.return_code:
        return 0
    print(crash_line(app.crashed, app.crash_log), file=sys.stderr)
    return 1


def crash_line(error: BaseException | None, log: Path | None) -> str:
    """The one line the command prints after an unexpected error in the app."""
    what = " ".join(f"{type(error).__name__}: {error}".split()) if error is not None else "the app failed"
    where = str(log) if log is not None else "none (the state and temp folders cannot be written)"
    return f"cnn-designer: unexpected error ({what}); unsaved edits are kept for the next start; crash log: {where}"

