"""What an export starts from: a training run folder, or a design (preset id or .toml) exported untrained.

A run gives the trained model, the design, the class names and the data set (config.json's ``data``) with
its preprocessing: calibration images come from its training split, accuracy from its test split. A design
gives only the architecture: the model gets trained-like random weights and random calibration images in
the input range, and everything downstream says so loudly. Errors are ExportErrors naming the cause.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from designer.design import Design, DesignError
from designer.designfile import load as load_design_file

if TYPE_CHECKING:
    import numpy as np

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class ExportError(RuntimeError):
    """An export that cannot go on; the message is a sentence naming the cause (file, layer, folder)."""


@dataclass(frozen=True)
class ExportSource:
    """The resolved thing to export."""

    design: Design
    kind: str  # "run" or "design"
    path: str  # the run folder, the .toml, or the preset id as given
    model_path: Path | None = None  # best.keras (else last.keras) of a run
    config: dict[str, Any] = field(default_factory=dict)  # the run's config.json
    metrics: dict[str, Any] = field(default_factory=dict)  # the run's metrics.json (may be empty)

    @property
    def trained(self) -> bool:
        """Whether the weights come from training (a run) rather than initialisation."""
        return self.kind == "run"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ExportError(f"{path}: cannot read it as JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ExportError(f"{path}: expected a JSON object")
    return data


def resolve_source(text: str) -> ExportSource:
    """A run folder (has design.toml and best.keras/last.keras), a .toml design file or a preset id."""
    path = Path(text)
    if path.is_dir():
        design_file = path / "design.toml"
        if not design_file.is_file():
            raise ExportError(f"{path}: not a training run folder (no design.toml in it)")
        model = next((path / n for n in ("best.keras", "last.keras") if (path / n).is_file()), None)
        if model is None:
            raise ExportError(f"{path}: the run has no best.keras or last.keras (did training save a "
                              "checkpoint?)")
        try:
            design = load_design_file(design_file)
        except DesignError as exc:
            raise ExportError(str(exc)) from None
        config = _read_json(path / "config.json") if (path / "config.json").is_file() else {}
        metrics = _read_json(path / "metrics.json") if (path / "metrics.json").is_file() else {}
        return ExportSource(design, "run", str(path), model, config, metrics)
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


def train_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The training job's settings in config.json: under "config" (the worker's layout) or at the top."""
    inner = config.get("config")
    return inner if isinstance(inner, dict) else config


def data_spec(config: dict[str, Any]) -> str | None:
    """The data set a run trained on: its settings' ``data`` (cifar10, a folder, an archive, an .npz)."""
    spec = train_settings(config).get("data")
    if isinstance(spec, str) and spec:
        return spec
    record = config.get("data")
    if isinstance(record, dict) and isinstance(record.get("source"), str):
        return str(record["source"])
    return None


def class_names_for(source: ExportSource, found: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Class names from the run (config.json/metrics.json), the data set, or CIFAR-10's, or class_<i>."""
    n = source.design.classes
    record = source.config.get("data")
    recorded = record.get("class_names") if isinstance(record, dict) else None
    for candidate in (recorded, source.config.get("class_names"), source.metrics.get("class_names"), list(found)):
        if isinstance(candidate, list) and len(candidate) == n and all(isinstance(c, str) for c in candidate):
            return tuple(candidate)
    if n == 10 and (data_spec(source.config) or "cifar10") == "cifar10":
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


def _rescale(config: dict[str, Any]) -> tuple[float, float, str]:
    """(scale, offset, text) of the run's preprocessing: x = pixel * scale + offset."""
    pre = config.get("preprocessing", {})
    if isinstance(pre, dict):
        scale = float(pre.get("rescale", pre.get("scale", 1 / 255)))
        offset = float(pre.get("offset", 0.0))
    else:
        scale, offset = 1 / 255, 0.0
    text = "x = pixel / 255" if abs(scale - 1 / 255) < 1e-12 and offset == 0 else f"x = pixel * {scale:g}"
    if offset:
        text += f" + {offset:g}"
    return scale, offset, text


def run_data(source: ExportSource, *, data: str | None, calibration_images: int, eval_images: int,
             seed: int) -> ExportData:
    """Calibration and test images of a run's data set, preprocessed as training did."""
    import numpy as np  # see random_data

    where = data or data_spec(source.config)
    if not where:
        raise ExportError(f"run {source.path}: config.json names no data set ('data'), so int8 cannot be "
                          "calibrated; pass --data PATH")
    # Imported here: the training data loader pulls in TensorFlow for decoding and resizing.
    from designer.training.datasets import DataError, load_data

    cfg = train_settings(source.config)
    try:
        loaded = load_data(str(where), tuple(source.design.input_shape), source.design.classes,
                           seed=int(cfg.get("seed") or 0), validation_split=float(cfg.get("validation_split", 0.1)),
                           cache_dir=cfg.get("cache_dir"))
    except (DataError, OSError) as exc:
        raise ExportError(f"run {source.path}: no usable data set to calibrate int8 with ('{where}'): {exc}; "
                          "pass --data PATH to point at the run's data") from None
    x_train, x_test, y_test, names = loaded.x_train, loaded.x_test, loaded.y_test, loaded.class_names
    if len(x_train) == 0:
        raise ExportError(f"run {source.path}: the data set '{where}' has no training images to calibrate "
                          "int8 with")
    scale, offset, text = _rescale(source.config)
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
