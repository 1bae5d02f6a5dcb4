"""Export failures: each names its cause, and none leaves a folder that looks like a bundle."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from designer.export.bundle import BUNDLE_KIND, export_bundle
from designer.export.protocol import ExportRequest
from designer.export.source import ExportError
from designer.outdir import MANIFEST_NAME, write_manifest
from tests.export.conftest import TinyRun


def _export(source: str | Path, out: Path, **kw: object) -> None:
    export_bundle(ExportRequest(source=str(source), out_dir=str(out), calibration_images=20, eval_images=20,
                                **kw))  # type: ignore[arg-type]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_output_folder_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ExportError, match=r"cannot write the export to .*a-file/out: the folder .*a-file is not "
                                          r"writable"):
        _export("model2", blocker / "out")


def test_existing_folder_that_is_not_a_bundle_is_kept(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    with pytest.raises(ExportError, match=r"refusing to write into .*mine: it holds 'notes.txt'"):
        _export("model2", tmp_path / "mine")
    assert _leftovers(tmp_path / "mine") == ["notes.txt"]
    assert _leftovers(tmp_path) == ["mine"]


@pytest.mark.parametrize(("source", "match"), [
    ("model99", r"'model99' is not a run folder, a .toml design file or a preset"),
    ("missing.toml", r"missing.toml: no such design file"),
])
def test_unknown_source(tmp_path: Path, source: str, match: str) -> None:
    with pytest.raises(ExportError, match=match):
        _export(source, tmp_path / "out")
    assert _leftovers(tmp_path) == []


def test_unknown_board(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="NO-SUCH-BOARD"):
        _export("model2", tmp_path / "out", board="NO-SUCH-BOARD")


def _copy_run(tiny_run: TinyRun, dest: Path) -> Path:
    run = dest / "run"
    shutil.copytree(tiny_run.run_dir, run)
    return run


@pytest.mark.slow
def test_run_without_its_data_set(tiny_run: TinyRun, tmp_path: Path) -> None:
    run = _copy_run(tiny_run, tmp_path)
    config = json.loads((run / "config.json").read_text())
    config["config"]["data"] = str(run / "gone.npz")
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(ExportError, match=r"no usable data set to calibrate int8 with .*gone.npz.*--data PATH"):
        _export(run, tmp_path / "out")
    assert _leftovers(tmp_path) == ["run"]


@pytest.mark.slow
def test_run_whose_config_names_no_data(tiny_run: TinyRun, tmp_path: Path) -> None:
    run = _copy_run(tiny_run, tmp_path)
    (run / "config.json").write_text("{}")
    with pytest.raises(ExportError, match=r"config.json names no data set .*pass --data PATH"):
        _export(run, tmp_path / "out")
    # --data points at it instead: the export goes through.
    _export(run, tmp_path / "out", data=str(tiny_run.npz), stedgeai=False)
    assert (tmp_path / "out" / "report.json").is_file()


@pytest.mark.slow
def test_layer_the_converter_cannot_lower(tiny_run: TinyRun, tmp_path: Path) -> None:
    # Imported here: this test alone needs a model the designer cannot describe.
    import keras
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="cnn_designer_tests")
    class Determinant(keras.layers.Layer):
        """Scales by a 2x2 determinant: tf.MatrixDeterminant has no TFLite builtin kernel."""

        def call(self, x: tf.Tensor) -> tf.Tensor:
            return x * tf.reshape(tf.linalg.det(x[..., :2, :2, 0]), (-1, 1, 1, 1))

    run = _copy_run(tiny_run, tmp_path)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="l00_conv2d")(inputs)
    x = Determinant(name="l01_batchnorm")(x)
    x = keras.layers.MaxPooling2D(name="l02_maxpool")(x)
    x = keras.layers.Flatten(name="l03_flatten")(x)
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="l04_dense")(x)).save(run / "best.keras")
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("{}")  # an older bundle: it must survive the failed export
    write_manifest(out, BUNDLE_KIND, ["report.json"])
    with pytest.raises(ExportError, match=r"cannot lower layer 1 \(batchnorm, Keras name l01_batchnorm\) of "
                                          r"'Tiny Net' to float32: op tf.MatrixDeterminant has no TFLite builtin"):
        _export(run, out)
    assert _leftovers(tmp_path) == ["out", "run"]
    assert _leftovers(out) == [MANIFEST_NAME, "report.json"]


def test_bad_request_values() -> None:
    with pytest.raises(ValueError, match="compression must be one of"):
        ExportRequest(source="model2", compression="max")


def test_a_new_bundle_replaces_only_the_old_bundles_files(tmp_path: Path) -> None:
    from designer.export.bundle import _move_into_place

    target, scratch = tmp_path / "bundle", tmp_path / ".bundle.partial"
    target.mkdir()
    (target / "report.json").write_text("old")
    (target / "stale.txt").write_text("old")
    write_manifest(target, BUNDLE_KIND, ["report.json", "stale.txt"])
    scratch.mkdir()
    (scratch / "report.json").write_text("new")
    _move_into_place(scratch, target)
    assert _leftovers(tmp_path) == ["bundle"] and _leftovers(target) == [MANIFEST_NAME, "report.json"]
    assert (target / "report.json").read_text() == "new"


def test_a_file_added_to_the_old_bundle_stops_the_replacement(tmp_path: Path) -> None:
    from designer.export.bundle import _move_into_place

    target, scratch = tmp_path / "bundle", tmp_path / ".bundle.partial"
    target.mkdir()
    (target / "report.json").write_text("old")
    write_manifest(target, BUNDLE_KIND, ["report.json"])
    (target / "my-notes.txt").write_text("mine")
    scratch.mkdir()
    (scratch / "report.json").write_text("new")
    with pytest.raises(ExportError, match=r"'my-notes.txt' is not a file cnn-designer wrote there"):
        _move_into_place(scratch, target)
    assert (target / "my-notes.txt").read_text() == "mine" and (target / "report.json").read_text() == "old"


def test_scratch_folders_of_killed_exports_are_removed(tmp_path: Path) -> None:
    """A SIGKILLed export cannot clean up; the next export to the same folder does, sparing live ones."""
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    stale = tmp_path / f".bundle.partial-{dead.stdout.strip()}-123"
    live = tmp_path / f".bundle.partial-{os.getppid()}-456"  # another export still running
    other = tmp_path / f".bundle2.partial-{dead.stdout.strip()}-789"  # another target's: not ours to judge
    for folder in (stale, live, other):
        (folder / "model.keras").parent.mkdir()
        (folder / "model.keras").write_bytes(b"half")
    export_bundle(ExportRequest(source="model4", out_dir=str(tmp_path / "bundle"), calibration_images=5,
                                eval_images=5, stedgeai=False))
    assert not stale.exists() and live.is_dir() and other.is_dir()
    assert (tmp_path / "bundle" / "report.json").is_file()
