"""Export a run written by the real training worker (one epoch): the two features agree on the run format.

A residual design too: the worker trains the functional model keras_build makes from the lowering, the
export converts it (ADD op) and measures it, and says that the estimators do not take blocks yet.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from designer.design import Design
from designer.designfile import save as save_design
from designer.export.bundle import export_bundle
from designer.export.protocol import ExportRequest
from designer.export.source import ExportError
from designer.layers import Activation, BatchNorm, Conv2D, Dense, GlobalAvgPool, Residual
from tests.export.conftest import TINY, make_images

pytestmark = pytest.mark.slow


TINY_RESIDUAL = Design(
    name="Tiny ResNet", input_shape=(8, 8, 3), classes=3,
    layers=(Conv2D(filters=8, activation="linear"), BatchNorm(), Activation(activation="relu"),
            Residual(main=(Conv2D(filters=8, activation="linear"), BatchNorm(), Activation(activation="relu"),
                           Conv2D(filters=8, activation="linear"), BatchNorm())),
            Residual(main=(Conv2D(filters=16, strides=(2, 2), activation="linear"), BatchNorm()),
                     shortcut=(Conv2D(filters=16, kernel=(1, 1), strides=(2, 2), activation="linear"),)),
            GlobalAvgPool(), Dense(units=3, activation="softmax")),
)
"""ResNet-8 in miniature: an identity block and a projection block (1x1 stride-2 conv)."""


def _train_one_epoch(tmp_path: Path, design: Design) -> tuple[Path, dict]:
    """Train ``design`` one epoch with the real worker on tiny images; (run folder, finished event)."""
    x, y = make_images(300, 1)
    xt, yt = make_images(60, 2)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    save_design(design, tmp_path / "design.toml")
    config = {"design": str(tmp_path / "design.toml"), "data": str(tmp_path / "d.npz"), "epochs": 1,
              "batch_size": 32, "out_dir": str(tmp_path / "runs"), "seed": 1}
    done = subprocess.run([sys.executable, "-m", "designer.training.worker", "--config", json.dumps(config)],
                          capture_output=True, text=True, timeout=300)
    finished = json.loads(done.stdout.strip().splitlines()[-1])
    assert finished["event"] == "finished" and finished["ok"], done.stdout[-2000:]
    return Path(finished["run_dir"]), finished


def test_export_a_run_of_the_training_worker(tmp_path: Path) -> None:
    run, finished = _train_one_epoch(tmp_path, TINY)

    # The run's config.json names the data outside the run folder: export does not follow it unasked.
    with pytest.raises(ExportError, match=r"config.data = '.*d.npz' lies outside the run folder.*--data PATH"):
        export_bundle(ExportRequest(source=str(run), calibration_images=100, stedgeai=False))
    assert not (run / "export").exists()
    result = export_bundle(ExportRequest(source=str(run), data=str(tmp_path / "d.npz"), calibration_images=100,
                                         stedgeai=False))
    assert result.out_dir == run / "export"
    r = result.report
    assert not r["untrained"] and r["source"] == {"kind": "run", "path": str(run)}
    assert r["model"]["class_names"] == ["0", "1", "2"]
    assert r["accuracy"]["images"] == 60 and r["accuracy"]["int8"] is not None
    assert r["accuracy"]["keras_test_accuracy"] == finished["metrics"]["test_accuracy"]
    # LiteRT float32 on the same test split reproduces what the worker's Keras evaluation measured.
    assert r["accuracy"]["float32"] == pytest.approx(finished["metrics"]["test_accuracy"], abs=1 / 60 + 1e-9)
    assert r["quantization"]["preprocessing"] == "x = pixel / 255"
    assert "100 training images of" in r["quantization"]["calibration"]


def test_train_and_export_a_residual_design(tmp_path: Path) -> None:
    run, finished = _train_one_epoch(tmp_path, TINY_RESIDUAL)
    result = export_bundle(ExportRequest(source=str(run), data=str(tmp_path / "d.npz"), calibration_images=100,
                                         stedgeai=False))
    r = result.report
    assert "ADD" in r["int8_ops"], r["int8_ops"]  # the block's join, as TFLite Micro must resolve it
    assert r["model"]["params_total"] == 2_915
    assert r["accuracy"]["int8"] is not None and r["accuracy"]["float32"] == pytest.approx(
        finished["metrics"]["test_accuracy"], abs=1 / 60 + 1e-9)
    assert r["accuracy"]["top1_agreement"] >= 0.8, r["accuracy"]
    # Both estimators take residual blocks; the TFLM one agrees with what tflite-micro measured on the
    # trained model (the host figure: like with like).
    assert r["estimates"]["tflm_int8"] is not None and r["estimates"]["xcubeai_float32"] is not None
    assert "not supported" not in " ".join(r["notes"])
    rows = {row["figure"]: row for row in r["comparison"]}
    arena = rows["TFLM int8 tensor arena (64-bit host)"]
    assert abs(arena["estimated_bytes"] - arena["measured_bytes"]) <= 0.005 * arena["measured_bytes"], arena
    # The firmware side: the join is registered as the int8 ADD, and the Cortex-M arena is derived for it.
    ops = (result.out_dir / f"{r['c_name']}_ops.h").read_text()
    assert "resolver.AddAdd(tflite::Register_ADD_INT8())" in ops
    cm = r["arena"]["cortex_m"]
    assert cm["head_bytes"] == r["arena"]["int8_head_bytes"] and cm["reference_bytes"] <= cm["cmsis_nn_bytes"]
    assert (result.out_dir / "model_int8.tflite").is_file()
