"""The crash-recovery file: every edit writes the design atomically; a clean exit removes it.

The file lives in ``$CNN_DESIGNER_STATE_DIR`` (for tests), else ``$XDG_STATE_HOME/cnn-designer``, else
``~/.local/state/cnn-designer``. ``recovery.toml`` is an ordinary design file (written with the atomic
designfile.save); ``recovery.json`` beside it remembers which file the design was opened from. If the app is
killed, the next start finds the pair and offers to restore it. An unexpected error in the app leaves a
crash log (the traceback) beside them, see :func:`write_crash_log`. Nothing is ever written into the
installed presets folder (a state dir pointed there is refused). Nothing here imports textual.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from designer.design import Design
from designer.designfile import load, save
from tui.files.sources import LOAD_ERRORS, in_presets, read_only_reason

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

        reason = read_only_reason(self.directory)
        if reason is not None:
            raise OSError(reason)
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
        except LOAD_ERRORS:
            return None
        import json

        path: str | None = None
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
            path = meta.get("path") if isinstance(meta, dict) else None
        except (OSError, ValueError):
            pass
        # A path into the presets folder (left by an older version) would make the next save rewrite a preset.
        if not isinstance(path, str) or in_presets(path):
            path = None
        return Recovered(design, path)

    def clear(self) -> None:
        """Forget the recovery file (after a clean exit, or when the user declines to restore)."""
        with self._lock:
            self.design_path.unlink(missing_ok=True)
            self.meta_path.unlink(missing_ok=True)


CRASH_LOG_PREFIX = "crash-"


def write_crash_log(error: BaseException, directory: Path | None = None) -> Path | None:
    """Write ``error``'s traceback to a new ``crash-<time>-<pid>.log`` in the state dir (else the temp dir);
    returns its path, or None when neither can be written (the caller still reports the error)."""
    import tempfile
    import time
    import traceback

    text = "".join(traceback.format_exception(error))
    name = f"{CRASH_LOG_PREFIX}{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    for folder in (directory if directory is not None else state_dir(), Path(tempfile.gettempdir())):
        if in_presets(folder):
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            with path.open("x", encoding="utf-8") as file:  # "x": never over a file that is already there
                file.write(text)
        except OSError:
            continue
        return path
    return None
