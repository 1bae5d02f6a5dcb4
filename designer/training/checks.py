"""Training data checked before training starts: the archive opens, the arrays and labels make sense.

:func:`check_data` runs in the process that starts a job (the CLI, the app's runner) and again in the worker,
before TensorFlow is imported or a model is built: an ``.npz`` is read only as far as its array headers and
its labels, an image folder only as far as its file names, an archive only as far as its index. Every problem
is one :class:`DataError` line naming the file, the array or folder, and what was expected.
:func:`check_splits` is the same check on loaded data; :mod:`designer.training.datasets` calls it after
loading, so CIFAR-10 and decoded folders pass the same rules. numpy only, no TensorFlow.
"""

from __future__ import annotations

import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from designer.training.archives import is_archive
from designer.training.protocol import CIFAR10

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
NPZ_ARRAYS: tuple[str, ...] = ("x_train", "y_train", "x_test", "y_test")
"""The arrays an .npz must hold (``class_names`` is optional)."""
MIN_TRAIN_IMAGES = 2
"""One image to train on and one to validate with: fewer leaves a split empty, which Keras fails on late."""
DATA_HELP = "pass --data PATH (an image folder, .tar.gz/.zip of one, or an .npz)"
IMAGES_EXPECTED = "images (N, height, width, channels) with 1, 3 or 4 channels, or (N, height, width)"
# What np.load and zipfile raise for a truncated, empty or corrupt archive: none of them is a ValueError.
_UNREADABLE = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error, tarfile.TarError)


class DataError(ValueError):
    """Data that cannot be used; the message names the file or the numbers involved."""


@dataclass(frozen=True)
class Split:
    """What the checks know about one split: its labels, and the image array's shape and dtype when the
    images are one array (None for image files, which are checked as they decode)."""

    labels: np.ndarray
    labels_at: str
    """Where the labels come from, for messages: ``data.npz y_train`` or a folder."""
    images_at: str
    shape: tuple[int, ...] | None = None
    dtype: np.dtype | None = None


def check_classes(found: int, classes: int, source: str) -> None:
    """DataError naming both numbers when the data's class count is not the design's."""
    if found != classes:
        raise DataError(f"the data has {found} classes ({source}) but the design has classes={classes}: "
                        f"change the design's classes to {found} or use data with {classes} classes")


def check_image_array(shape: tuple[int, ...], dtype: np.dtype, where: str) -> None:
    """DataError unless ``shape``/``dtype`` are a stack of images with numeric pixels."""
    if len(shape) not in (3, 4) or (len(shape) == 4 and shape[-1] not in (1, 3, 4)):
        raise DataError(f"{where}: expected {IMAGES_EXPECTED}, received shape {tuple(shape)}")
    if min(shape[1:3]) < 1:
        raise DataError(f"{where}: expected images of at least 1x1 pixels, received shape {tuple(shape)}")
    if dtype.kind not in "uif":
        raise DataError(f"{where}: expected integer or float pixels (uint8 0..255 or floats 0..1), "
                        f"received dtype {dtype}")


def labels_1d(y: np.ndarray, where: str) -> np.ndarray:
    """Integer labels as int64 (N,), from (N,) or (N, 1); DataError naming ``where`` otherwise."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise DataError(f"{where}: expected integer class labels (N,) or (N, 1), received {y.dtype} "
                        f"{tuple(y.shape)}")
    return y.astype(np.int64)


def _check_range(y: np.ndarray, classes: int, where: str) -> None:
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= classes):
        raise DataError(f"{where}: expected labels in 0..{classes - 1} (the design has classes={classes}), "
                        f"found {int(y.min())}..{int(y.max())}")


def check_splits(source: str, train: Split, test: Split | None, names: list[str] | None, classes: int,
                 limit: int | None) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Check both splits against each other and the design; returns (y_train, y_test, class names).

    Without class names the training labels decide the class count (0..max), as before; ``test`` None means
    the data has no test split (the validation images stand in for it).
    """
    y_train = _check_split(source, train, "training")
    usable = len(y_train) if limit is None else min(limit, len(y_train))
    if usable < MIN_TRAIN_IMAGES:
        raise DataError(f"{train.images_at}: expected at least {MIN_TRAIN_IMAGES} training images (one to "
                        f"train on, one to validate with), found {usable}"
                        + (f" with --limit {limit}" if limit is not None and limit < len(y_train) else ""))
    if names is None:
        if int(y_train.min()) < 0:
            _check_range(y_train, classes, train.labels_at)
        check_classes(int(y_train.max()) + 1, classes, source)  # before a list of names as long as max+1
        names = [str(i) for i in range(classes)]
    check_classes(len(names), classes, source)
    _check_range(y_train, classes, train.labels_at)
    if test is None:
        return y_train, None, names
    y_test = _check_split(source, test, "test")
    _check_range(y_test, classes, test.labels_at)
    if not len(y_test):
        raise DataError(f"{test.images_at}: expected at least 1 test image, found 0 (the test metrics need "
                        "one; leave the test split out to be evaluated on the validation images)")
    return y_train, y_test, names


def _check_split(source: str, split: Split, what: str) -> np.ndarray:
    y = labels_1d(split.labels, split.labels_at)
    if split.shape is not None and split.dtype is not None:
        check_image_array(split.shape, split.dtype, split.images_at)
        if split.shape[0] != len(y):
            raise DataError(f"{source}: {split.shape[0]} {what} images ({split.images_at}) but {len(y)} labels "
                            f"({split.labels_at}); expected one label per image")
    return y


# --- .npz --------------------------------------------------------------------------------------------------

def _npy_header(zf: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], np.dtype]:
    """An array's shape and dtype from its .npy header, without reading its data."""
    with zf.open(member) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    return tuple(shape), dtype


def _npy_array(zf: zipfile.ZipFile, member: str) -> np.ndarray:
    with zf.open(member) as fh:
        return np.lib.format.read_array(fh, allow_pickle=False)


def npz_class_names(value: np.ndarray, where: str) -> list[str]:
    """The optional ``class_names`` array as a list of strings."""
    if value.ndim != 1 or value.dtype.kind not in "US":
        raise DataError(f"{where}: expected class names as a 1-D array of strings, received {value.dtype} "
                        f"{tuple(value.shape)}")
    return [str(n) for n in value]


def unreadable(path: Path, expected: str, exc: BaseException) -> DataError:
    """The one-line error for an archive that zipfile, tarfile or numpy cannot read (truncated, empty...)."""
    if path.is_file() and path.stat().st_size == 0:
        detail = "the file is empty"
    elif isinstance(exc, tarfile.TarError):  # tarfile's own text lists every compression it tried, on many lines
        detail = "not a tar archive, or a damaged one"
    else:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DataError(f"{path}: cannot be read ({detail}); expected {expected}")


def read_npz(path: Path, *, pixels: bool) -> tuple[Split, Split, list[str] | None, list[np.ndarray | None]]:
    """The .npz's train and test splits, its class names and (``pixels``) its image arrays; without
    ``pixels`` only the image arrays' headers are read. DataError for an unreadable file or missing arrays."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = {n[:-4]: n for n in zf.namelist() if n.endswith(".npy")}
            missing = [k for k in NPZ_ARRAYS if k not in members]
            if missing:
                raise DataError(f"{path}: missing arrays {', '.join(missing)}; expected {', '.join(NPZ_ARRAYS)} "
                                f"(has {', '.join(members) or 'none'})")
            splits: list[Split] = []
            images: list[np.ndarray | None] = []
            for part in ("train", "test"):
                x = _npy_array(zf, members[f"x_{part}"]) if pixels else None
                shape, dtype = (x.shape, x.dtype) if x is not None else _npy_header(zf, members[f"x_{part}"])
                splits.append(Split(_npy_array(zf, members[f"y_{part}"]), f"{path} y_{part}", f"{path} x_{part}",
                                    shape, dtype))
                images.append(x)
            names = None
            if "class_names" in members:
                names = npz_class_names(_npy_array(zf, members["class_names"]), f"{path} class_names")
    except _UNREADABLE as exc:
        if isinstance(exc, DataError):
            raise
        raise unreadable(path, "an .npz file as numpy.savez writes it", exc) from None
    return splits[0], splits[1], names, images


def check_npz(path: Path, classes: int, limit: int | None) -> None:
    """The .npz's arrays and labels, reading only the image arrays' headers."""
    train, test, names, _ = read_npz(path, pixels=False)
    check_splits(str(path), train, test, names, classes, limit)


# --- image folders and their archives ------------------------------------------------------------------------

def class_folders(folder: Path) -> list[Path]:
    """The visible sub-folders of ``folder``, sorted: one per class."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def image_files(folder: Path) -> list[Path]:
    """Every image file (by suffix) under ``folder``, sorted."""
    # The name first: a stat per file is most of the cost on a 60,000-image folder.
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


@dataclass(frozen=True)
class FolderScan:
    """An image folder's files and labels, before any image is decoded."""

    class_names: list[str]
    train_dir: Path
    train_paths: list[str]
    train_labels: list[int]
    test_dir: Path | None
    test_paths: list[str]
    test_labels: list[int]


def _scan_split(folder: Path, class_names: list[str], *, every_class: bool) -> tuple[list[str], list[int]]:
    paths: list[str] = []
    labels: list[int] = []
    for sub in class_folders(folder):
        if sub.name not in class_names:
            raise DataError(f"{sub}: class '{sub.name}' is not among the training classes "
                            f"({', '.join(class_names)})")
        files = image_files(sub)
        if every_class and not files:
            raise DataError(f"{sub}: expected training images ({', '.join(IMAGE_SUFFIXES)}) in class folder "
                            f"'{sub.name}', found none")
        paths += [str(p) for p in files]
        labels += [class_names.index(sub.name)] * len(files)
    return paths, labels


def scan_folder(root: Path, classes: int) -> FolderScan:
    """``train/<class>/*`` (+ ``test/``) or ``<class>/*``: the class folders and image files, checked."""
    train_dir = root / "train" if (root / "train").is_dir() else root
    test_dir = root / "test" if (root / "test").is_dir() and train_dir != root else None
    class_names = [p.name for p in class_folders(train_dir)]
    if not class_names:
        raise DataError(f"{train_dir}: no class folders; expected train/<class>/*.png|jpg "
                        f"(and test/<class>/*) or <class>/*.png|jpg")
    check_classes(len(class_names), classes, str(root))
    train_paths, train_labels = _scan_split(train_dir, class_names, every_class=True)
    test_paths: list[str] = []
    test_labels: list[int] = []
    if test_dir is not None:
        test_paths, test_labels = _scan_split(test_dir, class_names, every_class=False)
    return FolderScan(class_names, train_dir, train_paths, train_labels, test_dir, test_paths, test_labels)


def check_folder_scan(scan: FolderScan, source: str, classes: int, limit: int | None) -> None:
    """The scanned folder's splits through :func:`check_splits` (shapes are checked when images decode)."""
    train = Split(np.asarray(scan.train_labels, np.int64), str(scan.train_dir), str(scan.train_dir))
    test = None if scan.test_dir is None else Split(np.asarray(scan.test_labels, np.int64), str(scan.test_dir),
                                                    str(scan.test_dir))
    check_splits(source, train, test, scan.class_names, classes, limit)


def check_archive(path: Path) -> None:
    """The archive opens, and a zip lists at least one image (a tar's listing would need a full read)."""
    try:
        if path.name.lower().endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                if not any(n.lower().endswith(IMAGE_SUFFIXES) for n in zf.namelist()):
                    raise DataError(f"{path}: expected image files ({', '.join(IMAGE_SUFFIXES)}) in the archive, "
                                    "found none")
        else:
            with tarfile.open(path) as tf:
                if tf.next() is None:
                    raise DataError(f"{path}: the archive is empty; expected train/<class>/*.png|jpg")
    except _UNREADABLE as exc:
        if isinstance(exc, DataError):
            raise
        raise unreadable(path, "a .tar.gz, .tgz, .tar or .zip of an image folder", exc) from None


def check_data(spec: str, classes: int, limit: int | None = None) -> None:
    """DataError unless ``spec`` (cifar10, a folder, an archive or an .npz) looks usable for a design with
    ``classes`` classes; cheap (headers, names and labels only) and TensorFlow-free."""
    if limit is not None and limit < 1:
        raise DataError(f"--limit: expected at least 1 training image, received {limit}")
    if spec == CIFAR10:
        return  # Keras' loader checks its own archive; the worker checks the arrays it returns
    path = Path(spec).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; {DATA_HELP} or --data cifar10")
    if path.is_dir():
        check_folder_scan(scan_folder(path, classes), str(path), classes, limit)
    elif is_archive(path):
        check_archive(path)
    elif path.suffix.lower() == ".npz":
        check_npz(path, classes, limit)
    else:
        raise DataError(f"{path}: unknown data kind; {DATA_HELP}")
