"""The presets: the notebook's Model0–Model13, the seed project's residual Model19 and MLPerf Tiny's ResNet-8.

They load, match their published params figures and ship in the package.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest

from designer.design import DesignError, analyze
from designer.layers import Residual, has_blocks
from presets import load_preset, preset_ids

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_IDS = [f"model{i}" for i in range(14)]
IDS = [*NOTEBOOK_IDS, "model19", "resnet8"]
NAMES = {**{f"model{i}": f"Model{i}" for i in (*range(14), 19)}, "resnet8": "ResNet8"}


def test_preset_ids_are_in_notebook_order_then_the_residual_ones() -> None:
    assert preset_ids() == IDS


@pytest.mark.parametrize("preset_id", IDS)
def test_preset_loads_and_is_valid(preset_id: str) -> None:
    design = load_preset(preset_id)
    assert design.name == NAMES[preset_id]
    assert design.input_shape == (32, 32, 3)
    assert design.classes == 10
    analysis = analyze(design)
    assert analysis.layers[-1].output_shape == (10,)
    assert design.notebook is not None


@pytest.mark.parametrize("preset_id", IDS)
def test_preset_params_equal_the_notebook_figure(preset_id: str) -> None:
    design = load_preset(preset_id)
    assert design.notebook is not None
    analysis = analyze(design)
    ours = {"total": analysis.params_total, "trainable": analysis.params_trainable}
    assert ours[design.notebook.params_convention] == design.notebook.params


def test_model8_is_745674_trainable() -> None:
    # The notebook prints 747,674: a typo (see the preset's note); the source gives these two counts.
    analysis = analyze(load_preset("model8"))
    assert analysis.params_trainable == 745_674
    assert analysis.params_total == 747_018


@pytest.mark.parametrize("preset_id, total, trainable", [("resnet8", 78_666, 78_186), ("model19", 59_714, 59_026)])
def test_residual_presets_have_their_published_counts(preset_id: str, total: int, trainable: int) -> None:
    design = load_preset(preset_id)
    analysis = analyze(design)
    assert (analysis.params_total, analysis.params_trainable) == (total, trainable)
    assert has_blocks(design.layers)
    assert f"{trainable:,} trainable" in design.notebook.note  # type: ignore[union-attr]


def test_resnet8_is_the_mlperf_tiny_reference() -> None:
    design = load_preset("resnet8")
    blocks = [item for item in design.layers if isinstance(item, Residual)]
    assert [b.identity for b in blocks] == [True, False, False]
    convs = [b.main[0] for b in blocks]
    assert [(c.filters, c.strides) for c in convs] == [(16, (1, 1)), (32, (2, 2)), (64, (2, 2))]  # type: ignore[union-attr]
    assert [s.kernel for b in blocks[1:] for s in b.shortcut] == [(1, 1), (1, 1)]  # type: ignore[union-attr]
    nb = design.notebook
    assert nb is not None and (nb.accuracy_percent, nb.accuracy_int8_percent) == (87.0, 85.6)
    assert "MLPerf Tiny" in nb.note and nb.rom == nb.ram == ""


def test_model19_is_the_seed_project_resnet() -> None:
    design = load_preset("model19")
    nb = design.notebook
    assert nb is not None and (nb.accuracy_percent, nb.h5_size) == (79.51, "233K")
    blocks = [item for item in design.layers if isinstance(item, Residual)]
    assert [len(b.shortcut) for b in blocks] == [0, 0, 2, 0]
    assert all(b.main[-1].kind == "batchnorm" and len(b.main) == 10 for b in blocks)


def test_load_preset_is_case_insensitive() -> None:
    assert load_preset("Model8") == load_preset("model8")


def test_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(DesignError, match="unknown preset 'model14'.*model0, model1"):
        load_preset("model14")


def test_presets_are_package_resources() -> None:
    files = resources.files("presets")
    for preset_id in IDS:
        assert files.joinpath(f"{preset_id}.toml").is_file()


def test_presets_are_in_the_built_wheel(tmp_path: Path) -> None:
    # Build from a copy so no build/ or egg-info lands in the working tree.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    for package in ("designer", "presets", "tui"):
        if (ROOT / package).is_dir():
            shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(wheels)],
        capture_output=True, text=True, timeout=120,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {result.stderr[-300:]}")
    (wheel,) = wheels.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"presets/{preset_id}.toml" for preset_id in IDS} <= names
