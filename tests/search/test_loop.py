"""The search loop in-process, with a trainer that records what it is given: no candidate over budget ever
reaches it, infeasible trials carry the failing resource, pruning stops a trainer, duplicates are not
retrained, a stop queues the interrupted candidate for the next run, and the done event has the issue's shape.

The trainer here does not train (the CLI tests train for real); it records each design and answers from it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import optuna

from designer.boards import find_board
from designer.design import Design, analyze
from designer.footprint import estimate
from designer.search import storage
from designer.search.loop import Plan, Search, done_event, event_dict, record_of
from designer.search.objective import Budget, directions
from designer.search.space import family_space
from designer.search.trainer import CANCELLED, COMPLETE, PRUNED, Outcome, Report

BOARD = find_board("NUCLEO-F446RE")


class RecordingTrainer:
    """Records every design it receives; its 'accuracy' grows with the design's parameter count."""

    def __init__(self, epochs: int = 3, stop_after: int | None = None, search: list[Search] | None = None) -> None:
        self.designs: list[Design] = []
        self.epochs = epochs
        self.stop_after = stop_after
        self.search = search
        self.cancelled = False

    async def train(self, design: Design, report: Report) -> Outcome:
        self.designs.append(design)
        if self.stop_after is not None and len(self.designs) > self.stop_after and self.search:
            self.search[0].stop()
        if self.cancelled:
            return Outcome(CANCELLED, None, None, 0, "")
        params = analyze(design).params_total
        accuracy = 0.0
        for epoch in range(1, self.epochs + 1):
            accuracy = min(0.99, params / 200_000) * epoch / self.epochs
            if report(epoch, accuracy):
                return Outcome(PRUNED, accuracy, None, epoch, "")
        return Outcome(COMPLETE, accuracy, accuracy - 0.01, self.epochs, "")

    def cancel(self) -> None:
        self.cancelled = True

    def kill(self) -> None:
        self.cancelled = True


def _plan(tmp_path: Path, trials: int, objective: str = "accuracy", **budget: Any) -> Plan:
    space = family_space((32, 32, 3), 10)
    return Plan(study="s", folder=tmp_path / "search-s", space=space,
                budget=Budget(BOARD, "tflm", "int8", **budget), objective=objective, trials=trials)


def _study(tmp_path: Path, plan: Plan, seed: int = 0) -> optuna.Study:
    plan.folder.mkdir(parents=True, exist_ok=True)
    return storage.open_study(storage.default_storage(plan.folder), plan.study, directions(plan.objective),
                              {"objective": plan.objective}, plan.space.to_dict(), seed=seed, prune=plan.prune)


def _run(study: optuna.Study, plan: Plan, trainer: RecordingTrainer) -> tuple[Search, list[Any]]:
    events: list[Any] = []
    search = Search(study, plan, trainer, events.append)
    if trainer.search is not None:
        trainer.search.append(search)
    asyncio.run(search.run())
    return search, events


def test_no_candidate_over_budget_is_ever_trained(tmp_path: Path) -> None:
    # A budget that about half of the family's candidates miss (TFLM int8 flash on this board's 512 KiB).
    plan = _plan(tmp_path, trials=20, max_flash_bytes=120 * 1024, max_ram_bytes=48 * 1024)
    trainer = RecordingTrainer()
    _search, events = _run(_study(tmp_path, plan), plan, trainer)
    assert len(events) == 20
    for design in trainer.designs:  # checked again here, independently of the loop's own check
        fp = estimate(design, runtime="tflm", dtype="int8")
        assert fp.flash_bytes <= 120 * 1024 and fp.ram_bytes <= 48 * 1024, design.name
    infeasible = [e for e in events if e.state == "infeasible"]
    trained = {d.name for d in trainer.designs}
    assert infeasible and trained  # both kinds happened: the check above is not vacuous
    for e in infeasible:
        assert not e.fits and e.accuracy is None and e.run_dir == "" and e.failed
        assert (e.flash_bytes > 120 * 1024) == ("flash" in e.failed)
        assert (e.ram_bytes > 48 * 1024) == ("ram" in e.failed)
        assert f"convnet-t{e.number}" not in trained
    for e in events:
        assert Path(e.design).is_file()


def test_pruning_and_duplicates(tmp_path: Path) -> None:
    plan = _plan(tmp_path, trials=16)
    trainer = RecordingTrainer(epochs=4)
    study = _study(tmp_path, plan)
    _run(study, plan, trainer)
    records = [record_of(t) for t in study.trials]
    assert "pruned" in {r["state"] for r in records}  # the median pruner stopped some trainings after an epoch
    pruned = [t for t in study.trials if record_of(t)["state"] == "pruned"]
    assert all(len(t.intermediate_values) < 4 for t in pruned)
    twins = [r for r in records if "duplicate_of" in r]
    assert len(trainer.designs) + len(twins) + sum(r["state"] == "infeasible" for r in records) == 16


def test_a_stop_requeues_the_interrupted_candidate(tmp_path: Path) -> None:
    plan = _plan(tmp_path, trials=10)
    study = _study(tmp_path, plan)
    first = RecordingTrainer(stop_after=2, search=[])
    search, events = _run(study, plan, first)
    assert search.stopped and events[-1].state == CANCELLED
    interrupted = study.trials[events[-1].number]
    assert interrupted.state.name == "FAIL"
    # The next run of the same study (a new Search, as a re-run of the command makes) retries it first.
    again = RecordingTrainer()
    _run(_study(tmp_path, plan), plan, again)
    retried = [t for t in study.trials if t.number > interrupted.number][0]
    assert retried.params == interrupted.params
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.trials) == 10


def test_the_done_event_has_the_issue_shape(tmp_path: Path) -> None:
    plan = _plan(tmp_path, trials=12, objective="accuracy-flash", max_flash_bytes=150 * 1024)
    study = _study(tmp_path, plan)
    _run(study, plan, RecordingTrainer())
    done = event_dict(done_event(study, plan))
    assert set(done) == {"event", "trials", "best", "pareto"} and done["event"] == "done"
    assert len(done["trials"]) == 12
    for row in done["trials"]:
        assert set(row) == {"number", "state", "fits", "flash_bytes", "ram_bytes", "accuracy", "design"}
        assert (row["accuracy"] is None) == (row["state"] == "infeasible")
    complete = [r for r in done["trials"] if r["state"] == "complete"]
    assert set(done["best"]) == {"design", "accuracy", "flash_bytes", "ram_bytes"}
    assert done["best"]["accuracy"] == max(r["accuracy"] for r in complete)
    front = {p["design"] for p in done["pareto"]}
    for r in complete:  # on the front exactly when no other complete trial is better on both
        dominated = any(o["accuracy"] >= r["accuracy"] and o["flash_bytes"] <= r["flash_bytes"]
                        and (o["accuracy"], o["flash_bytes"]) != (r["accuracy"], r["flash_bytes"]) for o in complete)
        assert (r["design"] in front) == (not dominated)


class BrokenTrainer(RecordingTrainer):
    """A trainer whose jobs cannot start (as when the data set vanished after the search began)."""

    async def train(self, design: Design, report: Report) -> Outcome:
        self.designs.append(design)
        raise OSError(f"{design.name}: No such file or directory: 'gone.npz'")


def test_a_setup_that_cannot_train_stops_after_three_failures(tmp_path: Path) -> None:
    plan = _plan(tmp_path, trials=10)
    study = _study(tmp_path, plan)
    search, events = _run(study, plan, BrokenTrainer())
    failed = [e for e in events if e.state == "failed"]
    assert len(failed) == 3 and "did not start" in search.last_failure and "gone.npz" in failed[-1].reason
    assert all(t.state.name != "RUNNING" for t in study.trials)  # every trial was told, none left hanging
