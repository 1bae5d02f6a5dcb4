"""The app's dialogs: each function opens one (a form, a menu, a picker, a prompt, a question) over the
designer screen and applies the answer through the app's own methods (edits, board, files, jobs, quit).

The app imports this module when a dialog first opens, and each function imports its own screen, so start-up
pays for none of them. The dialogs know the app only as a ``tui.host.Host`` (the members they use), never by
importing tui.app: that would be an import circle.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tui.editing import (
    BlockSpec,
    Target,
    add_block,
    default_layer,
    group_at,
    insert_layers,
    insert_point,
    item,
    path_label,
    replace_layer,
)

if TYPE_CHECKING:
    from designer.boards import Board
    from designer.layers import Layer
    from tui.files.recovery import Recovered
    from tui.host import Host
    from tui.jobs.settings import ExportSettings, TrainSettings
    from tui.notebook_rows import NotebookRow


def edit_layer(app: Host) -> None:
    """The form for the selected row: the layer's own, or the residual block's on its header, add or identity
    shortcut row."""
    target = app.target
    if target is None:
        return
    if target.role != "layer":
        edit_residual(app)
        return
    from tui.screens.layer_form import LayerFormScreen

    path = target.path

    def done(layer: Layer | None) -> None:
        if layer is not None:
            app.edit(lambda: replace_layer(app.design, path, layer), cursor=target,
                     message=f"layer {path_label(path)} changed")
    app.push_screen(LayerFormScreen(app.design, path), done)


def edit_residual(app: Host) -> None:
    """The form for the residual block under the cursor (its add's activation, its shortcut, its group)."""
    from designer.layers import Residual
    from tui.screens.residual_form import ResidualEditScreen

    target = app.target
    assert target is not None
    path = target.path
    block = item(app.design, path)
    assert isinstance(block, Residual)

    def done(new: Residual | None) -> None:
        if new is not None:
            app.edit(lambda: replace_layer(app.design, path, new), cursor=target,
                     message=f"block {path_label(path)} changed")
    app.push_screen(ResidualEditScreen(app.design, path), done)


def add_layer(app: Host) -> None:
    """The menu of layer kinds (a conv group, a residual block) to insert below the selected row."""
    from tui.screens.add_menu import BLOCK, RESIDUAL, AddMenuScreen

    at = insert_point(app.design, app.target)

    def chosen(kind: str | None) -> None:
        if kind == BLOCK:
            add_conv_group(app)
        elif kind == RESIDUAL:
            add_residual(app)
        elif kind is not None:
            group = group_at(app.design, at)
            app.edit(lambda: insert_layers(app.design, at, [default_layer(kind, group)]), cursor=at,
                     message=f"{kind} added at {path_label(at)}")
    app.push_screen(AddMenuScreen(), chosen)


def add_conv_group(app: Host) -> None:
    """The form for a conv group to insert below the selected row."""
    from tui.screens.block_form import BlockFormScreen

    at = insert_point(app.design, app.target)

    def done(spec: BlockSpec | None) -> None:
        if spec is not None:
            app.edit(lambda: add_block(app.design, at, spec), cursor=at,
                     message=f"conv group added at {path_label(at)}")
    app.push_screen(BlockFormScreen(), done)


def add_residual(app: Host) -> None:
    """The form for a residual block to insert below the selected row."""
    from designer.layers import Residual
    from tui.screens.residual_form import ResidualFormScreen

    at = insert_point(app.design, app.target)

    def done(block: Residual | None) -> None:
        if block is not None:
            app.edit(lambda: insert_layers(app.design, at, [block]), cursor=Target(at, "block"),
                     message=f"residual block added at {path_label(at)}")
    app.push_screen(ResidualFormScreen(app.design, at), done)


def pick_board(app: Host) -> None:
    """The board picker (which also takes a custom board)."""
    from tui.screens.board_picker import BoardPickerScreen

    footprint = None if app.budget is None or app.budget.stale else app.budget.footprint

    def done(board: Board | None) -> None:
        if board is not None:
            app.set_board(board)
    app.push_screen(BoardPickerScreen(app.boards, app.board, footprint, app.settings.describe()), done)


def save_as(app: Host, then: Callable[[], None] | None = None) -> None:
    """Ask for a path, save there, then call ``then`` (if the save worked)."""
    from tui.screens.path_prompt import PathScreen

    def done(path: str | None) -> None:
        if path is not None and app.save_to(path) and then is not None:
            then()
    default = app.path or f"{app.design.name.lower().replace(' ', '_')}.toml"
    app.push_screen(PathScreen("Save the design as", default), done)


def open_file(app: Host) -> None:
    """Ask for a design file or a preset id (with completion and a list of what there is) and open it."""
    from tui.files.open_choices import open_choices
    from tui.screens.open_dialog import OpenScreen

    def done(spec: str | None) -> None:
        if spec is not None:
            app.open_path(spec)
    choices = open_choices(app.places.designs_dir or Path.cwd(), app.recovery.directory)
    app.push_screen(OpenScreen(choices, app.path or ""), done)


def latency_budget(app: Host) -> None:
    """Ask for the latency budget in milliseconds ("none" goes back to the board's, if any)."""
    from tui.screens.path_prompt import PathScreen

    def done(text: str | None) -> None:
        if text is None:
            return
        if text.lower() in ("none", "0", "-"):
            app.set_latency_budget(None)
            return
        try:
            ms = float(text.removesuffix("ms").strip())
        except ValueError:
            ms = -1.0
        if not 0 < ms <= 1e9:
            app.set_status(f"latency budget: expected a positive number of milliseconds, received '{text}'",
                           error=True)
            return
        app.set_latency_budget(ms)
    board, current = app.board.latency_budget_ms, app.settings.latency_budget_ms
    fallback = f"the board's {board:g} ms" if board is not None else "no latency row"
    app.push_screen(PathScreen(f"Latency budget in ms (none: {fallback})", "" if current is None else f"{current:g}",
                               placeholder="e.g. 100, or none"), done)


def offer_recovery(app: Host, recovered: Recovered) -> None:
    """Offer to restore the unsaved design a killed session left in the recovery file."""
    from tui.screens.confirm import ConfirmScreen

    def answer(key: str | None) -> None:
        if key == "r":
            app.path = recovered.path
            app.apply_edit(recovered.design, message="restored unsaved edits from the recovery file")
        else:
            app.recovery.clear()
            app.set_status("recovery file discarded")
    where = f" (from {recovered.path})" if recovered.path else ""
    app.push_screen(ConfirmScreen(
        "Restore unsaved edits?",
        f"cnn-designer did not exit cleanly last time. Restore the unsaved design "
        f"'{recovered.design.name}'{where}?",
        [("r", "Restore"), ("d", "Discard")], cancel_key="d"), answer)


def notebook(app: Host) -> None:
    """All presets and saved designs side by side."""
    from tui.notebook_rows import collect_rows
    from tui.screens.notebook import NotebookScreen

    rows = collect_rows(app.board, app.settings, designs_dir=app.places.designs_dir or Path.cwd(),
                        runs_dir=app.runs_dir, current=app.design)

    def done(row: NotebookRow | None) -> None:
        if row is not None and row.design is not None and row.source != "current":
            app.open_copy(row.design, f"{row.name} ({row.source})")
    app.push_screen(NotebookScreen(rows, app.board, app.settings), done)


def train(app: Host) -> None:
    """Ask for the training settings (remembered from last time), then train the design as a job."""
    if app.runner.unavailable_reason("train") is not None:
        app.start_job("train")  # its card says why
        return
    from tui.jobs.settings import (
        CIFAR10,
        SettingsStore,
        cifar10_cached,
        cifar10_note,
        find_datasets,
        resumable_runs,
        run_data,
    )
    from tui.screens.train_form import TrainFormScreen

    store = SettingsStore(app.places.state_dir)
    datasets = find_datasets(app.places.designs_dir or Path.cwd())
    remembered = store.remembered_train()
    # Nothing remembered: a data set found here rather than cifar10, which fails offline unless cached.
    data = remembered.data if remembered else (datasets[0] if datasets else CIFAR10 if cifar10_cached() else "")
    runs = [(str(run), run_data(run)) for run in resumable_runs(app.design, app.runs_dir)]

    def done(settings: TrainSettings | None) -> None:
        if settings is not None:
            store.save_train(settings)
            app.start_job("train", settings.options())
    app.push_screen(TrainFormScreen(remembered or store.train(), app.design.name, data=data, datasets=datasets,
                                    runs=runs, cifar10_note=cifar10_note()), done)


def export(app: Host) -> None:
    """Ask for the output folder, board, compression and data, then export the design (or its run) as a job."""
    if app.runner.unavailable_reason("export") is not None:
        app.start_job("export")  # its card says why
        return
    from textual.content import Content

    from tui.jobs.settings import (
        ExportSettings,
        SettingsStore,
        default_out_dir,
        find_datasets,
        run_data,
        trained_run_for,
    )
    from tui.screens.export_form import ExportFormScreen

    store = SettingsStore(app.places.state_dir)
    root, compression = store.export_root_and_compression()
    run = trained_run_for(app.design, app.runs_dir)
    # Variables, not f-string markup: the design's name and the run folder's are the user's text.
    if run is None:
        source = Content.from_markup("[b]$name[/b] as edited, [b red]UNTRAINED[/]: random weights (sizes and "
                                     "arena are right, predictions are not). Train it first for a real model.",
                                     name=app.design.name)
    else:
        source = Content.from_markup("[b]$name[/b] from its best run $run (accuracy $accuracy)",
                                     name=app.design.name, run=run.run_dir.name,
                                     accuracy=f"{(run.accuracy or 0.0):.1%}")
    # A run's recorded data set, shown for the user to confirm: export does not follow it unasked.
    data = run_data(run.run_dir) if run is not None else ""
    settings = ExportSettings(default_out_dir(app.design, root), app.board.name, compression, data=data)

    def done(chosen: ExportSettings | None) -> None:
        if chosen is not None:
            store.save_export(chosen)
            app.start_job("export", {**chosen.options(), "source": str(run.run_dir) if run else None})
    app.push_screen(ExportFormScreen(settings, [b.name for b in app.boards], source,
                                     datasets=find_datasets(app.places.designs_dir or Path.cwd())), done)


def memory(app: Host) -> None:
    """The memory view: the activation bytes alive per layer as bars, the peak named."""
    from tui.screens.memory import MemoryScreen

    budget = app.budget
    if budget is None or budget.footprint is None:
        app.set_status("no memory picture: the design does not estimate", error=True)
        return
    names = {i: f"{layer.kind} {layer.summary()}".strip() for i, layer in enumerate(app.design.layers)}
    app.push_screen(MemoryScreen(budget.footprint, app.board, app.settings.describe(), names))


def show_help(app: Host) -> None:
    """The key-binding overlay."""
    from tui.screens.help import HelpScreen
    from tui.screens.main import KEYS, display_keys

    app.push_screen(HelpScreen([(display_keys(keys), text) for keys, _, text, _ in KEYS]))


def confirm_quit(app: Host) -> None:
    """Ask whether to save the unsaved changes, quit without them, or stay."""
    from tui.screens.confirm import ConfirmScreen

    def answer(key: str | None) -> None:
        if key == "s":
            if app.path is None:
                save_as(app, then=app.quit_clean)
            elif app.save_to(app.path):
                app.quit_clean()
        elif key == "d":
            app.quit_clean()
    app.push_screen(ConfirmScreen("Unsaved changes", f"Save the changes to '{app.design.name}'?",
                                  [("s", "Save and quit"), ("d", "Quit without saving"), ("c", "Cancel")],
                                  cancel_key="c"), answer)
