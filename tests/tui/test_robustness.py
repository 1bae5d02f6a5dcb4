"""Pilot tests of the app's safety rules: presets are read-only, user text is never markup, an estimator's
failure never ends the app, and an unexpected error exits 1 with a crash log and the edits kept."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widget import Widget
from textual.widgets import Input, Select, Static

import tui.budget
from designer.design import Design, DesignError
from designer.designfile import load
from designer.layers import Conv2D, Dense, Flatten, GlobalAvgPool
from presets import load_preset
from tests.tui.conftest import SIZE
from tui.app import DesignerApp
from tui.editing import default_layer
from tui.files.recovery import RecoveryFile
from tui.files.sources import in_presets, presets_dir, resolve_design
from tui.jobs.events import FakeRunner, Finished, Log, Progress
from tui.screens.block_form import BlockFormScreen
from tui.screens.board_picker import BoardPickerScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.custom_board import CustomBoardScreen
from tui.screens.export_form import ExportFormScreen
from tui.screens.layer_form import LayerFormScreen
from tui.screens.notebook import NotebookScreen
from tui.screens.open_dialog import OpenScreen
from tui.screens.path_prompt import PathScreen
from tui.screens.train_form import TrainFormScreen
from tui.widgets.budget_panel import BudgetPanel
from tui.widgets.job_card import JobCard

MakeApp = Callable[..., DesignerApp]

MARKUP = "[/][a=[bold]x\\"
"""Every kind of text Rich or Textual markup chokes on or eats: a bare closing tag, an open attribute, a style
tag, and a trailing backslash (which a markup escape doubles)."""


def presets_hashes() -> dict[str, str]:
    """Every file in the installed presets folder (compiled files included) by its hash."""
    return {str(p.relative_to(presets_dir())): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(presets_dir().rglob("*")) if p.is_file()}


def shown(widget: Widget) -> str:
    """The text a widget shows (its visual, as plain text)."""
    visual = widget.render()
    return str(getattr(visual, "plain", visual))


async def type_into(pilot: object, field: Input, text: str, prefix: str = "") -> None:
    """Set ``field`` to ``prefix`` (a tmp folder, say) and type ``text`` after it key by key."""
    field.focus()
    field.value = prefix
    field.cursor_position = len(prefix)
    await pilot.press(*text)  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    assert field.value == prefix + text


async def save_with_s(pilot: object, app: DesignerApp, path: Path) -> None:
    """Press ``s`` on a design with no file yet, answer the path prompt with ``path``, let the save finish."""
    await pilot.press("s")  # type: ignore[attr-defined]
    assert isinstance(app.screen, PathScreen)  # no file to save to: asks where
    app.screen.query_one(Input).value = str(path)
    await pilot.press("enter")  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    await app.workers.wait_for_complete()


# --- presets are read-only -----------------------------------------------------------------------------


async def test_preset_opened_by_path_is_a_copy_saved_elsewhere(make_app: MakeApp, tmp_path: Path) -> None:
    before = presets_hashes()
    preset_file = presets_dir() / "model5.toml"
    app = make_app()
    target = tmp_path / "mine.toml"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("o")
        assert isinstance(app.screen, OpenScreen)
        app.screen.query_one(Input).value = str(preset_file)
        await pilot.press("enter")
        await pilot.pause()
        assert app.design == load_preset("model5") and app.path is None and "copy of preset model5" in app.status
        await pilot.press("plus")
        assert app.dirty
        await save_with_s(pilot, app, preset_file)  # straight back into the presets: refused
        assert "read-only" in app.status and app.dirty and app.path is None
        await save_with_s(pilot, app, target)
        assert app.path == str(target) and not app.dirty and load(target).layers == app.design.layers
        assert not in_presets(app.recovery.directory)
    assert presets_hashes() == before


async def test_preset_by_id_and_through_a_symlink(make_app: MakeApp, tmp_path: Path) -> None:
    before = presets_hashes()
    link = tmp_path / "link"
    link.symlink_to(presets_dir(), target_is_directory=True)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.open_path("Model3")  # a preset id, as on the command line
        assert app.design == load_preset("model3") and app.path is None
        app.open_path(str(link / "model5.toml"))
        assert app.design == load_preset("model5") and app.path is None
        await pilot.press("minus")
        for path in (link / "model5.toml", link / "new.toml", presets_dir() / "new.toml"):
            assert not app.save_to(str(path)) and "read-only" in app.status
    assert presets_hashes() == before
    assert resolve_design(str(link / "model5.toml"))[1] == "preset model5"  # the command line's view too


async def test_a_preset_path_never_becomes_the_save_path(make_app: MakeApp, tmp_path: Path) -> None:
    preset_file = str(presets_dir() / "model5.toml")
    assert make_app(load_preset("model5"), path=preset_file).path is None
    # A recovery file left by an older version that named a preset: restoring it must not aim the save there.
    RecoveryFile(tmp_path / "state").write(load_preset("model4"), preset_file)
    assert RecoveryFile(tmp_path / "state").read().path is None  # type: ignore[union-attr]
    with pytest.raises(OSError, match="read-only"):
        RecoveryFile(presets_dir()).write(load_preset("model4"), None)


# --- user text is never markup -------------------------------------------------------------------------


def every_kind() -> Design:
    """One layer of every kind, in an order whose shapes work."""
    kinds = ("conv2d", "depthwise_conv2d", "batchnorm", "activation", "maxpool", "avgpool", "dropout",
             "spatial_dropout", "global_avg_pool", "flatten", "dense")
    return Design(name="every kind", layers=tuple(default_layer(kind) for kind in kinds))


async def test_markup_typed_into_every_layer_form_field(make_app: MakeApp) -> None:
    design = every_kind()
    app = make_app(design)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for index, layer in enumerate(design.layers):
            app.table.select_layer(index)
            await pilot.press("enter")
            screen = app.screen
            assert isinstance(screen, LayerFormScreen), layer.kind
            for field in screen.query("#form-fields Input").results(Input):
                if field.id == "f-group":
                    continue
                original = field.value
                await type_into(pilot, field, MARKUP)
                assert MARKUP in shown(screen.query_one("#form-error", Static)), (layer.kind, field.id)
                field.value = original
                await pilot.pause()
            if index:
                await pilot.press("escape")
                continue
            # The group label is the same Input in every layer form (and ~60 ms a key in Pilot): typed once,
            # here; test_markup_in_file_names_and_in_a_design_file loads one from a file.
            await type_into(pilot, screen.query_one("#f-group", Input), MARKUP)
            await pilot.press("enter")  # the group label is display text: applied as typed
            await pilot.pause()
            assert app.screen is app.main and app.design.layers[0].group == MARKUP
            assert app.table.cell(0, "group") == f"[ {MARKUP}"
        assert app.is_running and app.screen is app.main


async def test_markup_typed_into_the_other_forms(make_app: MakeApp, tmp_path: Path) -> None:
    runner = FakeRunner({"train": [Finished(True)],
                         "export": [Progress(0.5, f"writing {MARKUP}"), Log(MARKUP), Finished(False, MARKUP)]})
    app = make_app(load_preset("model5"), runner=runner)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for key, form in (("g", BlockFormScreen), ("t", TrainFormScreen)):
            await pilot.press(key)
            assert isinstance(app.screen, form)
            for field in app.screen.query(Input).results(Input):
                await type_into(pilot, field, MARKUP)
                assert MARKUP in shown(app.screen.query_one("#form-error", Static)), field.id
            await pilot.press("escape")

        await pilot.press("b", "c")
        assert isinstance(app.screen, CustomBoardScreen)
        for field in app.screen.query(Input).results(Input):
            if field.id != "c-name":
                original = field.value
                await type_into(pilot, field, MARKUP)
                assert MARKUP in shown(app.screen.query_one("#form-error", Static)), field.id
                field.value = original
        await type_into(pilot, app.screen.query_one("#c-name", Input), MARKUP)
        await pilot.press("enter")  # a board named in markup characters
        await pilot.pause()
        assert app.board.name == MARKUP and app.status == f"board: {MARKUP}"
        assert MARKUP in shown(app.main.query_one("#status", Static))
        assert MARKUP in shown(app.main.query_one(BudgetPanel))
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, BoardPickerScreen)
        await pilot.press("escape")

        await pilot.press("e")
        assert isinstance(app.screen, ExportFormScreen)
        assert str(app.screen.query_one("#x-board", Select).value) == MARKUP
        await type_into(pilot, app.screen.query_one("#x-out", Input), MARKUP, prefix=f"{tmp_path}/")
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        (card,) = app.jobs.query(JobCard)
        assert card.status == "failed" and MARKUP in card.lines and card.progress_text == f"writing {MARKUP}"
        assert app.is_running


async def test_markup_in_file_names_and_in_a_design_file(make_app: MakeApp, tmp_path: Path) -> None:
    # A design file whose name and group label are markup characters (TOML basic strings: \\ is one \).
    design_file = tmp_path / "design.toml"
    toml_text = MARKUP.replace("\\", "\\\\")
    design_file.write_text(f'name = "{toml_text}"\ninput_shape = [32, 32, 3]\nclasses = 10\n\n'
                           f'[[layers]]\nkind = "conv2d"\nfilters = 8\ngroup = "{toml_text}"\n\n'
                           '[[layers]]\nkind = "flatten"\n\n[[layers]]\nkind = "dense"\nunits = 10\n')
    app = make_app()
    app.places.designs_dir = tmp_path
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("o")
        await type_into(pilot, app.screen.query_one(Input), MARKUP, prefix=f"{tmp_path}/")  # no such file
        await pilot.press("enter")
        await pilot.pause()
        assert MARKUP in app.status and MARKUP in shown(app.main.query_one("#status", Static))
        app.open_path(str(design_file))
        await pilot.pause()
        assert app.design.name == MARKUP and MARKUP in app.sub_title and MARKUP in app.table.cell(0, "group")
        await pilot.press("plus", "w")  # save as a file named in markup characters
        assert isinstance(app.screen, PathScreen)
        saved = tmp_path / f"{MARKUP}.toml"
        await type_into(pilot, app.screen.query_one(Input), f"{MARKUP}.toml", prefix=f"{tmp_path}/")
        await pilot.press("enter")
        await pilot.pause()
        assert load(saved).name == MARKUP and MARKUP in shown(app.main.query_one("#status", Static))

        await pilot.press("N")
        await pilot.pause()
        assert isinstance(app.screen, NotebookScreen)
        assert any(row.name == MARKUP for row in app.screen.rows)
        await pilot.press("m")
        assert isinstance(app.screen, PathScreen)
        await type_into(pilot, app.screen.query_one(Input), f"{MARKUP}.md", prefix=f"{tmp_path}/")
        await pilot.press("enter")
        await pilot.pause()
        assert MARKUP in (tmp_path / f"{MARKUP}.md").read_text(encoding="utf-8")
        await pilot.press("escape")

        await pilot.press("plus", "q")  # unsaved changes: the question names the design
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert MARKUP in shown(app.screen.query_one("#confirm-text", Static))
        await pilot.press("c")
        assert app.is_running


# --- estimator failures --------------------------------------------------------------------------------

ONE_ELEMENT = Design(name="one element", layers=(GlobalAvgPool(), Flatten(), Dense(units=1, activation="softmax")),
                     input_shape=(4, 4, 1), classes=1)
"""The issue's reproducer: flatten after a 1-element vector crashed the TFLM estimator (IndexError)."""


async def test_runtime_switch_on_the_one_element_flatten(make_app: MakeApp) -> None:
    app = make_app(ONE_ELEMENT)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.budget is not None and not app.budget.stale
        await pilot.press("r")
        await pilot.pause()
        assert app.is_running and app.settings.runtime == "tflm" and app.budget is not None
        # Whatever the estimator makes of it (a figure, a DesignError, a bug), the app says so and goes on.
        if app.budget.stale:
            assert app.budget.error is not None and app.budget.error in app.status
        await pilot.press("r", "minus")
        await pilot.pause()
        assert app.is_running and app.settings.runtime == "xcubeai" and not app.budget.stale


async def test_an_estimator_bug_shows_and_keeps_the_last_figures(make_app: MakeApp, model5: Design,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    real = tui.budget.estimate

    def broken(design: Design, **options: object) -> object:
        if options["runtime"] == "tflm":
            raise IndexError("tuple index out of range")
        return real(design, **options)  # type: ignore[arg-type]
    monkeypatch.setattr(tui.budget, "estimate", broken)
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.budget is not None
        good = app.budget.footprint
        await pilot.press("r")
        await pilot.pause()
        assert app.status == "estimator error (tflm · float32): IndexError: tuple index out of range"
        assert app.budget.estimator_error and app.budget.stale and app.budget.footprint == good
        assert "Estimator error" in shown(app.main.query_one(BudgetPanel))
        await pilot.press("minus")  # editing goes on
        await pilot.pause()
        assert app.dirty and app.budget.estimator_error and app.table.cell(0, "weights") == "–"
        await pilot.press("r")
        await pilot.pause()
        assert not app.budget.stale and app.budget.error is None and app.budget.footprint != good


async def test_an_estimator_design_error_for_old_and_new_design(make_app: MakeApp, model5: Design,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    real = tui.budget.estimate

    def refuses(design: Design, **options: object) -> object:
        if options["runtime"] == "tflm":
            raise DesignError("tflm cannot do this", index=3, kind="flatten")
        return real(design, **options)  # type: ignore[arg-type]
    monkeypatch.setattr(tui.budget, "estimate", refuses)
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("r")  # the last valid design fails the same way: no figures, no crash
        await pilot.pause()
        assert app.is_running and "tflm cannot do this" in app.status and app.budget.footprint is None
        assert app.table.cell(3, "mark") == "✗"


# --- unexpected errors ---------------------------------------------------------------------------------


async def test_an_unexpected_error_leaves_a_crash_log_and_the_edits(make_app: MakeApp, model5: Design,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: DesignerApp) -> None:
        raise RuntimeError(f"boom {MARKUP}")
    monkeypatch.setattr(DesignerApp, "action_cycle_dtype", boom)
    app = make_app(model5)
    with pytest.raises(RuntimeError, match="boom"):  # run_test re-raises what ended the app
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("minus", "d")  # the edit's autosave has not run yet when the error comes
            await pilot.pause()
    assert app.return_code == 1 and isinstance(app.crashed, RuntimeError)
    assert app.crash_log is not None and app.crash_log.parent == app.recovery.directory
    log = app.crash_log.read_text(encoding="utf-8")
    assert log.startswith("Traceback") and ", in boom\n" in log and log.endswith(f"RuntimeError: boom {MARKUP}\n")
    recovered = app.recovery.read()
    assert recovered is not None and recovered.design == app.design != model5


def test_the_command_exits_1_with_one_line_naming_the_crash_log(tmp_path: Path) -> None:
    # The real command (tui.cli.main), in a fresh interpreter; the app runs headless with an autopilot that
    # edits and then hits an injected bug.
    script = textwrap.dedent("""
        import sys
        from functools import partialmethod
        from textual.app import App
        from tui.app import DesignerApp
        from tui.cli import main

        async def autopilot(pilot):
            await pilot.pause()
            await pilot.press("minus", "d")

        def boom(self):
            raise ZeroDivisionError("injected [/] bug")

        DesignerApp.action_cycle_dtype = boom
        DesignerApp.run = partialmethod(App.run, headless=True, size=(160, 48), auto_pilot=autopilot)
        sys.exit(main(["--preset", "model5"]))
    """)
    env = {**os.environ, "PYTHONPATH": str(Path.cwd()), "CNN_DESIGNER_STATE_DIR": str(tmp_path / "state"),
           "CNN_DESIGNER_BOARDS": ""}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("cnn-designer: unexpected error (ZeroDivisionError: injected [/] bug)")
    log = Path(lines[0].rsplit("crash log: ", 1)[1])
    assert log.parent == tmp_path / "state" and "ZeroDivisionError" in log.read_text(encoding="utf-8")
    recovered = RecoveryFile(tmp_path / "state").read()
    assert recovered is not None and recovered.design.layers != load_preset("model5").layers
    assert isinstance(recovered.design.layers[0], Conv2D)


async def test_hostile_design_files_are_reported_not_fatal(make_app: MakeApp, tmp_path: Path) -> None:
    # What the fuzzing found the TOML decoder raising besides TOMLDecodeError: a 5,000-digit integer
    # (ValueError) and 1,000-deep nesting (RecursionError); either is a named error, or skipped in a listing.
    designs = tmp_path / "designs"
    designs.mkdir()
    (designs / "digits.toml").write_text(f"classes = {'9' * 5000}\n")
    (designs / "deep.toml").write_text("x = " + "[" * 1000 + "]" * 1000 + "\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for name in ("digits.toml", "deep.toml"):
            app.open_path(str(designs / name))
            assert app.status.startswith(f"{designs / name}") and app.design.name == "untitled", app.status
        await pilot.press("N")
        await pilot.pause()
        assert isinstance(app.screen, NotebookScreen)
        assert {row.source for row in app.screen.rows} == {"preset", "current"}
        await pilot.press("escape")
        assert app.is_running
