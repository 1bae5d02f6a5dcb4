"""Fuzz benchmark: N seeded designs through load -> analyze -> every estimator, dtype and compression.

Each case comes from designer.generate.fuzz_case (random stacks, stacks with extreme values, presets with
settings replaced by extremes, randomly edited TOML text, random bytes). Prints how many were accepted
(sound estimates), refused with a DesignError (named), and the two counts that must be 0: any other
exception, and estimates with a size that is not a finite non-negative int. Exits 1 if either is nonzero.
Reproducible: case i of seed S is the same on every machine. Run from the repository root:

    .venv/bin/python bench/fuzz.py [--n 10000] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
import traceback
from pathlib import Path

# Runnable as a plain script from a checkout, without an install.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from designer.boards import default_board  # noqa: E402
from designer.design import DesignError  # noqa: E402
from designer.generate import every_footprint, footprint_problems, fuzz_case  # noqa: E402
from presets import load_preset, preset_ids  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the cases and print the counts; 1 if anything but a DesignError or a sound estimate came out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="number of designs (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the whole run (default 0)")
    args = parser.parse_args(argv)
    bases = [load_preset(p) for p in preset_ids()]
    board = default_board()
    counts: collections.Counter[str] = collections.Counter()
    by_kind: collections.Counter[tuple[str, str]] = collections.Counter()
    first_failures: list[str] = []
    estimates = 0
    start = time.perf_counter()
    for i in range(args.n):
        rng = random.Random(f"{args.seed}:{i}")
        kind, load = fuzz_case(rng, bases)
        try:
            footprints = every_footprint(load())
        except DesignError:
            outcome = "named"
        except Exception:  # what this benchmark is here to count
            outcome = "other"
            first_failures.append(f"case {i} ({kind}): {traceback.format_exc(limit=-3)}")
        else:
            estimates += len(footprints)
            problems = [p for fp in footprints for p in footprint_problems(fp, board)]
            outcome = "unsound" if problems else "accepted"
            if problems:
                first_failures.append(f"case {i} ({kind}): {problems[:3]}")
        counts[outcome] += 1
        by_kind[(kind, outcome)] += 1
    seconds = time.perf_counter() - start
    print(f"fuzz: {args.n} designs, seed {args.seed}, {estimates} estimates in {seconds:.1f} s")
    print(f"  accepted (sound estimates):                 {counts['accepted']}")
    print(f"  named errors (DesignError):                 {counts['named']}")
    print(f"  other exceptions (must be 0):               {counts['other']}")
    print(f"  non-finite or negative sizes (must be 0):   {counts['unsound']}")
    for kind in sorted({k for k, _ in by_kind}):
        print(f"    {kind:15} accepted {by_kind[(kind, 'accepted')]:5}  named {by_kind[(kind, 'named')]:5}")
    for failure in first_failures[:5]:
        print(failure, file=sys.stderr)
    return 1 if counts["other"] or counts["unsound"] else 0


if __name__ == "__main__":
    sys.exit(main())
