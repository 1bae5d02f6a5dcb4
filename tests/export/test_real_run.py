"""Export a run written by the real training worker (one epoch): the two features agree on the run format."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from designer.designfile import save as save_design
from designer.export.bundle import export_bundle
from designer.export.protocol import ExportRequest
from designer.export.source import ExportError
from tests.export.conftest import TINY, make_images

pytestmark = pytest.mark.slow


def test_export_a_run_of_the_training_worker(tmp_path: Path) -> None:
    x, y = make_images(300, 1)
    xt, yt = make_images(60, 2)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    save_design(TINY, tmp_path / "tiny.toml")
    config = {"design": str(tmp_path / "tiny.toml"), "data": str(tmp_path / "d.npz"), "epochs": 1, "batch_size": 32,
              "out_dir": str(tmp_path / "runs"), "seed": 1}
    done = subprocess.run([sys.executable, "-m", "designer.training.worker", "--config", json.dumps(config)],
                          capture_output=True, text=True, timeout=300)
    finished = json.loads(done.stdout.strip().splitlines()[-1])
    assert finished["event"] == "finished" and finished["ok"], done.stdout[-2000:]
    run = Path(finished["run_dir"])

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
