"""Where a search lives: its folder, its Optuna storage and study, and the settings the study was made with.

By default a search named NAME keeps everything in ``<out>/search-NAME/``: ``study.db`` (a SQLite Optuna
storage), ``trial-NNNN.toml`` (every candidate, as proposed) and ``runs/`` (the training run of each candidate
that fit). ``--storage URL`` puts the study in any Optuna storage instead (``postgresql://...``, another
SQLite file), so several processes or machines share one search; each machine still writes its candidates'
files into its own ``<out>/search-NAME/``.

The study records its settings (board, runtime, dtype, compression, budgets, objective, proxy recipe) and its
search space as user attributes. Joining a study (``--study NAME``) takes them from it: an option given again
must match, so every worker searches the same problem, and a second machine needs no copy of the seed design.
Optuna is imported inside the functions that use it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from designer.training.runs import slug

if TYPE_CHECKING:
    import optuna

STUDY_DB = "study.db"
RUNS_DIR = "runs"
SETTINGS_ATTR = "cnn_designer_settings"
SPACE_ATTR = "cnn_designer_space"
_ATTR_WAIT_TRIES = 10
_OPEN_TRIES = 3
SQLITE_TIMEOUT_S = 60
"""How long a SQLite writer waits for another process' lock before failing (two workers on one file)."""


class StudyError(ValueError):
    """A study that cannot be used as asked (settings that differ from the study's, a bad storage URL)."""


def search_dir(out_dir: str | os.PathLike[str], study: str) -> Path:
    """``<out>/search-<study>/`` (the study name made safe for a folder name)."""
    return Path(out_dir) / f"search-{slug(study)}"


def default_storage(folder: Path) -> str:
    """The SQLite URL of the study file in a search folder (absolute, so it does not depend on the cwd)."""
    return f"sqlite:///{(folder / STUDY_DB).resolve()}"


def _storage(url: str) -> Any:
    """An Optuna RDB storage; SQLite gets a long lock timeout so parallel workers wait instead of failing."""
    import optuna  # only the search command pays for Optuna (and SQLAlchemy)

    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": SQLITE_TIMEOUT_S}
    for attempt in range(_OPEN_TRIES):
        try:
            storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
            break
        except Exception as exc:  # SQLAlchemy raises its own types for a bad URL, a missing driver, no server
            # Two workers starting on a new database race to create Optuna's tables; the loser's second try
            # finds them made.
            if _creation_race(exc) and attempt + 1 < _OPEN_TRIES:
                time.sleep(0.5)
                continue
            raise StudyError(f"--storage {_shown_url(url)}: cannot open it ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:200]})") from None
    if url.startswith("sqlite"):
        _fast_sqlite(storage.engine)
    return storage


def _creation_race(exc: Exception) -> bool:
    """Whether opening failed only because another worker was creating the same tables at that moment (a
    table that appeared meanwhile, or Optuna's schema-version row inserted twice)."""
    text = str(exc)
    return type(exc).__name__ == "IntegrityError" or any(
        s in text for s in ("already exists", "database is locked", "duplicate key"))


def _fast_sqlite(engine: Any) -> None:
    """WAL journal and ``synchronous=NORMAL`` on every connection: a trial writes a few dozen small
    transactions, and with SQLite's defaults each one waits for an fsync (~20 ms each on a busy disk). WAL
    also lets other workers read while one writes. A crash of the process loses nothing committed; a power
    cut may lose the last trials (they are only re-run)."""
    from sqlalchemy import event  # Optuna's own dependency

    def on_connect(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # connections made while Optuna set the storage up are reopened with the pragmas


def _shown_url(url: str) -> str:
    # Never echo a password from postgresql://user:secret@host/db.
    head, sep, tail = url.partition("@")
    if sep and "://" in head:
        scheme, _, creds = head.partition("://")
        return f"{scheme}://{creds.split(':')[0]}:***@{tail}" if ":" in creds else url
    return url


def stored(url: str, name: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The (settings, space) a study was made with, or None when the storage has no study of that name."""
    import optuna  # see _storage

    storage = _storage(url)
    if name not in {s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}:
        return None
    for _ in range(_ATTR_WAIT_TRIES):
        attrs = optuna.load_study(study_name=name, storage=storage).user_attrs
        settings, space = attrs.get(SETTINGS_ATTR), attrs.get(SPACE_ATTR)
        if isinstance(settings, dict) and isinstance(space, dict):
            return settings, space
        # Another worker may have just created the study and not yet written its settings.
        time.sleep(0.5)
    if not isinstance(settings, dict) or not isinstance(space, dict):
        raise StudyError(f"study '{name}' was not made by cnn-designer search (no stored settings); "
                         "pick another --study name")
    return settings, space


def merge_settings(name: str, saved: Mapping[str, Any] | None, given: Mapping[str, Any],
                   defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The settings to search with: a new study's are ``given`` (None = not given) over ``defaults``; a joined
    study's are its own, and a given value that differs is a StudyError naming the option and both values."""
    if saved is None:
        return {k: (given.get(k) if given.get(k) is not None else v) for k, v in defaults.items()}
    for key, value in given.items():
        if value is not None and key in saved and saved[key] != value:
            flag = "--" + key.replace("_", "-")
            raise StudyError(f"study '{name}' searches with {flag} {saved[key]}, not {value}: leave {flag} out to "
                             "join it as it is, or name a new study")
    return {**defaults, **dict(saved)}


def open_study(url: str, name: str, directions: list[str], settings: Mapping[str, Any],
               space: Mapping[str, Any], *, seed: int | None = None, prune: bool = True) -> optuna.Study:
    """Create the study or join it; a new study records ``settings`` and ``space``.

    Two workers starting at once may both find no study: Optuna's ``load_if_exists`` makes one of them the
    creator; both then write the same attributes (they were checked to agree)."""
    import optuna  # see _storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Constraints (set per trial) steer TPE away from what did not fit; a fixed seed only for a reproducible run.
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0) if prune else \
        optuna.pruners.NopPruner()
    study = optuna.create_study(storage=_storage(url), study_name=name, directions=directions, sampler=sampler,
                                pruner=pruner, load_if_exists=True)
    if [d.name.lower() for d in study.directions] != directions:
        raise StudyError(f"study '{name}' optimizes {[d.name.lower() for d in study.directions]}, "
                         f"not {directions}")
    if SETTINGS_ATTR not in study.user_attrs:
        study.set_user_attr(SETTINGS_ATTR, dict(settings))
        study.set_user_attr(SPACE_ATTR, dict(space))
    return study
