"""The train and export forms' values: validated dataclasses, remembered between sessions in the state dir.

``TrainSettings`` and ``ExportSettings`` turn into the ``options`` the app passes to ``JobRunner.start``.
The last values used are kept in ``<state dir>/job_settings.json`` (see tui.recovery.state_dir), so the next
T or E opens with them. :func:`trained_run_for` finds the run an export should start from. Nothing here
imports textual.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from designer.design import Design
from designer.designfile import load
from designer.export.csource import c_identifier
from designer.footprint import COMPRESSIONS
from designer.training.runs import DESIGN_FILE, RunSummary, list_runs
from tui.recovery import state_dir
from tui.sources import LOAD_ERRORS, in_presets

SETTINGS_FILE = "job_settings.json"
CIFAR10 = "cifar10"


@dataclass(frozen=True)
class TrainSettings:
    """What the train form asks for."""

    data: str = CIFAR10
    """``cifar10``, or a path: an image folder, a .tar.gz/.zip of one, or an .npz."""
    epochs: int = 10
    batch_size: int = 64
    """Images per step."""
    learning_rate: float = 1e-3
    augment: bool = False
    """Random flips and translations of up to 10 % of the image size."""

    def __post_init__(self) -> None:
        if not self.data.strip():
            raise ValueError("dataset: give cifar10 or a path (an image folder, an archive or an .npz)")
        if self.data != CIFAR10 and not Path(self.data).expanduser().exists():
            raise ValueError(f"dataset: no such file or folder: {self.data}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, received {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, received {self.batch_size}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning rate must be > 0, received {self.learning_rate}")

    def options(self) -> dict[str, object]:
        """The runner options for a train job."""
        return asdict(self)


@dataclass(frozen=True)
class ExportSettings:
    """What the export form asks for; the board is the app's unless the form changes it."""

    out_dir: str
    """The bundle folder."""
    board: str
    compression: str = "high"
    """X-CUBE-AI weight compression for the .h5 (none, low, medium, high)."""

    def __post_init__(self) -> None:
        if not self.out_dir.strip():
            raise ValueError("output folder: give a folder for the bundle")
        if in_presets(self.out_dir.strip()):
            raise ValueError(f"output folder: {self.out_dir.strip()} is in the installed presets folder, which "
                             "is read-only; choose another place")
        if self.compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {', '.join(COMPRESSIONS)}; received "
                             f"'{self.compression}'")

    def options(self) -> dict[str, object]:
        """The runner options for an export job."""
        return asdict(self)


def default_out_dir(design: Design, root: str = "exports") -> str:
    """``<root>/<design as a C name>``: where a design's bundle goes unless the form says otherwise."""
    return str(Path(root) / c_identifier(design.name))


class SettingsStore:
    """Reads and writes the last form values; a missing or damaged file gives the defaults."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else state_dir()

    @property
    def path(self) -> Path:
        """The JSON file."""
        return self.directory / SETTINGS_FILE

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, key: str, value: dict[str, Any]) -> None:
        if in_presets(self.directory):
            return  # a state dir pointed into the presets folder: remember nothing rather than write there
        data = self._read()
        data[key] = value
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass  # remembering is a convenience: a read-only state dir must not stop the job

    def train(self) -> TrainSettings:
        """The last train settings (defaults where unknown or no longer valid, e.g. a deleted dataset)."""
        saved = self._read().get("train")
        if isinstance(saved, dict):
            known = {f.name for f in fields(TrainSettings)}
            try:
                return TrainSettings(**{k: v for k, v in saved.items() if k in known})
            except (TypeError, ValueError):
                pass
        return TrainSettings()

    def save_train(self, settings: TrainSettings) -> None:
        """Remember ``settings`` for the next train form."""
        self._write("train", asdict(settings))

    def export_root_and_compression(self) -> tuple[str, str]:
        """The folder the last bundle went into (its parent) and the last compression."""
        saved = self._read().get("export")
        root, compression = "exports", "high"
        if isinstance(saved, dict):
            if isinstance(saved.get("root"), str) and saved["root"]:
                root = saved["root"]
            if saved.get("compression") in COMPRESSIONS:
                compression = saved["compression"]
        return root, compression

    def save_export(self, settings: ExportSettings) -> None:
        """Remember where the bundle went (its parent folder, for the next design) and the compression."""
        root = str(Path(settings.out_dir).parent)
        self._write("export", {"root": root, "compression": settings.compression})


def trained_run_for(design: Design, runs_dir: Path) -> RunSummary | None:
    """The best measured run whose design.toml is this very design (same layers, input and classes), or None."""
    best: RunSummary | None = None
    for run in list_runs(runs_dir, design.name):
        if run.accuracy is None or run.status != "completed":
            continue
        try:
            trained = load(run.run_dir / DESIGN_FILE)
        except LOAD_ERRORS:
            continue
        same = (trained.layers, trained.input_shape, trained.classes) == (design.layers, design.input_shape,
                                                                         design.classes)
        if same and (best is None or (run.accuracy or 0.0) > (best.accuracy or 0.0)):
            best = run
    return best
