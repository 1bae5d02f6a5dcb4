"""Where a design comes from (a preset id or a design file path), and the installed presets folder, which is
read-only: a path into it (symlinks followed) opens as an unsaved copy of that preset, and nothing the app
writes (a save, the recovery file, the notebook table, settings, an export) may land there."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from designer import designfile
from designer.design import Design, DesignError
from presets import PRESETS_DIR, load_preset, preset_ids

LOAD_ERRORS: tuple[type[Exception], ...] = (DesignError, ValueError, RecursionError, OverflowError)
"""What reading a design file may raise. The loader's contract is DesignError; the others are what the
decoder itself raised on hostile files (4,300-digit integers, 1,000-deep nesting, 2**1024 in a float), caught
too where the app reads files it did not pick (a saved design, the recovery file, a run), so that one bad file
is skipped or reported and never ends the session."""


def load_error_text(path: str | Path, error: Exception) -> str:
    """One line for a design file that cannot be read."""
    if isinstance(error, DesignError):
        return str(error)
    return " ".join(f"{path}: cannot read design file: {type(error).__name__}: {error}".split())


@cache
def presets_dir() -> Path:
    """The installed presets folder, resolved (symlinks followed)."""
    return PRESETS_DIR.resolve()


def in_presets(path: str | Path) -> bool:
    """Whether ``path`` (existing or not, through any symlinks, relative to the current directory) lies in the
    installed presets folder."""
    try:
        resolved = Path(path).expanduser().resolve()
    except (OSError, RuntimeError):  # a symlink loop: not a place anything can be written either
        return True
    return resolved == presets_dir() or resolved.is_relative_to(presets_dir())


def read_only_reason(path: str | Path) -> str | None:
    """Why the app must not write to ``path`` (None when it may): the installed presets are read-only."""
    if in_presets(path):
        return f"{path} is in the installed presets folder, which is read-only; choose another place"
    return None


def preset_of_path(path: str | Path) -> str | None:
    """The preset id a path into the presets folder names (``presets/model5.toml`` -> ``model5``), else None."""
    if not in_presets(path):
        return None
    stem = Path(path).expanduser().resolve().stem.lower()
    return stem if Path(path).suffix == ".toml" and stem in preset_ids() else None


def resolve_design(spec: str) -> tuple[Design, str]:
    """A design from a preset id or a file path, with a label saying where it came from.

    A known preset id wins over a file of the same name; a path into the installed presets folder is that
    preset (labelled ``preset ID``, so callers open it as an unsaved copy); anything else must be a readable
    design file.
    """
    if spec.lower() in preset_ids():
        return load_preset(spec), f"preset {spec.lower()}"
    path = Path(spec)
    preset = preset_of_path(path) if path.exists() else None
    if preset is not None:
        return load_preset(preset), f"preset {preset}"
    if path.exists() or path.suffix == ".toml" or len(path.parts) > 1:
        return designfile.load(path), str(path)
    raise DesignError(f"'{spec}' is neither a preset ({', '.join(preset_ids())}) nor an existing design file")
