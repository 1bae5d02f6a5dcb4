"""The export job's wire protocol: one JSON object per line on the worker's stdout.

It reuses the training protocol's machinery and its ``log`` and ``failed`` events, and adds the two events an
export needs: ``step`` (a step started or finished: load, convert, quantize, measure, evaluate, write sources,
stedgeai, write report) and ``exported`` (the bundle is in place, with report.json's summary). The request
is an :class:`ExportRequest` as one JSON line. No TensorFlow here: the app and the CLI import it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from designer.footprint import COMPRESSIONS
from designer.training.protocol import Event, Failed, Log, ProtocolError, encode_event, request_from_json
from designer.training.protocol import decode_event as decode_training_event

STEPS: tuple[str, ...] = ("load", "convert", "quantize", "measure", "evaluate", "write sources", "stedgeai",
                          "write report")
"""Export steps in the order they run (``stedgeai`` only reports a skip when the tool is not on PATH)."""

__all__ = ["STEPS", "Event", "ExportRequest", "Exported", "Failed", "Log", "ProtocolError", "Step",
           "decode_event", "encode_event"]


@dataclass(frozen=True)
class ExportRequest:
    """Everything an export needs."""

    source: str
    """A run folder (runs/<design>-<timestamp>/), a design file (.toml) or a preset id (untrained export)."""
    out_dir: str | None = None
    """The bundle folder; default ``<run>/export`` for a run, ``exports/<design>`` for a design."""
    data: str | None = None
    """Calibration/test data overriding the run's config.json ``data`` (same forms as training's --data)."""
    board: str | None = None
    """Board name (designer.boards); default the catalogue's default board."""
    compression: str = "high"
    """X-CUBE-AI weight compression for the float .h5 (none, low, medium, high)."""
    calibration_images: int = 300
    """Images of the run's training data used to calibrate int8 ranges."""
    eval_images: int = 10_000
    """At most this many test images for the float32 vs int8 accuracy comparison (a seeded sample of a
    larger test set): all of CIFAR-10's. LiteRT runs Model2's 10,000 through both models in about 6 s."""
    micro_eval_images: int = 1_000
    """At most this many of those images (a seeded sample) also run through the tflite-micro interpreter, the
    kernels a board runs, which gives the reported accuracy: it takes about 20 ms per Model5 image, so all
    10,000 would add minutes."""
    arena_margin_bytes: int = 1024
    """Added to each Cortex-M arena in <c_name>_config.h (after rounding up to 16; then rounded up to 16)."""
    stedgeai: bool = True
    """Run ``stedgeai analyze`` when it is on PATH."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {', '.join(COMPRESSIONS)}; received "
                             f"'{self.compression}'")
        for name in ("calibration_images", "eval_images", "micro_eval_images"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, received {getattr(self, name)}")
        if self.arena_margin_bytes < 0:
            raise ValueError(f"arena_margin_bytes must be >= 0, received {self.arena_margin_bytes}")

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ExportRequest:
        """Parse :meth:`to_json` output; unknown keys and bad values are ProtocolErrors naming them."""
        return request_from_json(cls, text, "export request", "source", "a run folder, a .toml or a preset id")


@dataclass(frozen=True)
class Step(Event):
    """A step started (``done`` False) or finished (``done`` True, with ``seconds`` and a short ``detail``)."""

    event: ClassVar[str] = "step"
    step: str
    index: int
    """1-based position in STEPS."""
    total: int
    done: bool = False
    seconds: float = 0.0
    detail: str = ""


@dataclass(frozen=True)
class Exported(Event):
    """The bundle is complete and in place. ``summary`` holds report.json's headline figures."""

    event: ClassVar[str] = "exported"
    out_dir: str
    untrained: bool
    warnings: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


EVENT_TYPES: dict[str, type[Event]] = {cls.event: cls for cls in (Step, Log, Exported, Failed)}

FINAL_EVENTS: tuple[type[Event], ...] = (Exported, Failed)
"""Every export job's last event is one of these."""


def decode_event(line: str) -> Event:
    """Parse one export protocol line; ProtocolError quotes lines that are not a known event."""
    return decode_training_event(line, EVENT_TYPES, label="export event")
