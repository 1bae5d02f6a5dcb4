"""The crash-recovery file: every edit writes the design atomically; a clean exit removes it.

The file lives in ``$CNN_DESIGNER_STATE_DIR`` (for tests), else ``$XDG_STATE_HOME/cnn-designer``, else
``~/.local/state/cnn-designer``. ``recovery.toml`` is an ordinary design file (written with the atomic
designfile.save); ``recovery.json`` beside it remembers which file the design was opened from. If the app is
killed, the next start finds the pair and offers to restore it. Nothing here imports textual.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from designer.design import Design, DesignError
from designer.designfile import load, save

STATE_DIR_ENV = "CNN_DESIGNER_STATE_DIR"


def state_dir() -> Path:
    """Where cnn-designer keeps its state (the recovery file)."""
    override = os.environ.get(STATE_DIR_ENV)
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "cnn-designer"


@dataclass(frozen=True)
class Recovered:
    """A design found in the recovery file and the path it had been opened from (None if never saved)."""

    design: Design
    path: str | None


class RecoveryFile:
    """Writes and reads the recovery pair; safe to call from a worker thread (one write at a time)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else state_dir()
        self._lock = threading.Lock()

    @property
    def design_path(self) -> Path:
        """The recovered design (TOML)."""
        return self.directory / "recovery.toml"

    @property
    def meta_path(self) -> Path:
        """Which file the design belongs to (JSON)."""
        return self.directory / "recovery.json"

    def write(self, design: Design, path: str | None) -> None:
        """Record the design being edited; each file is replaced atomically."""
        import json  # here, not at the top: the app's start-up only looks for the file (~1.5 ms of import)

        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.meta_path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps({"path": path}), encoding="utf-8")
            os.replace(tmp, self.meta_path)
            save(design, self.design_path)

    def read(self) -> Recovered | None:
        """The recovered design, or None when there is none or it cannot be read."""
        if not self.design_path.exists():
            return None
        try:
            design = load(self.design_path)
        except DesignError:
            return None
        import json

        path: str | None = None
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
            path = meta.get("path") if isinstance(meta, dict) else None
        except (OSError, ValueError):
            pass
        return Recovered(design, path if isinstance(path, str) else None)

    def clear(self) -> None:
        """Forget the recovery file (after a clean exit, or when the user declines to restore)."""
        with self._lock:
            self.design_path.unlink(missing_ok=True)
            self.meta_path.unlink(missing_ok=True)
