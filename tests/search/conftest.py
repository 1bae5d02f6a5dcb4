"""Shared pieces of the search tests: a tiny .npz (8x8 images, 3 classes) and a way to run the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
CLASSES = 3
TINY = ["--input", "8x8x3", "--classes", str(CLASSES), "--runtime", "tflm", "--dtype", "int8", "--epochs", "1"]
"""Family options every CLI test uses: 8x8x3 inputs, 3 classes, TFLM int8 estimates, one epoch."""


def write_tiny_npz(path: Path, n_train: int = 96, n_test: int = 24, seed: int = 0) -> Path:
    """Learnable 8x8x3 images: the red channel's level says the class, the rest is noise."""
    rng = np.random.default_rng(seed)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, CLASSES, n)
        x = rng.integers(0, 60, (n, 8, 8, 3)).astype(np.uint8)
        x[..., 0] += (y * 80).astype(np.uint8)[:, None, None]
        return x, y

    x_train, y_train = split(n_train)
    x_test, y_test = split(n_test)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


@pytest.fixture(scope="session")
def tiny_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny data set, made once per session."""
    return write_tiny_npz(tmp_path_factory.mktemp("search-data") / "tiny.npz")


def cli_env() -> dict[str, str]:
    """The environment for a ``cnn-designer`` child: this checkout first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``cnn-designer`` (``python -m tui.cli``) and return its completed process."""
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=cli_env(), timeout=timeout)


def popen(*args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    """Start ``cnn-designer`` in the background (stdout and stderr piped)."""
    return subprocess.Popen([sys.executable, "-m", "tui.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd, env=cli_env())
