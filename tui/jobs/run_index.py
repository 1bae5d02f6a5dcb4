"""Which training run belongs to which design: the budget panel shows the accuracy of the design's latest
completed run, found by the design itself (its layers, input shape and classes), not by its name.

The app builds the index in a worker thread after its first frame (and again when a training job ends); the
training-run reader is imported there, not at start-up. Nothing here imports textual.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from designer.design import Design
from designer.designfile import load
from tui.budget import RunAccuracy
from tui.files.sources import LOAD_ERRORS

if TYPE_CHECKING:
    from designer.training.runs import RunSummary

DesignKey = tuple[object, ...]
_STAMP = re.compile(r"(\d{8}-\d{6})(?:-(\d+))?$")
"""The end of a run folder's name: its start time, and a counter for runs started in the same second."""


def _started(name: str) -> tuple[str, int]:
    match = _STAMP.search(name)
    return (match.group(1), int(match.group(2) or 1)) if match else ("", 0)


def design_key(design: Design) -> DesignKey:
    """What makes two designs the same network (the name, notes and notebook figures do not)."""
    return (design.layers, tuple(design.input_shape), design.classes)


def completed_runs(runs_dir: Path, design_name: str | None = None) -> Iterator[tuple[RunSummary, Design]]:
    """The completed, measured runs under ``runs_dir`` (of ``design_name``'s runs only, if given), each with
    the design it trained; a run whose design.toml does not read is skipped."""
    from designer.training.runs import DESIGN_FILE, list_runs  # reads run folders: not needed at start-up

    for run in list_runs(runs_dir, design_name):
        if run.accuracy is None or run.status != "completed":
            continue
        try:
            trained = load(run.run_dir / DESIGN_FILE)
        except LOAD_ERRORS:
            continue
        yield run, trained


def latest_runs(runs_dir: Path) -> dict[DesignKey, RunAccuracy]:
    """Design key -> the accuracy of its latest completed, measured run under ``runs_dir``."""
    if not runs_dir.is_dir():
        return {}
    index: dict[DesignKey, RunAccuracy] = {}
    # A run folder's name ends in its start time: in that order, a later run replaces an earlier one.
    for run, trained in sorted(completed_runs(runs_dir), key=lambda pair: _started(pair[0].run_dir.name)):
        index[design_key(trained)] = RunAccuracy(run.accuracy or 0.0, run.run_dir.name)
    return index
