"""Shared pytest set-up: quiet TensorFlow's C++ logs and name the test-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before any test imports keras: TensorFlow reads it once, at import.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DATA_DIR = Path(__file__).parent / "data"
"""tests/data: fixture files (bad design files under bad/)."""


@pytest.fixture
def data_dir() -> Path:
    """The tests/data folder."""
    return DATA_DIR
