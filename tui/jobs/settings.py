"""The train and export forms' values: validated dataclasses, remembered between sessions in the state dir.

``TrainSettings`` and ``ExportSettings`` turn into the ``options`` the app passes to ``JobRunner.start``.
The last values used are kept in ``<state dir>/job_settings.json`` (see tui.files.recovery.state_dir), so the next
T or E opens with them. :func:`trained_run_for` finds the run an export should start from. Nothing here
imports textual.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from designer.design import Design
from designer.export.csource import c_identifier
from designer.footprint import COMPRESSIONS
from designer.training.protocol import (
    CIFAR10,
    MIXED_PRECISION,
    RECIPES,
    SEED_LIMIT,
    STRATEGIES,
    check_field_types,
)
from designer.training.runs import RunSummary, list_runs
from tui.files.recovery import state_dir
from tui.files.sources import in_presets

SETTINGS_FILE = "job_settings.json"


def check_dataset(data: str) -> None:
    """ValueError unless ``data`` is ``cifar10`` or an existing path (the train and search forms' dataset)."""
    if not data.strip():
        raise ValueError(f"dataset: {DATASET_HELP}")
    if data != CIFAR10 and not Path(data).expanduser().exists():
        raise ValueError(f"dataset: no such file or folder: {data}")


@dataclass(frozen=True)
class TrainSettings:
    """What the train form asks for: every option of ``cnn-designer train`` but the output folder (the app's
    runs folder) and ``--json``. Errors name the form's field, as the form shows them. The recipe's settings
    (learning rate ... label smoothing) are None unless the user overrides them, as the CLI's flags are: a
    T press trains with the recipe, and a better recipe later reaches the user without their touching it."""

    data: str = CIFAR10
    """``cifar10``, or a path: an image folder, a .tar.gz/.zip of one, or an .npz."""
    epochs: int = 10
    batch_size: int = 64
    """Images per step."""
    recipe: str = "default"
    """One of :data:`RECIPES`: ``default`` (augmentation, AdamW, cosine) or ``seed`` (the notebook's plain Adam)."""
    learning_rate: float | None = None
    """Peak learning rate; None: the recipe's."""
    augment: bool | None = None
    """Random flips and whole-pixel shifts; None: the recipe's."""
    translate: float | None = None
    """The largest shift as a fraction of the image size (0: flips only); None: the recipe's."""
    weight_decay: float | None = None
    """AdamW weight decay (0: plain Adam); None: the recipe's."""
    label_smoothing: float | None = None
    """None: the recipe's."""
    mixed_precision: str = "auto"
    """One of :data:`MIXED_PRECISION`: ``auto`` (on a GPU), ``on`` or ``off``."""
    validation_split: float = 0.1
    """Share of the training images held out for validation."""
    seed: int | None = None
    """None: a random seed, recorded in the run's config.json."""
    early_stopping: int = 0
    """Stop after this many epochs without a better val_accuracy; 0: off."""
    reduce_lr: int = 0
    """Halve the learning rate after this many epochs without a better val_loss; 0: off."""
    limit: int | None = None
    """Use at most this many training images; None: all."""
    strategy: str = "default"
    """One of :data:`STRATEGIES` (multi-worker needs TF_CONFIG in the app's environment)."""
    cpu_devices: int = 1
    """Split the CPU into this many logical devices (to try ``mirrored`` without GPUs)."""
    resume: str = ""
    """A run folder to continue from its last.keras (""; a new run). Not remembered between sessions."""

    def __post_init__(self) -> None:
        check_field_types(self)  # a damaged settings file can hold any JSON value
        check_dataset(self.data)
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, received {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, received {self.batch_size}")
        for label, value, choices in (("recipe", self.recipe, RECIPES), ("strategy", self.strategy, STRATEGIES),
                                      ("mixed precision", self.mixed_precision, MIXED_PRECISION)):
            if value not in choices:
                raise ValueError(f"{label} must be one of {', '.join(choices)}; received '{value}'")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ValueError(f"learning rate must be > 0, received {self.learning_rate}")
        if self.weight_decay is not None and not self.weight_decay >= 0:
            raise ValueError(f"weight decay must be >= 0 (0: plain Adam), received {self.weight_decay}")
        if self.label_smoothing is not None and not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label smoothing must be in 0 .. 1 (below 1), received {self.label_smoothing}")
        if self.translate is not None and not 0 <= self.translate < 0.5:
            raise ValueError(f"shift must be a share of the image size in 0 .. 0.5 (below 0.5; 0: flips only), "
                             f"received {self.translate}")
        if not 0.0 < self.validation_split < 1.0:
            raise ValueError(f"validation split must be between 0 and 1 (a share), received {self.validation_split}")
        if self.seed is not None and not 0 <= self.seed < SEED_LIMIT:
            raise ValueError(f"seed must be in 0..{SEED_LIMIT - 1} (empty: random), received {self.seed}")
        for label, value in (("early stopping", self.early_stopping), ("reduce LR", self.reduce_lr)):
            if value < 0:
                raise ValueError(f"{label} must be >= 0 epochs (0 turns it off), received {value}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"image limit must be >= 1 (empty: all images), received {self.limit}")
        if self.cpu_devices < 1:
            raise ValueError(f"CPU devices must be >= 1, received {self.cpu_devices}")
        if self.resume and not (Path(self.resume) / "last.keras").is_file():
            raise ValueError(f"resume: {self.resume} is not a run folder with a last.keras to continue from")

    def options(self) -> dict[str, object]:
        """The runner options for a train job (the data always explicit: a resumed run's config.json is not
        followed outside the run folder, so the form shows the recorded data set and passes it)."""
        return {**asdict(self), "resume": self.resume or None}


OLD_HARD_CODED = {"learning_rate": 1e-3, "augment": False}
"""What the train form sent for these before it followed the recipe: in a settings file from then they are
the old defaults, not the user's choice, and load as None (the recipe's)."""

SETTINGS_VERSION = 2
"""job_settings.json's ``version``: 2 since the recipe's settings may be None (absent: written before)."""

DATASET_HELP = ("give an image folder (train/<class>/*, test/<class>/*), a .tar.gz/.zip of one, an .npz "
                "(x_train, y_train, x_test, y_test), or cifar10")


def cifar10_cached() -> bool:
    """Whether Keras has CIFAR-10 in its cache ($KERAS_HOME/datasets or ~/.keras/datasets), so it works offline."""
    datasets = Path(os.environ.get("KERAS_HOME") or "~/.keras").expanduser() / "datasets"
    return (datasets / "cifar-10-batches-py").is_dir()


def cifar10_note() -> str:
    """What the form says about cifar10: Keras downloads it (163 MB) on first use, which fails offline."""
    if cifar10_cached():
        return "cifar10: cached by Keras, works offline"
    return "cifar10: downloaded by Keras on first use (163 MB, needs the network; offline it fails)"


def find_datasets(folder: Path, limit: int = 200) -> list[str]:
    """Data sets in ``folder`` (not below it): .npz files, .tar.gz/.tgz/.tar/.zip archives and image folders
    (a ``train`` folder inside), as paths relative to ``folder`` when it is the current folder; at most
    ``limit`` entries are looked at, so a huge folder costs nothing."""
    from designer.training.archives import is_archive  # the suffixes the loader extracts; tarfile/zipfile load here

    found: list[str] = []
    try:
        entries = sorted(itertools.islice(folder.iterdir(), limit))
    except OSError:
        return []
    for entry in entries:
        name = entry.name.lower()
        try:
            if entry.is_file() and (name.endswith(".npz") or is_archive(name)):
                found.append(entry)
            elif entry.is_dir() and (entry / "train").is_dir():
                found.append(entry)
        except OSError:
            continue
    here = Path.cwd()
    return [str(p.relative_to(here)) if p.is_relative_to(here) else str(p) for p in found]


def run_data(run_dir: Path) -> str:
    """The data set a run recorded (config.json's ``data``, an absolute path or cifar10), or ""."""
    from designer.training.runs import RunError, saved_config

    try:
        data = saved_config(run_dir).get("data")
    except RunError:
        return ""
    return data if isinstance(data, str) else ""


def resumable_runs(design: Design, runs_dir: Path) -> list[Path]:
    """This design's run folders that can be resumed (they hold a last.keras), newest last."""
    return [run.run_dir for run in list_runs(runs_dir, design.name) if (run.run_dir / "last.keras").is_file()]


@dataclass(frozen=True)
class ExportSettings:
    """What the export form asks for: every option of ``cnn-designer export`` but the source (the form says
    which run or design) and ``--json``; the board is the app's unless the form changes it."""

    out_dir: str
    """The bundle folder."""
    board: str
    compression: str = "high"
    """X-CUBE-AI weight compression for the .h5 (none, low, medium, high)."""
    data: str = ""
    """The calibration and evaluation data (""; none: an untrained design calibrates on random images)."""
    calibration_images: int = 300
    eval_images: int = 10_000
    micro_eval_images: int = 1_000
    """Of the test images, this many also run through tflite-micro (the board's kernels): the reported accuracy."""
    stedgeai: bool = True
    """Run ``stedgeai analyze`` when it is on PATH."""

    def __post_init__(self) -> None:
        if not self.out_dir.strip():
            raise ValueError("output folder: give a folder for the bundle")
        if in_presets(self.out_dir.strip()):
            raise ValueError(f"output folder: {self.out_dir.strip()} is in the installed presets folder, which "
                             "is read-only; choose another place")
        if self.compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {', '.join(COMPRESSIONS)}; received "
                             f"'{self.compression}'")
        if self.data and self.data != CIFAR10 and not Path(self.data).expanduser().exists():
            raise ValueError(f"dataset: no such file or folder: {self.data}")
        for label, value in (("calibration images", self.calibration_images), ("test images", self.eval_images),
                             ("tflite-micro images", self.micro_eval_images)):
            if value < 1:
                raise ValueError(f"{label} must be >= 1, received {value}")

    def options(self) -> dict[str, object]:
        """The runner options for an export job."""
        return {**asdict(self), "data": self.data or None}


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
        return self.remembered_train() or TrainSettings()

    def remembered_train(self) -> TrainSettings | None:
        """The last train settings, or None when there are none or they are no longer valid."""
        saved = self._read().get("train")
        if isinstance(saved, dict):
            known = {f.name for f in fields(TrainSettings)}
            values = {k: v for k, v in saved.items() if k in known}
            if saved.get("version") != SETTINGS_VERSION:  # written when the form sent its own lr and augment
                values.update({k: None for k, old in OLD_HARD_CODED.items()
                               if k in values and type(values[k]) is type(old) and values[k] == old})
            try:
                return TrainSettings(**values)
            except (TypeError, ValueError):
                pass
        return None

    def save_train(self, settings: TrainSettings) -> None:
        """Remember ``settings`` for the next train form (not a run to resume: that is this run's choice)."""
        self._write("train", {**asdict(settings), "resume": "", "version": SETTINGS_VERSION})

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
    from tui.jobs.run_index import completed_runs, design_key

    same = [run for run, trained in completed_runs(runs_dir, design.name) if design_key(trained) == design_key(design)]
    return max(same, key=lambda run: run.accuracy or 0.0, default=None)
