"""Proxy training of one candidate: the ``train`` command's worker process, pruned from its epoch events.

:class:`WorkerTrainer` starts :class:`designer.training.client.TrainingJob` (the same worker, data sets and
recipe as ``cnn-designer train``), passes each ``epoch_end`` event's validation accuracy to a ``report``
callback (the search's Optuna trial: ``trial.report`` + ``trial.should_prune``) and, when that says prune,
cancels the job the way Ctrl-C does. Training stays out of this process: no TensorFlow here.

Anything with the :class:`Trainer` shape can train candidates; tests use that to record what is trained.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from designer.design import Design
from designer.training.client import TrainingJob
from designer.training.protocol import EpochEnd, Failed, Finished, TrainConfig

Report = Callable[[int, float], bool]
"""``report(epoch, val_accuracy)`` (epoch 1-based) returns True when the candidate should be pruned."""

COMPLETE, PRUNED, CANCELLED, FAILED = "complete", "pruned", "cancelled", "failed"


@dataclass(frozen=True)
class Outcome:
    """How one candidate's training ended."""

    status: str
    """complete, pruned (the pruner stopped it), cancelled (the search was stopped) or failed."""
    accuracy: float | None = None
    """Best validation accuracy over its finished epochs (fraction): what the search optimizes."""
    test_accuracy: float | None = None
    """Test accuracy of its best checkpoint (completed runs only): reported, never optimized on."""
    epochs: int = 0
    run_dir: str = ""
    reason: str = ""


class Trainer(Protocol):
    """Trains one candidate; ``cancel()`` stops the current one (the search was interrupted)."""

    async def train(self, design: Design, report: Report) -> Outcome: ...

    def cancel(self) -> None: ...

    def kill(self) -> None: ...


@dataclass
class WorkerTrainer:
    """Each candidate in its own ``train`` worker process, run folders under ``out_dir``."""

    data: str
    out_dir: str
    epochs: int = 1
    limit: int | None = None
    batch_size: int = 64
    seed: int | None = None
    cache_dir: str | None = None
    python: str | None = None

    def __post_init__(self) -> None:
        self._job: TrainingJob | None = None
        self._cancelled = False

    def config(self, design: Design) -> TrainConfig:
        """The proxy recipe for one candidate (ValueError for impossible settings)."""
        return TrainConfig(design=design.name, data=self.data, epochs=self.epochs, batch_size=self.batch_size,
                           seed=self.seed, out_dir=self.out_dir, limit=self.limit, cache_dir=self.cache_dir)

    async def train(self, design: Design, report: Report) -> Outcome:
        """Train ``design``; DataError/RunError/OSError when the job cannot start."""
        job = self._job = await TrainingJob.start(self.config(design), design=design, python=self.python)
        if self._cancelled:  # cancel() came while the job was starting, before there was a job to tell
            job.cancel()
        pruned = False
        accuracies: list[float] = []
        try:
            async for event in job.events():
                if isinstance(event, EpochEnd) and event.val_accuracy is not None:
                    accuracies.append(event.val_accuracy)
                    prune = report(event.epoch, event.val_accuracy)
                    # After the last epoch only the test evaluation is left: finishing costs less than stopping.
                    if prune and event.epoch < self.epochs and not pruned and not self._cancelled:
                        pruned = True
                        job.cancel()
        finally:
            if job.process.returncode is None:  # stopped reading early (an error here): never leave it running
                job.kill()
            await job.wait()
            self._job = None
        best = max(accuracies) if accuracies else None
        final = job.final
        run_dir = str(job.run_dir)
        if isinstance(final, Finished) and final.ok:
            return Outcome(COMPLETE, best, final.metrics.get("test_accuracy"), final.epochs_completed, run_dir)
        if isinstance(final, Finished):
            return Outcome(PRUNED if pruned and not self._cancelled else CANCELLED, best, None,
                           final.epochs_completed, run_dir)
        reason = final.reason if isinstance(final, Failed) else "the worker ended without a result"
        return Outcome(FAILED, best, None, len(accuracies), run_dir, reason)

    def cancel(self) -> None:
        """Stop the current candidate after its current step (it is recorded as interrupted, not pruned)."""
        self._cancelled = True
        if self._job is not None:
            self._job.cancel()

    def kill(self) -> None:
        """Stop the current candidate now (a second Ctrl-C)."""
        self._cancelled = True
        if self._job is not None:
            self._job.kill()
