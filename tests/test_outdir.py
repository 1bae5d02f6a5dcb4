"""designer.outdir: which output folders a tool may write, and that replacing one removes only its own files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from designer.outdir import (
    MANIFEST_NAME,
    OutDirError,
    add_to_manifest,
    check_out_dir,
    install,
    read_manifest,
    write_manifest,
)

KIND = "test-kind/1"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _ours(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    write_manifest(folder, KIND, files)
    return folder


def test_new_and_empty_folders_are_fine(tmp_path: Path) -> None:
    assert check_out_dir(tmp_path / "new" / "deeper", KIND) == (tmp_path / "new" / "deeper").resolve()
    (tmp_path / "empty").mkdir()
    assert check_out_dir(tmp_path / "empty", KIND) == (tmp_path / "empty").resolve()
    assert not (tmp_path / "new").exists()  # checking writes nothing


@pytest.mark.parametrize(("files", "why"), [
    ({"notes.txt": "precious"}, r"it holds 'notes.txt' and is not a cnn-designer folder"),
    ({"report.json": '{"schema": 1}'}, r"it holds 'report.json' and is not a cnn-designer folder"),
    ({MANIFEST_NAME: '{"schema": "something else"}'}, r"is not a cnn-designer folder"),
])
def test_folders_not_ours_are_refused_and_kept(tmp_path: Path, files: dict[str, str], why: str) -> None:
    folder = tmp_path / "user"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    before = _snapshot(folder)
    with pytest.raises(OutDirError, match=why + r".*nothing was changed.*--out .*user/NAME"):
        check_out_dir(folder, KIND)
    assert _snapshot(folder) == before


def test_our_folder_may_be_replaced_until_someone_touches_it(tmp_path: Path) -> None:
    folder = _ours(tmp_path / "b", {"a.txt": "1", "b.bin": "2"})
    assert check_out_dir(folder, KIND) == folder.resolve()
    (folder / "b.bin").write_text("edited")
    with pytest.raises(OutDirError, match=r"'b.bin' was changed after cnn-designer wrote it"):
        check_out_dir(folder, KIND)
    (folder / "b.bin").write_text("2")
    (folder / "mine.txt").write_text("user")
    with pytest.raises(OutDirError, match=r"'mine.txt' is not a file cnn-designer wrote there"):
        check_out_dir(folder, KIND)
    (folder / "mine.txt").unlink()
    (folder / "a.txt").unlink()
    (folder / "a.txt").mkdir()
    with pytest.raises(OutDirError, match=r"'a.txt' is not the plain file"):
        check_out_dir(folder, KIND)


def test_another_kind_is_refused(tmp_path: Path) -> None:
    folder = _ours(tmp_path / "b", {"a.txt": "1"})
    with pytest.raises(OutDirError, match=r"another kind of cnn-designer output \(test-kind/1\)"):
        check_out_dir(folder, "other/1")


def test_a_manifest_naming_paths_outside_the_folder_is_not_ours(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / MANIFEST_NAME).write_text(json.dumps(
        {"schema": "cnn-designer-manifest/1", "kind": KIND, "files": {"../victim.txt": "0" * 64}}))
    assert read_manifest(folder) is None
    with pytest.raises(OutDirError, match="is not a cnn-designer folder"):
        check_out_dir(folder, KIND)


def test_dot_and_symlinks_are_checked_as_the_folder_they_are(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "user"
    user.mkdir()
    (user / "a.txt").write_text("mine")
    (tmp_path / "link").symlink_to(user)
    monkeypatch.chdir(user)
    for given in (".", str(tmp_path / "link"), str(tmp_path / "link") + "/"):
        with pytest.raises(OutDirError, match=rf"refusing to write into {user}: it holds 'a.txt'"):
            check_out_dir(given, KIND)
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(OutDirError):
        check_out_dir(tmp_path / "loop", KIND)
    (tmp_path / "file").write_text("")
    with pytest.raises(OutDirError, match="it exists and is not a folder"):
        check_out_dir(tmp_path / "file", KIND)


def test_a_symlink_inside_our_folder_is_refused(tmp_path: Path) -> None:
    folder = _ours(tmp_path / "b", {"a.txt": "1"})
    (tmp_path / "elsewhere.txt").write_text("1")
    (folder / "a.txt").unlink()
    (folder / "a.txt").symlink_to(tmp_path / "elsewhere.txt")  # same content, but not the file we wrote
    with pytest.raises(OutDirError, match="'a.txt' is not the plain file"):
        check_out_dir(folder, KIND)


def test_install_into_a_new_folder_and_over_our_own(tmp_path: Path) -> None:
    scratch = _ours(tmp_path / ".s1", {"a.txt": "new a", "c.txt": "new c"})
    target = tmp_path / "out"
    install(scratch, target, KIND)
    assert not scratch.exists() and sorted(os.listdir(target)) == [MANIFEST_NAME, "a.txt", "c.txt"]
    scratch = _ours(tmp_path / ".s2", {"a.txt": "newer a", "d.txt": "d"})
    install(scratch, target, KIND)
    assert not scratch.exists()
    assert _snapshot(target) == {MANIFEST_NAME: (target / MANIFEST_NAME).read_bytes(), "a.txt": b"newer a",
                                 "d.txt": b"d"}
    assert read_manifest(target).files.keys() == {"a.txt", "d.txt"}  # type: ignore[union-attr]


def test_install_refuses_a_folder_that_changed_meanwhile(tmp_path: Path) -> None:
    target = _ours(tmp_path / "out", {"a.txt": "old"})
    (target / "added-while-running.txt").write_text("user")
    before = _snapshot(target)
    scratch = _ours(tmp_path / ".s", {"a.txt": "new"})
    with pytest.raises(OutDirError, match="added-while-running.txt"):
        install(scratch, target, KIND)
    assert _snapshot(target) == before


def test_add_to_manifest_claims_a_later_file(tmp_path: Path) -> None:
    target = _ours(tmp_path / "out", {"a.txt": "1"})
    (target / "export.log").write_text("log")
    add_to_manifest(target, KIND, ["export.log"])
    assert check_out_dir(target, KIND) == target.resolve()
    with pytest.raises(ValueError, match="not a plain file name"):
        write_manifest(target, KIND, ["../x"])
