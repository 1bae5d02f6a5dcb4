"""Training data: CIFAR-10, an image folder (or an archive of one) or an .npz, as arrays and tf.data pipelines.

Loading gives uint8 arrays (N, height, width, channels) already at the design's input size, plus int labels
and class names; every image problem (a corrupt file, a class count that does not match the design) is a
DataError whose message says what is wrong and where. :func:`make_pipelines` turns the arrays into tf.data
pipelines that rescale by 1/255 (recorded as :data:`PREPROCESSING` in the run config, so export quantizes the
same way) and optionally augment.

Validation images are held out of the training split (``validation_split``); the test split, when the data
has one, is only used for the final metrics. Data without a test split is evaluated on the validation images.
TensorFlow is imported inside the functions that need it.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from designer.training.archives import ArchiveError, extract_cached, is_archive, unwrap

if TYPE_CHECKING:
    import tensorflow as tf

CIFAR10 = "cifar10"
CIFAR10_CLASSES: tuple[str, ...] = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                    "ship", "truck")
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
PREPROCESSING: dict[str, Any] = {
    "source_dtype": "uint8", "rescale": 1.0 / 255.0, "offset": 0.0, "input_range": [0.0, 1.0],
    "note": "model input = pixel (0..255) * rescale + offset",
}
"""What the pipelines do to pixels before the model: export must feed the model the same way."""
DATA_HELP = "pass --data PATH (an image folder, .tar.gz/.zip of one, or an .npz)"


def _quiet(message: str) -> None:
    return None


class DataError(ValueError):
    """Data that cannot be used; the message names the file or the numbers involved."""


@dataclass(frozen=True)
class ImageData:
    """Images as uint8 (N, height, width, channels) and int32 labels, split three ways."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str
    test_split: str
    """``test`` when the data has its own test split, ``validation`` when test metrics reuse validation."""


@dataclass(frozen=True)
class Pipelines:
    """tf.data pipelines of batches ready for the model, and the number of training steps per epoch."""

    train: tf.data.Dataset
    val: tf.data.Dataset
    test: tf.data.Dataset
    steps_per_epoch: int


def keras_datasets_dir() -> Path:
    """Where keras.datasets caches downloads: ``$KERAS_HOME/datasets`` or ~/.keras/datasets."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    if "keras" in sys.modules:
        try:  # Keras reads KERAS_HOME once, at import: ask it where it actually looks
            from keras.src.backend.config import keras_home

            home = keras_home()
        except ImportError:
            pass
    return Path(home).expanduser() / "datasets"


def _cifar10_offline_message(exc: BaseException) -> str:
    where = str(keras_datasets_dir()).replace(os.path.expanduser("~"), "~", 1)
    return f"CIFAR-10 is not cached in {where} and there is no network: {DATA_HELP}. (download error: {exc})"


def load_cifar10() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """keras.datasets.cifar10.load_data(), with the offline failure turned into a DataError that says what to do."""
    # Imported here: keras pulls in TensorFlow, which only the worker process may pay for.
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as exc:  # get_file raises a bare Exception for URL errors
        raise DataError(_cifar10_offline_message(exc)) from None
    return x_train, y_train, x_test, y_test


def _decode_fn(height: int, width: int, channels: int) -> Any:
    import tensorflow as tf  # see load_cifar10

    def decode(path: tf.Tensor) -> tf.Tensor:
        img = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
        img.set_shape([None, None, channels])
        shape = tf.shape(img)
        same = tf.logical_and(tf.equal(shape[0], height), tf.equal(shape[1], width))

        def resized() -> tf.Tensor:
            out = tf.image.resize(tf.cast(img, tf.float32), (height, width))
            return tf.cast(tf.clip_by_value(tf.round(out), 0.0, 255.0), tf.uint8)

        return tf.ensure_shape(tf.cond(same, lambda: img, resized), [height, width, channels])

    return decode


def decode_images(paths: list[str], input_shape: tuple[int, ...], chunk: int = 256) -> np.ndarray:
    """Decode image files in parallel into uint8 (N, height, width, channels) at the input size.

    A file that does not decode is a DataError naming it (found by decoding the failing chunk one by one).
    """
    import tensorflow as tf  # see load_cifar10

    height, width, channels = input_shape
    decode = _decode_fn(height, width, channels)
    if not paths:
        return np.zeros((0, height, width, channels), np.uint8)
    ds = (tf.data.Dataset.from_tensor_slices(paths)
          .map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(chunk))
    parts: list[np.ndarray] = []
    try:
        for batch in ds.as_numpy_iterator():
            parts.append(batch)
    except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError, tf.errors.UnknownError) as exc:
        done = len(parts) * chunk
        for path in paths[done:done + chunk] + paths[:done]:
            try:
                decode(tf.constant(path))
            except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError, tf.errors.UnknownError) as one:
                raise DataError(f"cannot decode image {path}: {one.message.splitlines()[0]}") from None
        raise DataError(f"cannot decode the images: {exc.message.splitlines()[0]}") from None
    return np.concatenate(parts)


def _class_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _scan_split(folder: Path, class_names: list[str]) -> tuple[list[str], list[int]]:
    paths: list[str] = []
    labels: list[int] = []
    for sub in _class_folders(folder):
        if sub.name not in class_names:
            raise DataError(f"{sub}: class '{sub.name}' is not among the training classes "
                            f"({', '.join(class_names)})")
        files = _image_files(sub)
        paths += [str(p) for p in files]
        labels += [class_names.index(sub.name)] * len(files)
    return paths, labels


def check_classes(found: int, classes: int, source: str) -> None:
    """DataError naming both numbers when the data's class count is not the design's."""
    if found != classes:
        raise DataError(f"the data has {found} classes ({source}) but the design has classes={classes}: "
                        f"change the design's classes to {found} or use data with {classes} classes")


def load_folder(root: Path, input_shape: tuple[int, ...], classes: int, *, limit: int | None = None,
                seed: int = 0, log: Callable[[str], None] = _quiet,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, list[str]]:
    """(x_train, y_train, x_test, y_test, class names) from ``train/<class>/*`` (+ ``test/``) or ``<class>/*``;
    the test arrays are None without a test folder. Classes are checked before any image is decoded."""
    train_dir = root / "train" if (root / "train").is_dir() else root
    test_dir = root / "test" if (root / "test").is_dir() and train_dir != root else None
    class_names = [p.name for p in _class_folders(train_dir)]
    if not class_names:
        raise DataError(f"{train_dir}: no class folders; expected train/<class>/*.png|jpg "
                        f"(and test/<class>/*) or <class>/*.png|jpg")
    check_classes(len(class_names), classes, str(root))
    train_paths, train_labels = _scan_split(train_dir, class_names)
    if not train_paths:
        raise DataError(f"{train_dir}: no images ({', '.join(IMAGE_SUFFIXES)}) in its class folders")
    if limit is not None and limit < len(train_paths):
        keep = np.sort(np.random.default_rng(seed + 1).permutation(len(train_paths))[:limit])
        train_paths, train_labels = [train_paths[i] for i in keep], [train_labels[i] for i in keep]
    log(f"decoding {len(train_paths):,} training images from {train_dir}")
    x_train = decode_images(train_paths, input_shape)
    y_train = np.asarray(train_labels, np.int32)
    if test_dir is None:
        return x_train, y_train, None, None, class_names
    test_paths, test_labels = _scan_split(test_dir, class_names)
    log(f"decoding {len(test_paths):,} test images from {test_dir}")
    return x_train, y_train, decode_images(test_paths, input_shape), np.asarray(test_labels, np.int32), class_names


def load_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str] | None]:
    """x_train, y_train, x_test, y_test (and class_names when present) from an .npz file."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in npz.files]
            if missing:
                raise DataError(f"{path}: missing arrays {', '.join(missing)} (has {', '.join(npz.files)})")
            names = [str(n) for n in npz["class_names"]] if "class_names" in npz.files else None
            return npz["x_train"], npz["y_train"], npz["x_test"], npz["y_test"], names
    except (OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None


def to_uint8_images(x: np.ndarray, input_shape: tuple[int, ...], what: str) -> np.ndarray:
    """Images as uint8 at the design's size and channel count; floats in [0, 1] are taken as rescaled."""
    import tensorflow as tf  # see load_cifar10

    height, width, channels = input_shape
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
        raise DataError(f"{what}: expected images (N, height, width, channels), received shape {x.shape}")
    if x.dtype != np.uint8:
        xf = x.astype(np.float32)
        if xf.size and xf.max() <= 1.0:
            xf = xf * 255.0
        x = np.clip(np.round(xf), 0, 255).astype(np.uint8)
    if x.shape[-1] == 4:
        x = x[..., :3]
    if x.shape[1:] == tuple(input_shape):
        return x
    out: list[np.ndarray] = []
    for start in range(0, len(x), 1024):
        part = tf.constant(x[start:start + 1024])
        if part.shape[-1] != channels:
            part = tf.image.rgb_to_grayscale(part) if channels == 1 else tf.image.grayscale_to_rgb(part)
        if part.shape[1:3] != (height, width):
            part = tf.cast(tf.clip_by_value(tf.round(tf.image.resize(part, (height, width))), 0, 255), tf.uint8)
        out.append(part.numpy())
    return np.concatenate(out) if out else np.zeros((0, height, width, channels), np.uint8)


def _labels(y: np.ndarray, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{what}: expected integer class labels (N,) or (N, 1), received {y.dtype} {y.shape}")
    return y.astype(np.int32)


def _split(x: np.ndarray, y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = max(1, int(round(len(x) * fraction))) if len(x) > 1 else 0
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


def load_data(spec: str, input_shape: tuple[int, ...], classes: int, *, seed: int = 0,
              validation_split: float = 0.1, limit: int | None = None, cache_dir: str | None = None,
              log: Callable[[str], None] = _quiet) -> ImageData:
    """Load ``spec`` (cifar10, a folder, an archive or an .npz) for a design with ``input_shape`` and
    ``classes``; DataError when it cannot be used. ``log`` hears about the slow steps (extracting, decoding)."""
    names: list[str] | None
    if spec == CIFAR10:
        log(f"loading CIFAR-10 through keras.datasets (cache: {keras_datasets_dir()}; 163 MB download if absent)")
        x_train, y_train, x_test, y_test = load_cifar10()
        names, source = list(CIFAR10_CLASSES), CIFAR10
    else:
        path = Path(spec).expanduser()
        source = str(path)
        if not path.exists():
            raise DataError(f"{path}: no such file or folder; {DATA_HELP} or --data cifar10")
        if path.is_dir() or is_archive(path):
            if path.is_file():
                log(f"extracting {path} (once; later runs reuse the cache)")
                try:
                    path = unwrap(extract_cached(path, cache_dir))
                except ArchiveError as exc:
                    raise DataError(str(exc)) from None
            x_train, y_train, x_test, y_test, names = load_folder(path, input_shape, classes, limit=limit,
                                                                  seed=seed, log=log)
        elif path.suffix.lower() == ".npz":
            x_train, y_train, x_test, y_test, names = load_npz(path)
        else:
            raise DataError(f"{path}: unknown data kind; {DATA_HELP}")
    y_train = _labels(y_train, f"{source} y_train")
    n_classes = len(names) if names is not None else int(y_train.max()) + 1 if len(y_train) else 0
    if names is None:
        names = [str(i) for i in range(n_classes)]
    check_classes(n_classes, classes, source)
    if len(x_train) != len(y_train):
        raise DataError(f"{source}: {len(x_train)} training images but {len(y_train)} labels")
    if limit is not None and limit < len(x_train):
        keep = np.random.default_rng(seed + 1).permutation(len(x_train))[:limit]
        x_train, y_train = x_train[np.sort(keep)], y_train[np.sort(keep)]
    x_train = to_uint8_images(np.asarray(x_train), input_shape, f"{source} x_train")
    x_train, y_train, x_val, y_val = _split(x_train, y_train, validation_split, seed)
    if x_test is None or y_test is None:
        x_test, y_test, test_split = x_val, y_val, "validation"
    else:
        y_test = _labels(y_test, f"{source} y_test")
        x_test, test_split = to_uint8_images(np.asarray(x_test), input_shape, f"{source} x_test"), "test"
        if len(x_test) != len(y_test):
            raise DataError(f"{source}: {len(x_test)} test images but {len(y_test)} labels")
    for what, y in (("training", y_train), ("test", y_test)):
        if len(y) and (y.min() < 0 or y.max() >= classes):
            raise DataError(f"{source}: {what} labels must be in 0..{classes - 1}, found {y.min()}..{y.max()}")
    return ImageData(x_train, y_train, x_val, y_val, x_test, y_test, tuple(names), source, test_split)


def make_pipelines(data: ImageData, batch_size: int, *, augment: bool = False, seed: int = 0) -> Pipelines:
    """tf.data pipelines: shuffled, rescaled (and augmented) training batches; cached val and test batches."""
    import keras  # see load_cifar10
    import tensorflow as tf

    scale = float(PREPROCESSING["rescale"])
    offset = float(PREPROCESSING["offset"])

    def rescale(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return tf.cast(x, tf.float32) * scale + offset, y

    train = tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train)).cache()
    train = train.shuffle(min(len(data.x_train), 50_000), seed=seed, reshuffle_each_iteration=True)
    train = train.batch(batch_size).map(rescale, num_parallel_calls=tf.data.AUTOTUNE)
    if augment:
        translate = keras.layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", seed=seed)

        def augment_batch(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            x = tf.image.random_flip_left_right(x, seed=seed)
            return translate(x, training=True), y

        train = train.map(augment_batch, num_parallel_calls=tf.data.AUTOTUNE)
    train = train.prefetch(tf.data.AUTOTUNE)

    def fixed(x: np.ndarray, y: np.ndarray) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
        return ds.map(rescale, num_parallel_calls=tf.data.AUTOTUNE).cache().prefetch(tf.data.AUTOTUNE)

    steps = math.ceil(len(data.x_train) / batch_size)
    return Pipelines(train, fixed(data.x_val, data.y_val), fixed(data.x_test, data.y_test), steps)
