"""Several workers on one study: two local processes on the default SQLite study, and two workers on a real
PostgreSQL server started by the test (Debian's ``postgresql``; skipped, saying why, where it is missing).

Each worker proposes, checks and trains its own trials; together they stop at the study's ``--trials``; no
trial number is run twice, and each worker's done event lists the other's trials too. Every candidate of the
8x8 family fits the default board, so each trial trains (seconds): both workers are busy at the same time.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest

from designer.search import storage
from tests.search.conftest import TINY, popen

pytestmark = pytest.mark.slow
TRIALS = 2


def _two_workers(args: list[str]) -> list[list[dict[str, Any]]]:
    workers = [popen(*args) for _ in range(2)]
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        outputs.append([json.loads(line) for line in out.splitlines() if line.strip()])
    return outputs


def _check_shared(outputs: list[list[dict[str, Any]]], study: optuna.Study) -> None:
    numbers = [[e["number"] for e in events if e["event"] == "trial"] for events in outputs]
    assert all(numbers), "each worker ran at least one trial"
    assert not set(numbers[0]) & set(numbers[1]), "no trial was run by both workers"
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    # Together they stop at TRIALS; two that ask at the same moment may each start one more.
    assert TRIALS <= len(finished) <= TRIALS + 1
    assert {t.number for t in study.trials} == set(numbers[0]) | set(numbers[1])
    for events in outputs:
        done = events[-1]
        assert done["event"] == "done"
        assert {row["number"] for row in done["trials"]} == {t.number for t in study.trials}
        for row in done["trials"]:
            # The other worker's candidates are written here too (one it has only just asked for has none yet).
            assert Path(row["design"]).is_file() or row["state"] == "running"


def test_two_processes_share_one_sqlite_study(tmp_path: Path, tiny_npz: Path) -> None:
    args = ["search", *TINY, "--data", str(tiny_npz), "--out", str(tmp_path), "--study", "shared",
            "--trials", str(TRIALS), "--json"]
    outputs = _two_workers(args)
    url = storage.default_storage(tmp_path / "search-shared")
    _check_shared(outputs, optuna.load_study(study_name="shared", storage=url))


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server on loopback in a temp folder, as a non-root user (postgres refuses root)."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql; .ci/run installs it)")
    try:
        import psycopg2  # noqa: F401  (the driver SQLAlchemy uses for postgresql:// URLs)
    except ImportError:
        pytest.skip("psycopg2 is not installed (it is in the test extras: pip install -e '.[test]')")
    root = Path(tempfile.mkdtemp(prefix="cnn-designer-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        user = next((u for u in ("postgres", "nobody") if _has_user(u)), None)
        if user is None or shutil.which("runuser") is None:
            pytest.skip("running as root without a 'postgres' or 'nobody' user and runuser to start PostgreSQL")
        shutil.chown(root, user)
        os.chmod(root, 0o700)
        run_as = ["runuser", "-u", user, "--"]
    data, port = root / "data", _free_port()

    def pg(*cmd: str) -> None:
        subprocess.run([*run_as, *cmd], check=True, capture_output=True, timeout=120)

    try:
        pg(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "search", "--no-sync")
        pg(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-o",
           f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        pg(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "search", "study")
        yield f"postgresql+psycopg2://search@127.0.0.1:{port}/study"
    finally:
        subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def test_two_workers_share_a_postgresql_study(tmp_path: Path, tiny_npz: Path, postgres_url: str) -> None:
    # Two "machines": each its own output folder, one study in the database.
    outputs = []
    args = [[*TINY, "--data", str(tiny_npz), "--out", str(tmp_path / f"machine{i}"), "--storage", postgres_url,
             "--study", "pg", "--trials", str(TRIALS), "--json"] for i in (1, 2)]
    workers = [popen("search", *a) for a in args]
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        outputs.append([json.loads(line) for line in out.splitlines() if line.strip()])
    _check_shared(outputs, optuna.load_study(study_name="pg", storage=postgres_url))
    assert not (tmp_path / "machine1" / "search-pg" / storage.STUDY_DB).exists()  # the study is in the server
