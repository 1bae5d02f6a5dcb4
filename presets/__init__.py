"""The seed notebook's Model0–Model13 as design files, shipped inside the installed package."""

from __future__ import annotations

from pathlib import Path

from designer.design import Design, DesignError
from designer.designfile import loads

PRESETS_DIR = Path(__file__).parent
"""Where the preset files are installed: package data beside this module, as plain files (importlib.resources
would also read them from a zip archive, which no install makes, at ~2.5 ms of every app start for its import)."""


def preset_ids() -> list[str]:
    """Preset ids in notebook order: model0 … model13."""
    names = [p.name[:-5] for p in PRESETS_DIR.iterdir() if p.name.endswith(".toml")]
    return sorted(names, key=lambda n: (len(n), n))


def load_preset(preset_id: str) -> Design:
    """Load one preset by id (case-insensitive); DesignError names the known ids when it does not exist."""
    key = preset_id.lower()
    if key not in preset_ids():
        raise DesignError(f"unknown preset '{preset_id}'; known presets: {', '.join(preset_ids())}")
    text = (PRESETS_DIR / f"{key}.toml").read_text(encoding="utf-8")
    return loads(text, source=f"preset {key}", default_name=key)
