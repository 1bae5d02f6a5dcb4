"""The cnn-designer app: state (one immutable Design plus its undo history), actions, and the factory.

Every edit goes through ``apply_edit``: it pushes the new Design onto the history, recomputes the counters
synchronously, redraws, and (once the frame is out) autosaves to the recovery file in a worker thread. An edit that
makes the design invalid is kept (so the user can repair it, or undo); the budget panel then shows the
DesignError and greys the last valid figures, and the layer table marks the failing layer with ✗.
This module and everything it imports stay free of TensorFlow (a test checks sys.modules). The dialog screens
are imported where they open, so start-up pays only for the main screen.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.widgets import Static

from designer.boards import Board, BoardError, load_catalogue
from designer.design import Design, DesignError
from designer.designfile import load, save
from designer.layers import Dense, Flatten, Layer
from tui.budget import Budget, Settings, compute_budget
from tui.editing import (
    BlockSpec,
    EditError,
    History,
    add_block,
    block_layers,
    bump,
    bump_target,
    default_layer,
    delete_layer,
    duplicate_layer,
    insert_layers,
    move_layer,
    replace_layer,
    toggle_batchnorm,
)
from tui.jobs import JobRunner, UnavailableRunner
from tui.recovery import RecoveryFile
from tui.screens.main import KEYS, MainScreen, display_keys
from tui.widgets.budget_panel import BudgetPanel
from tui.widgets.jobs_pane import JobsPane
from tui.widgets.layer_table import LayerTable


def new_design() -> Design:
    """The design a bare ``cnn-designer`` starts with: one conv group and a dense head."""
    head: list[Layer] = [Flatten(group="head"), Dense(units=10, activation="softmax", group="head")]
    return Design(name="untitled", layers=tuple(block_layers(BlockSpec(), "conv group 1")) + tuple(head))


@dataclass
class Places:
    """Where the app reads and writes besides the design file (tests point these at tmp dirs)."""

    state_dir: Path | None = None  # recovery file; None = tui.recovery.state_dir()
    designs_dir: Path | None = None  # saved designs listed in the notebook view; None = current directory
    runs_dir: Path | None = None  # training runs (runs/*/metrics.json); None = ./runs


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
        self.path = path
        self.settings = settings or Settings()
        self.places = places or Places()
        self.runner = runner
        self.recovery = RecoveryFile(self.places.state_dir)
        self.offer_recovery = offer_recovery
        self.last_valid: Design | None = None
        self.budget: Budget | None = None
        self.status = ""
        self._autosave_pending = False

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
        """The designer screen (there is exactly one)."""
        return self.get_screen("main")  # type: ignore[return-value]

    @property
    def table(self) -> LayerTable:
        """The layer stack."""
        return self.main.query_one(LayerTable)

    @property
    def jobs(self) -> JobsPane:
        """The jobs pane."""
        return self.main.query_one(JobsPane)

    def on_mount(self) -> None:
        # The screen calls _first_draw once its widgets are mounted, before its first paint: an empty first
        # frame would cost a second full layout and repaint before the design shows.
        self.install_screen(MainScreen(self.runner, on_mounted=self._first_draw), "main")
        self.push_screen("main")

    def _first_draw(self) -> None:
        self.refresh_view()
        self.table.focus()
        if self.offer_recovery:
            self._offer_recovery()
        self.call_after_refresh(self._started)

    def _started(self) -> None:
        # Start-up allocates ~10^5 long-lived objects (the command line even pauses the collector while it
        # imports and starts the app, see run_app). After the first frame they are frozen, never scanned
        # again: otherwise every full collection during editing rescans them (~15 ms, a dropped frame).
        # (No collection first: a full one here would hold up the first frame's write, ~50 ms.)
        gc.freeze()
        if not gc.isenabled():
            gc.enable()

    def refresh_view(self) -> None:
        """Recompute the counters from the design and redraw the table, the panel and the title."""
        budget = compute_budget(self.design, self.board, self.settings, self.last_valid)
        if not budget.stale:
            self.last_valid = self.design
        self.budget = budget
        self.table.show(self.design, None if budget.stale else budget.footprint, budget.error_index)
        self.main.query_one(BudgetPanel).show(self.design, self.board, self.settings, budget)
        where = self.path or "not saved"
        self.sub_title = f"{self.design.name} — {where}{' — modified' if self.dirty else ''}"
        if budget.error is not None:
            self.set_status(f"Design invalid: {budget.error}", error=True)

    def set_status(self, text: str, *, error: bool = False) -> None:
        """Show one line under the table (errors in red)."""
        self.status = text
        status = self.main.query_one("#status", Static)
        status.update(text, layout=False)  # one line high (app.tcss): no layout pass on every edit
        status.set_class(error, "-error")

    def apply_edit(self, design: Design, *, cursor: int | None = None, message: str = "") -> None:
        """Record an edit, recompute, redraw and autosave."""
        self.history = self.history.push(design)
        self.set_status(message)
        self.refresh_view()
        if cursor is not None:
            self.table.select_layer(cursor)
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
            self.run_worker(self.recovery.clear, thread=True, group="autosave", description="clear recovery")
        else:
            self.run_worker(partial(self.recovery.write, design, path), thread=True, group="autosave",
                            description="autosave")

    def _edit(self, operation: Callable[[], Design], *, cursor: int | None = None, message: str = "") -> None:
        try:
            design = operation()
        except EditError as exc:
            self.set_status(str(exc), error=True)
            self.bell()
            return
        self.apply_edit(design, cursor=cursor, message=message)

    @property
    def index(self) -> int:
        """The layer under the cursor."""
        return self.table.layer_index

    # --- layer edits -------------------------------------------------------------------------------------

    def on_layer_table_row_selected(self, event: LayerTable.RowSelected) -> None:
        self.action_edit()

    def action_edit(self) -> None:
        """Open the form for the selected layer."""
        if not self.design.layers:
            return
        index = self.index

        def done(layer: Layer | None) -> None:
            if layer is not None:
                self._edit(lambda: replace_layer(self.design, index, layer), cursor=index,
                           message=f"layer {index} changed")
        from tui.screens.layer_form import LayerFormScreen

        self.push_screen(LayerFormScreen(self.design, index), done)

    def action_add(self) -> None:
        """Insert a layer (or a conv group) after the selected layer."""
        from tui.screens.add_menu import BLOCK, AddMenuScreen

        at = self.index + 1 if self.design.layers else 0

        def chosen(kind: str | None) -> None:
            if kind == BLOCK:
                self.action_add_block()
            elif kind is not None:
                group = self.design.layers[at - 1].group if at > 0 else ""
                self._edit(lambda: insert_layers(self.design, at, [default_layer(kind, group)]), cursor=at,
                           message=f"{kind} added at {at}")
        self.push_screen(AddMenuScreen(), chosen)

    def action_add_block(self) -> None:
        """Insert a conv group after the selected layer."""
        at = self.index + 1 if self.design.layers else 0

        def done(spec: BlockSpec | None) -> None:
            if spec is not None:
                self._edit(lambda: add_block(self.design, at, spec), cursor=at, message=f"conv group added at {at}")
        from tui.screens.block_form import BlockFormScreen

        self.push_screen(BlockFormScreen(), done)

    def action_delete(self) -> None:
        """Delete the selected layer."""
        index = self.index
        self._edit(lambda: delete_layer(self.design, index), cursor=index, message=f"layer {index} deleted")

    def action_duplicate(self) -> None:
        """Copy the selected layer right after it."""
        index = self.index
        self._edit(lambda: duplicate_layer(self.design, index), cursor=index + 1,
                   message=f"layer {index} duplicated")

    def action_move(self, delta: int) -> None:
        """Move the selected layer up (-1) or down (+1)."""
        try:
            design, target = move_layer(self.design, self.index, delta)
        except EditError as exc:
            self.set_status(str(exc), error=True)
            return
        self.apply_edit(design, cursor=target, message=f"layer moved to {target}")

    def action_bump(self, direction: int) -> None:
        """Filters (conv) or units (dense) of the selected layer up or down by one step."""
        index, before = self.index, self.design
        try:
            after = bump(before, index, direction)
        except EditError as exc:
            self.set_status(str(exc), error=True)
            self.bell()
            return
        key = bump_target(before, index)
        self.apply_edit(after, cursor=index, message=f"layer {index}: {key} {getattr(before.layers[index], key)}"
                        f" → {getattr(after.layers[index], key)}")

    def action_toggle_bn(self) -> None:
        """Add or remove the batchnorm after the selected conv or dense layer."""
        index = self.index
        self._edit(lambda: toggle_batchnorm(self.design, index), cursor=index)

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
        self.refresh_view()
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
        """none -> low -> medium -> high -> none (X-CUBE-AI only)."""
        self._set_settings(self.settings.next_compression())

    def set_board(self, board: Board) -> None:
        """Check the design against ``board``."""
        if board.name not in [b.name for b in self.boards]:
            self.boards.append(board)
        self.board = board
        self.set_status(f"board: {board.name}")
        self.refresh_view()

    def action_board(self) -> None:
        """Pick a board (or enter a custom one)."""
        footprint = None if self.budget is None or self.budget.stale else self.budget.footprint

        def done(board: Board | None) -> None:
            if board is not None:
                self.set_board(board)
        from tui.screens.board_picker import BoardPickerScreen

        self.push_screen(BoardPickerScreen(self.boards, self.board, footprint), done)

    # --- files -------------------------------------------------------------------------------------------

    def save_to(self, path: str) -> bool:
        """Save the design to ``path``; the recovery file goes once the design is safe."""
        try:
            save(self.design, path)
        except OSError as exc:
            self.set_status(f"cannot save {path}: {exc.strerror or exc}", error=True)
            return False
        self.path = path
        self.saved_design = self.design
        self.run_worker(self.recovery.clear, thread=True, group="autosave")
        self.set_status(f"saved {path}")
        self.refresh_view()
        return True

    def action_save(self) -> None:
        """Save to the design's file (asks for one the first time)."""
        if self.path is None:
            self.action_save_as()
        else:
            self.save_to(self.path)

    def action_save_as(self, then: Callable[[], None] | None = None) -> None:
        """Ask for a path and save there."""
        def done(path: str | None) -> None:
            if path is not None and self.save_to(path) and then is not None:
                then()
        default = self.path or f"{self.design.name.lower().replace(' ', '_')}.toml"
        from tui.screens.path_prompt import PathScreen

        self.push_screen(PathScreen("Save the design as", default), done)

    def open_path(self, path: str) -> None:
        """Open a design file (the previous design stays one undo away)."""
        try:
            design = load(path)
        except DesignError as exc:
            self.set_status(str(exc), error=True)
            return
        self.path = path
        self.saved_design = design
        self.last_valid = None
        self.apply_edit(design, cursor=0, message=f"opened {path}")

    def action_open(self) -> None:
        """Ask for a design file and open it."""
        def done(path: str | None) -> None:
            if path is not None:
                self.open_path(path)
        from tui.screens.path_prompt import PathScreen

        self.push_screen(PathScreen("Open a design file", self.path or ""), done)

    def _offer_recovery(self) -> None:
        recovered = self.recovery.read()
        if recovered is None:
            return
        if recovered.design == self.design:
            self.recovery.clear()
            return

        def answer(key: str | None) -> None:
            if key == "r":
                self.path = recovered.path
                self.apply_edit(recovered.design, message="restored unsaved edits from the recovery file")
            else:
                self.recovery.clear()
                self.set_status("recovery file discarded")
        where = f" (from {recovered.path})" if recovered.path else ""
        from tui.screens.confirm import ConfirmScreen

        self.push_screen(ConfirmScreen(
            "Restore unsaved edits?",
            f"cnn-designer did not exit cleanly last time. Restore the unsaved design "
            f"'{recovered.design.name}'{where}?",
            [("r", "Restore"), ("d", "Discard")], cancel_key="d"), answer)

    # --- views, jobs, help, quit -------------------------------------------------------------------------

    def action_notebook(self) -> None:
        """All presets and saved designs side by side."""
        from tui.notebook_rows import collect_rows
        from tui.screens.notebook import NotebookScreen

        rows = collect_rows(self.board, self.settings, designs_dir=self.places.designs_dir or Path.cwd(),
                            runs_dir=self.places.runs_dir or Path("runs"), current=self.design)
        self.push_screen(NotebookScreen(rows, self.board, self.settings))

    def _start_job(self, kind: str, extra: dict[str, object] | None = None) -> None:
        options: dict[str, object] = {"runtime": self.settings.runtime, "dtype": self.settings.dtype,
                                      "compression": self.settings.compression, "board": self.board.name,
                                      "path": self.path, "runs_dir": str(self._runs_dir), **(extra or {})}
        card = self.jobs.start(kind, self.design, options)
        if card.status == "unavailable":
            self.set_status(card.message, error=True)
        else:
            self.set_status(f"{kind} job {card.job_id} started")

    @property
    def _runs_dir(self) -> Path:
        return self.places.runs_dir or Path("runs")

    def action_train(self) -> None:
        """Ask for the training settings (remembered from last time), then train the design as a job."""
        if self.runner.unavailable_reason("train") is not None:
            self._start_job("train")  # its card says why
            return
        # Imported here: the forms are only needed when a job starts, not at app start.
        from tui.job_settings import SettingsStore, TrainSettings
        from tui.screens.train_form import TrainFormScreen

        store = SettingsStore(self.places.state_dir)

        def done(settings: TrainSettings | None) -> None:
            if settings is not None:
                store.save_train(settings)
                self._start_job("train", settings.options())
        self.push_screen(TrainFormScreen(store.train(), self.design.name), done)

    def action_export(self) -> None:
        """Ask for the output folder, board and compression, then export the design (or its run) as a job."""
        if self.runner.unavailable_reason("export") is not None:
            self._start_job("export")  # its card says why
            return
        from tui.job_settings import ExportSettings, SettingsStore, default_out_dir, trained_run_for
        from tui.screens.export_form import ExportFormScreen

        store = SettingsStore(self.places.state_dir)
        root, compression = store.export_root_and_compression()
        run = trained_run_for(self.design, self._runs_dir)
        if run is None:
            source = (f"[b]{self.design.name}[/b] as edited, [b red]UNTRAINED[/]: random weights (sizes and "
                      "arena are right, predictions are not). Train it first for a real model.")
        else:
            source = (f"[b]{self.design.name}[/b] from its best run {run.run_dir.name} (accuracy "
                      f"{(run.accuracy or 0.0):.1%})")
        settings = ExportSettings(default_out_dir(self.design, root), self.board.name, compression)

        def done(chosen: ExportSettings | None) -> None:
            if chosen is not None:
                store.save_export(chosen)
                self._start_job("export", {**chosen.options(), "source": str(run.run_dir) if run else None})
        self.push_screen(ExportFormScreen(settings, [b.name for b in self.boards], source), done)

    def action_cancel_job(self) -> None:
        """Ask the newest queued or running job to stop."""
        card = self.jobs.cancel_latest()
        if card is None:
            self.set_status("no job to cancel")
        else:
            self.set_status(f"cancelling {card.kind} job {card.job_id}")

    def action_help(self) -> None:
        """The key-binding overlay."""
        from tui.screens.help import HelpScreen

        self.push_screen(HelpScreen([(display_keys(keys), text) for keys, _, text, _ in KEYS]))

    async def action_quit(self) -> None:
        """Quit; with unsaved changes, ask first."""
        if not self.dirty:
            self._quit_clean()
            return

        def answer(key: str | None) -> None:
            if key == "s":
                if self.path is None:
                    self.action_save_as(then=self._quit_clean)
                elif self.save_to(self.path):
                    self._quit_clean()
            elif key == "d":
                self._quit_clean()
        from tui.screens.confirm import ConfirmScreen

        self.push_screen(ConfirmScreen("Unsaved changes", f"Save the changes to '{self.design.name}'?",
                                       [("s", "Save and quit"), ("d", "Quit without saving"), ("c", "Cancel")],
                                       cancel_key="c"), answer)

    def _quit_clean(self) -> None:
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


def create_app(design: Design | None = None, *, runner: JobRunner | None = None, path: str | None = None,
               board: Board | None = None, boards: list[Board] | None = None, settings: Settings | None = None,
               places: Places | None = None, offer_recovery: bool = True) -> DesignerApp:
    """The app factory (tests and the CLI): ``runner`` defaults to one that says no runner is installed."""
    return DesignerApp(design or new_design(), runner=runner or UnavailableRunner(), path=path, board=board,
                       boards=boards, settings=settings, places=places, offer_recovery=offer_recovery)


def run_app(preset: str | None = None, path: str | None = None, *, runner: JobRunner | None = None) -> int:
    """Open the app on a preset, a design file, or a new design; returns an exit status for the CLI."""
    from presets import load_preset

    try:
        if path is not None and Path(path).exists():
            design: Design | None = load(path)
        elif preset is not None:
            design = load_preset(preset)
        else:
            design = None
    except (DesignError, BoardError) as exc:
        print(f"cnn-designer: {exc}", file=sys.stderr)
        return 2
    if runner is None:
        from tui.runners import ProcessRunner

        runner = ProcessRunner()
    gc.disable()  # until the first frame: see DesignerApp._started
    try:
        # A new path that does not exist yet is where the first save goes.
        create_app(design, runner=runner, path=path).run()
    finally:
        gc.enable()
    return 0
