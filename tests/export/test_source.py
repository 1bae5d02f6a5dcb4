"""designer.export.source.run_data: which images calibrate int8 and which measure its accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from designer.export.source import ExportSource, RunSettings, run_data
from tests.export.conftest import TINY, make_images

pytest.importorskip("tensorflow", reason="the data loader decodes with TensorFlow")


def _sorted_by_class(tmp_path: Path) -> ExportSource:
    """A run whose test set comes class by class, as an image folder loads (all airplanes first)."""
    x_train, y_train = make_images(60, 1)
    x_test, y_test = make_images(90, 2)
    order = np.argsort(y_test, kind="stable")
    npz = tmp_path / "sorted.npz"
    np.savez(npz, x_train=x_train, y_train=y_train, x_test=x_test[order], y_test=y_test[order])
    return ExportSource(TINY, "run", str(tmp_path), settings=RunSettings(data=str(npz)))


def test_a_partial_evaluation_samples_every_class(tmp_path: Path) -> None:
    data = run_data(_sorted_by_class(tmp_path), data=None, calibration_images=10, eval_images=30, seed=0)
    assert data.test_y is not None and len(data.test_y) == 30
    assert set(data.test_y.tolist()) == {0, 1, 2}  # the first 30 would all be class 0
    again = run_data(_sorted_by_class(tmp_path), data=None, calibration_images=10, eval_images=30, seed=0)
    np.testing.assert_array_equal(again.test_x, data.test_x)  # seeded: the report can be reproduced


def test_a_full_evaluation_keeps_every_image_in_order(tmp_path: Path) -> None:
    source = _sorted_by_class(tmp_path)
    data = run_data(source, data=None, calibration_images=10, eval_images=1000, seed=0)
    assert data.test_y is not None and len(data.test_y) == 90
    assert data.test_y.tolist() == sorted(data.test_y.tolist())
