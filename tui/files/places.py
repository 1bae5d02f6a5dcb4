"""Where the app reads and writes besides the design file: the state dir, the saved designs, the training runs.

A plain dataclass of folders (tests point them at tmp dirs); ``None`` means the default, resolved where it is
used. Nothing here imports textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Places:
    """Where the app reads and writes besides the design file (tests point these at tmp dirs)."""

    state_dir: Path | None = None  # recovery file; None = tui.files.recovery.state_dir()
    designs_dir: Path | None = None  # saved designs listed in the notebook view; None = current directory
    runs_dir: Path | None = None  # training runs (runs/*/metrics.json); None = ./runs
