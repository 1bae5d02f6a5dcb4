"""Where a design comes from on the command line: a preset id or a design file path."""

from __future__ import annotations

from pathlib import Path

from designer import designfile
from designer.design import Design, DesignError
from presets import load_preset, preset_ids


def resolve_design(spec: str) -> tuple[Design, str]:
    """A design from a preset id or a file path, with a label saying where it came from.

    A known preset id wins over a file of the same name; anything else must be a readable design file.
    """
    if spec.lower() in preset_ids():
        return load_preset(spec), f"preset {spec.lower()}"
    path = Path(spec)
    if path.exists() or path.suffix == ".toml" or len(path.parts) > 1:
        return designfile.load(path), str(path)
    raise DesignError(f"'{spec}' is neither a preset ({', '.join(preset_ids())}) nor an existing design file")
