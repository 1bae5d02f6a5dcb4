"""What can be opened, for the open dialog and the command palette: every preset (as an unsaved copy), the
recently opened or saved design files, the design files in the current folder and the Keras models there
(``.keras``/``.h5``, imported as an unsaved design). Nothing here imports textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from designer.keras_import import SUFFIXES as MODEL_SUFFIXES
from presets import load_preset, preset_ids
from tui.files.recent import recent_files
from tui.files.sources import LOAD_ERRORS


@dataclass(frozen=True)
class Choice:
    """One thing to open: ``spec`` is what DesignerApp.open_path takes (a preset id or a path)."""

    kind: str
    """"preset", "recent", "design" or "model"."""
    name: str
    """What the list shows: the preset's name, or the file's path as given."""
    spec: str
    help: str = ""


@cache
def preset_choices() -> tuple[Choice, ...]:
    """Every installed preset (read once: the presets folder is read-only)."""
    choices = []
    for pid in preset_ids():
        try:
            design = load_preset(pid)
        except LOAD_ERRORS:
            continue
        note = f" — {design.notes}" if design.notes else ""
        choices.append(Choice("preset", design.name, pid, f"{pid}: opens a copy{note}"))
    return tuple(choices)


def _shown(path: Path) -> str:
    """A path relative to the current folder when it is inside it, else as it is."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def open_choices(designs_dir: Path, state_dir: Path) -> list[Choice]:
    """Recent files first, then the designs in ``designs_dir`` not among them, then every preset."""
    recent = recent_files(state_dir)
    choices = [Choice("recent", _shown(Path(p)), p, "opened or saved lately") for p in recent]
    seen = {Path(p) for p in recent}
    try:
        local = sorted(designs_dir.glob("*.toml")) if designs_dir.is_dir() else []
    except OSError:
        local = []
    choices += [Choice("design", _shown(p), str(p), f"a design file in {_shown(designs_dir) or '.'}")
                for p in local if p.resolve() not in seen]
    try:
        models = sorted(p for p in designs_dir.iterdir() if p.suffix in MODEL_SUFFIXES) if designs_dir.is_dir() \
            else []
    except OSError:
        models = []
    choices += [Choice("model", _shown(p), str(p), "a Keras model: its layers, imported as an unsaved design")
                for p in models]
    return choices + list(preset_choices())
