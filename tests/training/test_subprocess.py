"""The worker as a real child process: the CLI end to end, SIGINT cancel, mirrored strategy, a dead worker."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from designer.training.client import TrainingJob
from designer.training.protocol import (
    EpochEnd,
    Event,
    Failed,
    Finished,
    Progress,
    Started,
    TrainConfig,
    decode_event,
)
from tui.cli.train import EXIT_OK, add_train_command, run_train_command

from .conftest import write_npz


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_train_command(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_json_end_to_end_one_epoch(tmp_path: Path, design_file: Path, npz_data: Path,
                                       capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # the worker inherits it: its logs must not land there
    args = _parse(["train", str(design_file), "--data", str(npz_data), "--epochs", "1", "--batch-size", "16",
                   "--seed", "4", "--out", str(tmp_path / "runs"), "--json"])
    assert args.handler is run_train_command
    assert run_train_command(args) == EXIT_OK
    lines = capfd.readouterr().out.splitlines()
    events = [json.loads(line) for line in lines]  # every stdout line is one JSON object: no Keras noise
    kinds = [e["event"] for e in events if e["event"] not in ("log", "progress")]
    assert kinds == ["started", "epoch_start", "epoch_end", "finished"]
    assert events[-1]["ok"] is True and events[-1]["epochs_completed"] == 1
    run_dir = Path(events[-1]["run_dir"])
    log = (run_dir / "worker.log").read_text()
    assert "loading data" in log  # the worker's stderr (and any fd-1 chatter) went to the run's log
    assert list(temp.iterdir()) == []


def test_cli_rejects_a_missing_design(capfd: pytest.CaptureFixture[str]) -> None:
    assert run_train_command(_parse(["train"])) == 2
    assert "needs a DESIGN" in capfd.readouterr().err


async def _collect(job: TrainingJob, on_event: object = None) -> list[Event]:
    events: list[Event] = []
    async for event in job.events():
        events.append(event)
        if on_event is not None:
            on_event(event)  # type: ignore[operator]
    await job.wait()
    return events


def test_sigint_stops_a_subprocess_after_the_current_step(tmp_path: Path, design_file: Path) -> None:
    data = write_npz(tmp_path / "bigger.npz", n_train=512, n_test=8)
    config = TrainConfig(design=str(design_file), data=str(data), epochs=50, batch_size=2, seed=1,
                         out_dir=str(tmp_path / "runs"))

    async def main() -> list[Event]:
        job = await TrainingJob.start(config)

        def interrupt(event: Event) -> None:
            if isinstance(event, Progress) and job.process.returncode is None:
                job.process.send_signal(signal.SIGINT)

        return await _collect(job, interrupt)

    events = asyncio.run(main())
    final = events[-1]
    assert isinstance(final, Finished) and final.status == "cancelled"
    assert final.epochs_completed < 50
    assert (Path(final.run_dir) / "last.keras").is_file()


def test_mirrored_strategy_on_two_logical_cpus(tmp_path: Path, design_file: Path, npz_data: Path) -> None:
    config = TrainConfig(design=str(design_file), data=str(npz_data), epochs=1, batch_size=16, seed=1,
                         strategy="mirrored", cpu_devices=2, out_dir=str(tmp_path / "runs"))

    async def main() -> list[Event]:
        return await _collect(await TrainingJob.start(config))

    events = asyncio.run(main())
    assert isinstance(events[-1], Finished) and events[-1].ok, events[-1]
    started = next(e for e in events if isinstance(e, Started))
    assert started.strategy == "mirrored" and started.replicas == 2
    assert len([e for e in events if isinstance(e, EpochEnd)]) == 1


def test_a_worker_that_dies_silently_still_ends_in_failed(tmp_path: Path, design_file: Path) -> None:
    config = TrainConfig(design=str(design_file), out_dir=str(tmp_path / "runs"))

    async def main() -> list[Event]:
        return await _collect(await TrainingJob.start(config, python="false"))

    events = asyncio.run(main())
    assert len(events) == 1 and isinstance(events[0], Failed)
    assert "exited with code 1 before reporting a result" in events[0].reason


def _worker(code_or_args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    from designer.training.client import worker_env

    return subprocess.run([sys.executable, *code_or_args], capture_output=True, text=True, env=worker_env(),
                          cwd=tmp_path, timeout=120)


def test_worker_with_bad_arguments_still_speaks_the_protocol(tmp_path: Path) -> None:
    result = _worker(["-m", "designer.training.worker", "--config", "{not json"], tmp_path)
    assert result.returncode == 1
    (line,) = result.stdout.splitlines()
    event = decode_event(line)
    assert isinstance(event, Failed) and "training config is not JSON" in event.reason


def test_anything_printed_on_fd_1_stays_off_the_protocol_stream(tmp_path: Path) -> None:
    config = TrainConfig(design=str(tmp_path / "missing.toml"), out_dir=str(tmp_path)).to_json()
    code = ("import os, sys\n"
            "from designer.training import runs, worker\n"
            "real = runs.prepare_run\n"
            "def noisy(*args, **kwargs):\n"
            "    print('NOISE from print', flush=True)\n"
            "    os.write(1, b'NOISE on fd 1\\n')\n"
            "    return real(*args, **kwargs)\n"
            "runs.prepare_run = noisy\n"
            f"sys.exit(worker.main(['--config', {config!r}]))\n")
    result = _worker(["-c", code], tmp_path)
    assert result.returncode == 1
    assert "NOISE" not in result.stdout and "NOISE from print" in result.stderr and "NOISE on fd 1" in result.stderr
    (line,) = result.stdout.splitlines()
    event = decode_event(line)
    assert isinstance(event, Failed) and "cannot read design file" in event.reason


@pytest.mark.slow
def test_mixed_precision_on_trains_and_auto_is_off_without_a_gpu(tmp_path: Path, design_file: Path,
                                                                  npz_data: Path) -> None:
    import tensorflow as tf

    from designer.training.worker import _mixed_precision

    assert not tf.config.list_physical_devices("GPU") and not _mixed_precision(tf, "auto")
    assert _mixed_precision(tf, "on") and not _mixed_precision(tf, "off")
    # In a child process: the policy is global to the process that sets it.
    config = TrainConfig(design=str(design_file), data=str(npz_data), epochs=1, batch_size=16, seed=1,
                         mixed_precision="on", out_dir=str(tmp_path / "runs"))

    async def main() -> list[Event]:
        return await _collect(await TrainingJob.start(config))

    events = asyncio.run(main())
    assert isinstance(events[-1], Finished) and events[-1].ok, events[-1]
    assert "mixed precision: Keras' mixed_float16 policy" in (Path(events[-1].run_dir) / "worker.log").read_text()
