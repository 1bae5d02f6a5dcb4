"""Benchmark: wall time of one footprint estimate (analyze + runtime estimator) per preset and for a 100-layer design.

The app recomputes its counters synchronously on every edit (house rule 8), so an estimate must stay well under
a frame: the target is 2 ms. This prints figures; it is not a test. Run from the repository root:

    .venv/bin/python bench/estimate.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Runnable as a plain script from a checkout, without an install.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from designer.footprint import estimate  # noqa: E402
from designer.generate import deep_design  # noqa: E402
from presets import load_preset, preset_ids  # noqa: E402

TARGET_MS = 2.0


def time_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, best) milliseconds per call over ``repeat`` calls, after one warm-up call."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples), min(samples)


def main(argv: list[str] | None = None) -> int:
    """Print one line per design and runtime, then the worst median against the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="timed calls per case (default 200)")
    args = parser.parse_args(argv)

    designs = [(pid, load_preset(pid)) for pid in preset_ids()]
    deep = deep_design(100)
    designs.append((f"deep ({len(deep.layers)} layers)", deep))

    print(f"{'design':<22} {'layers':>6}  {'runtime':<8} {'median ms':>10} {'best ms':>9}")
    worst = 0.0
    for label, design in designs:
        for runtime in ("xcubeai", "tflm"):
            median, best = time_ms(lambda d=design, r=runtime: estimate(d, runtime=r), args.repeat)
            worst = max(worst, median)
            print(f"{label:<22} {len(design.layers):>6}  {runtime:<8} {median:>10.3f} {best:>9.3f}")
    verdict = "under" if worst < TARGET_MS else "OVER"
    print(f"worst median {worst:.3f} ms: {verdict} the {TARGET_MS:g} ms target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
