"""The user's preferences kept between sessions, in ``<state dir>/preferences.json``: for now the latency
budget set with ``L`` (a board's own ``latency_budget_ms`` applies when there is none). Read once when the
app starts (one small JSON file, before the first frame, so the panel shows the latency row at once);
a missing, damaged or unwritable file means no preference and never stops the app. Nothing here imports
textual.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from tui.files.sources import in_presets

PREFERENCES_FILE = "preferences.json"


def _read(directory: Path) -> dict[str, Any]:
    try:
        data = json.loads((directory / PREFERENCES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def latency_budget_ms(directory: Path) -> float | None:
    """The remembered latency budget in ms, or None (none set, or not a positive finite number)."""
    value = _read(directory).get("latency_budget_ms")
    if isinstance(value, bool) or not isinstance(value, int | float) or not (math.isfinite(value) and value > 0):
        return None
    return float(value)


def remember_latency_budget(directory: Path, ms: float | None) -> None:
    """Keep ``ms`` (None: forget it) for the next session."""
    if in_presets(directory):
        return  # a state dir pointed into the presets folder: remember nothing rather than write there
    data = {**_read(directory), "latency_budget_ms": ms}
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / (PREFERENCES_FILE + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, directory / PREFERENCES_FILE)
    except OSError:
        pass
