"""Bad training data is one named error before the job starts: the checks, the worker's failed event, the CLI."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from designer.training.checks import DataError, check_data
from designer.training.datasets import load_data
from designer.training.protocol import Failed, ProtocolError, TrainConfig
from designer.training.worker import EXIT_FAILED, Worker

from .conftest import TINY_CLASSES, TINY_INPUT, Recorder, random_images, write_npz


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    """An .npz of the tiny data with ``arrays`` replacing (or, as None-free extras, adding to) its arrays."""
    rng = np.random.default_rng(0)
    base = {"x_train": random_images(8, 1), "y_train": rng.integers(0, TINY_CLASSES, 8),
            "x_test": random_images(4, 2), "y_test": rng.integers(0, TINY_CLASSES, 4)}
    base.update(arrays)
    np.savez(path, **base)
    return path


def _truncated(path: Path) -> Path:
    good = write_npz(path.with_name("whole.npz")).read_bytes()
    path.write_bytes(good[: len(good) // 2])
    return path


def _without(key: str) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        rng = np.random.default_rng(0)
        arrays = {"x_train": random_images(8, 1), "y_train": rng.integers(0, 3, 8),
                  "x_test": random_images(4, 2), "y_test": rng.integers(0, 3, 4)}
        del arrays[key]
        np.savez(path, **arrays)
        return path

    return make


def _empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _bare_npy(path: Path) -> Path:
    with path.open("wb") as fh:
        np.save(fh, np.zeros(3))
    return path


# (data file maker, what the one-line message must say: a part starting with ":" or " " follows the file name)
BAD_NPZ: dict[str, tuple[Callable[[Path], Path] | str, ...]] = {
    "truncated": (_truncated, ": cannot be read (File is not a zip file); expected an .npz file as numpy.savez"),
    "empty": (_empty, ": cannot be read (the file is empty); expected an .npz"),
    "a bare .npy": (_bare_npy, ": cannot be read (File is not a zip file)"),
    "missing y_test": (_without("y_test"), ": missing arrays y_test; expected x_train, y_train, x_test, y_test"),
    "scalar x_train": (lambda p: _npz(p, x_train=np.array(3)),
                       " x_train: expected images (N, height, width, channels) with 1, 3 or 4 channels, or "
                       "(N, height, width), received shape ()"),
    "two channels": (lambda p: _npz(p, x_test=np.zeros((4, 8, 8, 2), np.uint8)),
                     " x_test: expected images (N, height, width, channels) with 1, 3 or 4 channels"),
    "zero-sized images": (lambda p: _npz(p, x_train=np.zeros((8, 0, 8, 3), np.uint8)),
                          " x_train: expected images of at least 1x1 pixels, received shape (8, 0, 8, 3)"),
    "string pixels": (lambda p: _npz(p, x_train=np.full((8, 4, 4), "a")),
                      " x_train: expected integer or float pixels (uint8 0..255 or floats 0..1), received dtype <U1"),
    "float labels": (lambda p: _npz(p, y_train=np.zeros(8)),
                     " y_train: expected integer class labels (N,) or (N, 1), received float64 (8,)"),
    "labels per image": (lambda p: _npz(p, y_train=np.zeros(7, np.int64)),
                         ": 8 training images (", ") but 7 labels ("),
    "negative labels": (lambda p: _npz(p, y_train=np.array([0, 1, 2, -1, 0, 1, 2, 0])),
                        " y_train: expected labels in 0..2 (the design has classes=3), found -1..2"),
    "test label out of range": (lambda p: _npz(p, y_test=np.array([0, 1, 2, 3])),
                                " y_test: expected labels in 0..2 (the design has classes=3), found 0..3"),
    "empty test split": (lambda p: _npz(p, x_test=np.zeros((0, 32, 32, 3), np.uint8), y_test=np.zeros(0, int)),
                         " x_test: expected at least 1 test image, found 0"),
    "empty train split": (lambda p: _npz(p, x_train=np.zeros((0, 32, 32, 3), np.uint8), y_train=np.zeros(0, int)),
                          " x_train: expected at least 2 training images (one to train on, one to validate "
                          "with), found 0"),
    "class names not strings": (lambda p: _npz(p, class_names=np.arange(3)),
                                " class_names: expected class names as a 1-D array of strings, received int64 (3,)"),
    "a huge label": (lambda p: _npz(p, y_train=np.array([0, 1, 2, 0, 1, 2, 0, 10**12])),
                     "the data has 1000000000001 classes ("),
    "four class names": (lambda p: _npz(p, class_names=np.array(["a", "b", "c", "d"])),
                         "the data has 4 classes ("),
}


@pytest.fixture(params=sorted(BAD_NPZ), scope="module")
def bad_npz(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    make, *parts = BAD_NPZ[request.param]
    assert callable(make)
    path = make(tmp_path_factory.mktemp("bad") / "data.npz")
    return path, [f"{path}{part}" if str(part).startswith((":", " ")) else str(part) for part in parts]


def _says(message: str, expected: list[str]) -> None:
    assert "\n" not in message
    for part in expected:
        assert part in message, (part, message)


def test_a_bad_npz_is_one_named_line_before_anything_loads(bad_npz: tuple[Path, list[str]]) -> None:
    path, expected = bad_npz
    with pytest.raises(DataError) as info:
        check_data(str(path), TINY_CLASSES)
    _says(str(info.value), expected)


def test_the_loader_gives_the_same_error_for_a_bad_npz(bad_npz: tuple[Path, list[str]]) -> None:
    path, expected = bad_npz  # export loads run data without the job's checks: it must not crash either
    with pytest.raises(DataError) as info:
        load_data(str(path), TINY_INPUT, TINY_CLASSES)
    _says(str(info.value), expected)


def test_the_worker_fails_before_training_and_before_any_run_folder(
        bad_npz: tuple[Path, list[str]], design_file: Path, tmp_path: Path) -> None:
    path, expected = bad_npz
    out = Recorder()
    config = TrainConfig(design=str(design_file), data=str(path), epochs=1, out_dir=str(tmp_path / "runs"))
    assert Worker(config, out).run() == EXIT_FAILED
    events = out.events()
    assert [e.event for e in events] == ["failed"]  # no "started": nothing was built or trained
    failed = events[0]
    assert isinstance(failed, Failed) and failed.detail == ""  # a named problem, not a traceback
    _says(failed.reason, expected)
    assert not (tmp_path / "runs").exists()


def test_nan_pixels_are_refused_when_loaded(tmp_path: Path) -> None:
    x = random_images(8, 1).astype(np.float32) / 255
    x[3, 1, 1, 0] = np.nan
    path = _npz(tmp_path / "nan.npz", x_train=x)
    check_data(str(path), TINY_CLASSES)  # headers only: the pixels are read by the worker
    with pytest.raises(DataError, match=r"nan.npz x_train: expected finite pixel values, found NaN"):
        load_data(str(path), TINY_INPUT, TINY_CLASSES)


def test_two_images_always_leave_one_to_train_on(tmp_path: Path) -> None:
    path = _npz(tmp_path / "two.npz", x_train=random_images(2, 1), y_train=np.array([0, 2]),
                class_names=np.array(["a", "b", "c"]))
    data = load_data(str(path), TINY_INPUT, TINY_CLASSES, validation_split=0.9)
    assert (len(data.x_train), len(data.x_val)) == (1, 1)


# --- --limit --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("limit", [0, -5])
def test_limit_below_one_is_refused_by_the_config_and_the_protocol(limit: int) -> None:
    with pytest.raises(ValueError, match=f"limit must be >= 1 \\(training images\\), received {limit}"):
        TrainConfig(design="model2", limit=limit)
    with pytest.raises(ProtocolError, match=f"bad training config: limit must be >= 1.*received {limit}"):
        TrainConfig.from_json(f'{{"design": "model2", "limit": {limit}}}')


def test_limit_one_leaves_no_image_to_validate_with(npz_data: Path) -> None:
    with pytest.raises(DataError, match="x_train: expected at least 2 training images .* found 1 with --limit 1"):
        check_data(str(npz_data), TINY_CLASSES, limit=1)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("epochs", "3", "epochs must be an integer, received '3'"),
    ("augment", 1, "augment must be true or false or null, received 1"),
    ("learning_rate", float("inf"), "learning_rate must be a finite number or null, received inf"),
    ("learning_rate", 0.0, "learning_rate must be > 0, received 0.0"),
    ("weight_decay", -0.1, "weight_decay must be >= 0, received -0.1"),
    ("label_smoothing", 1.0, "label_smoothing must be in [0, 1), received 1.0"),
    ("recipe", "fast", "recipe must be one of default, seed; received 'fast'"),
    ("mixed_precision", "yes", "mixed_precision must be one of auto, on, off; received 'yes'"),
    ("limit", True, "limit must be an integer or null, received True"),
    ("seed", -1, "seed must be in 0..2147483647, received -1"),
    ("early_stopping", -2, "early_stopping must be >= 0 (0 turns it off), received -2"),
    ("data", 7, "data must be a string or null, received 7"),
])
def test_config_fields_are_type_checked(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        TrainConfig(design="model2", **{field: value})  # type: ignore[arg-type]
    assert str(info.value) == message


# --- image folders and archives -----------------------------------------------------------------------------

def _png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG")  # the checks read names only: decoding is the worker's


def _folder(root: Path, classes: int = TINY_CLASSES, test: bool = True) -> Path:
    for split in ("train", "test") if test else ("train",):
        for c in range(classes):
            _png(root / split / f"c{c}" / "0.png")
    _png(root / "train" / "c0" / "1.png")
    return root


def test_a_good_folder_passes(tmp_path: Path) -> None:
    check_data(str(_folder(tmp_path / "d")), TINY_CLASSES)


@pytest.mark.parametrize(("make", "expected"), [
    (lambda r: (r / "train").mkdir(parents=True), "/train: no class folders; expected train/<class>/*.png|jpg"),
    (lambda r: [(r / "train" / f"c{c}").mkdir(parents=True) for c in range(3)],
     "/train/c0: expected training images (.png, .jpg, .jpeg, .bmp, .gif) in class folder 'c0', found none"),
    (lambda r: (_folder(r, test=False), [(r / "test" / f"c{c}").mkdir(parents=True) for c in range(3)]),
     "/test: expected at least 1 test image, found 0"),
    (lambda r: (_folder(r), _png(r / "test" / "dog" / "0.png")), "/test/dog: class 'dog' is not among"),
    (lambda r: _folder(r, classes=2), "the data has 2 classes ("),
], ids=["no class folders", "empty class folder", "empty test split", "unknown test class", "class count"])
def test_a_bad_folder_is_named(tmp_path: Path, make: Callable[[Path], object], expected: str) -> None:
    root = tmp_path / "d"
    root.mkdir()
    make(root)
    with pytest.raises(DataError) as info:
        check_data(str(root), TINY_CLASSES)
    assert expected in str(info.value) and "\n" not in str(info.value)


UNREADABLE = "; expected a .tar.gz, .tgz, .tar or .zip of an image folder"


@pytest.mark.parametrize(("name", "write", "expected"), [
    ("d.tar.gz", lambda p: p.write_bytes(b""), "d.tar.gz: cannot be read (the file is empty)" + UNREADABLE),
    ("d.tar.gz", lambda p: p.write_bytes(b"\x1f\x8b\x08\x00 truncated"),
     "d.tar.gz: cannot be read (Compressed file ended before the end-of-stream marker was reached)" + UNREADABLE),
    ("d.tar", lambda p: tarfile.open(p, "w").close(), "d.tar: the archive is empty; expected train/<class>/"),
    ("d.zip", lambda p: p.write_bytes(b"PK\x03\x04 half a zip"),
     "d.zip: cannot be read (File is not a zip file)" + UNREADABLE),
    ("d.zip", lambda p: zipfile.ZipFile(p, "w").writestr("train/c0/readme.txt", "x"),
     "d.zip: expected image files (.png, .jpg, .jpeg, .bmp, .gif) in the archive, found none"),
], ids=["empty tar.gz", "truncated tar.gz", "empty tar", "broken zip", "zip without images"])
def test_a_bad_archive_is_named(tmp_path: Path, name: str, write: Callable[[Path], object], expected: str) -> None:
    path = tmp_path / name
    write(path)
    with pytest.raises(DataError) as info:
        check_data(str(path), TINY_CLASSES)
    assert str(info.value).startswith(str(tmp_path)) and expected in str(info.value), str(info.value)
    assert "\n" not in str(info.value)


def test_a_truncated_archive_that_opens_fails_in_the_worker_with_a_named_error(tmp_path: Path) -> None:
    src = _folder(tmp_path / "src")
    archive = tmp_path / "d.tar"
    with tarfile.open(archive, "w") as tf:
        tf.add(src, arcname="d")
    with tarfile.open(archive) as tf:
        cut = next(m for m in tf.getmembers() if m.isfile()).offset_data + 2
    archive.write_bytes(archive.read_bytes()[:cut])  # cut inside the first image's bytes
    check_data(str(archive), TINY_CLASSES)  # the index check only reads the first member
    with pytest.raises(DataError, match=r"d.tar: cannot extract archive"):
        load_data(str(archive), TINY_INPUT, TINY_CLASSES, cache_dir=str(tmp_path / "cache"))


# --- the real command ---------------------------------------------------------------------------------------

def test_cnn_designer_train_exits_2_with_one_line_for_bad_data(tmp_path: Path, design_file: Path) -> None:
    from designer.training.client import worker_env

    script = Path(sys.executable).with_name("cnn-designer")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "tui.cli"]
    data = _npz(tmp_path / "scalar.npz", x_train=np.array(3))
    result = subprocess.run([*command, "train", str(design_file), "--data", str(data), "--out",
                             str(tmp_path / "runs")], capture_output=True, text=True, env=worker_env(),
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [f"cnn-designer train: {data} x_train: expected images (N, height, width, "
                                          "channels) with 1, 3 or 4 channels, or (N, height, width), received "
                                          "shape ()"]
    assert result.stdout == "" and not (tmp_path / "runs").exists()
    limit = subprocess.run([*command, "train", str(design_file), "--data", str(data), "--limit", "-5"],
                           capture_output=True, text=True, env=worker_env(), cwd=tmp_path, timeout=120)
    assert limit.returncode == 2
    assert limit.stderr.splitlines() == ["cnn-designer train: --limit must be >= 1 (training images), received -5"]


def test_a_compressed_npz_with_column_labels_and_names_passes(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / "packed.npz"
    np.savez_compressed(path, x_train=random_images(6, 1)[..., 0], y_train=rng.integers(0, 3, (6, 1)).astype(np.uint8),
                        x_test=random_images(3, 2), y_test=np.array([0, 1, 2]), class_names=np.array(["a", "b", "c"]))
    check_data(str(path), TINY_CLASSES, limit=4)
    data = load_data(str(path), TINY_INPUT, TINY_CLASSES, limit=4)
    assert data.class_names == ("a", "b", "c") and len(data.x_train) + len(data.x_val) == 4
    assert data.x_train.shape[1:] == TINY_INPUT and data.y_train.dtype == np.int32
