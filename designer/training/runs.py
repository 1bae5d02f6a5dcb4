"""Run folders: ``<runs>/<design>-<timestamp>/`` with everything a training job leaves behind, and look-ups.

A run folder holds design.toml (the design as trained), config.json (the job's settings with the resolved seed,
the data's class names and the preprocessing), best.keras and last.keras, history.csv and history.json (one row
per finished epoch), status.json (running, completed, cancelled or failed), metrics.json (test loss and
accuracy, per-class accuracy, confusion matrix; completed runs only) and worker.log (the worker's stderr).

No TensorFlow here: the app reads runs (``best_run_for``) for its notebook view.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from designer import designfile
from designer.design import Design, DesignError
from designer.training.protocol import CIFAR10, TrainConfig

DESIGN_FILE = "design.toml"
CONFIG_FILE = "config.json"
BEST_MODEL = "best.keras"
LAST_MODEL = "last.keras"
HISTORY_CSV = "history.csv"
HISTORY_JSON = "history.json"
METRICS_FILE = "metrics.json"
STATUS_FILE = "status.json"
LOG_FILE = "worker.log"
HISTORY_COLUMNS: tuple[str, ...] = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "train_s")


class RunError(ValueError):
    """A run folder that cannot be used (a --resume run, a run folder, --out); the message names it."""


def slug(name: str) -> str:
    """A design name made safe for a folder name."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")
    return cleaned or "design"


def create_run_dir(out_dir: str | os.PathLike[str], design_name: str, now: datetime | None = None) -> Path:
    """Make a new, unique ``<out_dir>/<design>-<YYYYmmdd-HHMMSS>[-n]`` folder and return it.

    Only the new folder is ever written: ``out_dir`` may hold anything else (``.``, a symlink to a folder).
    """
    base = Path(out_dir)
    if base.exists() and not base.is_dir() or base.is_symlink() and not base.exists():
        raise RunError(f"{base}: not a folder; --out names the folder run folders are created in")
    base.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    stem = f"{slug(design_name)}-{stamp}"
    for n in range(1, 1000):
        candidate = base / (stem if n == 1 else f"{stem}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"{base}: too many runs named {stem}")


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    """Parsed JSON, or None when the file is missing or unreadable (a run's files are untrusted input)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return None


def _read_object(path: Path) -> dict[str, Any]:
    data = read_json(path)
    return data if isinstance(data, dict) else {}


def _number(value: Any) -> float | int | None:
    """A finite int or float from an untrusted file, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if isinstance(value, int) or math.isfinite(value) else None


def read_history(run_dir: Path) -> list[dict[str, Any]]:
    """The run's finished epochs (rows of :data:`HISTORY_COLUMNS`, numbers or None), oldest first; anything
    else in history.json (other keys, other types, rows that are not objects) is left out."""
    rows = read_json(run_dir / HISTORY_JSON)
    if not isinstance(rows, list):
        return []
    return [{k: _number(row.get(k)) for k in HISTORY_COLUMNS} for row in rows if isinstance(row, dict)]


def write_history(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """history.json and history.csv from the same rows."""
    write_json(run_dir / HISTORY_JSON, rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(HISTORY_COLUMNS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in HISTORY_COLUMNS})
    write_text(run_dir / HISTORY_CSV, buf.getvalue())


def write_status(run_dir: Path, status: str, epochs_completed: int, reason: str = "") -> None:
    """status.json: running, completed, cancelled or failed (with the reason)."""
    data: dict[str, Any] = {"status": status, "epochs_completed": epochs_completed,
                            "updated": datetime.now().isoformat(timespec="seconds")}
    if reason:
        data["reason"] = reason
    write_json(run_dir / STATUS_FILE, data)


@dataclass(frozen=True)
class RunSummary:
    """What a run folder says about itself."""

    run_dir: Path
    design: str
    status: str
    epochs_completed: int
    test_accuracy: float | None
    """Fraction in [0, 1] on the test split (completed runs)."""
    test_loss: float | None
    best_val_accuracy: float | None
    """Best validation accuracy of any finished epoch, fraction in [0, 1]."""

    @property
    def accuracy(self) -> float | None:
        """The best measured accuracy: test accuracy when the run completed, else its best val_accuracy."""
        return self.test_accuracy if self.test_accuracy is not None else self.best_val_accuracy


def load_run(run_dir: str | os.PathLike[str]) -> RunSummary | None:
    """A run folder's summary, or None when the folder is not a run (no config.json)."""
    path = Path(run_dir)
    config = read_json(path / CONFIG_FILE)
    if not isinstance(config, dict):
        return None
    status = _read_object(path / STATUS_FILE)
    metrics = _read_object(path / METRICS_FILE)
    history = read_history(path)
    val = [r["val_accuracy"] for r in history if r["val_accuracy"] is not None]
    return RunSummary(
        run_dir=path,
        design=str(config.get("design_name", "")),
        status=str(status.get("status", "unknown")),
        epochs_completed=len(history),
        test_accuracy=_number(metrics.get("test_accuracy")),
        test_loss=_number(metrics.get("test_loss")),
        best_val_accuracy=max(val) if val else None,
    )


def list_runs(runs_dir: str | os.PathLike[str] = "runs", design_name: str | None = None) -> list[RunSummary]:
    """Every run under ``runs_dir`` (optionally of one design), oldest folder name first."""
    base = Path(runs_dir)
    if not base.is_dir():
        return []
    runs = [load_run(p) for p in sorted(base.iterdir()) if p.is_dir()]
    return [r for r in runs if r is not None and (design_name is None or r.design == design_name)]


def best_run_for(design_name: str, runs_dir: str | os.PathLike[str] = "runs") -> RunSummary | None:
    """The run of ``design_name`` with the best measured accuracy (see RunSummary.accuracy), or None."""
    measured = [r for r in list_runs(runs_dir, design_name) if r.accuracy is not None]
    return max(measured, key=lambda r: (r.accuracy or 0.0, r.test_accuracy is not None), default=None)


def resolve_design(spec: str) -> Design:
    """A design from a preset id (``model2``; a known id wins, as in the CLI) or a design file path."""
    from presets import load_preset, preset_ids  # presets imports designer, so only at call time

    if spec.lower() in preset_ids():
        return load_preset(spec)
    path = Path(spec).expanduser()
    if path.exists() or path.suffix.lower() == ".toml" or len(path.parts) > 1:
        return designfile.load(path)
    raise DesignError(f"'{spec}' is neither a preset ({', '.join(preset_ids())}) nor an existing design file")


RESUME_OVERRIDES: tuple[str, ...] = ("epochs", "early_stopping", "reduce_lr", "strategy", "cpu_devices",
                                     "cache_dir")
"""Settings a resumed run takes from the new request; everything else comes from the run's config.json."""
PREPARED = "prepared"
"""status.json of a run folder made for a job that has not started yet."""
_PREPARED_FILES = frozenset({DESIGN_FILE, STATUS_FILE, LOG_FILE})
RUN_KIND = "cnn-designer-run/1"
"""The designer.outdir kind a run folder is checked as. Runs write no manifest (their files change every
epoch), so only a new or empty folder passes that check."""


def saved_config(run_dir: Path) -> dict[str, Any]:
    """The TrainConfig fields stored in a run's config.json (other keys are not read; types are checked
    when the config is built)."""
    data = read_json(run_dir / CONFIG_FILE)
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise RunError(f"{run_dir}: not a run folder (no readable {CONFIG_FILE} with a \"config\" object)")
    known = {f.name for f in fields(TrainConfig)}
    return {k: v for k, v in data["config"].items() if k in known}


def _saved_data(run_dir: Path, value: object) -> object:
    """config.json's ``data`` if it may be read without asking: cifar10, or a path inside the run folder
    (relative paths are taken from the run folder). Anything else is a RunError that says to pass --data."""
    if not isinstance(value, str) or value == CIFAR10:
        return value  # a wrong type is named when the config is built
    path = Path(value).expanduser()
    path = path if path.is_absolute() else run_dir / path
    try:
        path.resolve().relative_to(run_dir.resolve())
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop
        raise RunError(f"{run_dir / CONFIG_FILE}: data = {value!r} lies outside the run folder, so it is not "
                       "read unasked; pass --data PATH to resume with that data set") from None
    return str(path)


def resume_config(config: TrainConfig) -> TrainConfig:
    """The settings to continue ``config.resume`` with: the run's config.json, untrusted, for what the run
    fixed (batch size, seed, ...), :data:`RESUME_OVERRIDES` and ``data`` (when given) from ``config``. No path
    in that file is followed outside the run: the run folder is the one named, the design its design.toml,
    the archive cache the request's, the data the request's unless the saved one is inside the run."""
    run_dir = Path(str(config.resume))
    if not (run_dir / LAST_MODEL).is_file():
        raise RunError(f"{run_dir}: cannot resume, there is no {LAST_MODEL} in it")
    saved = saved_config(run_dir)
    data = config.data if config.data is not None else _saved_data(run_dir, saved.get("data", CIFAR10))
    merged = {**saved, **{k: getattr(config, k) for k in RESUME_OVERRIDES}, "data": data,
              "resume": str(run_dir), "run_dir": str(run_dir), "design": str(run_dir / DESIGN_FILE),
              "out_dir": str(run_dir.parent)}
    try:
        return TrainConfig(**merged)
    except ValueError as exc:  # a type or a value TrainConfig refuses, named with its key
        raise RunError(f"{run_dir / CONFIG_FILE}: cannot resume: {exc}") from None


def claim_run_dir(run_dir: Path) -> Path:
    """The folder a job may write its run into, created: ``run_dir`` if it was prepared for this job
    (design.toml, status "prepared", worker.log and nothing else), else the export's rule
    (:func:`designer.outdir.check_out_dir`: a new or empty folder; ``.`` and symlinks count as the folder they
    name). Anything else is a RunError: a run never overwrites files it did not write, nor another run."""
    from designer.outdir import OutDirError, check_out_dir  # outdir is only needed when a job starts

    if run_dir.is_dir() and not run_dir.is_symlink():
        status = _read_object(run_dir / STATUS_FILE).get("status")
        entries = {p.name for p in run_dir.iterdir()}
        if status == PREPARED and entries <= _PREPARED_FILES:
            return run_dir
        if isinstance(status, str) and CONFIG_FILE in entries:
            raise RunError(f"{run_dir}: already holds a run (status {status}); a run is written into a new or "
                           "empty folder (continue that run with --resume)")
    try:
        folder = check_out_dir(run_dir, RUN_KIND, option="run_dir")
    except OutDirError as exc:
        raise RunError(str(exc)) from None
    folder.mkdir(parents=True, exist_ok=True)
    return folder


TF_CONFIG_EXAMPLE = ('TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                     '"task": {"type": "worker", "index": 0}}\'')


def multi_worker_task(tf_config: str | None) -> tuple[int, int]:
    """(this worker's index, number of workers) from ``TF_CONFIG``, as MultiWorkerMirroredStrategy reads it;
    a RunError in one line when it is missing or malformed (the strategy would hang or fail obscurely)."""
    where = "--strategy multi-worker needs TF_CONFIG"
    if not tf_config or not tf_config.strip():
        raise RunError(f"{where} (the cluster and this machine's place in it), e.g. {TF_CONFIG_EXAMPLE}")
    try:
        data = json.loads(tf_config)
    except json.JSONDecodeError as exc:
        raise RunError(f"TF_CONFIG is not JSON ({exc}): {tf_config[:200]!r}") from None
    cluster = data.get("cluster") if isinstance(data, dict) else None
    task = data.get("task") if isinstance(data, dict) else None
    workers = cluster.get("worker") if isinstance(cluster, dict) else None
    if not isinstance(workers, list) or not workers or not all(
            isinstance(w, str) and re.fullmatch(r"[^\s:]+:\d+|\[[0-9A-Fa-f:.]+\]:\d+", w) for w in workers):
        raise RunError(f"TF_CONFIG: cluster.worker must be a non-empty list of \"host:port\" strings, received "
                       f"{str(workers)[:200]}; e.g. {TF_CONFIG_EXAMPLE}")
    if set(cluster) - {"worker"}:
        raise RunError(f"TF_CONFIG: only \"worker\" tasks are supported (worker 0 is the chief), received "
                       f"cluster keys {', '.join(sorted(cluster))}")
    if not isinstance(task, dict) or task.get("type") != "worker":
        raise RunError(f"TF_CONFIG: task must be {{\"type\": \"worker\", \"index\": N}}, received {str(task)[:200]}")
    index = task.get("index")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(workers):
        raise RunError(f"TF_CONFIG: task.index must be an integer in 0..{len(workers) - 1} (one per "
                       f"cluster.worker entry), received {index!r}")
    return index, len(workers)


def _scratch_prefix(index: int) -> str:
    return f"cnn-designer-worker{index}-"


def worker_scratch_dir(index: int) -> Path:
    """A non-chief worker's own run folder in the temporary folder: it writes nothing where the chief does."""
    return Path(tempfile.mkdtemp(prefix=_scratch_prefix(index)))


_RESUME_FILES = (DESIGN_FILE, CONFIG_FILE, STATUS_FILE, HISTORY_JSON, HISTORY_CSV, LAST_MODEL, BEST_MODEL)


def worker_resume_copy(config: TrainConfig, index: int) -> TrainConfig:
    """A non-chief worker resumes from a copy of the run in its scratch folder (the run folder is the
    chief's: this worker only reads it, so it must be reachable there, e.g. on a shared file system)."""
    source = Path(str(config.resume))
    if source.parent == Path(tempfile.gettempdir()) and source.name.startswith(_scratch_prefix(index)):
        return config  # already this worker's copy (the worker process prepares the run a second time)
    scratch = worker_scratch_dir(index)
    for name in _RESUME_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, scratch / name)
    return replace(config, resume=str(scratch))


def prepare_run(config: TrainConfig, design: Design | None = None, *, check: bool = True,
                ) -> tuple[TrainConfig, Design]:
    """Check the request and make (or, for --resume, check) the run folder with its design.toml snapshot,
    before any TensorFlow.

    Returns the config with ``run_dir`` set (for a resume: see :func:`resume_config`) and the design read
    back from the snapshot. With ``check`` the data is checked (:func:`designer.training.checks.check_data`)
    before any folder is made, so bad input leaves nothing behind.
    """
    # Imported here: checks pulls in numpy, which the app's start-up (it reads runs) does not need.
    from designer.training.checks import check_data

    index = multi_worker_task(os.environ.get("TF_CONFIG"))[0] if config.strategy == "multi-worker" else 0
    if config.resume:
        if index > 0:
            config = worker_resume_copy(config, index)
        config = resume_config(config)
        run_dir = Path(str(config.run_dir))
        try:
            design = designfile.load(run_dir / DESIGN_FILE)
        except DesignError as exc:
            raise RunError(f"{run_dir}: cannot resume: {exc}") from None
        if check:
            check_data(str(config.data), design.classes, config.limit)
        return config, design
    if design is None:
        design = resolve_design(config.design)
    if config.data is None:
        config = replace(config, data=CIFAR10)
    elif config.data != CIFAR10:  # config.json records where the data was, not where it was from the cwd
        config = replace(config, data=os.path.abspath(os.path.expanduser(config.data)))
    if check:
        check_data(str(config.data), design.classes, config.limit)
    if config.run_dir:
        run_dir = claim_run_dir(Path(config.run_dir))
    elif index > 0:
        run_dir = worker_scratch_dir(index)
    else:
        run_dir = create_run_dir(config.out_dir, design.name)
    if not (run_dir / DESIGN_FILE).exists():
        designfile.save(design, run_dir / DESIGN_FILE)
        write_json(run_dir / STATUS_FILE, {"status": PREPARED, "epochs_completed": 0})
    return replace(config, run_dir=str(run_dir)), designfile.load(run_dir / DESIGN_FILE)


def config_record(config: TrainConfig, design: Design, **extra: Any) -> dict[str, Any]:
    """config.json's content: the settings under "config", the design's name, and ``extra`` keys."""
    return {"config": asdict(config), "design_name": design.name, **extra}
