"""``cnn-designer search``: search a design space with Optuna for the most accurate design that fits a board.

:func:`add_search_command` adds the subcommand; :func:`run_search_command` opens (or joins) the study, runs the
search loop of :mod:`designer.search.loop` with the ``train`` worker as the trainer, and prints one line per
trial and a table at the end, or with ``--json`` one JSON line per trial and a final ``done`` line. Ctrl-C
stops after the current training step (the interrupted candidate is queued again); running the command again
with the same ``--study`` continues. Exit status: 0 done, 130 stopped, 1 failed, 2 bad input.
Nothing here imports TensorFlow: candidates train in worker processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shlex
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from designer.footprint import COMPRESSIONS, DTYPES, RUNTIMES
from tui.cli.common import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK

DEFAULTS: dict[str, Any] = {"board": None, "runtime": "xcubeai", "dtype": "float32", "compression": "high",
                            "max_flash": None, "max_ram": None, "max_latency_ms": None, "objective": "accuracy",
                            "epochs": 3, "limit": None, "batch_size": 64}
"""The study's settings and their defaults (``board`` None: the catalogue's default board)."""

_SIZE = re.compile(r"(\d+)\s*([kKmM]i?[bB]?|[bB])?")


def parse_size(text: str) -> int:
    """Bytes from ``262144``, ``256K`` or ``1M`` (K = KiB, M = MiB, as the tables print them)."""
    match = _SIZE.fullmatch(text.strip())
    if not match or int(match.group(1)) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive size such as 262144, 256K or 1M, received {text!r}")
    unit = (match.group(2) or "b")[0].lower()
    return int(match.group(1)) * {"b": 1, "k": 1024, "m": 1024 * 1024}[unit]


def _shape(text: str) -> tuple[int, int, int]:
    parts = re.split(r"[x,]", text.strip().lower())
    if len(parts) != 3 or not all(p.isdigit() and 0 < int(p) <= 4096 for p in parts):
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTHxCHANNELS such as 32x32x3, received {text!r}")
    return int(parts[0]), int(parts[1]), int(parts[2])


def add_search_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``search`` to an argparse subparsers object."""
    from designer.search.objective import OBJECTIVES

    p = subparsers.add_parser(
        "search", prog="cnn-designer search", help="search designs that fit the board for the most accurate (Optuna)",
        description="Propose designs with Optuna, skip every one that does not fit the budget (never trained), "
                    "train the rest with a short proxy recipe (pruned per epoch) and report the best and the "
                    "Pareto front. Options left out when joining a study (--study) are the study's own.")
    seed = p.add_mutually_exclusive_group()
    seed.add_argument("--from", dest="seed_design", metavar="DESIGN",
                      help="a preset id or design file whose conv groups and head seed the space")
    seed.add_argument("--family", choices=("convnet",), default=None,
                      help="the built-in family: 1-3 conv groups + a dense head (default without --from)")
    p.add_argument("--input", type=_shape, default=None, metavar="HxWxC", help="family input shape (32x32x3)")
    p.add_argument("--classes", type=int, default=None, metavar="N", help="family class count (default 10)")
    p.add_argument("--residual", action="store_true", help="let each conv group be a residual block")
    p.add_argument("--board", metavar="NAME", help="board to fit (default: the catalogue's default)")
    p.add_argument("--runtime", choices=RUNTIMES, help="runtime to estimate (default xcubeai)")
    p.add_argument("--dtype", choices=DTYPES, help="weights/activations type (default float32)")
    p.add_argument("--compression", choices=COMPRESSIONS, help="X-CUBE-AI weight compression (default high)")
    p.add_argument("--max-flash", type=parse_size, metavar="SIZE", help="flash budget below the board's (256K, 1M)")
    p.add_argument("--max-ram", type=parse_size, metavar="SIZE", help="RAM budget below the board's")
    p.add_argument("--max-latency-ms", type=float, metavar="MS", help="estimated inference time limit")
    p.add_argument("--objective", choices=tuple(OBJECTIVES),
                   help="accuracy (default), or accuracy and flash/RAM as a Pareto front")
    p.add_argument("--trials", type=int, default=20, metavar="N",
                   help="stop when the study holds N finished trials, all workers together (default 20)")
    p.add_argument("--epochs", type=int, metavar="N", help="proxy training epochs per candidate (default 3)")
    p.add_argument("--limit", type=int, metavar="N", help="proxy training on at most N images")
    p.add_argument("--batch-size", type=int, metavar="N", help="images per step (default 64)")
    p.add_argument("--data", default=None, metavar="PATH|cifar10", help="training data, as for train (cifar10)")
    p.add_argument("--seed", type=int, default=None, metavar="N", help="seed for the sampler and training")
    p.add_argument("--study", metavar="NAME", help="join (or create) the study NAME; default: a new one")
    p.add_argument("--storage", metavar="URL", help="an Optuna storage URL (default: SQLite in the search folder)")
    p.add_argument("--out", default="runs", metavar="DIR", help="where search-<study>/ goes (default ./runs)")
    p.add_argument("--json", action="store_true", help="JSON lines: one per trial and a final done event")
    p.set_defaults(handler=run_search_command)
    return p


def _err(message: str) -> None:
    print(f"cnn-designer search: {' '.join(message.split())}", file=sys.stderr)


def run_search_command(args: argparse.Namespace) -> int:
    """Run ``search``; returns the exit status."""
    from designer.boards import BoardError
    from designer.design import DesignError
    from designer.search.space import SpaceError
    from designer.search.storage import StudyError
    from designer.training.checks import DataError

    try:
        prepared = _prepare(args)
    except (DesignError, BoardError, DataError, SpaceError, StudyError, ValueError) as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    return asyncio.run(_search(args, *prepared))


def _given(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in DEFAULTS}


def _new_space(args: argparse.Namespace) -> Any:
    from designer.search.space import family_space, space_from_design
    from tui.files.sources import resolve_design

    if args.seed_design:
        if args.input or args.classes:
            raise ValueError("--input and --classes are for the family: --from takes them from the design")
        design, _source = resolve_design(args.seed_design)
        return space_from_design(design, residual=args.residual)
    return family_space(args.input or (32, 32, 3), args.classes or 10, residual=args.residual)


def _prepare(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """Check every input and open the study: (study, plan, trainer). Bad input raises before any file is made
    (except the study itself, which is only created once everything else checked out)."""
    from designer.boards import default_board, find_board
    from designer.search import storage
    from designer.search.loop import Plan
    from designer.search.objective import OBJECTIVES, Budget, directions
    from designer.search.space import space_from_dict
    from designer.search.trainer import WorkerTrainer
    from designer.training.checks import check_data
    from designer.training.protocol import CIFAR10, SEED_LIMIT

    for flag, value, low in (("--trials", args.trials, 1), ("--epochs", args.epochs, 1), ("--limit", args.limit, 1),
                             ("--batch-size", args.batch_size, 1), ("--classes", args.classes, 2)):
        if value is not None and value < low:
            raise ValueError(f"{flag} must be at least {low}, received {value}")
    if args.max_latency_ms is not None and not args.max_latency_ms > 0:
        raise ValueError(f"--max-latency-ms must be > 0, received {args.max_latency_ms}")
    if args.seed is not None and not 0 <= args.seed < SEED_LIMIT:
        raise ValueError(f"--seed must be in 0..{SEED_LIMIT - 1}, received {args.seed}")
    given_board = find_board(args.board).name if args.board else None  # BoardError for an unknown board
    name = args.study
    if name is None:
        seed_name = Path(args.seed_design).stem if args.seed_design else "convnet"
        name = f"{seed_name}-{datetime.now():%Y%m%d-%H%M%S}"
    folder = storage.search_dir(args.out, name)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder}: not a folder; --out names the folder search folders are created in")
    url = args.storage or storage.default_storage(folder)
    # Opening a SQLite URL creates the file: a new default study is only made once every input checked out.
    saved = storage.stored(url, name) if args.storage or (folder / storage.STUDY_DB).is_file() else None
    given = {**_given(args), "board": given_board}
    defaults = {**DEFAULTS, "board": default_board().name}
    settings = storage.merge_settings(name, saved[0] if saved else None, given, defaults)
    if saved is None:
        space = _new_space(args)
    else:
        space = space_from_dict(saved[1])
        if args.seed_design or args.family or args.input or args.classes or args.residual:
            if _new_space(args) != space:
                raise ValueError(f"study '{name}' searches another space ({space.describe()}); leave --from, "
                                 "--family, --input, --classes and --residual out to join it")
    if settings["objective"] not in OBJECTIVES:
        raise ValueError(f"study '{name}' has an unknown objective {settings['objective']!r}")
    data = args.data or CIFAR10
    check_data(data, space.classes, settings["limit"])
    budget = Budget(board=find_board(settings["board"]), runtime=settings["runtime"], dtype=settings["dtype"],
                    compression=settings["compression"], max_flash_bytes=settings["max_flash"],
                    max_ram_bytes=settings["max_ram"], max_latency_ms=settings["max_latency_ms"])
    plan = Plan(study=name, folder=folder, space=space, budget=budget, objective=settings["objective"],
                trials=args.trials)
    folder.mkdir(parents=True, exist_ok=True)
    study = storage.open_study(url, name, directions(plan.objective), settings, space.to_dict(), seed=args.seed,
                               prune=plan.prune)
    trainer = WorkerTrainer(data=data, out_dir=str(folder / storage.RUNS_DIR), epochs=settings["epochs"],
                            limit=settings["limit"], batch_size=settings["batch_size"], seed=args.seed)
    return study, plan, trainer


async def _search(args: argparse.Namespace, study: Any, plan: Any, trainer: Any) -> int:
    from designer.search.loop import Search, done_event, event_dict
    from tui.cli.estimate import console

    view = None if args.json else _View(console(), plan)

    def emit(event: Any) -> None:
        if view is None:
            sys.stdout.write(json.dumps(event_dict(event), allow_nan=False) + "\n")
            sys.stdout.flush()
        else:
            view.trial(event)

    search = Search(study, plan, trainer, emit)
    loop = asyncio.get_running_loop()

    def on_interrupt() -> None:
        if search.stopped:  # the second Ctrl-C: do not wait for the step
            trainer.kill()
            return
        print("stopping after the current training step (Ctrl-C again to kill it)", file=sys.stderr)
        search.stop()

    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        loop.add_signal_handler(signal.SIGTERM, on_interrupt)
    except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
        pass
    try:
        await search.run()
    except Exception as exc:  # a trial that could not start (the data vanished, a full disk): one line, exit 1
        _err(f"{type(exc).__name__}: {exc}")
        return EXIT_FAILURE
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass
    done = await asyncio.to_thread(done_event, study, plan)
    if view is None:
        emit(done)
    else:
        view.done(done)
    if search.stopped:
        print(f"stopped; continue with: {_continue_command(args, plan)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if search.failures_in_a_row:
        _err(f"stopped after {search.failures_in_a_row} training failures in a row; last: {search.last_failure}")
        return EXIT_FAILURE
    return EXIT_OK


def _continue_command(args: argparse.Namespace, plan: Any) -> str:
    words = ["cnn-designer", "search", "--study", plan.study, "--out", args.out, "--trials", str(args.trials)]
    if args.storage:
        words += ["--storage", args.storage]
    if args.data:
        words += ["--data", args.data]
    return shlex.join(words)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _kib(value: int | None) -> str:
    return "-" if value is None else f"{value / 1024:,.1f} KiB"


_STATE_STYLE = {"complete": "green", "pruned": "yellow", "infeasible": "red", "failed": "bold red",
                "cancelled": "yellow"}


class _View:
    """One printed line per trial, then a table of the study, the best design and the Pareto front."""

    def __init__(self, console: Console, plan: Any) -> None:
        self.console = console
        self.plan = plan
        b = plan.budget
        console.print(f"Search [bold]{escape(plan.study)}[/] ({escape(plan.space.describe())}) on "
                      f"{escape(b.board.name)}, {b.runtime} {b.dtype}: flash <= {_kib(b.flash_bytes)}, "
                      f"RAM <= {_kib(b.ram_bytes)}"
                      + (f", latency <= {b.max_latency_ms:g} ms" if b.max_latency_ms else "")
                      + f"; objective {plan.objective}; folder {escape(str(plan.folder))}")

    def trial(self, event: Any) -> None:
        style = _STATE_STYLE.get(event.state, "")
        what = f"over: {escape(event.reason)}" if event.state == "infeasible" else (
            f"val acc {_pct(event.accuracy)} after {event.epochs} epoch(s)"
            + (f" (same as trial {event.duplicate_of})" if event.duplicate_of is not None else "")
            + (f": {escape(event.reason)}" if event.reason else ""))
        self.console.print(f"trial {event.number:>4}  [{style}]{event.state:<10}[/]  flash {_kib(event.flash_bytes)}"
                           f"  RAM {_kib(event.ram_bytes)}  {what}  {event.seconds:.1f} s")

    def done(self, done: Any) -> None:
        table = Table(title=f"Study {self.plan.study}: {len(done.trials)} trials", title_justify="left",
                      box=box.SIMPLE_HEAD)
        for header in ("#", "state", "flash", "RAM", "val acc", "design"):
            table.add_column(header, justify="right" if header in ("#", "flash", "RAM", "val acc") else "left")
        front = {p["number"] for p in done.pareto}
        for row in done.trials:
            mark = " *" if row["number"] in front else ""
            table.add_row(str(row["number"]), f"[{_STATE_STYLE.get(row['state'], '')}]{row['state']}[/]",
                          _kib(row["flash_bytes"]), _kib(row["ram_bytes"]), _pct(row["accuracy"]) + mark,
                          escape(Path(row["design"]).name))
        self.console.print(table)
        if done.best is None:
            self.console.print("no candidate was trained to the end yet")
        else:
            best = done.best
            self.console.print(f"best: {_pct(best['accuracy'])} val acc, flash {_kib(best['flash_bytes'])}, "
                               f"RAM {_kib(best['ram_bytes'])}: {escape(best['design'])}  (* = Pareto front)")
