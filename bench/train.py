"""Benchmark: training images/s of a training job (the worker process) against plain model.fit, in one run.

Both train the same model (a preset, Model2 by default) on the same images (a class-balanced subset of the
CIFAR-10 JPEG archive, extracted to a temporary folder and loaded by the worker's own loader with the same
seed, so both see the same 90 % training split) with the same recipe (``--recipe``: the same optimizer,
schedule, augmentation and batches, built by the worker's own make_pipelines and compile_model). The job's
figure is the training phase of each epoch as the worker reports it (validation and checkpointing excluded);
the baseline's is fit()'s epoch time on the same tf.data pipeline, with no validation data and no batch
callbacks, so the ratio is the job's own overhead (its per-step callback and events). The first epoch of each
side (tracing) is left out. The two sides alternate, round after round, the order swapped every round so a
slow drift of the machine's load hits both alike; the figures are medians over all rounds' epochs, with their
spread. Goal: job / plain >= 0.97. This prints figures; it is not a test. The machine should be otherwise
idle: other load moves either side by more than the goal's 3 %. Run from the repository root:

    .venv/bin/python bench/train.py [--images 5000] [--epochs 4] [--rounds 3] [--design model2] [--recipe seed]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

# Runnable as a plain script from a checkout, without an install.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from designer.training.client import TrainingJob  # noqa: E402
from designer.training.protocol import RECIPES, EpochEnd, Failed, Finished, TrainConfig  # noqa: E402
from designer.training.runs import resolve_design  # noqa: E402

ARCHIVE = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
GOAL = 0.97


def extract_subset(archive: Path, dest: Path, train_images: int, test_images: int) -> Path:
    """``dest/train/<class>/*.jpg`` and ``dest/test/...`` with the first N/10 images of each class."""
    quota = {"train": train_images // 10, "test": test_images // 10}
    taken: dict[tuple[str, str], int] = defaultdict(int)
    with tarfile.open(archive) as tf:
        for member in tf:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) != 3 or parts[0] not in quota:
                continue
            key = (parts[0], parts[1])
            if taken[key] >= quota[parts[0]]:
                continue
            taken[key] += 1
            target = dest / member.name
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(member)
            assert src is not None
            target.write_bytes(src.read())
    return dest


def plain_fit(config: TrainConfig, arrays: bool = False) -> list[float]:
    """images/s of each epoch of model.fit on the worker's training split, no validation, no batch callbacks.

    The input is the worker's own tf.data pipeline and recipe (so the difference is the job's overhead), or
    with ``arrays`` the float32 arrays handed to fit() directly (Keras' array adapter, no augmentation).
    """
    import keras

    from designer.keras_build import build_model
    from designer.training.datasets import load_data, make_pipelines
    from designer.training.recipe import compile_model, one_hot_labels, resolve_recipe

    keras.config.disable_interactive_logging()
    design = resolve_design(config.design)
    seed, batch_size, epochs = int(config.seed or 0), config.batch_size, config.epochs
    split = load_data(str(config.data), design.input_shape, design.classes, seed=seed)
    recipe = resolve_recipe(config)
    keras.utils.set_random_seed(seed)
    pipes = make_pipelines(split, batch_size, augment=recipe.augment, seed=seed, one_hot=one_hot_labels(recipe))
    model = build_model(design)
    compile_model(model, design, recipe, pipes.steps_per_epoch, epochs)
    times: list[float] = []

    class EpochTimer(keras.callbacks.Callback):  # epoch hooks only: keeps fit's async batch dispatch
        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            times.append(time.perf_counter() - self.t0)

    if arrays:
        model.fit(split.x_train.astype("float32") / 255.0, split.y_train, batch_size=batch_size, epochs=epochs,
                  shuffle=True, verbose=0, callbacks=[EpochTimer()])
    else:
        model.fit(pipes.train, epochs=epochs, shuffle=False, verbose=0, callbacks=[EpochTimer()])
    return [len(split.x_train) / t for t in times]


async def job_fit(config: TrainConfig) -> tuple[list[float], list[float], float]:
    """(training-phase images/s per epoch, whole-epoch images/s incl. validation and checkpoints, wall s)."""
    t0 = time.perf_counter()
    job = await TrainingJob.start(config)
    train_rates: list[float] = []
    whole: list[float] = []
    last_end: float | None = None
    train_images = 0
    async for event in job.events():
        if isinstance(event, EpochEnd):
            now = time.perf_counter()
            train_rates.append(event.images_per_s)
            train_images = round(event.images_per_s * event.train_s)
            if last_end is not None:
                whole.append(train_images / (now - last_end))
            last_end = now
        elif isinstance(event, Failed):
            raise SystemExit(f"training job failed: {event.reason}")
        elif isinstance(event, Finished) and not event.ok:
            raise SystemExit(f"training job ended {event.status}")
    await job.wait()
    return train_rates, whole, time.perf_counter() - t0


def spread(values: list[float]) -> str:
    """``median (min-max, ±half-range %)`` of images/s figures."""
    med = statistics.median(values)
    half = (max(values) - min(values)) / 2 / med * 100
    return f"{med:,.0f} ({min(values):,.0f}-{max(values):,.0f}, ±{half:.1f} %)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=5000, help="training images in the subset (default 5000)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per side and round (default 4; the first "
                                                              "is tracing)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--design", default="model2", help="preset id or design file (default model2)")
    parser.add_argument("--recipe", choices=RECIPES, default="default", help="the recipe both sides train with")
    parser.add_argument("--archive", type=Path, default=ARCHIVE, help="the CIFAR-10 JPEG .tar.gz")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arrays", action="store_true",
                        help="also time fit() on NumPy arrays (Keras' array adapter) instead of tf.data")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate plain and job this many times, swapping the order (default 3)")
    args = parser.parse_args()
    plain: list[float] = []
    job: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        t = time.perf_counter()
        data = str(extract_subset(args.archive, Path(tmp) / "cifar10", args.images, args.images // 5))
        print(f"subset: {args.images} train + {args.images // 5} test JPEGs in {time.perf_counter() - t:.1f} s")
        config = TrainConfig(design=args.design, data=data, epochs=args.epochs, batch_size=args.batch_size,
                             seed=args.seed, recipe=args.recipe, out_dir=str(Path(tmp) / "runs"))
        print(f"{args.design}, recipe {args.recipe}, batch {args.batch_size}, {args.epochs} epochs of "
              f"{round(args.images * 0.9)} images per side, {args.rounds} round(s)")

        def run_plain(n: int) -> None:
            rates = plain_fit(config)
            print(f"round {n + 1} plain fit images/s per epoch:  " + ", ".join(f"{r:,.0f}" for r in rates))
            plain.extend(rates[1:] or rates)
            if args.arrays:
                rates = plain_fit(config, True)
                print(f"round {n + 1} plain fit on NumPy arrays:      " + ", ".join(f"{r:,.0f}" for r in rates))

        def run_job(n: int) -> None:
            rates, whole, wall = asyncio.run(job_fit(config))
            print(f"round {n + 1} training job images/s (train): " + ", ".join(f"{r:,.0f}" for r in rates)
                  + f"; whole epochs 2+ (incl. validation, checkpoints): {', '.join(f'{r:,.0f}' for r in whole)}"
                  + f"; job wall {wall:.1f} s")
            job.extend(rates[1:] or rates)

        for n in range(args.rounds):
            for side in (run_plain, run_job) if n % 2 == 0 else (run_job, run_plain):
                side(n)
    ratio = statistics.median(job) / statistics.median(plain)
    print(f"images/s, median (min-max, ±half-range) of epochs 2+ over {args.rounds} round(s): job {spread(job)}, "
          f"plain {spread(plain)}")
    print(f"ratio of medians job / plain = {ratio:.3f} (goal >= {GOAL})")
    # Other load only ever slows an epoch down, so the fastest epoch of each side is the least disturbed figure.
    print(f"best epoch: job {max(job):,.0f} vs plain {max(plain):,.0f} images/s -> ratio {max(job) / max(plain):.3f}")
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
