"""Fixtures for the training tests: a tiny design and tiny generated data sets (never CIFAR-10, never network)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from designer import designfile
from designer.design import Design
from designer.layers import Conv2D, Dense, Flatten, MaxPool

TINY_CLASSES = 3
TINY_INPUT = (16, 16, 3)


def tiny_design(classes: int = TINY_CLASSES) -> Design:
    """A 16x16 RGB design with a few hundred parameters: trains in well under a second per epoch."""
    return Design(name="tiny", input_shape=TINY_INPUT, classes=classes,
                  layers=(Conv2D(filters=4), MaxPool(), Flatten(), Dense(units=classes, activation="softmax")))


def random_images(n: int, seed: int, size: int = 32) -> np.ndarray:
    """Random uint8 RGB images (32x32 by default: the worker resizes them to the design's 16x16)."""
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def write_npz(path: Path, n_train: int = 64, n_test: int = 16, classes: int = TINY_CLASSES) -> Path:
    """An .npz with x_train, y_train, x_test, y_test."""
    rng = np.random.default_rng(7)
    np.savez(path, x_train=random_images(n_train, 1), y_train=rng.integers(0, classes, (n_train, 1)),
             x_test=random_images(n_test, 2), y_test=rng.integers(0, classes, n_test))
    return path


def write_image_folder(root: Path, per_class: int = 6, classes: int = TINY_CLASSES, test: bool = True) -> Path:
    """``root/train/c<i>/*`` (and ``root/test/...``): PNG and JPEG files of random pixels."""
    import tensorflow as tf  # only the tests that need image files pay for it

    images = random_images(per_class * classes * 2, 3, size=20)
    k = 0
    for split in ("train", "test") if test else ("train",):
        for c in range(classes):
            folder = root / split / f"c{c}"
            folder.mkdir(parents=True)
            for i in range(per_class):
                img = images[k]
                k += 1
                if i % 2:
                    (folder / f"{i}.jpg").write_bytes(tf.io.encode_jpeg(img).numpy())
                else:
                    (folder / f"{i}.png").write_bytes(tf.io.encode_png(img).numpy())
    return root


@pytest.fixture
def design_file(tmp_path: Path) -> Path:
    """tiny.toml in a temporary folder."""
    path = tmp_path / "tiny.toml"
    designfile.save(tiny_design(), path)
    return path


@pytest.fixture(scope="session")
def npz_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 training and 16 test images of 3 classes."""
    return write_npz(tmp_path_factory.mktemp("npz") / "tiny.npz")


class Recorder(io.StringIO):
    """An injected protocol stream that keeps the lines and can call back on each event."""

    def __init__(self) -> None:
        super().__init__()
        self.hooks: list = []

    def write(self, text: str) -> int:
        from designer.training.protocol import decode_event

        n = super().write(text)
        for line in text.splitlines():
            event = decode_event(line)
            for hook in self.hooks:
                hook(event)
        return n

    def events(self) -> list:
        """Every event written so far."""
        from designer.training.protocol import decode_event

        return [decode_event(line) for line in self.getvalue().splitlines()]
