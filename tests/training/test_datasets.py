"""Data loading: .npz and image folders at the design's size, clear errors, CIFAR-10 offline, pipelines."""

from __future__ import annotations

import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from designer.training.datasets import DataError, load_cifar10, load_data, make_pipelines

from .conftest import TINY_INPUT, write_image_folder, write_npz


def test_npz_is_resized_split_and_labelled(npz_data: Path) -> None:
    data = load_data(str(npz_data), TINY_INPUT, 3, seed=0, validation_split=0.25)
    assert data.x_train.shape == (48, 16, 16, 3) and data.x_train.dtype == np.uint8
    assert data.x_val.shape == (16, 16, 16, 3) and data.x_test.shape == (16, 16, 16, 3)
    assert data.y_train.ndim == 1 and data.class_names == ("0", "1", "2") and data.test_split == "test"


def test_image_folder_with_png_and_jpeg(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "imgs")
    data = load_data(str(root), TINY_INPUT, 3, seed=0)
    assert data.class_names == ("c0", "c1", "c2")
    assert len(data.x_train) + len(data.x_val) == 18 and len(data.x_test) == 18
    assert data.x_test.shape[1:] == TINY_INPUT
    assert sorted(set(data.y_test.tolist())) == [0, 1, 2]


def test_one_folder_without_test_split_is_evaluated_on_validation(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "imgs", test=False) / "train"
    data = load_data(str(root), TINY_INPUT, 3, seed=0, validation_split=0.2)
    assert data.test_split == "validation" and len(data.x_test) == len(data.x_val) == 4


def test_archive_of_a_folder(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "imgs", per_class=2)
    archive = tmp_path / "imgs.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(root, arcname="imgs")
    data = load_data(str(archive), TINY_INPUT, 3, seed=0, cache_dir=str(tmp_path / "cache"))
    assert data.class_names == ("c0", "c1", "c2") and len(data.x_test) == 6


def test_wrong_class_count_names_both_numbers(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "four.npz", classes=4)
    data = np.load(path)
    assert int(data["y_train"].max()) == 3
    with pytest.raises(DataError, match=r"the data has 4 classes \(.*four.npz\) but the design has classes=3"):
        load_data(str(path), TINY_INPUT, 3)


def test_corrupt_image_is_named(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "imgs", per_class=2)
    bad = root / "train" / "c1" / "broken.png"
    bad.write_bytes(b"\x89PNG this is not really a png")
    with pytest.raises(DataError, match=f"cannot decode image {bad}"):
        load_data(str(root), TINY_INPUT, 3)


def test_missing_data_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or folder; pass --data PATH"):
        load_data(str(tmp_path / "nothing"), TINY_INPUT, 3)


def test_cifar10_offline_says_exactly_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from keras.src.backend import config as keras_config
    from keras.src.utils import file_utils

    def no_network(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    with pytest.raises(DataError) as info:
        load_cifar10()
    message = str(info.value)
    assert message.startswith(f"CIFAR-10 is not cached in {tmp_path / 'datasets'} and there is no network: "
                              "pass --data PATH (an image folder, .tar.gz/.zip of one, or an .npz)")
    assert "no network in tests" in message


def test_pipelines_rescale_and_batch(npz_data: Path) -> None:
    data = load_data(str(npz_data), TINY_INPUT, 3, seed=0)
    pipes = make_pipelines(data, 16, augment=True, seed=1)
    assert pipes.steps_per_epoch == 4  # 58 images / 16
    x, y = next(iter(pipes.train))
    assert x.shape == (16, 16, 16, 3) and x.dtype.name == "float32" and y.shape == (16,)
    assert 0.0 <= float(x.numpy().min()) and float(x.numpy().max()) <= 1.0
    xt, _ = next(iter(pipes.test))
    np.testing.assert_allclose(xt.numpy(), data.x_test[:16] / 255.0, rtol=1e-6)
