"""The train and export forms (issue 12): every CLI option, validated as typed, the data sets found in the
folder, Enter from any field, Space toggles, the checkbox's state in words, and a run's recorded data set
shown and passed explicitly (export and resume do not follow config.json outside the run unasked)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from textual.widgets import Checkbox, Input, Select, Static

from designer.designfile import save
from presets import load_preset
from tests.tui.conftest import SIZE, write_run
from tui.app import DesignerApp
from tui.export_cli import add_export_command
from tui.job_settings import ExportSettings, TrainSettings
from tui.jobs import FakeRunner, Finished
from tui.screens.export_form import ExportFormScreen
from tui.screens.train_form import TrainFormScreen
from tui.train_cli import add_train_command

MakeApp = Callable[..., DesignerApp]

CLI_TO_FORM = {"lr": "learning_rate"}
NOT_IN_THE_FORM = {"design", "source", "out", "json", "handler", "no_stedgeai"}
"""The design/source is the app's, the runs folder its own, --out of export is the form's output folder."""


def cli_options(add: Callable[[argparse._SubParsersAction], argparse.ArgumentParser]) -> set[str]:
    parser = argparse.ArgumentParser()
    sub = add(parser.add_subparsers())
    return {CLI_TO_FORM.get(a.dest, a.dest) for a in sub._actions if a.dest != "help"} - NOT_IN_THE_FORM


def test_the_forms_have_every_cli_option() -> None:
    assert cli_options(add_train_command) <= {f.name for f in fields(TrainSettings)}
    export = {f.name for f in fields(ExportSettings)}
    assert cli_options(add_export_command) <= export and {"out_dir", "stedgeai"} <= export


def runner() -> FakeRunner:
    return FakeRunner({"train": [Finished(True, "ok")], "export": [Finished(True, "ok")]})


async def test_the_dataset_field_offers_what_is_here(make_app: MakeApp, tmp_path: Path) -> None:
    here = tmp_path / "designs"
    (here / "cats" / "train" / "a").mkdir(parents=True)
    (here / "small.npz").write_bytes(b"")
    (here / "notes.txt").write_text("not data")
    app = make_app(load_preset("model0"), runner=runner())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        form = app.screen
        assert isinstance(form, TrainFormScreen)
        assert form.datasets == [str(here / "cats"), str(here / "small.npz")]
        assert form.query_one("#t-data", Input).value == str(here / "cats")  # not cifar10, which fails offline
        help_text = str(form.query_one("#t-data-help", Static).render())
        assert "small.npz" in help_text and "cifar10: downloaded by Keras on first use" in help_text


async def test_no_dataset_here_explains_itself(make_app: MakeApp) -> None:
    app = make_app(load_preset("model0"), runner=runner())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        form = app.screen
        assert isinstance(form, TrainFormScreen)
        assert form.query_one("#t-data", Input).value == ""
        assert "dataset: give an image folder" in str(form.query_one("#form-error").render())
        await pilot.press("enter")  # refused
        assert isinstance(app.screen, TrainFormScreen)


async def test_enter_starts_from_a_checkbox_and_space_toggles(make_app: MakeApp, tmp_path: Path) -> None:
    fake = runner()
    app = make_app(load_preset("model0"), runner=fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        form = app.screen
        form.query_one("#t-data", Input).value = "cifar10"
        box = form.query_one("#t-augment", Checkbox)
        box.focus()
        await pilot.pause()
        assert str(box.label) == "augment (random flips and shifts): off"
        await pilot.press("space")
        assert box.value and str(box.label) == "augment (random flips and shifts): on"
        form.query_one("#t-seed", Input).value = "7"
        form.query_one("#t-limit", Input).value = "500"
        form.query_one("#t-early_stopping", Input).value = "3"
        form.query_one("#t-strategy", Select).focus()
        await pilot.pause()
        await pilot.press("enter")  # on a closed select: starts, does not open it
        await pilot.pause()
        assert not isinstance(app.screen, TrainFormScreen)
        (_, _, options), = fake.started
        assert (options["augment"], options["seed"], options["limit"], options["early_stopping"],
                options["data"], options["resume"]) == (True, 7, 500, 3, "cifar10", None)


async def test_more_fields_are_validated_by_name(make_app: MakeApp) -> None:
    app = make_app(load_preset("model0"), runner=runner())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        form = app.screen
        form.query_one("#t-data", Input).value = "cifar10"
        for key, text, error in (("validation_split", "1.5", "validation split must be between 0 and 1"),
                                 ("seed", "x", "seed: expected an integer or empty, received 'x'"),
                                 ("limit", "0", "image limit must be >= 1"),
                                 ("reduce_lr", "-1", "reduce LR must be >= 0 epochs")):
            field = form.query_one(f"#t-{key}", Input)
            before, field.value = field.value, text
            await pilot.pause()
            assert error in str(form.query_one("#form-error").render())
            field.value = before
        await pilot.pause()
        assert str(form.query_one("#form-error").render()) == ""


def make_run(runs: Path, name: str, design_name: str, data: str, *, design: object) -> Path:
    run = runs / name
    write_run(run, design_name, 0.7)
    config = {"config": {"design": "x", "data": data}, "design_name": design_name}
    (run / "config.json").write_text(json.dumps(config))
    (run / "last.keras").write_bytes(b"")
    save(design, run / "design.toml")  # type: ignore[arg-type]
    return run


def run_with_outside_data(tmp_path: Path) -> tuple[Path, Path]:
    """A Model0 run (with last.keras) whose config.json names a data set outside the run folder, which resume
    and export refuse to read unasked; returns (run folder, data set)."""
    data = tmp_path / "elsewhere" / "set.npz"
    data.parent.mkdir()
    data.write_bytes(b"")
    return make_run(tmp_path / "runs", "model0-20261201-100000", "Model0", str(data),
                    design=load_preset("model0")), data


async def test_resume_shows_and_passes_the_runs_data(make_app: MakeApp, tmp_path: Path) -> None:
    run, data = run_with_outside_data(tmp_path)
    fake = runner()
    app = make_app(load_preset("model0"), runner=fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        form = app.screen
        assert isinstance(form, TrainFormScreen)
        form.query_one("#t-resume", Select).value = str(run)
        await pilot.pause()
        assert form.query_one("#t-data", Input).value == str(data)
        await pilot.press("enter")
        await pilot.pause()
        (_, _, options), = fake.started
        assert options["resume"] == str(run) and options["data"] == str(data)


async def test_export_shows_and_passes_the_runs_data(make_app: MakeApp, tmp_path: Path) -> None:
    run, data = run_with_outside_data(tmp_path)
    (run / "status.json").write_text(json.dumps({"status": "completed"}))
    fake = runner()
    app = make_app(load_preset("model0"), runner=fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e")
        form = app.screen
        assert isinstance(form, ExportFormScreen)
        assert form.query_one("#x-data", Input).value == str(data)
        form.query_one("#x-out", Input).value = str(tmp_path / "bundle")
        box = form.query_one("#x-stedgeai", Checkbox)
        box.focus()
        await pilot.pause()
        assert str(box.label).endswith(": on")
        await pilot.press("space", "enter")
        await pilot.pause()
        (_, _, options), = fake.started
        assert (options["source"], options["data"], options["stedgeai"]) == (str(run), str(data), False)
