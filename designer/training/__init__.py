"""Training jobs: a worker process that trains a design with Keras and reports as JSON lines, and its client.

Importing this package (or :mod:`protocol`, :mod:`runs`, :mod:`client`) loads no TensorFlow; only the worker
process (``python -m designer.training.worker``) does.
"""

from designer.training.protocol import (
    EpochEnd,
    EpochStart,
    Event,
    Failed,
    Finished,
    Log,
    Progress,
    Started,
    TrainConfig,
    decode_event,
    encode_event,
)
from designer.training.runs import RunSummary, best_run_for, list_runs

__all__ = ["EpochEnd", "EpochStart", "Event", "Failed", "Finished", "Log", "Progress", "RunSummary", "Started",
           "TrainConfig", "best_run_for", "decode_event", "encode_event", "list_runs"]
