"""Benchmark: the best design ``cnn-designer search`` finds that fits a board vs the best preset that fits it.

Both sides use the same board budget (NUCLEO-F446RE by default, TFLite Micro, int8: the estimate decides
what fits), the same data (a class-balanced subset of the CIFAR-10 JPEG archive, extracted to a temporary
folder) and the same proxy recipe (the ``train`` worker, ``--epochs`` epochs, batch 64, one seed). The preset
side trains every preset that fits; the search side runs ``cnn-designer search`` on the built-in family for
``--trials`` trials. Side by side: validation accuracy (what the search optimizes), test accuracy of the best
checkpoint, flash, RAM, trials / trainings and wall time. This prints figures; it is not a test. Run from
the repository root:

    .venv/bin/python bench/search.py [--images 10000] [--test-images 2000] [--epochs 5] [--trials 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Runnable as a plain script from a checkout, without an install.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from train import ARCHIVE, extract_subset  # noqa: E402  (bench/train.py: the same CIFAR-10 subset)

from designer import designfile  # noqa: E402
from designer.boards import find_board  # noqa: E402
from designer.design import analyze  # noqa: E402
from designer.search.objective import Budget, check_fit  # noqa: E402
from designer.search.trainer import COMPLETE, WorkerTrainer  # noqa: E402
from presets import load_preset, preset_ids  # noqa: E402


def train_presets(budget: Budget, data: str, out: Path, epochs: int, seed: int) -> tuple[list[dict[str, Any]], float]:
    """Every preset that fits ``budget``, trained with the proxy recipe; (rows, seconds)."""
    t0 = time.monotonic()
    rows: list[dict[str, Any]] = []
    trainer = WorkerTrainer(data=data, out_dir=str(out), epochs=epochs, seed=seed)
    for pid in preset_ids():
        design = load_preset(pid)
        fit = check_fit(design, budget)
        if not fit.fits:
            verdict = "left out, no estimate" if fit.failed == ("estimate",) else "does not fit"
            print(f"  preset {pid}: {verdict} ({fit.reason})", flush=True)
            continue
        outcome = asyncio.run(trainer.train(design, lambda _epoch, _acc: False))
        print(f"  preset {pid}: {outcome.status}, val {outcome.accuracy}, test {outcome.test_accuracy}", flush=True)
        if outcome.status == COMPLETE:
            rows.append({"design": pid, "accuracy": outcome.accuracy, "test_accuracy": outcome.test_accuracy,
                         "flash_bytes": fit.flash_bytes, "ram_bytes": fit.ram_bytes})
    return rows, time.monotonic() - t0


def run_search(args: argparse.Namespace, data: str, out: Path) -> tuple[list[dict[str, Any]], float]:
    """``cnn-designer search --json`` on the family; (its trial events, seconds)."""
    t0 = time.monotonic()
    cmd = [sys.executable, "-m", "tui.cli", "search", "--board", args.board, "--runtime", "tflm", "--dtype", "int8",
           "--data", data, "--epochs", str(args.epochs), "--trials", str(args.trials), "--seed", str(args.seed),
           "--out", str(out), "--study", "bench", "--json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"search failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return [e for e in events if e["event"] == "trial"], time.monotonic() - t0


def _describe(path: str) -> str:
    """The design's layers, one line each, and its parameter count."""
    design = designfile.load(path)
    rows = [f"  {item.kind} {item.summary()}".rstrip() for item in design.layers]
    return "\n".join(rows + [f"  params {analyze(design).params_total:,}"])


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=10_000, help="training images (class-balanced subset)")
    parser.add_argument("--test-images", type=int, default=2_000, help="test images")
    parser.add_argument("--epochs", type=int, default=5, help="proxy epochs per candidate and per preset")
    parser.add_argument("--trials", type=int, default=40, help="search trials (infeasible ones included)")
    parser.add_argument("--board", default="NUCLEO-F446RE")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--archive", type=Path, default=ARCHIVE)
    args = parser.parse_args()
    budget = Budget(find_board(args.board), "tflm", "int8")
    with tempfile.TemporaryDirectory(prefix="cnn-designer-bench-search-") as tmp:
        data = str(extract_subset(args.archive, Path(tmp) / "cifar", args.images, args.test_images))
        print(f"{args.images} train / {args.test_images} test images, {args.epochs} epoch(s), board {args.board} "
              f"(flash {budget.flash_bytes:,} B, RAM {budget.ram_bytes:,} B), tflm int8", flush=True)
        presets, preset_s = train_presets(budget, data, Path(tmp) / "presets", args.epochs, args.seed)
        trials, search_s = run_search(args, data, Path(tmp) / "search")
        complete = [t for t in trials if t["state"] == COMPLETE and t["accuracy"] is not None]
        best_search = max(complete, key=lambda t: t["accuracy"], default=None)
        if best_search:  # described before the temporary folder goes
            print(f"best searched design (trial {best_search['number']}):\n{_describe(best_search['design'])}")
    counts = {s: sum(t["state"] == s for t in trials) for s in ("complete", "pruned", "infeasible", "failed")}
    trainings = sum(t["state"] != "infeasible" and t["duplicate_of"] is None for t in trials)
    best_preset = max(presets, key=lambda r: r["accuracy"], default=None)
    print("\n| side | design | val acc % | test acc % | flash B | RAM B | trials | trainings | time s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    if best_preset:
        print(f"| best preset | {best_preset['design']} | {_pct(best_preset['accuracy'])} | "
              f"{_pct(best_preset['test_accuracy'])} | {best_preset['flash_bytes']:,} | {best_preset['ram_bytes']:,} | "
              f"{len(presets)} fit | {len(presets)} | {preset_s:.0f} |")
    if best_search:
        print(f"| best searched | trial {best_search['number']} | {_pct(best_search['accuracy'])} | "
              f"{_pct(best_search['test_accuracy'])} | {best_search['flash_bytes']:,} | {best_search['ram_bytes']:,} | "
              f"{len(trials)} ({counts['infeasible']} infeasible, {counts['pruned']} pruned) | "
              f"{trainings} | {search_s:.0f} |")


if __name__ == "__main__":
    main()
