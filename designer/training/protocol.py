"""The training job's wire protocol: its configuration and the events it prints, one JSON object per line.

The worker (``python -m designer.training.worker``) reads a :class:`TrainConfig` as JSON and writes events to
its protocol stream; the CLI and the app's runner parse them back with :func:`decode_event`. Every event is a
small frozen dataclass; :func:`encode_event` / :func:`decode_event` round-trip each of them exactly (tests check
it). Non-finite floats (a diverging loss) travel as ``null``, so every line is strict JSON.

Epoch numbers in events are 1-based ("epoch 3 of 200"); steps are 1-based within an epoch. This module imports
no TensorFlow: the app and the CLI import it.
"""

from __future__ import annotations

import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

STRATEGIES: tuple[str, ...] = ("default", "mirrored", "multi-worker")
"""``default``: one device, as Keras picks it. ``mirrored``: tf.distribute.MirroredStrategy over local GPUs.
``multi-worker``: tf.distribute.MultiWorkerMirroredStrategy over the machines that ``TF_CONFIG`` names."""

RECIPES: tuple[str, ...] = ("default", "seed")
"""Named training recipes (:data:`designer.training.recipe.RECIPE_TABLE` holds their settings). ``default``:
augmentation, AdamW with weight decay, cosine decay with warm-up. ``seed``: the seed notebook's plain Adam."""

MIXED_PRECISION: tuple[str, ...] = ("auto", "on", "off")
"""``auto``: Keras' mixed_float16 policy when a GPU is visible, float32 otherwise."""

CIFAR10 = "cifar10"
"""The ``data`` that means Keras' CIFAR-10 loader rather than a path."""

CANCEL_COMMAND = "cancel"
"""A line on the worker's stdin that asks it to stop after the current step (like SIGINT/SIGTERM)."""


SEED_LIMIT = 2**31
"""Seeds are below this: NumPy's legacy seeding (Keras' set_random_seed) takes at most 2**32 - 1, and a
resumed run adds its epoch count."""

_Request = TypeVar("_Request")


def _type_matches(value: Any, hint: Any) -> bool:
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        if option is type(None) and value is None:
            return True
        if isinstance(value, bool):  # bool is an int subclass: only a bool field takes one
            if option is bool:
                return True
            continue
        if option is float and isinstance(value, (int, float)):
            return math.isfinite(value)
        if option in (int, str) and isinstance(value, option):
            return True
    return False


def _type_name(hint: Any) -> str:
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    names = {int: "an integer", float: "a finite number", str: "a string", bool: "true or false",
             type(None): "null"}
    return " or ".join(names.get(o, str(o)) for o in options)


def check_field_types(obj: Any) -> None:
    """ValueError naming the field and the value when a dataclass field of int, float, str, bool or a union
    of them with None holds another type (JSON and config.json give any type)."""
    hints = typing.get_type_hints(type(obj))
    for f in fields(obj):
        value = getattr(obj, f.name)
        if not _type_matches(value, hints[f.name]):
            shown = repr(value)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            raise ValueError(f"{f.name} must be {_type_name(hints[f.name])}, received {shown}")


class ProtocolError(ValueError):
    """A line that is not a known event or config; the message quotes what was received."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training job needs; saved as the run's config.json (with the resolved seed and data)."""

    design: str
    """A design file (.toml) path or a preset id such as ``model2``."""
    data: str | None = None
    """``cifar10``, an image folder, a .tar.gz/.zip of one, or an .npz with x_train, y_train, x_test, y_test.
    None: ``cifar10`` for a new run; for a resumed run the run's own data (which must then be cifar10 or lie
    inside the run folder: a run's config.json is not followed elsewhere unasked)."""
    epochs: int = 10
    """The epoch to train up to (a resumed run continues from where it stopped up to this one)."""
    batch_size: int = 64
    """Global batch size in images (split across the replicas of --strategy mirrored or multi-worker)."""
    recipe: str = "default"
    """The named recipe (:data:`RECIPES`) that gives the settings below left at None."""
    learning_rate: float | None = None
    """Peak learning rate (after warm-up); None: the recipe's."""
    augment: bool | None = None
    """Random horizontal flip and whole-pixel translation of training images; None: the recipe's."""
    translate: float | None = None
    """The augmentation's largest shift as a fraction of the image size, in [0, 0.5); 0: flips only; None: the
    recipe's (0.1)."""
    weight_decay: float | None = None
    """AdamW's decoupled weight decay (0 gives plain Adam); None: the recipe's."""
    label_smoothing: float | None = None
    """Label smoothing of the cross-entropy, in [0, 1); None: the recipe's."""
    mixed_precision: str = "auto"
    """Keras' mixed_float16 policy: ``auto`` (on a GPU), ``on`` or ``off``."""
    seed: int | None = None
    """Seed for weights, shuffling and augmentation; None picks one and records it in config.json."""
    out_dir: str = "runs"
    """Where run folders are created (``<out_dir>/<design>-<timestamp>/``)."""
    run_dir: str | None = None
    """A run folder prepared by the caller (the client does this so the worker's stderr lands in it)."""
    resume: str | None = None
    """A run folder to continue from its last.keras and history."""
    strategy: str = "default"
    validation_split: float = 0.1
    """Fraction of the training images held out for validation when the data has no test split."""
    early_stopping: int = 0
    """Stop after this many epochs without a better val_accuracy; 0 disables it."""
    reduce_lr: int = 0
    """Halve the learning rate after this many epochs without a better val_loss; 0 disables it."""
    limit: int | None = None
    """Use at most this many training images (quick trials, benchmarks)."""
    cpu_devices: int = 1
    """Split the CPU into this many logical devices (to exercise --strategy mirrored without GPUs)."""
    cache_dir: str | None = None
    """Where archives are extracted; default ~/.cache/cnn-designer/datasets."""

    def __post_init__(self) -> None:
        check_field_types(self)
        if self.epochs < 0:
            raise ValueError(f"epochs must be >= 0, received {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, received {self.batch_size}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, received {self.learning_rate}")
        if self.weight_decay is not None and not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, received {self.weight_decay}")
        if self.label_smoothing is not None and not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), received {self.label_smoothing}")
        if self.translate is not None and not 0 <= self.translate < 0.5:
            raise ValueError(f"translate must be in [0, 0.5), received {self.translate}")
        if self.recipe not in RECIPES:
            raise ValueError(f"recipe must be one of {', '.join(RECIPES)}; received '{self.recipe}'")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"mixed_precision must be one of {', '.join(MIXED_PRECISION)}; "
                             f"received '{self.mixed_precision}'")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; received '{self.strategy}'")
        if not 0.0 < self.validation_split < 1.0:
            raise ValueError(f"validation_split must be in (0, 1), received {self.validation_split}")
        if self.cpu_devices < 1:
            raise ValueError(f"cpu_devices must be >= 1, received {self.cpu_devices}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1 (training images), received {self.limit}")
        if self.seed is not None and not 0 <= self.seed < SEED_LIMIT:
            raise ValueError(f"seed must be in 0..{SEED_LIMIT - 1}, received {self.seed}")
        for name in ("early_stopping", "reduce_lr"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0 turns it off), received {getattr(self, name)}")

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """Parse :meth:`to_json` output; unknown keys and bad values are ProtocolErrors naming them."""
        return request_from_json(cls, text, "training config", "design", "a .toml path or a preset id")


def request_from_json(cls: type[_Request], text: str, what: str, required: str, meaning: str) -> _Request:
    """A job request dataclass ``cls`` from one JSON line: ProtocolErrors (``what`` names the request) for
    text that is not a JSON object, unknown keys, a missing ``required`` key (``meaning`` says what it
    holds) and values the dataclass refuses. The training config and the export request both use it."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"{what} is not JSON ({exc}): {text[:200]!r}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"{what} must be a JSON object, received {text[:200]!r}")
    unknown = sorted(set(data) - {f.name for f in fields(cls)})  # type: ignore[arg-type]
    if unknown:
        raise ProtocolError(f"unknown {what} keys: {', '.join(unknown)}")
    if required not in data:
        raise ProtocolError(f"{what} needs '{required}' ({meaning})")
    try:
        return cls(**data)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"bad {what}: {exc}") from None


@dataclass(frozen=True)
class Event:
    """Base of every event; ``event`` is the JSON tag."""

    event: ClassVar[str] = ""


@dataclass(frozen=True)
class Started(Event):
    """Data loaded and model built; training is about to begin."""

    event: ClassVar[str] = "started"
    design: str
    run_dir: str
    epochs: int
    initial_epoch: int
    """Epochs already done (non-zero when resuming)."""
    steps_per_epoch: int
    batch_size: int
    train_images: int
    val_images: int
    test_images: int
    class_names: list[str]
    params: int
    strategy: str = "default"
    replicas: int = 1
    seed: int = 0
    recipe: str = ""
    """The recipe in words ("default: AdamW 0.002, cosine ..."), as config.json records it."""


@dataclass(frozen=True)
class EpochStart(Event):
    event: ClassVar[str] = "epoch_start"
    epoch: int
    epochs: int


@dataclass(frozen=True)
class Progress(Event):
    """Within an epoch, at most five per second. ``eta_s`` is the time left for the whole job's training steps."""

    event: ClassVar[str] = "progress"
    epoch: int
    step: int
    steps: int
    loss: float | None
    accuracy: float | None
    images_per_s: float
    eta_s: float | None


@dataclass(frozen=True)
class EpochEnd(Event):
    """One finished epoch. ``train_s`` is the training part only (validation excluded)."""

    event: ClassVar[str] = "epoch_end"
    epoch: int
    epochs: int
    loss: float | None
    accuracy: float | None
    val_loss: float | None
    val_accuracy: float | None
    lr: float
    train_s: float
    images_per_s: float
    best: bool = False
    """This epoch's val_accuracy is the best so far (best.keras was written)."""


@dataclass(frozen=True)
class Log(Event):
    event: ClassVar[str] = "log"
    message: str
    level: str = "info"


@dataclass(frozen=True)
class Finished(Event):
    """The job ended without error. ``status`` is ``completed`` or ``cancelled``; ``ok`` is True only when
    completed (a cancelled run has no test metrics). ``metrics`` is metrics.json's content when completed."""

    event: ClassVar[str] = "finished"
    ok: bool
    status: str
    run_dir: str
    epochs_completed: int
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed(Event):
    """The job ended with an error; ``reason`` is a sentence for people, ``detail`` a traceback (may be '')."""

    event: ClassVar[str] = "failed"
    reason: str
    run_dir: str = ""
    detail: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.event: cls for cls in (Started, EpochStart, Progress, EpochEnd, Log, Finished, Failed)
}

FINAL_EVENTS: tuple[type[Event], ...] = (Finished, Failed)
"""Every job's last event is one of these."""


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def encode_event(event: Event) -> str:
    """One line of strict JSON (no trailing newline)."""
    return json.dumps({"event": event.event, **_finite(asdict(event))}, allow_nan=False)


def decode_event(line: str, event_types: Mapping[str, type[Event]] | None = None, label: str = "event") -> Event:
    """Parse one protocol line; ProtocolError quotes lines that are not a known event.

    ``event_types`` (tag -> class) defaults to the training events; the export worker passes its own, and
    ``label`` names them in errors.
    """
    event_types = EVENT_TYPES if event_types is None else event_types
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        raise ProtocolError(f"not a JSON line: {line[:200]!r}") from None
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        raise ProtocolError(f"not an event object: {line[:200]!r}")
    tag = data.pop("event")
    cls = event_types.get(tag)
    if cls is None:
        raise ProtocolError(f"unknown {label} '{tag}'; known: {', '.join(event_types)}")
    known = {f.name for f in fields(cls)}
    try:
        # Unknown keys are dropped, so a newer worker can add fields without breaking an older reader.
        return cls(**{k: v for k, v in data.items() if k in known})
    except TypeError as exc:
        raise ProtocolError(f"bad '{tag}' event ({exc}): {line[:200]!r}") from None
