"""UI benchmarks: start-to-first-frame of ``cnn-designer`` against a bare Textual app, and edit-to-repaint.

    python bench/ui.py [--runs 7] [--edits 200]

1. Start-to-first-frame: each app runs in a pseudo-terminal (160x48); the clock runs from spawning the process
   until its first frame shows a marker text ("Board" for cnn-designer --preset model5, "READY" for a bare
   Textual app showing one Static). Runs alternate between the two apps; the medians are compared
   (goal: ratio <= 1.3).
2. Edit-to-repaint: in-process, headless, on ``deep_design(100)``: the clock runs from pressing ``-`` / ``+``
   on a conv row until the app hands the next screen update to its driver (App._display), which includes the
   estimate, the table and panel redraw and Textual's frame scheduling (goal: p95 < 16 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BARE_APP = """
from textual.app import App
from textual.widgets import Static
class Bare(App):
    def compose(self):
        yield Static("READY")
Bare().run()
"""


def first_frame_s(argv: list[str], marker: bytes, env: dict[str, str], timeout_s: float = 60.0) -> float:
    """Seconds from spawning ``argv`` in a 160x48 pty until ``marker`` appears in its output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=env["BENCH_CWD"],
                            start_new_session=True)
    os.close(slave)
    seen = b""
    try:
        while time.perf_counter() - start < timeout_s:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            seen = (seen + chunk)[-200_000:]
            if marker in seen:
                return time.perf_counter() - start
        raise RuntimeError(f"{argv!r} showed no {marker!r} within {timeout_s} s")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        os.close(master)


def bench_start(runs: int) -> tuple[float, float]:
    """Median start-to-first-frame seconds of (cnn-designer, bare Textual app)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        env.update({"TERM": "xterm-256color", "CNN_DESIGNER_STATE_DIR": str(Path(tmp) / "state"),
                    "PYTHONPATH": str(ROOT), "BENCH_CWD": tmp})
        ours_argv = [sys.executable, "-m", "tui.cli", "--preset", "model5"]
        bare_argv = [sys.executable, "-c", BARE_APP]
        first_frame_s(bare_argv, b"READY", env)  # warm the OS file cache for both
        first_frame_s(ours_argv, b"Board", env)
        ours, bare = [], []
        for _ in range(runs):
            ours.append(first_frame_s(ours_argv, b"Board", env))
            bare.append(first_frame_s(bare_argv, b"READY", env))
    return statistics.median(ours), statistics.median(bare)


async def bench_edits(edits: int) -> list[float]:
    """Edit-to-repaint latencies in seconds on a 100-layer design."""
    from designer.boards import load_catalogue
    from designer.generate import deep_design
    from tui.app import Places, create_app

    design = deep_design(100)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(design, board=load_catalogue(include_user=False).default,
                         places=Places(state_dir=Path(tmp)), offer_recovery=False)
        frames: list[float] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            if renderable is not None:
                frames.append(time.perf_counter())
            original(screen, renderable)

        app._display = display  # type: ignore[method-assign]
        latencies: list[float] = []
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            conv = next(i for i, layer in enumerate(app.design.layers) if layer.kind == "conv2d")
            app.table.select_layer(conv)
            await pilot.pause()
            for n in range(edits):
                before = len(app.history.past)
                t0 = time.perf_counter()
                await pilot.press("minus" if n % 2 else "plus")
                while not any(t > t0 for t in frames):
                    await asyncio.sleep(0.0005)
                latencies.append(next(t for t in frames if t > t0) - t0)
                assert len(app.history.past) == before + 1, "the key press did not edit the design"
                frames.clear()
            await app.workers.wait_for_complete()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="start-up runs per app (default 7)")
    parser.add_argument("--edits", type=int, default=200, help="edits to time (default 200)")
    args = parser.parse_args()

    ours, bare = bench_start(args.runs)
    ratio = ours / bare
    print(f"start-to-first-frame (median of {args.runs}, 160x48 pty):")
    print(f"  cnn-designer --preset model5  {ours * 1000:7.0f} ms")
    print(f"  bare Textual app              {bare * 1000:7.0f} ms")
    print(f"  ratio                         {ratio:7.2f}   (goal <= 1.3: {'met' if ratio <= 1.3 else 'NOT met'})")

    latencies = asyncio.run(bench_edits(args.edits))
    ms = sorted(x * 1000 for x in latencies)
    p50 = statistics.median(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(f"edit-to-repaint on deep_design(100), {len(ms)} edits (headless):")
    print(f"  p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   max {ms[-1]:6.1f} ms   "
          f"(goal p95 < 16 ms: {'met' if p95 < 16 else 'NOT met'})")


if __name__ == "__main__":
    main()
