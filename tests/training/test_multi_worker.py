"""--strategy multi-worker: TF_CONFIG checks, and two real workers training together over loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from designer.training import runs
from designer.training.protocol import TrainConfig
from designer.training.runs import RunError, multi_worker_task

from .conftest import write_npz

_CLUSTER = {"cluster": {"worker": ["127.0.0.1:2001", "127.0.0.1:2002"]}, "task": {"type": "worker", "index": 1}}


def test_a_good_tf_config_gives_the_task_index_and_the_worker_count() -> None:
    assert multi_worker_task(json.dumps(_CLUSTER)) == (1, 2)
    assert multi_worker_task('{"cluster": {"worker": ["[::1]:5000"]}, "task": {"type": "worker", "index": 0}}') \
        == (0, 1)


@pytest.mark.parametrize(("text", "words"), [
    (None, "--strategy multi-worker needs TF_CONFIG (the cluster and this machine's place in it), e.g. "),
    ("  ", "needs TF_CONFIG"),
    ("{cluster", "TF_CONFIG is not JSON"),
    ('["a"]', "cluster.worker must be a non-empty list"),
    ('{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}', "non-empty list of \"host:port\""),
    ('{"cluster": {"worker": ["hostonly"]}, "task": {"type": "worker", "index": 0}}', "received ['hostonly']"),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {"type": "worker", "index": 0}}',
     "only \"worker\" tasks are supported"),
    ('{"cluster": {"worker": ["a:1"]}}', "task must be {\"type\": \"worker\", \"index\": N}, received None"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}',
     "task.index must be an integer in 0..1 (one per cluster.worker entry), received 2"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": true}}', "received True"),
])
def test_a_missing_or_malformed_tf_config_is_one_line(text: str | None, words: str) -> None:
    with pytest.raises(RunError) as info:
        multi_worker_task(text)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_the_cli_refuses_multi_worker_without_tf_config(tmp_path: Path, design_file: Path, npz_data: Path,
                                                       capfd: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from tui.cli import main

    monkeypatch.delenv("TF_CONFIG", raising=False)
    code = main(["train", str(design_file), "--data", str(npz_data), "--strategy", "multi-worker",
                 "--out", str(tmp_path / "runs")])
    err = capfd.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("cnn-designer train: --strategy multi-worker needs TF_CONFIG")
    assert not (tmp_path / "runs").exists()  # refused before any run folder was made


def test_a_non_chief_worker_prepares_its_run_in_its_own_temp_folder(
        tmp_path: Path, design_file: Path, npz_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_CONFIG", json.dumps(_CLUSTER))
    config, _ = runs.prepare_run(TrainConfig(design=str(design_file), data=str(npz_data), strategy="multi-worker",
                                             out_dir=str(tmp_path / "runs")))
    run_dir = Path(str(config.run_dir))
    try:
        assert run_dir.parent == Path(tempfile.gettempdir()) and run_dir.name.startswith("cnn-designer-worker1-")
        assert not (tmp_path / "runs").exists()
    finally:
        for child in run_dir.iterdir():
            child.unlink()
        run_dir.rmdir()


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_over_loopback_train_one_run(tmp_path: Path, design_file: Path) -> None:
    data = write_npz(tmp_path / "mw.npz", n_train=64, n_test=16)  # 58 train / 6 val: even halves of each batch
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    out = tmp_path / "runs"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
               "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "TMPDIR": str(scratch),
               "CUDA_VISIBLE_DEVICES": "-1"}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "train", str(design_file), "--data", str(data), "--epochs", "2",
             "--batch-size", "16", "--strategy", "multi-worker", "--out", str(out), "--json"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + 150
    results = []
    try:
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=max(deadline - time.monotonic(), 1))
            results.append((proc.returncode, [json.loads(line) for line in stdout.splitlines()], stderr))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for code, events, stderr in results:
        assert code == 0 and events[-1]["event"] == "finished" and events[-1]["ok"], (events[-1:], stderr)
    (chief, _, _), (other, _, _) = [(events, code, err) for code, events, err in results]
    started = [next(e for e in events if e["event"] == "started") for events in (chief, other)]
    assert [s["replicas"] for s in started] == [2, 2] and started[0]["seed"] == started[1]["seed"]
    assert started[0]["steps_per_epoch"] == 4  # the global batch of 16 is split: 8 images per worker and step
    # One run folder, the chief's, holds the metrics; the other worker wrote only to its own temp folder.
    [run_dir] = list(out.iterdir())
    assert Path(chief[-1]["run_dir"]) == run_dir
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics == chief[-1]["metrics"] and metrics["epochs_completed"] == 2
    assert [r["epoch"] for r in runs.read_history(run_dir)] == [1, 2]
    other_dir = Path(other[-1]["run_dir"])
    assert other_dir.parent == scratch and other_dir.name.startswith("cnn-designer-worker1-")
    # Both replicas trained the same model: the all-reduced validation accuracy is the same on both.
    val = [[e["val_accuracy"] for e in events if e["event"] == "epoch_end"] for events in (chief, other)]
    assert val[0] == val[1] and len(val[0]) == 2


def test_a_non_chief_worker_resumes_from_a_copy_and_leaves_the_run_alone(
        tmp_path: Path, design_file: Path, npz_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    config, _ = runs.prepare_run(TrainConfig(design=str(design_file), data=str(npz_data), out_dir=str(tmp_path)))
    run = Path(str(config.run_dir))
    runs.write_json(run / runs.CONFIG_FILE, runs.config_record(config, runs.resolve_design(str(design_file))))
    (run / runs.LAST_MODEL).write_bytes(b"weights")  # only copied here, never loaded
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    monkeypatch.setenv("TF_CONFIG", json.dumps(_CLUSTER))
    request = TrainConfig(design="", resume=str(run), data=str(npz_data), epochs=3, strategy="multi-worker")
    resumed, _ = runs.prepare_run(request)
    copy = Path(str(resumed.run_dir))
    assert copy.parent == Path(tempfile.gettempdir()) and copy.name.startswith("cnn-designer-worker1-")
    assert resumed.resume == str(copy) and (copy / runs.LAST_MODEL).read_bytes() == b"weights"
    # The worker process prepares the same config again: it keeps its copy rather than copying the copy.
    assert runs.prepare_run(resumed)[0].run_dir == str(copy)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    for child in copy.iterdir():
        child.unlink()
    copy.rmdir()
