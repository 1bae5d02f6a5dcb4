"""The train and export forms (issue 12): every CLI option, validated as typed, the data sets found in the
folder, Enter from any field, Space toggles, the checkbox's state in words, and a run's recorded data set
shown and passed explicitly (export and resume do not follow config.json outside the run unasked)."""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, Input, Select, Static

from designer.designfile import save
from designer.training.protocol import TrainConfig
from designer.training.recipe import RECIPE_TABLE, resolve_recipe
from presets import load_preset
from tests.tui.conftest import SIZE, write_run
from tui.app import DesignerApp
from tui.cli.export import add_export_command
from tui.cli.search import DEFAULTS as SEARCH_DEFAULTS
from tui.cli.search import add_search_command
from tui.cli.train import add_train_command
from tui.jobs.events import FakeRunner, Finished
from tui.jobs.search import SearchSettings
from tui.jobs.settings import CIFAR10, ExportSettings, TrainSettings
from tui.screens.export_form import ExportFormScreen
from tui.screens.train_form import TrainFormScreen

MakeApp = Callable[..., DesignerApp]
TRAIN_CONFIG_FIELDS = {f.name for f in fields(TrainConfig)}

CLI_TO_FORM = {"lr": "learning_rate"}
NOT_IN_THE_FORM = {"design", "source", "out", "json", "handler", "no_stedgeai"}
"""The design/source is the app's, the runs folder its own, --out of export is the form's output folder."""
SEARCH_BY_THE_APP = {"seed_design", "family", "input", "classes", "board", "runtime", "dtype", "compression"}
"""The search form searches around the app's design, on the app's board and estimate settings."""
CLI_DEFAULT_IN_THE_FORM = {("train", "data"): CIFAR10, ("train", "resume"): "", ("export", "data"): "",
                           ("search", "data"): CIFAR10, ("search", "study"): "", ("search", "storage"): "",
                           ("search", "batch_size"): None}
"""Where the CLI's None default is spelt otherwise in the form (the same meaning). A search's other None
defaults are search_cli.DEFAULTS; its batch size stays None (not given), so a joined study keeps its own."""


def cli_actions(add: Callable[[argparse._SubParsersAction], argparse.ArgumentParser]) -> dict[str, argparse.Action]:
    parser = argparse.ArgumentParser()
    sub = add(parser.add_subparsers())
    return {CLI_TO_FORM.get(a.dest, a.dest): a for a in sub._actions
            if a.dest != "help" and CLI_TO_FORM.get(a.dest, a.dest) not in NOT_IN_THE_FORM}


def cli_options(add: Callable[[argparse._SubParsersAction], argparse.ArgumentParser]) -> set[str]:
    return set(cli_actions(add))


def test_the_forms_have_every_cli_option() -> None:
    assert cli_options(add_train_command) <= {f.name for f in fields(TrainSettings)}
    export = {f.name for f in fields(ExportSettings)}
    assert cli_options(add_export_command) <= export and {"out_dir", "stedgeai"} <= export
    assert cli_options(add_search_command) - SEARCH_BY_THE_APP <= {f.name for f in fields(SearchSettings)}


def test_the_forms_start_from_the_clis_defaults() -> None:
    # A form that sent its own value where the CLI leaves the choice to the recipe (the learning rate, the
    # augmentation) trained differently from the same command: T must train what `cnn-designer train` does.
    for kind, add, settings in (("train", add_train_command, TrainSettings()),
                                ("export", add_export_command, ExportSettings("out", "board")),
                                ("search", add_search_command, SearchSettings())):
        for name, action in cli_actions(add).items():
            if kind == "search" and name in SEARCH_BY_THE_APP or (kind, name) == ("export", "board"):
                continue
            expected = CLI_DEFAULT_IN_THE_FORM.get((kind, name), action.default)
            if kind == "search" and expected is None and (kind, name) not in CLI_DEFAULT_IN_THE_FORM:
                expected = SEARCH_DEFAULTS.get(name)
            assert getattr(settings, name) == expected, (kind, name)
    assert TrainSettings().learning_rate is None and TrainSettings().augment is None


async def test_the_train_forms_selects_offer_the_clis_choices(make_app: MakeApp) -> None:
    async with job_form(make_app, runner()) as (_app, _pilot, form):
        choices = {name: a.choices for name, a in cli_actions(add_train_command).items() if a.choices}
        assert set(choices) == {"recipe", "strategy", "mixed_precision"} and "multi-worker" in choices["strategy"]
        for name, offered in choices.items():
            assert [value for _, value in form.query_one(f"#t-{name}", Select)._options] == list(offered)
        augment = [value for _, value in form.query_one("#t-augment", Select)._options]
        assert augment == ["recipe", "on", "off"]  # --augment / --no-augment / neither
        assert "TF_CONFIG" in str(form.query_one("#t-strategy-help", Static).render())


def runner() -> FakeRunner:
    return FakeRunner({"train": [Finished(True, "ok")], "export": [Finished(True, "ok")]})


FORM_KEYS: dict[str, type[TrainFormScreen | ExportFormScreen]] = {"t": TrainFormScreen, "e": ExportFormScreen}


@asynccontextmanager
async def job_form(make_app: MakeApp, fake: FakeRunner, key: str = "t", data: str | None = None) -> AsyncIterator[
        tuple[DesignerApp, Pilot[Any], TrainFormScreen | ExportFormScreen]]:
    """Model0's train (t) or export (e) form open; the train form's dataset ``data`` unless None (cifar10 is
    valid offline as a name: the fake runner starts nothing)."""
    app = make_app(load_preset("model0"), runner=fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(key)
        form = app.screen
        assert isinstance(form, FORM_KEYS[key])
        if data is not None:
            form.query_one("#t-data", Input).value = data
            await pilot.pause()
        yield app, pilot, form


async def test_the_dataset_field_offers_what_is_here(make_app: MakeApp, tmp_path: Path) -> None:
    here = tmp_path / "designs"
    (here / "cats" / "train" / "a").mkdir(parents=True)
    (here / "small.npz").write_bytes(b"")
    (here / "pets.tar.gz").write_bytes(b"")  # an archive kind the loader extracts
    (here / "notes.txt").write_text("not data")
    app = make_app(load_preset("model0"), runner=runner())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        form = app.screen
        assert isinstance(form, TrainFormScreen)
        assert form.datasets == [str(here / "cats"), str(here / "pets.tar.gz"), str(here / "small.npz")]
        assert form.query_one("#t-data", Input).value == str(here / "cats")  # not cifar10, which fails offline
        help_text = str(form.query_one("#t-data-help", Static).render())
        assert "small.npz" in help_text and "cifar10: downloaded by Keras on first use" in help_text


async def test_no_dataset_here_explains_itself(make_app: MakeApp) -> None:
    async with job_form(make_app, runner()) as (app, pilot, form):
        assert form.query_one("#t-data", Input).value == ""
        assert "dataset: give an image folder" in str(form.query_one("#form-error").render())
        await pilot.press("enter")  # refused
        assert isinstance(app.screen, TrainFormScreen)


async def test_enter_starts_from_a_select_and_blank_means_the_recipes(make_app: MakeApp) -> None:
    fake = runner()
    async with job_form(make_app, fake, data=CIFAR10) as (app, pilot, form):
        # Untouched, the form trains the default recipe, and says what that is.
        help_line = str(form.query_one("#t-recipe-help", Static).render())
        assert help_line == RECIPE_TABLE["default"].describe() and "AdamW lr 0.002" in help_line
        assert form.query_one("#t-learning_rate", Input).placeholder.startswith("recipe: 0.002")
        form.query_one("#t-seed", Input).value = "7"
        form.query_one("#t-limit", Input).value = "500"
        form.query_one("#t-early_stopping", Input).value = "3"
        form.query_one("#t-strategy", Select).focus()
        await pilot.pause()
        await pilot.press("enter")  # on a closed select: starts, does not open it
        await pilot.pause()
        assert not isinstance(app.screen, TrainFormScreen)
        (_, _, options), = fake.started
        assert (options["seed"], options["limit"], options["early_stopping"], options["data"],
                options["resume"]) == (7, 500, 3, "cifar10", None)
        assert {k: options[k] for k in ("recipe", "learning_rate", "augment", "translate", "weight_decay",
                                        "label_smoothing", "mixed_precision")} == {
            "recipe": "default", "learning_rate": None, "augment": None, "translate": None, "weight_decay": None,
            "label_smoothing": None, "mixed_precision": "auto"}
        # What the worker makes of these options is the recipe itself.
        config = TrainConfig(design="model0", **{k: v for k, v in options.items() if k in TRAIN_CONFIG_FIELDS})
        assert resolve_recipe(config) == RECIPE_TABLE["default"]


async def test_overrides_and_the_seed_recipe(make_app: MakeApp) -> None:
    fake = runner()
    async with job_form(make_app, fake, data=CIFAR10) as (_app, pilot, form):
        form.query_one("#t-recipe", Select).value = "seed"
        await pilot.pause()
        assert form.query_one("#t-learning_rate", Input).placeholder.startswith("recipe: 0.001")
        assert str(form.query_one("#t-recipe-help", Static).render()) == RECIPE_TABLE["seed"].describe()
        form.query_one("#t-augment", Select).value = "on"
        form.query_one("#t-translate", Input).value = "0"
        form.query_one("#t-label_smoothing", Input).value = "0.1"
        form.query_one("#t-mixed_precision", Select).value = "off"
        await pilot.pause()
        # The line says what the job will train with: the seed recipe, the overrides applied.
        assert str(form.query_one("#t-recipe-help", Static).render()) == (
            "seed: Adam lr 0.001, constant, flips, label smoothing 0.1")
        await pilot.press("enter")
        await pilot.pause()
        (_, _, options), = fake.started
        assert (options["recipe"], options["augment"], options["translate"], options["label_smoothing"],
                options["learning_rate"], options["mixed_precision"]) == ("seed", True, 0.0, 0.1, None, "off")


async def test_recipe_fields_are_validated_by_name(make_app: MakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    async with job_form(make_app, runner(), data=CIFAR10) as (app, pilot, form):
        for key, text, error in (("learning_rate", "0", "learning rate must be > 0"),
                                 ("learning_rate", "fast", "learning rate: expected a number or empty (the "
                                                           "recipe's), received 'fast'"),
                                 ("weight_decay", "-1", "weight decay must be >= 0"),
                                 ("label_smoothing", "1", "label smoothing must be in 0 .. 1"),
                                 ("translate", "0.5", "shift must be a share of the image size in 0 .. 0.5")):
            field = form.query_one(f"#t-{key}", Input)
            field.value = text
            await pilot.pause()
            assert error in str(form.query_one("#form-error").render())
            await pilot.press("enter")  # refused
            assert isinstance(app.screen, TrainFormScreen)
            field.value = ""
        await pilot.pause()
        assert str(form.query_one("#form-error").render()) == ""
        form.query_one("#t-strategy", Select).value = "multi-worker"
        await pilot.pause()
        assert "strategy: multi-worker needs TF_CONFIG" in str(form.query_one("#form-error").render())
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["localhost:1", "localhost:2"]},
                                                    "task": {"type": "worker", "index": 0}}))
        form.query_one("#t-epochs", Input).value = "3"
        await pilot.pause()
        assert str(form.query_one("#form-error").render()) == ""


async def test_more_fields_are_validated_by_name(make_app: MakeApp) -> None:
    async with job_form(make_app, runner(), data=CIFAR10) as (_app, pilot, form):
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
    async with job_form(make_app, fake) as (_app, pilot, form):
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
    async with job_form(make_app, fake, "e") as (_app, pilot, form):
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


async def test_the_buttons_stay_in_view_at_100x30(make_app: MakeApp) -> None:
    # The fields scroll; the error, the buttons and the hint under them must not be pushed off the dialog.
    fake = FakeRunner({kind: [Finished(True, "ok")] for kind in ("train", "export", "search")})
    for key in ("t", "e", "S"):
        app = make_app(load_preset("model5"), runner=fake)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await pilot.press(key)
            await pilot.pause()
            dialog = app.screen.query_one(".dialog")
            for button in app.screen.query(Button):
                assert button.region.height == 3 and dialog.region.contains_region(button.region), (key, button)
