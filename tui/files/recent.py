"""The design files opened or saved lately, newest first, kept in ``<state dir>/recent.json`` for the open
dialog and the command palette. Remembering is a convenience: a missing, damaged or unwritable file gives an
empty list and never stops an open or a save. Nothing here imports textual.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tui.files.sources import in_presets

RECENT_FILE = "recent.json"
MAX_RECENT = 10


def _path(directory: Path) -> Path:
    return directory / RECENT_FILE


def recent_files(directory: Path) -> list[str]:
    """The remembered design files that still exist, newest first (absolute paths)."""
    try:
        data = json.loads(_path(directory).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, list):
        return []
    return [p for p in data if isinstance(p, str) and Path(p).is_file()][:MAX_RECENT]


def remember(directory: Path, path: str) -> None:
    """Put ``path`` first in the list (at most MAX_RECENT are kept)."""
    if in_presets(directory):
        return  # a state dir pointed into the presets folder: remember nothing rather than write there
    absolute = str(Path(path).expanduser().resolve())
    files = [absolute, *(p for p in recent_files(directory) if p != absolute)][:MAX_RECENT]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = _path(directory).with_suffix(".json.tmp")
        tmp.write_text(json.dumps(files, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, _path(directory))
    except OSError:
        pass
