"""Benchmark: training images/s of a training job (the worker process) against plain model.fit, in one run.

Both train the same model (a preset, Model2 by default) on the same images (a class-balanced subset of the
CIFAR-10 JPEG archive, extracted to a temporary folder and loaded by the worker's own loader with the same
seed, so both see the same 90 % training split) with the same batch size and Adam settings. The job's figure
is the training phase of each epoch as the worker reports it (validation and checkpointing excluded); the
baseline's is fit()'s epoch time on the same tf.data pipeline, with no validation data and no batch callbacks,
so the ratio is the job's own overhead (its per-step callback and events). The first epoch (tracing) is left
out of the median. Goal: job / plain >= 0.97. This prints figures; it is not a test. The machine should be
otherwise idle: other load moves either side by more than the goal's 3 %. Run from the repository root:

    .venv/bin/python bench/train.py [--images 5000] [--epochs 3] [--rounds 1] [--design model2]
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
from designer.training.protocol import EpochEnd, Failed, Finished, TrainConfig  # noqa: E402
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


def plain_fit(design_spec: str, data: str, epochs: int, batch_size: int, seed: int,
              arrays: bool = False) -> list[float]:
    """images/s of each epoch of model.fit on the worker's training split, no validation, no batch callbacks.

    The input is the worker's own tf.data pipeline (so the difference is the job's overhead), or with
    ``arrays`` the float32 arrays handed to fit() directly (Keras' array adapter, for comparison).
    """
    import keras

    from designer.keras_build import build_model
    from designer.training.datasets import load_data, make_pipelines
    from designer.training.recipe import compile_model

    keras.config.disable_interactive_logging()
    design = resolve_design(design_spec)
    split = load_data(data, design.input_shape, design.classes, seed=seed)
    keras.utils.set_random_seed(seed)
    model = build_model(design)
    compile_model(model, design, 1e-3)
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
        train = make_pipelines(split, batch_size, seed=seed).train
        model.fit(train, epochs=epochs, shuffle=False, verbose=0, callbacks=[EpochTimer()])
    return [len(split.x_train) / t for t in times]


async def job_fit(design_spec: str, data: str, epochs: int, batch_size: int, seed: int,
                  out_dir: str) -> tuple[list[float], list[float], float]:
    """(training-phase images/s per epoch, whole-epoch images/s incl. validation and checkpoints, wall s)."""
    config = TrainConfig(design=design_spec, data=data, epochs=epochs, batch_size=batch_size, seed=seed,
                         out_dir=out_dir)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=5000, help="training images in the subset (default 5000)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per side (default 3; the first is tracing)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--design", default="model2", help="preset id or design file (default model2)")
    parser.add_argument("--archive", type=Path, default=ARCHIVE, help="the CIFAR-10 JPEG .tar.gz")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arrays", action="store_true",
                        help="also time fit() on NumPy arrays (Keras' array adapter) instead of tf.data")
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate plain and job this many times; the ratio is of the medians (default 1)")
    args = parser.parse_args()
    plain: list[float] = []
    job: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        t = time.perf_counter()
        data = str(extract_subset(args.archive, Path(tmp) / "cifar10", args.images, args.images // 5))
        print(f"subset: {args.images} train + {args.images // 5} test JPEGs in {time.perf_counter() - t:.1f} s")
        print(f"{args.design}, batch {args.batch_size}, {args.epochs} epochs of {round(args.images * 0.9)} images "
              f"per side, {args.rounds} round(s)")
        for n in range(args.rounds):
            rates = plain_fit(args.design, data, args.epochs, args.batch_size, args.seed)
            print(f"round {n + 1} plain fit images/s per epoch:  " + ", ".join(f"{r:,.0f}" for r in rates))
            plain += rates[1:] or rates
            if args.arrays:
                rates = plain_fit(args.design, data, args.epochs, args.batch_size, args.seed, True)
                print(f"round {n + 1} plain fit on NumPy arrays:      " + ", ".join(f"{r:,.0f}" for r in rates))
            rates, whole, wall = asyncio.run(job_fit(args.design, data, args.epochs, args.batch_size, args.seed,
                                                     str(Path(tmp) / "runs")))
            print(f"round {n + 1} training job images/s (train): " + ", ".join(f"{r:,.0f}" for r in rates)
                  + f"; whole epochs 2+ (incl. validation, checkpoints): {', '.join(f'{r:,.0f}' for r in whole)}"
                  + f"; job wall {wall:.1f} s")
            job += rates[1:] or rates
    ratio = statistics.median(job) / statistics.median(plain)
    best = max(job) / max(plain)
    print(f"steady state (median of epochs 2+): job {statistics.median(job):,.0f} vs plain "
          f"{statistics.median(plain):,.0f} images/s -> ratio {ratio:.3f} (goal >= {GOAL})")
    # Other load only ever slows an epoch down, so the fastest epoch of each side is the least disturbed figure.
    print(f"best epoch: job {max(job):,.0f} vs plain {max(plain):,.0f} images/s -> ratio {best:.3f}")
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
