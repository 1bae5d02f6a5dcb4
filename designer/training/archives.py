"""Data sets given as a .tar.gz/.zip of an image folder: extracted once into a cache keyed by the archive.

The cache key is the archive's absolute path, modification time and size, so a changed archive is extracted
again and an unchanged one never is. Extraction goes to a temporary folder that is renamed into place when
complete: an interrupted extraction is redone, never half-used. No TensorFlow here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

ARCHIVE_SUFFIXES: tuple[str, ...] = (".tar.gz", ".tgz", ".tar", ".zip")
_DONE_MARKER = ".extracted"


class ArchiveError(ValueError):
    """An archive that cannot be read or extracted; the message names the file."""


def is_archive(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names an archive kind we extract (by its suffix)."""
    name = str(path).lower()
    return any(name.endswith(s) for s in ARCHIVE_SUFFIXES)


def default_cache_dir() -> Path:
    """``$CNN_DESIGNER_CACHE/datasets``, else ``$XDG_CACHE_HOME/cnn-designer/datasets`` or ~/.cache/…."""
    if os.environ.get("CNN_DESIGNER_CACHE"):
        return Path(os.environ["CNN_DESIGNER_CACHE"]) / "datasets"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cnn-designer" / "datasets"


def cache_key(archive: Path) -> str:
    """A short hex key for the archive's path, mtime and size."""
    st = archive.stat()
    text = f"{archive.resolve()}|{st.st_mtime_ns}|{st.st_size}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _stem(archive: Path) -> str:
    name = archive.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or "data"
    return name


def extract_cached(archive: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder the archive extracts to, extracting it first unless the cache already holds it."""
    src = Path(archive)
    if not src.is_file():
        raise ArchiveError(f"{src}: no such archive")
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    dest = root / f"{_stem(src)}-{cache_key(src)}"
    if (dest / _DONE_MARKER).exists():
        return dest
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{dest.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        if src.name.lower().endswith(".zip"):
            with zipfile.ZipFile(src) as zf:
                zf.extractall(tmp)  # zipfile strips absolute paths and ".." itself
        else:
            with tarfile.open(src) as tf:
                tf.extractall(tmp, filter="data")  # "data": no absolute paths, links out, devices
        (tmp / _DONE_MARKER).write_text(str(src.resolve()), encoding="utf-8")
        if not (dest / _DONE_MARKER).exists():  # another process may have finished the same archive first
            shutil.rmtree(dest, ignore_errors=True)
            os.replace(tmp, dest)
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        if not (dest / _DONE_MARKER).exists():
            shutil.rmtree(tmp, ignore_errors=True)
            raise ArchiveError(f"{src}: cannot extract archive: {exc}") from None
    shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _visible(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]


def unwrap(folder: Path) -> Path:
    """Descend through folders that hold nothing but one folder (an archive's top-level wrapper)."""
    current = folder
    for _ in range(3):
        entries = _visible(current)
        if (current / "train").is_dir() or len(entries) != 1 or not entries[0].is_dir():
            return current
        current = entries[0]
    return current
