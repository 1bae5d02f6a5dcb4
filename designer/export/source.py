"""What an export starts from: a training run folder, or a design (preset id or .toml) exported untrained.

A run gives the trained model, the design, the class names and the data set (config.json's ``data``) with
its preprocessing: calibration images come from its training split, accuracy from its test split. A design
gives only the architecture: the model gets trained-like random weights and random calibration images in
the input range, and everything downstream says so loudly. Errors are ExportErrors naming the cause.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from designer.design import Design, DesignError
from designer.designfile import load as load_design_file

CIFAR10 = "cifar10"  # the one data set named, not a path

if TYPE_CHECKING:
    import numpy as np

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class ExportError(RuntimeError):
    """An export that cannot go on; the message is a sentence naming the cause (file, layer, folder)."""


@dataclass(frozen=True)
class RunSettings:
    """The few config.json / metrics.json values an export reads, each checked for its type and range."""

    data: str | None = None
    """The data set the run trained on: ``cifar10`` or a path inside the run folder (else None)."""
    data_outside: str | None = None
    """A data path config.json names outside the run folder: never followed, quoted in the error."""
    seed: int = 0
    validation_split: float = 0.1
    rescale: float = 1 / 255
    offset: float = 0.0
    class_names: tuple[str, ...] | None = None
    test_accuracy: float | None = None


@dataclass(frozen=True)
class ExportSource:
    """The resolved thing to export."""

    design: Design
    kind: str  # "run" or "design"
    path: str  # the run folder, the .toml, or the preset id as given
    model_path: Path | None = None  # best.keras (else last.keras) of a run
    settings: RunSettings = field(default_factory=RunSettings)  # what the run's config/metrics say

    @property
    def trained(self) -> bool:
        """Whether the weights come from training (a run) rather than initialisation."""
        return self.kind == "run"

    @property
    def metrics(self) -> dict[str, Any]:
        """The run's metrics the report shows (only the checked ones)."""
        acc = self.settings.test_accuracy
        return {} if acc is None else {"test_accuracy": acc}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ExportError(f"{path}: cannot read it as JSON ({reason})") from None
    if not isinstance(data, dict):
        raise ExportError(f"{path}: expected a JSON object")
    return data


def _inside(run: Path, candidate: Path) -> bool:
    """Whether ``candidate`` (symlinks followed) lies inside the run folder."""
    return candidate.resolve().is_relative_to(run.resolve())


class _Checked:
    """Reads keys of one untrusted JSON file; a wrong type or value is an ExportError naming file, key, value."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    def bad(self, key: str, value: object, expected: str) -> ExportError:
        shown = json.dumps(value)[:120] if _jsonable(value) else repr(value)[:120]
        return ExportError(f"{self.path}: key '{key}': expected {expected}, received {shown}")

    def get(self, key: str) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node

    def table(self, key: str) -> None:
        value = self.get(key)
        if value is not None and not isinstance(value, dict):
            raise self.bad(key, value, "a JSON object")

    def text(self, key: str) -> str | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value or not value.isprintable():
            raise self.bad(key, value, "a non-empty one-line string")
        return value

    def integer(self, key: str, default: int) -> int:
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
            raise self.bad(key, value, "an integer in [0, 2**63)")
        return value

    def number(self, key: str, default: float, *, low: float, high: float) -> float:
        value = self.get(key)
        if value is None:
            return default
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not (math.isfinite(value) and low <= value <= high):
            raise self.bad(key, value, f"a number in [{low:g}, {high:g}]")
        return float(value)

    def names(self, key: str) -> tuple[str, ...] | None:
        value = self.get(key)
        if value is None:
            return None
        if (not isinstance(value, list) or len(value) > 100_000
                or not all(isinstance(v, str) and len(v) <= 200 for v in value)):
            raise self.bad(key, value, "a list of class names (strings)")
        return tuple(value)


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


def run_settings(run: Path) -> RunSettings:
    """The known keys of a run's config.json (and metrics.json), checked: the files are untrusted input.

    Unknown keys are ignored. Paths are not followed outside the run: ``cache_dir`` is never read (export uses
    the default cache), and a data path outside the run folder is kept only to name it in the error.
    """
    cfg = _Checked(run / "config.json", _read_json(run / "config.json") if (run / "config.json").is_file() else {})
    settings = "config" if isinstance(cfg.get("config"), dict) else None
    cfg.table("config")
    cfg.table("preprocessing")
    if settings:  # the worker's layout: "data" is the record of the data set (flat layout: maybe its name)
        cfg.table("data")

    def key(name: str) -> str:
        return f"config.{name}" if settings else name

    spec_key = key("data")
    spec = cfg.text(spec_key) if not isinstance(cfg.get(spec_key), dict) else None
    if spec is None and cfg.get("data.source") is not None:
        spec_key, spec = "data.source", cfg.text("data.source")
    data = outside = None
    if spec == CIFAR10:
        data = spec
    elif spec is not None:
        where = Path(spec).expanduser()
        where = where if where.is_absolute() else run / where
        if _inside(run, where):
            data = str(where)
        else:
            outside = f"{spec_key} = '{spec}'"
    pre = "preprocessing.rescale" if cfg.get("preprocessing.rescale") is not None else "preprocessing.scale"
    names = cfg.names("data.class_names") or cfg.names("class_names")
    metrics = _Checked(run / "metrics.json",
                       _read_json(run / "metrics.json") if (run / "metrics.json").is_file() else {})
    if isinstance(metrics.get("test_accuracy"), float) and math.isnan(metrics.get("test_accuracy")):
        metrics.data = {**metrics.data, "test_accuracy": None}  # a diverged run: no accuracy, not bad input
    accuracy = metrics.number("test_accuracy", -1.0, low=0.0, high=1.0)
    return RunSettings(
        data=data, data_outside=outside, seed=cfg.integer(key("seed"), 0),
        validation_split=cfg.number(key("validation_split"), 0.1, low=1e-6, high=1 - 1e-6),
        rescale=cfg.number(pre, 1 / 255, low=1e-12, high=1e6),
        offset=cfg.number("preprocessing.offset", 0.0, low=-1e6, high=1e6),
        class_names=names or metrics.names("class_names"),
        test_accuracy=None if accuracy < 0 else accuracy)


def resolve_source(text: str) -> ExportSource:
    """A run folder (has design.toml and best.keras/last.keras), a .toml design file or a preset id."""
    path = Path(text)
    if path.is_dir():
        design_file = path / "design.toml"
        if not design_file.is_file() or not _inside(path, design_file):
            raise ExportError(f"{path}: not a training run folder (no design.toml in it)")
        model = next((path / n for n in ("best.keras", "last.keras") if (path / n).is_file()), None)
        if model is None:
            raise ExportError(f"{path}: the run has no best.keras or last.keras (did training save a "
                              "checkpoint?)")
        if not _inside(path, model):
            raise ExportError(f"{model}: a link to a file outside the run folder; export reads only the run's "
                              "own files")
        try:
            design = load_design_file(design_file)
        except DesignError as exc:
            raise ExportError(str(exc)) from None
        return ExportSource(design, "run", str(path), model, run_settings(path))
    if text.endswith(".toml"):
        if not path.is_file():
            raise ExportError(f"{path}: no such design file")
        try:
            return ExportSource(load_design_file(path), "design", str(path))
        except DesignError as exc:
            raise ExportError(str(exc)) from None
    from presets import load_preset

    try:
        return ExportSource(load_preset(text), "design", text)
    except DesignError as exc:
        raise ExportError(f"'{text}' is not a run folder, a .toml design file or a preset: {exc}") from None


@dataclass(frozen=True)
class ExportData:
    """Images ready for the model (preprocessed float32, NHWC) and where they came from."""

    calibration: np.ndarray  # float32 (N, H, W, C), N = calibration images
    test_x: np.ndarray | None  # float32 test images, or None (untrained export: no meaningful accuracy)
    test_y: np.ndarray | None  # int class indices
    class_names: tuple[str, ...]
    description: str  # where the calibration images came from, for the report
    preprocessing: str  # what the model expects, e.g. "x = pixel / 255"
    input_range: tuple[float, float]  # the range preprocessed inputs fall in


def class_names_for(source: ExportSource, found: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Class names from the run (config.json/metrics.json), the data set, or CIFAR-10's, or class_<i>."""
    n = source.design.classes
    for candidate in (source.settings.class_names, found):
        if candidate and len(candidate) == n:
            return tuple(candidate)
    if n == 10 and (source.settings.data or CIFAR10) == CIFAR10:
        return CIFAR10_CLASSES
    return tuple(f"class_{i}" for i in range(n))


def random_data(source: ExportSource, *, images: int, seed: int) -> ExportData:
    """Uniform random images in [0, 1): calibration for an untrained export (pixels / 255 as training does)."""
    import numpy as np  # numpy only; kept local like the rest of the heavy imports

    rng = np.random.default_rng(seed)
    calib = rng.random((images, *source.design.input_shape), dtype=np.float32)
    return ExportData(calib, None, None, class_names_for(source),
                      f"{images} uniform random images in [0, 1) (UNTRAINED design: no data set)",
                      "x = pixel / 255", (0.0, 1.0))


def _rescale(settings: RunSettings) -> tuple[float, float, str]:
    """(scale, offset, text) of the run's preprocessing: x = pixel * scale + offset."""
    scale, offset = settings.rescale, settings.offset
    text = "x = pixel / 255" if abs(scale - 1 / 255) < 1e-12 and offset == 0 else f"x = pixel * {scale:g}"
    if offset:
        text += f" + {offset:g}"
    return scale, offset, text


def data_to_use(source: ExportSource, data: str | None) -> str:
    """The data set to calibrate and evaluate a run with: ``data`` (the user's --data), else the run's own
    (``cifar10`` or a path inside the run folder); ExportError says to pass --data otherwise."""
    settings = source.settings
    if data:
        return data
    if settings.data:
        return settings.data
    if settings.data_outside:
        raise ExportError(f"run {source.path}: config.json's {settings.data_outside} lies outside the run "
                          "folder, and export follows no path a run's files name outside it; pass --data PATH "
                          "(the same data set) to use it")
    raise ExportError(f"run {source.path}: config.json names no data set ('data'), so int8 cannot be "
                      "calibrated; pass --data PATH")


def run_data(source: ExportSource, *, data: str | None, calibration_images: int, eval_images: int,
             seed: int) -> ExportData:
    """Calibration and test images of a run's data set, preprocessed as training did."""
    import numpy as np  # see random_data

    settings = source.settings
    where = data_to_use(source, data)
    # Imported here: the training data loader pulls in TensorFlow for decoding and resizing.
    from designer.training.datasets import DataError, load_data

    try:
        # No cache_dir: where an archive is extracted is never taken from the run's files (the default cache).
        loaded = load_data(str(where), tuple(source.design.input_shape), source.design.classes,
                           seed=settings.seed, validation_split=settings.validation_split)
    except (DataError, OSError) as exc:
        raise ExportError(f"run {source.path}: no usable data set to calibrate int8 with ('{where}'): {exc}; "
                          "pass --data PATH to point at the run's data") from None
    x_train, x_test, y_test, names = loaded.x_train, loaded.x_test, loaded.y_test, loaded.class_names
    if len(x_train) == 0:
        raise ExportError(f"run {source.path}: the data set '{where}' has no training images to calibrate "
                          "int8 with")
    scale, offset, text = _rescale(settings)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(x_train), size=min(calibration_images, len(x_train)), replace=False)
    calib = (x_train[np.sort(pick)].astype(np.float32) * scale + offset).astype(np.float32)
    test_x = test_y = None
    if x_test is not None and len(x_test):
        # A seeded sample, not the first n: image folders load class by class, so the first 1,000 CIFAR-10
        # test images are all airplanes.
        rows = np.arange(len(x_test))
        if eval_images < len(x_test):
            rows = np.sort(rng.choice(len(x_test), size=eval_images, replace=False))
        test_x = (x_test[rows].astype(np.float32) * scale + offset).astype(np.float32)
        test_y = np.asarray(y_test).reshape(-1)[rows].astype(np.int64)
    lo, hi = offset, 255 * scale + offset
    return ExportData(calib, test_x, test_y, class_names_for(source, names),
                      f"{len(calib)} training images of {where} ({text})", text, (min(lo, hi), max(lo, hi)))
