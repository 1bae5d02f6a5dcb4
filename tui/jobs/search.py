"""The app's search job: the search form's values, the ``cnn-designer search --json`` child process, its events.

The app never imports Optuna or TensorFlow: a search job runs the search command as a child process
(:class:`SearchProcess`) and reads its JSON lines with the training client's line reader
(:func:`designer.training.client.decode_lines`); the runner relays them like the train and export workers'
events. The command's ``trial`` and ``done`` events (:class:`designer.search.loop.TrialEvent`,
:class:`~designer.search.loop.DoneEvent`, plain data) go to the job card as they are; :class:`SearchPlan`
comes first (what the card draws the budget line from) and :class:`Ended` last (the exit status, which
:func:`finished` turns into the job's Finished). Nothing here imports textual.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from designer.design import Design
from designer.training.protocol import SEED_LIMIT
from tui.jobs.events import Finished, Log
from tui.jobs.settings import CIFAR10, check_dataset

EXIT_CANCELLED = 130
"""The search command's status when it was stopped (Ctrl-C, or the jobs pane's cancel)."""


@dataclass(frozen=True)
class SearchSettings:
    """What the search form asks for (the search command's options; the budget's board, runtime, dtype and
    compression are the app's current ones)."""

    data: str = CIFAR10
    trials: int = 20
    """Stop when the study holds this many finished trials."""
    epochs: int = 3
    """Proxy training epochs per candidate."""
    limit: int | None = None
    """Proxy training on at most this many images (None: all)."""
    objective: str = "accuracy"
    max_flash: int | None = None
    """Flash budget in bytes below the board's (None: the board's)."""
    max_ram: int | None = None
    """RAM budget in bytes below the board's (None: the board's)."""
    max_latency_ms: float | None = None
    residual: bool = False
    study: str = ""
    """The study to create or join; empty: a new one named after the design and the time."""
    batch_size: int | None = None
    """Proxy training's images per step (None: 64, or the joined study's)."""
    seed: int | None = None
    """Seed for the sampler and the training (None: random)."""
    storage: str = ""
    """An Optuna storage URL (empty: SQLite in the search folder)."""

    def __post_init__(self) -> None:
        from designer.search.objective import OBJECTIVES

        check_dataset(self.data)
        for label, value in (("trials", self.trials), ("epochs", self.epochs), ("limit", self.limit),
                             ("max flash", self.max_flash), ("max RAM", self.max_ram), ("batch size", self.batch_size)):
            if value is not None and value < 1:
                raise ValueError(f"{label} must be at least 1, received {value}")
        if self.max_latency_ms is not None and not self.max_latency_ms > 0:
            raise ValueError(f"max latency must be > 0 ms, received {self.max_latency_ms}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}; received '{self.objective}'")
        if any(not c.isprintable() for c in self.study) or len(self.study) > 100:
            raise ValueError("study name: printable characters only, at most 100")
        if self.seed is not None and not 0 <= self.seed < SEED_LIMIT:
            raise ValueError(f"seed must be in 0..{SEED_LIMIT - 1} (empty: random), received {self.seed}")
        if any(not c.isprintable() for c in self.storage):
            raise ValueError("storage: printable characters only (an Optuna URL such as sqlite:///study.db)")

    def options(self) -> dict[str, object]:
        """The runner options for a search job."""
        return asdict(self)


def settings_of(options: Mapping[str, object]) -> SearchSettings:
    """The SearchSettings in a job's options (the app adds board, runtime, ... beside them)."""
    names = {f.name for f in fields(SearchSettings)}
    return SearchSettings(**{k: v for k, v in options.items() if k in names})  # type: ignore[arg-type]


@dataclass(frozen=True)
class SearchPlan:
    """The first event of a search job: the study, how many trials, and the budget a candidate must fit."""

    study: str
    trials: int
    board: str
    flash_budget_bytes: int
    ram_budget_bytes: int


@dataclass(frozen=True)
class Ended:
    """The last event of the search process: its exit status and the last line it wrote on stderr."""

    code: int
    message: str = ""


def plan_for(design: Design, options: Mapping[str, object]) -> SearchPlan:
    """The plan a search job will run (ValueError naming the problem: bad settings, a board the search
    command cannot find, such as a custom board made in the app)."""
    from designer.boards import BoardError, find_board
    from designer.search.objective import Budget

    settings = settings_of(options)
    name = str(options.get("board") or "")
    try:
        board = find_board(name)
    except BoardError:
        raise ValueError(f"board '{name}' is not in the boards catalogue the search command reads (a custom "
                         "board made in the app is not): pick a listed board and set max flash / max RAM, or "
                         "add the board to boards.toml") from None
    budget = Budget(board=board, max_flash_bytes=settings.max_flash, max_ram_bytes=settings.max_ram)
    study = settings.study or f"{design.name}-{datetime.now():%Y%m%d-%H%M%S}"
    return SearchPlan(study, settings.trials, board.name, budget.flash_bytes, budget.ram_bytes)


def command_args(plan: SearchPlan, options: Mapping[str, object], seed_design: str, out_dir: str) -> list[str]:
    """The ``cnn-designer`` arguments that run ``plan``, seeded by the design file ``seed_design``."""
    s = settings_of(options)
    args = ["search", "--json", "--from", seed_design, "--study", plan.study, "--out", out_dir,
            "--trials", str(s.trials), "--epochs", str(s.epochs), "--data", s.data, "--objective", s.objective,
            "--board", plan.board]
    for flag, key in (("--runtime", "runtime"), ("--dtype", "dtype"), ("--compression", "compression")):
        if options.get(key):
            args += [flag, str(options[key])]
    for flag, value in (("--limit", s.limit), ("--max-flash", s.max_flash), ("--max-ram", s.max_ram),
                        ("--max-latency-ms", s.max_latency_ms), ("--batch-size", s.batch_size), ("--seed", s.seed),
                        ("--storage", s.storage or None)):
        if value is not None:
            args += [flag, str(value)]
    if s.residual:
        args.append("--residual")
    return args


class SearchProcess:
    """A running ``cnn-designer search --json``, in its own process group (its training workers with it);
    its stderr goes to ``log_path``."""

    def __init__(self, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    @classmethod
    async def start(cls, args: list[str], *, log_path: Path, python: str | None = None) -> SearchProcess:
        """Start the command (OSError when it cannot start)."""
        from designer.training.client import worker_env

        with open(log_path, "ab") as log:
            process = await asyncio.create_subprocess_exec(
                python or sys.executable, "-m", "tui.cli", *args, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=log, env=worker_env({"TF_CPP_MIN_LOG_LEVEL": "3"}),
                start_new_session=True, limit=16 * 1024 * 1024)  # the done event lists every trial
        return cls(process, log_path)

    async def events(self) -> AsyncIterator[Any]:
        """Trial and done events (a line that is none becomes a Log), then Ended."""
        from designer.search.loop import SEARCH_EVENTS
        from designer.training.client import decode_lines, log_tail
        from designer.training.protocol import decode_event

        assert self.process.stdout is not None
        async for event in decode_lines(self.process.stdout,
                                        lambda line: decode_event(line, SEARCH_EVENTS, "search event"),
                                        lambda line, _exc: Log(line)):
            yield event
        code = await self.process.wait()
        tail = log_tail(self.log_path, 1)
        yield Ended(code, tail.removeprefix("cnn-designer search: "))

    def cancel(self) -> None:
        """Stop after the current training step, as Ctrl-C does (the command then reports and exits 130)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)

    def kill(self) -> None:
        """Stop now: the command and the training worker it runs."""
        if self.process.returncode is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()

    async def wait(self) -> int:
        """The command's exit status."""
        return await self.process.wait()


def _kib(value: object) -> str:
    return f"{value / 1024:,.1f} KiB" if isinstance(value, int | float) else "-"


class SearchTranslator:
    """Search process events -> job events: trial and done events pass through (the card reads them); Ended
    becomes Finished, saying the best design found (the last done event's)."""

    def __init__(self, plan: SearchPlan) -> None:
        self.plan = plan
        self.best: dict[str, Any] | None = None

    def __call__(self, event: Any) -> list[Any]:
        from designer.search.loop import DoneEvent

        if isinstance(event, DoneEvent):
            self.best = event.best
        if isinstance(event, Ended):
            return [finished(self.plan, event, self.best)]
        return [event]  # trial and done events (the card reads them), a stray line as a Log


def finished(plan: SearchPlan, ended: Ended, best: Mapping[str, Any] | None) -> Finished:
    """The job's last event, from the command's exit status and the best design of its done event."""
    found = "no candidate trained to the end" if best is None else (
        f"best {best['accuracy']:.1%} val acc, flash {_kib(best['flash_bytes'])}, RAM {_kib(best['ram_bytes'])}: "
        f"{best['design']}")
    if ended.code == 0:
        return Finished(True, f"study {plan.study}: {found}")
    if ended.code == EXIT_CANCELLED:
        return Finished(False, f"stopped; {found}; S with study '{plan.study}' continues it")
    if ended.code < 0:
        return Finished(False, f"the search was stopped by signal {-ended.code}; {found}")
    return Finished(False, ended.message or f"the search exited with status {ended.code}")
