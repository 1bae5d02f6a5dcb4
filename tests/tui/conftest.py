"""Fixtures for the app's tests: an isolated state dir, the shipped boards only, and an app factory."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from designer.boards import Board, load_catalogue
from designer.design import Design
from presets import load_preset
from tui.app import DesignerApp, create_app
from tui.files.places import Places

SIZE = (160, 48)
"""The terminal size every Pilot and snapshot test uses."""


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No test may read or write the user's recovery file or boards file.
    monkeypatch.setenv("CNN_DESIGNER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CNN_DESIGNER_BOARDS", "")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture
def boards() -> list[Board]:
    """The shipped catalogue."""
    return list(load_catalogue(include_user=False))


@pytest.fixture
def model5() -> Design:
    """The Model5 preset."""
    return load_preset("model5")


@pytest.fixture
def make_app(tmp_path: Path, boards: list[Board]) -> Callable[..., DesignerApp]:
    """create_app with tmp places and the shipped default board; keyword arguments override."""
    def make(design: Design | None = None, **kwargs: Any) -> DesignerApp:
        catalogue = load_catalogue(include_user=False)
        kwargs.setdefault("board", catalogue.default)
        kwargs.setdefault("boards", boards)
        kwargs.setdefault("places", Places(state_dir=tmp_path / "state", designs_dir=tmp_path / "designs",
                                           runs_dir=tmp_path / "runs"))
        return create_app(design, **kwargs)
    return make


def write_run(run_dir: Path, design_name: str, test_accuracy: float | None, val_accuracy: float = 0.5) -> None:
    """A run folder as the training worker leaves it (only the files the notebook reads)."""
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"config": {"design": "x"}, "design_name": design_name}))
    (run_dir / "history.json").write_text(json.dumps([{"epoch": 1, "val_accuracy": val_accuracy}]))
    if test_accuracy is not None:
        (run_dir / "status.json").write_text(json.dumps({"status": "completed"}))
        (run_dir / "metrics.json").write_text(json.dumps({"test_accuracy": test_accuracy, "test_loss": 0.9}))
