"""What the app's start-up loads: only what its first frame needs (the dialogs, the job events and cards, the
real runner and the subcommands come later), and the deferred runner that keeps the real one's imports out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from presets import load_preset
from tui.jobs.deferred import DeferredRunner
from tui.jobs.events import FakeRunner, Finished, Progress

ROOT = Path(__file__).resolve().parents[2]

NOT_AT_START = ("tui.dialogs", "tui.jobs.events", "tui.jobs.process", "tui.widgets.job_card", "tui.cli.estimate",
                "tui.cli.train", "tui.cli.export", "tui.jobs.settings", "tui.notebook_rows", "tui.jobs.search",
                "tui.cli.search", "tui.screens.search_form", "tui.widgets.search_card", "designer.search.loop")
"""Modules the first frame does without (each costs start-up time when imported)."""

FIRST_FRAME = """
import asyncio, json, sys
from presets import load_preset
from tui.app import create_app
from tui.jobs.deferred import DeferredRunner

async def main():
    app = create_app(load_preset("model5"), runner=DeferredRunner.of_process_runner())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        shown = app.main.query_one("#budget").render_line(0).text
    print(json.dumps({"modules": sorted(sys.modules), "shown": shown}))

asyncio.run(main())
"""


def test_first_frame_loads_only_what_it_shows(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CNN_DESIGNER_STATE_DIR": str(tmp_path / "state"),
           "CNN_DESIGNER_BOARDS": "", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    result = subprocess.run([sys.executable, "-c", FIRST_FRAME], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120, check=True)
    report = json.loads(result.stdout.splitlines()[-1])
    assert "Board" in report["shown"]  # the budget panel is drawn
    assert [m for m in NOT_AT_START if m in report["modules"]] == []


async def test_deferred_runner_builds_the_runner_once_when_a_job_needs_it() -> None:
    built: list[FakeRunner] = []

    def build() -> FakeRunner:
        built.append(FakeRunner({"train": [Progress(0.5, "half"), Finished(True, "ok")]}))
        return built[-1]

    runner = DeferredRunner(build)
    assert built == []
    assert runner.unavailable_reason("train") is None
    assert runner.unavailable_reason("export") is not None
    design = load_preset("model2")
    job_id = runner.start("train", design, {"epochs": 1})
    assert [event async for event in runner.events(job_id)] == [Progress(0.5, "half"), Finished(True, "ok")]
    runner.cancel(job_id)
    assert len(built) == 1 and built[0].started == [("train", design, {"epochs": 1})]
    assert runner.runner is built[0]


def test_the_app_runs_with_a_short_thread_switch_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    # Textual's writer and input threads wait for the GIL while the main thread works: up to the switch
    # interval (5 ms by default) per frame written or key read. run_app shortens it for the app's run only.
    import sys

    from tui.app import APP_SWITCH_INTERVAL_S, DesignerApp, run_app

    seen: list[float] = []
    monkeypatch.setattr(DesignerApp, "run", lambda self: seen.append(sys.getswitchinterval()))
    before = sys.getswitchinterval()
    assert before > APP_SWITCH_INTERVAL_S
    assert run_app(load_preset("model5"), runner=FakeRunner({})) == 0
    assert seen == [APP_SWITCH_INTERVAL_S] and sys.getswitchinterval() == before
