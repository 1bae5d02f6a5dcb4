"""Fixtures for the export tests: a tiny trained run folder, a fake ``stedgeai`` and one exported bundle.

The run mimics what the training worker writes (design.toml, config.json with the data set and its
preprocessing, best.keras, metrics.json) around a 643-parameter model trained two epochs on 8x8 images whose
class is their brightest channel, so float32 and int8 accuracies mean something and the test stays fast.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from designer.design import Design
from designer.designfile import save as save_design
from designer.layers import BatchNorm, Conv2D, Dense, Flatten, MaxPool
from tests.export.fake_reports import analyze_text

TINY = Design(
    name="Tiny Net",
    layers=(Conv2D(filters=8, kernel=(3, 3), activation="relu"), BatchNorm(), MaxPool(), Flatten(),
            Dense(units=3, activation="softmax")),
    input_shape=(8, 8, 3),
    classes=3,
)
"""Conv(ReLU) -> BN (unfoldable: a 1x1 depthwise conv in the .tflite) -> pool -> flatten -> dense: 643 params."""

FAKE_FIGURES = dict(weights=2_468, activations=1_792, lib_flash=13_579, lib_ram=2_222, macc=11_111, params=643)
"""What the fake stedgeai reports (made up, distinct from anything we compute)."""


def make_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 8x8x3 images whose label is the channel with the largest mean."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.integers(0, 140, (n, 8, 8, 3))
    x[np.arange(n), :, :, y] += 110
    return x.astype(np.uint8), y.astype(np.int64)


@dataclass(frozen=True)
class TinyRun:
    """A run folder and its data set."""

    run_dir: Path
    npz: Path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    # Imported here: only the export tests that need a trained model pay for TensorFlow.
    import keras

    from designer.keras_build import build_model

    root = tmp_path_factory.mktemp("tiny")
    x_train, y_train = make_images(400, 1)
    x_test, y_test = make_images(120, 2)
    run = root / "runs" / "tiny_net-20260101-000000"
    run.mkdir(parents=True)
    # Inside the run, named relative to it: export follows no path a run's config.json names outside its
    # folder, and a copy of the run stays complete.
    npz = run / "tiny.npz"
    np.savez(npz, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
             class_names=np.array(["red", "green", "blue"]))
    keras.utils.set_random_seed(0)
    model = build_model(TINY)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train / 255.0, y_train, epochs=2, batch_size=32, verbose=0)
    _, acc = model.evaluate(x_test / 255.0, y_test, verbose=0)
    model.save(run / "best.keras")
    save_design(TINY, run / "design.toml")
    # The training worker's layout: its settings under "config", the data record and the preprocessing beside.
    (run / "config.json").write_text(json.dumps({
        "config": {"design": str(run / "design.toml"), "data": npz.name, "seed": 0, "validation_split": 0.1,
                   "epochs": 2, "cache_dir": None},
        "design_name": TINY.name,
        "preprocessing": {"source_dtype": "uint8", "rescale": 1 / 255, "offset": 0.0, "input_range": [0, 1]},
        "data": {"source": npz.name, "class_names": ["red", "green", "blue"], "test_split": "test"},
    }))
    (run / "metrics.json").write_text(json.dumps({"test_accuracy": acc}))
    return TinyRun(run, npz)


def write_fake_stedgeai(folder: Path, *, exit_code: int = 0) -> Path:
    """An executable ``stedgeai`` that logs its argv and prints a report in the tool's format."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "stedgeai"
    report = analyze_text(c_name="tiny_net", **FAKE_FIGURES)
    script.write_text(f"""#!{sys.executable}
import json, pathlib, sys
pathlib.Path({str(folder / "argv.json")!r}).write_text(json.dumps(sys.argv[1:]))
assert sys.argv[1] == "analyze" and pathlib.Path(sys.argv[sys.argv.index("-m") + 1]).is_file()
print({report!r})
sys.exit({exit_code})
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


@pytest.fixture
def fake_stedgeai_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake stedgeai first on PATH for one test."""
    script = write_fake_stedgeai(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    return script


@dataclass(frozen=True)
class Bundle:
    """The export of the tiny run, with the step events it produced and the fake stedgeai's argv."""

    out: Path
    report: dict
    steps: list[tuple[str, bool, str]]
    stedgeai_argv: list[str]


@pytest.fixture(scope="session")
def run_bundle(tiny_run: TinyRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bundle]:
    from designer.export.bundle import export_bundle
    from designer.export.protocol import ExportRequest

    root = tmp_path_factory.mktemp("bundle")
    script = write_fake_stedgeai(root / "bin")
    steps: list[tuple[str, bool, str]] = []
    saved_path = os.environ["PATH"]
    os.environ["PATH"] = f"{script.parent}{os.pathsep}{saved_path}"
    try:
        result = export_bundle(ExportRequest(source=str(tiny_run.run_dir), out_dir=str(root / "out" / "bundle"),
                                             calibration_images=100, eval_images=120),
                               on_step=lambda step, done, _s, detail: steps.append((step, done, detail)))
    finally:
        os.environ["PATH"] = saved_path
    argv = json.loads((script.parent / "argv.json").read_text())
    yield Bundle(result.out_dir, result.report, steps, argv)
