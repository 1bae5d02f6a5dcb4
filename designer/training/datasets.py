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
from designer.training.checks import (
    CIFAR10,
    DATA_HELP,
    DataError,
    Split,
    check_folder_scan,
    check_splits,
    read_npz,
    scan_folder,
)

if TYPE_CHECKING:
    import tensorflow as tf

CIFAR10_CLASSES: tuple[str, ...] = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                    "ship", "truck")
PREPROCESSING: dict[str, Any] = {
    "source_dtype": "uint8", "rescale": 1.0 / 255.0, "offset": 0.0, "input_range": [0.0, 1.0],
    "note": "model input = pixel (0..255) * rescale + offset",
}
"""What the pipelines do to pixels before the model: export must feed the model the same way."""


def _quiet(message: str) -> None:
    return None


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


def load_folder(root: Path, input_shape: tuple[int, ...], classes: int, *, limit: int | None = None,
                seed: int = 0, log: Callable[[str], None] = _quiet,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, list[str]]:
    """(x_train, y_train, x_test, y_test, class names) from ``train/<class>/*`` (+ ``test/``) or ``<class>/*``;
    the test arrays are None without a test folder. Classes and splits are checked before any image is
    decoded."""
    scan = scan_folder(root, classes)
    check_folder_scan(scan, str(root), classes, limit)
    train_paths, train_labels = scan.train_paths, scan.train_labels
    if limit is not None and limit < len(train_paths):
        keep = np.sort(np.random.default_rng(seed + 1).permutation(len(train_paths))[:limit])
        train_paths, train_labels = [train_paths[i] for i in keep], [train_labels[i] for i in keep]
    log(f"decoding {len(train_paths):,} training images from {scan.train_dir}")
    x_train = decode_images(train_paths, input_shape)
    y_train = np.asarray(train_labels, np.int32)
    if scan.test_dir is None:
        return x_train, y_train, None, None, scan.class_names
    log(f"decoding {len(scan.test_paths):,} test images from {scan.test_dir}")
    return (x_train, y_train, decode_images(scan.test_paths, input_shape), np.asarray(scan.test_labels, np.int32),
            scan.class_names)


def load_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str] | None]:
    """x_train, y_train, x_test, y_test (and class_names when present) from an .npz file."""
    train, test, names, (x_train, x_test) = read_npz(path, pixels=True)
    assert x_train is not None and x_test is not None  # pixels=True reads them
    return x_train, train.labels, x_test, test.labels, names


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
        if not np.isfinite(xf).all():  # NaN would become an arbitrary pixel value
            raise DataError(f"{what}: expected finite pixel values, found NaN or infinity")
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


def _split(x: np.ndarray, y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """Validation images held out of ``x``: at least one, and at least one left to train on (the checks
    guarantee two images)."""
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = min(max(1, int(round(len(x) * fraction))), len(x) - 1) if len(x) > 1 else 0
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


def _split_of(x: np.ndarray, y: np.ndarray, source: str, part: str) -> Split:
    return Split(y, f"{source} y_{part}", f"{source} x_{part}", tuple(np.shape(x)), np.asarray(x).dtype)


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
    # The same checks as before the job started, now on the arrays themselves (CIFAR-10, decoded folders).
    train = _split_of(x_train, y_train, source, "train")
    test = None if x_test is None or y_test is None else _split_of(x_test, y_test, source, "test")
    y_train, y_test, names = check_splits(source, train, test, names, classes, limit)
    y_train = y_train.astype(np.int32)
    if limit is not None and limit < len(x_train):
        keep = np.sort(np.random.default_rng(seed + 1).permutation(len(x_train))[:limit])
        x_train, y_train = x_train[keep], y_train[keep]
    x_train = to_uint8_images(np.asarray(x_train), input_shape, f"{source} x_train")
    x_train, y_train, x_val, y_val = _split(x_train, y_train, validation_split, seed)
    if x_test is None or y_test is None:
        x_test, y_test, test_split = x_val, y_val, "validation"
    else:
        x_test, test_split = to_uint8_images(np.asarray(x_test), input_shape, f"{source} x_test"), "test"
        y_test = y_test.astype(np.int32)
    return ImageData(x_train, y_train, x_val, y_val, x_test, y_test, tuple(names), source, test_split)


def augmentation(seed: int, translate: float = 0.1) -> Any:
    """The training augmentation as Keras preprocessing layers: random horizontal flip, and random translation
    by up to ``translate`` of height and width (0: flips only) with reflected borders and nearest-pixel
    sampling, so every shift is a whole number of pixels: the pad-and-crop of CIFAR training. (Bilinear
    sampling of sub-pixel shifts would blur the training images, which the sharp test images never are.)"""
    import keras  # see load_cifar10

    layers = [keras.layers.RandomFlip("horizontal", seed=seed)]
    if translate > 0:
        layers.append(keras.layers.RandomTranslation(translate, translate, fill_mode="reflect",
                                                     interpolation="nearest", seed=seed + 1))
    return keras.Sequential(layers, name="augmentation")


def make_pipelines(data: ImageData, batch_size: int, *, augment: bool = False, translate: float = 0.1,
                   seed: int = 0, one_hot: bool = False) -> Pipelines:
    """tf.data pipelines: shuffled, rescaled (and augmented) training batches; cached val and test batches.

    Augmentation runs on whole batches in a parallel map, so it costs a few vectorized ops per step, and the
    prefetch lets it overlap the model's step. ``one_hot`` labels are for a loss with label smoothing.
    """
    import tensorflow as tf  # see load_cifar10

    scale = float(PREPROCESSING["rescale"])
    offset = float(PREPROCESSING["offset"])
    classes = len(data.class_names)
    augmenter = augmentation(seed, translate) if augment else None

    def prepare(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return tf.cast(x, tf.float32) * scale + offset, tf.one_hot(y, classes) if one_hot else y

    def prepare_augmented(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x, y = prepare(x, y)
        return augmenter(x, training=True), y

    train = tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train)).cache()
    train = train.shuffle(min(len(data.x_train), 50_000), seed=seed, reshuffle_each_iteration=True)
    train = train.batch(batch_size).map(prepare_augmented if augment else prepare,
                                        num_parallel_calls=tf.data.AUTOTUNE)
    # Arrays in memory have no files to shard: under multi-worker each worker takes its share of every batch.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    train = train.prefetch(tf.data.AUTOTUNE).with_options(options)

    def fixed(x: np.ndarray, y: np.ndarray) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
        ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).cache().prefetch(tf.data.AUTOTUNE)
        return ds.with_options(options)

    steps = math.ceil(len(data.x_train) / batch_size)
    return Pipelines(train, fixed(data.x_val, data.y_val), fixed(data.x_test, data.y_test), steps)
