"""The search form (S): the search command's options for a search seeded by the current design; Enter starts
it as a job (``cnn-designer search --json`` in a child process, see tui.jobs.search).

The budget is the app's: its board, runtime, dtype and compression, tightened by max flash / RAM / latency
if given. Imported when S is first pressed.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from designer.search.objective import OBJECTIVES
from tui.jobs.search import SearchSettings
from tui.screens.checked_form import CheckedFormScreen

if TYPE_CHECKING:
    from tui.host import Host

FIELDS: tuple[tuple[str, str, str], ...] = (
    ("data", "dataset", "cifar10, or an image folder / .tar.gz / .zip / .npz"),
    ("trials", "trials", ""),
    ("epochs", "epochs", "proxy training epochs per candidate"),
    ("limit", "limit", "at most N training images (empty: all)"),
    ("max_flash", "max flash", "below the board's: 256K, 1M (empty: the board's)"),
    ("max_ram", "max RAM", "below the board's: 96K (empty: the board's)"),
    ("max_latency_ms", "max latency ms", "estimated inference time (empty: no limit)"),
    ("study", "study name", "empty: a new study; a name joins or makes that one"),
    ("batch_size", "batch size", "proxy training's images per step (empty: 64, or the joined study's)"),
    ("seed", "seed", "for the sampler and the training (empty: random)"),
    ("storage", "storage", "an Optuna URL (empty: SQLite in the search folder)"),
)
"""(SearchSettings field, label, placeholder) for each input, top to bottom."""

_SIZES = ("max_flash", "max_ram")


class SearchFormScreen(CheckedFormScreen[SearchSettings]):
    """Dismisses with valid SearchSettings, or None when cancelled."""

    def __init__(self, settings: SearchSettings, title: Content) -> None:
        super().__init__()
        self.settings = settings
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="search-form", classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll(id="form-fields"):  # the error and the buttons stay in view below
                for key, label, placeholder in FIELDS:
                    value = getattr(self.settings, key)
                    with Horizontal(classes="form-row"):
                        yield Label(label, classes="form-label")
                        yield Input("" if value is None else str(value), id=f"s-{key}", placeholder=placeholder)
                with Horizontal(classes="form-row"):
                    yield Label("objective", classes="form-label")
                    yield Select([(o, o) for o in OBJECTIVES], value=self.settings.objective, allow_blank=False,
                                 id="s-objective")
                yield Checkbox("residual: let each conv group be a residual block", value=self.settings.residual,
                               id="s-residual")
            yield Static("", id="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Search", id="apply", variant="primary")
                yield Button("Cancel", id="cancel")
            yield Label("[dim]Enter to start · Escape to cancel · k in the jobs pane stops it[/dim]")

    def on_mount(self) -> None:
        self.query_one("#s-data", Input).focus()

    def value(self) -> SearchSettings:
        """The form as SearchSettings (ValueError naming the field for anything impossible)."""
        from tui.cli.search import parse_size

        labels = {key: label for key, label, _ in FIELDS}

        def text(key: str) -> str:
            return self.query_one(f"#s-{key}", Input).value.strip()

        def number(key: str, kind: type[int] | type[float]) -> int | float | None:
            raw = text(key)
            if not raw:
                return None
            if key in _SIZES:
                try:
                    return parse_size(raw)
                except argparse.ArgumentTypeError as exc:
                    raise ValueError(f"{labels[key]}: {exc}") from None
            try:
                return kind(raw)
            except ValueError:
                raise ValueError(f"{labels[key]}: expected {'an integer' if kind is int else 'a number'}, "
                                 f"received '{raw}'") from None

        def required(key: str) -> int:
            value = number(key, int)
            if value is None:
                raise ValueError(f"{labels[key]}: give a number")
            return int(value)

        limit, latency = number("limit", int), number("max_latency_ms", float)
        flash, ram = number("max_flash", int), number("max_ram", int)
        batch, seed = number("batch_size", int), number("seed", int)
        return SearchSettings(
            data=text("data"), trials=required("trials"), epochs=required("epochs"),
            limit=None if limit is None else int(limit), objective=str(self.query_one("#s-objective", Select).value),
            max_flash=None if flash is None else int(flash), max_ram=None if ram is None else int(ram),
            max_latency_ms=latency, residual=self.query_one("#s-residual", Checkbox).value, study=text("study"),
            batch_size=None if batch is None else int(batch), seed=None if seed is None else int(seed),
            storage=text("storage"))


def open_search_form(app: Host) -> None:
    """Ask for the search's settings, then start it as a job on the design as edited."""
    if app.runner.unavailable_reason("search") is not None:
        app.start_job("search")  # its card says why
        return
    from tui.jobs.settings import SettingsStore

    # The train form's dataset is the likeliest one to search on.
    settings = SearchSettings(data=SettingsStore(app.places.state_dir).train().data)
    title = Content.from_markup("Search designs like [b]$name[/b] that fit [b]$board[/b] ($estimate)",
                                name=app.design.name, board=app.board.name, estimate=app.settings.describe())

    def done(chosen: SearchSettings | None) -> None:
        if chosen is not None:
            app.start_job("search", chosen.options())
    app.push_screen(SearchFormScreen(settings, title), done)
