"""``cnn-designer train``: train a design headless, with a rich progress bar or the worker's JSON lines.

:func:`add_train_command` adds the subcommand to the CLI's parser; :func:`run_train_command` starts the
training worker through :class:`designer.training.client.TrainingJob` and renders its events. Ctrl-C asks
the worker to stop after its current step (it saves last.keras); a second Ctrl-C kills it.
Exit status: 0 completed, 130 cancelled, 1 failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import signal
import sys
from dataclasses import fields
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from designer.design import DesignError
from designer.training.checks import DataError
from designer.training.client import TrainingJob
from designer.training.protocol import (
    CIFAR10,
    MIXED_PRECISION,
    RECIPES,
    STRATEGIES,
    EpochEnd,
    EpochStart,
    Event,
    Failed,
    Finished,
    Log,
    Started,
    TrainConfig,
    encode_event,
)
from designer.training.protocol import Progress as ProgressEvent
from designer.training.runs import RunError
from tui.cli.common import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK


def add_train_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``train`` to an argparse subparsers object; returns its parser (``handler`` is set as a default)."""
    p = subparsers.add_parser(
        "train", help="train a design (runs/<design>-<time>/ gets checkpoints, history and metrics)",
        description="Train a design in a worker process. Ctrl-C stops after the current step and keeps "
                    "last.keras; --resume RUN continues it.")
    p.add_argument("design", nargs="?", metavar="DESIGN", help="a preset id (model0 ... model13) or a design file")
    p.add_argument("--data", default=None, metavar="PATH|cifar10",
                   help="cifar10 (default), an image folder (train/<class>/*, test/<class>/*), a .tar.gz/.zip "
                        "of one, or an .npz with x_train, y_train, x_test, y_test. With --resume: the run's "
                        "data set, needed unless it is cifar10 or inside the run folder")
    p.add_argument("--epochs", type=int, default=10, metavar="N", help="train up to epoch N (default 10)")
    p.add_argument("--batch-size", type=int, default=64, metavar="N", help="images per step (default 64)")
    p.add_argument("--recipe", choices=RECIPES, default="default",
                   help="default: augmentation, AdamW 0.002 (weight decay 0.01), 2 warm-up epochs then cosine "
                        "decay to 0 at the last epoch; seed: the seed notebook's plain Adam 0.001, no augmentation")
    p.add_argument("--lr", type=float, default=None, metavar="X",
                   help="peak learning rate (default: the recipe's)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random horizontal flips and whole-pixel shifts (default: the recipe's)")
    p.add_argument("--translate", type=float, default=None, metavar="F",
                   help="largest augmentation shift as a fraction of the image size, 0 for flips only "
                        "(default: the recipe's, 0.1)")
    p.add_argument("--weight-decay", type=float, default=None, metavar="X",
                   help="AdamW weight decay, 0 for plain Adam (default: the recipe's)")
    p.add_argument("--label-smoothing", type=float, default=None, metavar="X",
                   help="label smoothing of the cross-entropy, 0 to 1 (default: the recipe's, 0)")
    p.add_argument("--mixed-precision", choices=MIXED_PRECISION, default="auto",
                   help="Keras' mixed_float16 policy: auto (on a GPU), on, off")
    p.add_argument("--seed", type=int, default=None, metavar="N", help="seed (default: random, recorded)")
    p.add_argument("--out", default="runs", metavar="DIR", help="where run folders go (default ./runs)")
    p.add_argument("--resume", metavar="RUN", help="continue a run folder from its last.keras and history")
    p.add_argument("--strategy", choices=STRATEGIES, default="default",
                   help="mirrored: tf.distribute.MirroredStrategy over the local GPUs; multi-worker: "
                        "MultiWorkerMirroredStrategy over the machines in TF_CONFIG (run the same command on each)")
    p.add_argument("--early-stopping", type=int, default=0, metavar="N",
                   help="stop after N epochs without a better val_accuracy (default off)")
    p.add_argument("--reduce-lr", type=int, default=0, metavar="N",
                   help="halve the learning rate after N epochs without a better val_loss (default off)")
    p.add_argument("--validation-split", type=float, default=0.1, metavar="F",
                   help="fraction of training images held out for validation (default 0.1)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="use at most N training images")
    p.add_argument("--cpu-devices", type=int, default=1, metavar="N",
                   help="split the CPU into N logical devices (to try --strategy mirrored without GPUs)")
    p.add_argument("--json", action="store_true", help="print the worker's events as JSON lines")
    p.set_defaults(handler=run_train_command)
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig for parsed ``train`` arguments; ValueError for impossible values."""
    if not args.design and not args.resume:
        raise ValueError("train needs a DESIGN (preset id or design file) or --resume RUN")
    return TrainConfig(design=args.design or "", data=args.data, epochs=args.epochs, batch_size=args.batch_size,
                       recipe=args.recipe, learning_rate=args.lr, augment=args.augment, translate=args.translate,
                       weight_decay=args.weight_decay, label_smoothing=args.label_smoothing,
                       mixed_precision=args.mixed_precision, seed=args.seed, out_dir=args.out,
                       resume=args.resume, strategy=args.strategy, early_stopping=args.early_stopping,
                       reduce_lr=args.reduce_lr, validation_split=args.validation_split, limit=args.limit,
                       cpu_devices=args.cpu_devices)


def run_train_command(args: argparse.Namespace) -> int:
    """Run ``train``; returns the exit status."""
    err = Console(stderr=True)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        err.print(f"cnn-designer train: {_as_flag(_one_line(exc))}", markup=False, highlight=False, soft_wrap=True)
        return EXIT_BAD_INPUT
    return asyncio.run(_train(config, json_lines=args.json, console=Console(), err=err))


async def _train(config: TrainConfig, *, json_lines: bool, console: Console, err: Console) -> int:
    try:
        job = await TrainingJob.start(config)
    except (DesignError, RunError, DataError, OSError, ValueError) as exc:  # bad input, found before starting
        err.print(f"cnn-designer train: {_one_line(exc)}", markup=False, highlight=False, soft_wrap=True)
        return EXIT_BAD_INPUT
    loop = asyncio.get_running_loop()
    interrupts = 0

    def on_interrupt() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            err.print("stopping after the current step (Ctrl-C again to kill the worker)")
            job.cancel()
        else:
            job.kill()

    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
    except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
        pass
    try:
        view = None if json_lines else _View(console, resume_data=job.config.data)
        async for event in job.events():
            if view is None:
                sys.stdout.write(encode_event(event) + "\n")
                sys.stdout.flush()
            else:
                view.show(event)
        if view is not None:
            view.close()
    finally:
        try:
            loop.remove_signal_handler(signal.SIGINT)
        except (NotImplementedError, RuntimeError):
            pass
        if job.process.returncode is None:  # we stopped reading early (an error here): do not leave it running
            job.kill()
        await job.wait()
    final = job.final
    if isinstance(final, Finished):
        return EXIT_OK if final.ok else EXIT_INTERRUPTED
    return EXIT_FAILURE


_FLAGS = {"learning_rate": "--lr", "out_dir": "--out"}
"""TrainConfig fields whose flag is not ``--`` + the field name with dashes."""


def _as_flag(message: str) -> str:
    """A TrainConfig message ("limit must be >= 1 ...") in the CLI's words ("--limit must be >= 1 ...")."""
    name, _, rest = message.partition(" ")
    if name not in {f.name for f in fields(TrainConfig)} or name == "design":
        return message
    return f"{_FLAGS.get(name, '--' + name.replace('_', '-'))} {rest}"


def _one_line(exc: BaseException) -> str:
    """An error as one line (a message from a file or an OS error could hold a newline)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class _View:
    """Renders events: one progress bar for the current epoch, one printed line per finished epoch."""

    def __init__(self, console: Console, resume_data: str | None = None) -> None:
        self.console = console
        self.resume_data = resume_data
        """The job's data set, for the command that continues a cancelled run (--resume needs --data)."""
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[stats]}"), console=console, transient=True)
        self.task: Any = None

    def show(self, event: Event) -> None:
        print_ = self.console.print
        if isinstance(event, Started):
            print_(f"Training [bold]{escape(event.design)}[/] ({event.params:,} params) on "
                   f"{event.train_images:,} images ({event.val_images:,} validation, {event.test_images:,} test), "
                   f"{event.steps_per_epoch} steps/epoch, {event.replicas} replica(s); seed {event.seed}\n"
                   f"run folder: {escape(event.run_dir)}", highlight=False)
            self.progress.start()
            self.task = self.progress.add_task("starting", total=event.steps_per_epoch, stats="")
        elif isinstance(event, EpochStart) and self.task is not None:
            self.progress.reset(self.task, description=f"epoch {event.epoch}/{event.epochs}", stats="")
        elif isinstance(event, ProgressEvent) and self.task is not None:
            stats = (f"loss {_num(event.loss)} acc {_pct(event.accuracy)}  {event.images_per_s:,.0f} img/s  "
                     f"ETA {_duration(event.eta_s)}")
            self.progress.update(self.task, completed=event.step, total=event.steps, stats=stats)
        elif isinstance(event, EpochEnd):
            if self.task is not None:  # progress events are throttled: the last step may not have had one
                self.progress.update(self.task, completed=self.progress.tasks[0].total)
            mark = "  [green]best[/]" if event.best else ""
            print_(f"epoch {event.epoch:>3}/{event.epochs}  loss {_num(event.loss)}  acc {_pct(event.accuracy)}  "
                   f"val_loss {_num(event.val_loss)}  val_acc {_pct(event.val_accuracy)}  lr {event.lr:g}  "
                   f"{event.train_s:.1f} s  {event.images_per_s:,.0f} img/s{mark}", highlight=False)
        elif isinstance(event, Log):
            print_(f"[dim]{escape(event.message)}[/]", highlight=False)
        elif isinstance(event, Finished):
            self.close()
            if event.ok:
                print_(f"[green]done[/]: test accuracy {_pct(event.metrics.get('test_accuracy'))} "
                       f"(loss {_num(event.metrics.get('test_loss'))}) after {event.epochs_completed} epochs; "
                       f"{escape(event.run_dir)}", highlight=False)
            else:
                print_(f"[yellow]cancelled[/] after {event.epochs_completed} finished epochs; last.keras kept. "
                       f"Continue with: {escape(self._resume_command(event.run_dir))}",
                       highlight=False)
        elif isinstance(event, Failed):
            self.close()
            print_(f"[red]training failed[/]: {escape(event.reason)}", highlight=False)
            if event.run_dir:
                print_(f"log: {escape(event.run_dir)}/worker.log", highlight=False)

    def _resume_command(self, run_dir: str) -> str:
        words = ["cnn-designer", "train", "--resume", run_dir]
        if self.resume_data and self.resume_data != CIFAR10:
            words += ["--data", self.resume_data]
        return shlex.join(words) + " --epochs N"

    def close(self) -> None:
        if self.task is not None:
            self.progress.stop()
            self.task = None
