"""The search loop: ask Optuna for a candidate, gate it on the budget, train what fits, tell Optuna the result.

Each trial: the space's decisions are sampled from the trial (:func:`designer.search.space.sample`), the
candidate is saved as ``trial-NNNN.toml`` and estimated (:func:`designer.search.objective.check_fit`). A
candidate that does not fit is told to Optuna as pruned with its constraint violations and the failing
resources, and **never reaches the trainer**. One that fits is trained by the injected
:class:`~designer.search.trainer.Trainer`; each epoch's validation accuracy is reported to the trial, whose
pruner may stop it. A candidate with the same decisions as a finished one is not trained twice.

The loop runs until the study holds ``trials`` finished trials (all workers together) or it is stopped;
a trial interrupted by a stop is marked failed and queued again, so the next run of the same study retries
it. It emits a :class:`TrialEvent` per trial; :func:`done_event` summarizes the whole study.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from designer import designfile
from designer.design import Design
from designer.search.objective import (
    Budget,
    Fit,
    Point,
    check_fit,
    objective_values,
    pareto_dims,
    pareto_front,
)
from designer.search.space import Space, sample
from designer.search.trainer import CANCELLED, COMPLETE, FAILED, PRUNED, Outcome, Trainer
from designer.training.protocol import Event

if TYPE_CHECKING:
    import optuna

INFEASIBLE = "infeasible"
DUPLICATE = "duplicate"
MAX_FAILURES_IN_A_ROW = 3
"""Training failures in a row that stop the search: one is a candidate's problem, three are the setup's."""


@dataclass(frozen=True)
class TrialEvent(Event):
    """One finished trial. ``state``: complete, pruned, infeasible (not trained: ``failed`` names the
    resources over budget), failed (training failed: ``reason``) or cancelled (the search was stopped)."""

    event: ClassVar[str] = "trial"
    study: str
    number: int
    state: str
    fits: bool
    flash_bytes: int | None
    ram_bytes: int | None
    latency_ms: float | None
    accuracy: float | None
    """Best validation accuracy (fraction) of the trained epochs; null when not trained."""
    design: str
    """The candidate's design file."""
    failed: list[str] = field(default_factory=list)
    reason: str = ""
    test_accuracy: float | None = None
    epochs: int = 0
    run_dir: str = ""
    duplicate_of: int | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class DoneEvent(Event):
    """The study as it stands when this worker stops: every trial, the best design, the Pareto front."""

    event: ClassVar[str] = "done"
    trials: list[dict[str, Any]]
    best: dict[str, Any] | None
    pareto: list[dict[str, Any]]


SEARCH_EVENTS: dict[str, type[Event]] = {"trial": TrialEvent, "done": DoneEvent}


@dataclass(frozen=True)
class Plan:
    """What one worker searches."""

    study: str
    folder: Path
    """This machine's search folder (candidates' TOML files, training runs)."""
    space: Space
    budget: Budget
    objective: str
    trials: int
    """Stop when the study holds this many finished trials (complete, pruned or infeasible)."""

    @property
    def prune(self) -> bool:
        """Optuna prunes single-objective studies only."""
        return self.objective == "accuracy"


def _finished(study: optuna.Study) -> int:
    from optuna.trial import TrialState  # Optuna only where a study exists

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def _twin(study: optuna.Study, params: dict[str, Any], number: int) -> Any:
    from optuna.trial import TrialState  # see _finished

    for other in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if other.number != number and other.params == params and record_of(other).get("accuracy") is not None:
            return other
    return None


RECORD_ATTR = "cnn_designer"
"""The trial's user attribute holding its record (one attribute: each storage write is a transaction)."""


def record_of(trial: Any) -> dict[str, Any]:
    """A trial's record: design, design_toml, fits, flash_bytes, ram_bytes, latency_ms, failed, state, ..."""
    value = trial.user_attrs.get(RECORD_ATTR)
    return value if isinstance(value, dict) else {}


class Search:
    """One worker of a study: ``await run()`` trials until the plan's count or ``stop()``."""

    def __init__(self, study: optuna.Study, plan: Plan, trainer: Trainer, emit: Callable[[Event], None]) -> None:
        self.study = study
        self.plan = plan
        self.trainer = trainer
        self.emit = emit
        self.stopped = False
        self.failures_in_a_row = 0
        self.last_failure = ""

    def stop(self) -> None:
        """Finish after the current candidate's current step (its trial is queued to run again)."""
        self.stopped = True
        self.trainer.cancel()

    async def run(self) -> None:
        """Run trials until done, stopped, or MAX_FAILURES_IN_A_ROW training failures."""
        self.plan.folder.mkdir(parents=True, exist_ok=True)
        # Optuna's storage calls block (SQLite locks, a database server): they run off the event loop.
        while not self.stopped and await asyncio.to_thread(_finished, self.study) < self.plan.trials:
            trial = await asyncio.to_thread(self.study.ask)
            event = await self._trial(trial)
            self.emit(event)
            if self.failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
                break

    def _propose(self, trial: optuna.Trial) -> tuple[Design, Fit, dict[str, Any]]:
        """Sample, save and estimate one candidate; record it on the trial and tell an infeasible one."""
        from optuna.trial import TrialState  # see _finished

        plan = self.plan
        design = sample(plan.space, trial.suggest_categorical, f"{plan.space.name}-t{trial.number}")
        path = plan.folder / f"trial-{trial.number:04d}.toml"
        designfile.save(design, path)
        fit = check_fit(design, plan.budget)
        for key, value in fit.violations(plan.budget).items():
            trial.set_constraint(key, value)
        record = {"design": str(path), "design_toml": designfile.dumps(design), "fits": fit.fits,
                  "flash_bytes": fit.flash_bytes, "ram_bytes": fit.ram_bytes, "latency_ms": fit.latency_ms,
                  "failed": list(fit.failed), "accuracy": None}
        if not fit.fits:
            record.update(state=INFEASIBLE, reason=fit.reason)
        # Written now, so other workers' summaries show this running trial's design.
        trial.set_user_attr(RECORD_ATTR, record)
        if not fit.fits:
            self.study.tell(trial, state=TrialState.PRUNED)
        return design, fit, record

    async def _trial(self, trial: optuna.Trial) -> TrialEvent:
        t0 = time.monotonic()
        plan = self.plan
        design, fit, record = await asyncio.to_thread(self._propose, trial)
        base = dict(study=plan.study, number=trial.number, fits=fit.fits, flash_bytes=fit.flash_bytes,
                    ram_bytes=fit.ram_bytes, latency_ms=fit.latency_ms, design=record["design"],
                    failed=list(fit.failed))
        if not fit.fits:
            return TrialEvent(state=INFEASIBLE, accuracy=None, reason=fit.reason,
                              seconds=round(time.monotonic() - t0, 3), **base)
        twin = await asyncio.to_thread(_twin, self.study, trial.params, trial.number)
        if twin is not None:
            # The same decisions as a trained candidate: its result stands, training it again would only cost.
            other = record_of(twin)
            outcome = Outcome(COMPLETE, other["accuracy"], other.get("test_accuracy"), other.get("epochs") or 0,
                              other.get("run_dir") or "")
            return await asyncio.to_thread(self._tell, trial, outcome, fit, record, base, t0, twin.number)

        def report(epoch: int, accuracy: float) -> bool:
            if not plan.prune:
                return False
            trial.report(accuracy, epoch)
            return trial.should_prune()

        # A stop that came while this trial was being proposed: queue it again rather than start a training.
        try:
            outcome = Outcome(CANCELLED) if self.stopped else await self.trainer.train(design, report)
        except (OSError, ValueError) as exc:  # the job could not start (data gone, run folder refused, disk full)
            outcome = Outcome(FAILED, reason=f"the training job did not start: {' '.join(str(exc).split())}")
        return await asyncio.to_thread(self._tell, trial, outcome, fit, record, base, t0, None)

    def _tell(self, trial: optuna.Trial, outcome: Outcome, fit: Fit, record: dict[str, Any], base: dict[str, Any],
              t0: float, twin: int | None) -> TrialEvent:
        from optuna.trial import TrialState  # see _finished

        state = outcome.status
        if state == COMPLETE and outcome.accuracy is None:
            outcome = Outcome(FAILED, None, None, outcome.epochs, outcome.run_dir,
                              "training completed without a validation accuracy")
            state = FAILED
        record.update(state=state, accuracy=outcome.accuracy, test_accuracy=outcome.test_accuracy,
                      run_dir=outcome.run_dir, epochs=outcome.epochs, reason=outcome.reason)
        if twin is not None:
            record["duplicate_of"] = twin
        trial.set_user_attr(RECORD_ATTR, record)
        if state == COMPLETE:
            assert outcome.accuracy is not None
            self.study.tell(trial, objective_values(self.plan.objective, outcome.accuracy, fit))
        elif state == PRUNED:
            self.study.tell(trial, state=TrialState.PRUNED)
        else:
            self.study.tell(trial, state=TrialState.FAIL)
            if state == CANCELLED or self.stopped:
                # Interrupted, not judged: the next run of this study proposes the same candidate first.
                self.study.enqueue_trial(trial.params)
        if state == FAILED and not self.stopped:
            self.failures_in_a_row += 1
            self.last_failure = outcome.reason
        else:
            self.failures_in_a_row = 0
        return TrialEvent(state=state, accuracy=outcome.accuracy, test_accuracy=outcome.test_accuracy,
                          epochs=outcome.epochs, run_dir=outcome.run_dir, reason=outcome.reason, duplicate_of=twin,
                          seconds=round(time.monotonic() - t0, 3), **base)


_STATES = {"COMPLETE": COMPLETE, "PRUNED": PRUNED, "FAIL": FAILED, "RUNNING": "running", "WAITING": "waiting"}


def _design_path(trial: Any, folder: Path) -> str:
    """The trial's design file on this machine: another machine's trial is written here from the study."""
    record = record_of(trial)
    path = Path(str(record.get("design") or ""))
    if path.is_file():
        return str(path)
    text = record.get("design_toml")
    if not isinstance(text, str):
        return ""
    local = folder / f"trial-{trial.number:04d}.toml"
    if not local.exists():  # never replace a file: only fill in a candidate this machine has not seen
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(text, encoding="utf-8")
    return str(local)


def _accuracy(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def trial_rows(study: optuna.Study, folder: Path) -> list[dict[str, Any]]:
    """Every trial of the study, as the done event lists them."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        record = record_of(t)
        state = record.get("state") if t.state.name in ("COMPLETE", "PRUNED", "FAIL") else None
        rows.append({"number": t.number, "state": state or _STATES.get(t.state.name, t.state.name.lower()),
                     "fits": record.get("fits"), "flash_bytes": record.get("flash_bytes"),
                     "ram_bytes": record.get("ram_bytes"), "accuracy": _accuracy(record.get("accuracy")),
                     "design": _design_path(t, folder) if record else ""})
    return rows


def done_event(study: optuna.Study, plan: Plan) -> DoneEvent:
    """The summary: all trials, the most accurate complete one, and the Pareto front of complete trials."""
    rows = trial_rows(study, plan.folder)
    complete = [r for r in rows if r["state"] == COMPLETE and r["accuracy"] is not None]
    best = max(complete, key=lambda r: (r["accuracy"], -r["flash_bytes"], -r["number"]), default=None)
    points = [Point(r["number"], r["accuracy"], r["flash_bytes"], r["ram_bytes"]) for r in complete]
    on_front = {p.number for p in pareto_front(points, pareto_dims(plan.objective))}
    keys = ("design", "accuracy", "flash_bytes", "ram_bytes")
    return DoneEvent(trials=rows, best=None if best is None else {k: best[k] for k in keys},
                     pareto=[{"number": r["number"], **{k: r[k] for k in keys}} for r in complete
                             if r["number"] in on_front])


def event_dict(event: Event) -> dict[str, Any]:
    """An event as a plain dict with its tag (what ``--json`` prints)."""
    return {"event": event.event, **asdict(event)}
