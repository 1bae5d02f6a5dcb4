"""Safe output folders: a tool writes into a new or empty folder, or replaces what it wrote there before.

A folder cnn-designer fills (an export bundle, a training run) gets a manifest, ``.cnn-designer-manifest.json``,
naming its kind and the sha256 of every file the tool wrote. :func:`check_out_dir` is asked BEFORE any work:
the folder may be new, empty, or a folder of the same kind whose every entry is a file the manifest lists with
its recorded content. Anything else (user files, a stray ``report.json``, a file edited since, a symlink or a
sub-folder, or a manifest of another kind) is refused with one line naming the folder and the first offending
entry, offering ``--out DIR/NAME``. So a replacement removes only files the tool wrote and nobody changed.

:func:`install` moves a finished scratch folder into place: one rename for a new folder, file by file (old
manifest's files out, new files in, the manifest last) for an existing one. Interrupted halfway, the folder
has no valid manifest and the next run refuses it, naming the file: safe, never a silent deletion.
No TensorFlow and no UI here; the export and the training job both use it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MANIFEST_NAME = ".cnn-designer-manifest.json"
"""The manifest file in every folder cnn-designer fills; its presence alone does not make a folder ours."""
MANIFEST_SCHEMA = "cnn-designer-manifest/1"


class OutDirError(ValueError):
    """An output folder that cannot be used; the message is one line naming the folder and the reason."""


@dataclass(frozen=True)
class Manifest:
    """What a folder's manifest says: the kind of folder (e.g. ``cnn-designer-bundle/1``) and its files."""

    kind: str
    files: dict[str, str]
    """File name (no path separators) -> sha256 hex digest of the content the tool wrote."""


def resolve_out(path: str | os.PathLike[str]) -> Path:
    """The real folder ``path`` names: ``~`` expanded, made absolute, symlinks followed (so ``.`` and a link
    are checked as the folder they are)."""
    return Path(path).expanduser().resolve()


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _plain_name(name: object) -> bool:
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
            and "\0" not in name and name != MANIFEST_NAME)


def read_manifest(folder: Path) -> Manifest | None:
    """The folder's manifest, or None when it has none or it is not one of ours (wrong schema, bad names)."""
    path = folder / MANIFEST_NAME
    if path.is_symlink() or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("schema") != MANIFEST_SCHEMA or not isinstance(data.get("kind"), str):
        return None
    files = data.get("files")
    if not isinstance(files, dict) or not all(_plain_name(k) and isinstance(v, str) for k, v in files.items()):
        return None
    return Manifest(data["kind"], dict(files))


def write_manifest(folder: Path, kind: str, names: Iterable[str]) -> Manifest:
    """Hash ``names`` (plain files in ``folder``) and write the folder's manifest; returns it."""
    files = {}
    for name in sorted(set(names)):
        if not _plain_name(name):
            raise ValueError(f"not a plain file name for a manifest: {name!r}")
        files[name] = sha256_file(folder / name)
    manifest = Manifest(kind, files)
    text = json.dumps({"schema": MANIFEST_SCHEMA, "kind": kind, "files": files}, indent=2) + "\n"
    tmp = folder / f"{MANIFEST_NAME}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, folder / MANIFEST_NAME)
    return manifest


def add_to_manifest(folder: Path, kind: str, names: Iterable[str]) -> Manifest:
    """Record more files the tool wrote into a folder it owns (e.g. a log written after the bundle)."""
    old = read_manifest(folder)
    return write_manifest(folder, kind, [*(old.files if old else ()), *names])


def _refusal(folder: Path, why: str, option: str) -> OutDirError:
    return OutDirError(f"refusing to write into {folder}: {why}; nothing was changed. Choose a new or empty "
                       f"folder, e.g. {option} {folder / 'NAME'}")


def _foreign_entry(folder: Path, manifest: Manifest | None) -> str | None:
    """Why the folder is not entirely ours (the first offending entry), or None when it is."""
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name == MANIFEST_NAME and manifest is not None:
            continue
        if manifest is None:
            return f"it holds '{entry.name}' and is not a cnn-designer folder (no {MANIFEST_NAME})"
        if entry.name not in manifest.files:
            return f"'{entry.name}' is not a file cnn-designer wrote there"
        if entry.is_symlink() or not entry.is_file():
            return f"'{entry.name}' is not the plain file cnn-designer wrote"
        if sha256_file(Path(entry.path)) != manifest.files[entry.name]:
            return f"'{entry.name}' was changed after cnn-designer wrote it"
    return None


def check_out_dir(path: str | os.PathLike[str], kind: str, *, option: str = "--out") -> Path:
    """The resolved output folder, if it may be written: missing, empty, or a ``kind`` folder holding only
    the unchanged files its manifest lists. OutDirError (one line, naming the folder, the offending entry and
    offering ``option DIR/NAME``) otherwise. Reads only; call it before any slow work."""
    try:
        folder = resolve_out(path)
    except (RuntimeError, OSError) as exc:  # Python 3.11 raises RuntimeError for a symlink loop
        raise _refusal(Path(path), f"its path cannot be resolved ({exc})", option) from None
    if not folder.exists():
        if folder.is_symlink():  # a loop that resolve() left as it was
            raise _refusal(folder, "it is a symlink that leads nowhere", option)
        return folder
    if not folder.is_dir():
        raise _refusal(folder, "it exists and is not a folder", option)
    try:
        manifest = read_manifest(folder)
        if manifest is not None and manifest.kind != kind:
            raise _refusal(folder, f"it holds another kind of cnn-designer output ({manifest.kind})", option)
        why = _foreign_entry(folder, manifest)
    except OSError as exc:
        raise _refusal(folder, f"cannot read it ({exc.strerror or exc})", option) from None
    if why is not None:
        raise _refusal(folder, why, option)
    return folder


def install(scratch: Path, target: Path, kind: str, *, option: str = "--out") -> None:
    """Move the finished ``scratch`` folder (flat, with its manifest written) into ``target``.

    A missing target is one rename. An existing one is checked again (the user may have added a file while
    the job ran), its old manifest's files are removed, the new files moved in and the manifest last; only then
    is the empty scratch folder removed.
    """
    if not target.exists():
        os.replace(scratch, target)
        return
    check_out_dir(target, kind, option=option)
    old = read_manifest(target)
    (target / MANIFEST_NAME).unlink(missing_ok=True)  # from here on the folder is not claimed as ours
    new_names = sorted(p.name for p in scratch.iterdir() if p.name != MANIFEST_NAME)
    for name in old.files if old else ():
        if name not in new_names:
            (target / name).unlink(missing_ok=True)
    for name in new_names:
        os.replace(scratch / name, target / name)
    os.replace(scratch / MANIFEST_NAME, target / MANIFEST_NAME)
    shutil.rmtree(scratch, ignore_errors=True)
