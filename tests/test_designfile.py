"""Design files: save/load round trips, atomic saves, and one "raises a clear error" test over tests/data/bad.

Each bad file starts with comment lines saying what its error must contain:
``# error: <text>`` (the message must start with the file's path and contain the text, which names the layer
index and the key where there is one) and ``# shape`` for files whose TOML is fine but whose design cannot be
built: those load as they are (an in-progress design may be saved invalid) and fail with ``validate=True``.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from designer import designfile
from designer.design import Design, DesignError, NotebookFigures
from designer.generate import deep_design, random_design, random_layer_stack
from designer.layers import AvgPool, Conv2D, Dense, DepthwiseConv2D, Dropout, Flatten, MaxPool
from presets import load_preset, preset_ids

BAD_DIR = Path(__file__).parent / "data" / "bad"
BAD_FILES = sorted(BAD_DIR.glob("*.toml"))


def _expectations(path: Path) -> tuple[list[str], bool]:
    """The ``# error:`` texts of a bad file, and whether it is a ``# shape`` file."""
    errors: list[str] = []
    shape = False
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("# error: "):
            errors.append(line.removeprefix("# error: "))
        shape = shape or line.strip() == "# shape"
    return errors, shape


def test_the_bad_folder_covers_every_kind_of_mistake() -> None:
    names = {p.stem for p in BAD_FILES}
    assert {"unknown_top_level_key", "unknown_layer_key", "unknown_kind", "filters_string", "kernel_float",
            "use_bias_int", "filters_zero", "rate_too_big", "padding_full", "missing_filters", "invalid_syntax",
            "conv_after_flatten", "output_not_classes"} <= names
    for path in BAD_FILES:
        assert _expectations(path)[0], f"{path.name} has no '# error:' line"


@pytest.mark.parametrize("path", BAD_FILES, ids=[p.stem for p in BAD_FILES])
def test_bad_file_raises_a_clear_error(path: Path) -> None:
    errors, shape = _expectations(path)
    if shape:
        designfile.load(path)  # loads as it is: only validation refuses it
    with pytest.raises(DesignError) as info:
        designfile.load(path, validate=True)
    message = str(info.value)
    assert message.startswith(f"{path}: ") or message.startswith(f"{path}, "), message
    assert info.value.source == str(path)
    for text in errors:
        assert text in message, message
    if ", layer " in message:
        assert info.value.index is not None
    if ", key '" in message:
        assert info.value.key


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(DesignError, match=f"^{path}: cannot read design file"):
        designfile.load(path)


def test_loads_names_its_source() -> None:
    with pytest.raises(DesignError, match="^preset x, key 'colour'"):
        designfile.loads('colour = "red"', source="preset x")


# --- round trips ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset_id", preset_ids())
def test_preset_round_trips(preset_id: str, tmp_path: Path) -> None:
    design = load_preset(preset_id)
    path = tmp_path / f"{preset_id}.toml"
    designfile.save(design, path)
    assert designfile.load(path, validate=True) == design


def test_generated_designs_round_trip(tmp_path: Path) -> None:
    designs = [random_design(random.Random(seed), name=f"random {seed}") for seed in range(150)]
    # Invalid stacks round-trip too: an in-progress design is saved and reopened as it is.
    designs += [random_layer_stack(random.Random(seed), name=f"stack {seed}") for seed in range(150)]
    designs.append(deep_design(100))
    path = tmp_path / "d.toml"
    for design in designs:
        assert designfile.loads(designfile.dumps(design)) == design
        designfile.save(design, path)
        assert designfile.load(path) == design
    assert os.listdir(tmp_path) == ["d.toml"]


def test_every_setting_round_trips() -> None:
    design = Design(
        name="every setting",
        layers=(
            Conv2D(filters=7, kernel=(3, 1), strides=(2, 1), padding="valid", activation="tanh", use_bias=False,
                   group="g1"),
            DepthwiseConv2D(kernel=(1, 5), depth_multiplier=3, activation="relu6"),
            MaxPool(pool=(3, 2), strides=(1, 2), padding="same"),
            AvgPool(pool=(2, 2)),
            Flatten(),
            Dropout(rate=0.1),
            Dense(units=3, activation="sigmoid", use_bias=False),
        ),
        input_shape=(20, 24, 1),
        classes=3,
        notes="multi\nline \"notes\"",
        notebook=NotebookFigures(params=12, params_convention="trainable", h5_size="2M11", rom="1M25",
                                 ram="147K", accuracy_percent=81.34, note="n"),
    )
    text = designfile.dumps(design)
    assert 'kernel = [\n    3,\n    1,\n]' in text or "kernel = [3, 1]" in text
    assert designfile.loads(text) == design


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "my_net.toml"
    path.write_text('classes = 2\n[[layers]]\nkind = "flatten"\n[[layers]]\nkind = "dense"\nunits = 2\n')
    design = designfile.load(path, validate=True)
    assert (design.name, design.input_shape, design.classes) == ("my_net", (32, 32, 3), 2)


# --- atomic save ----------------------------------------------------------------------------------------


def test_save_creates_folders_and_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "design.toml"
    designfile.save(load_preset("model2"), path)
    designfile.save(load_preset("model5"), path)
    assert designfile.load(path) == load_preset("model5")
    assert os.listdir(path.parent) == ["design.toml"]


def test_failed_save_keeps_the_old_file_and_leaves_no_temp_file(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "design.toml"
    designfile.save(load_preset("model2"), path)
    before = path.read_bytes()

    def crash(design: Design) -> str:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(designfile, "dumps", crash)
    with pytest.raises(RuntimeError, match="disk on fire"):
        designfile.save(load_preset("model5"), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["design.toml"]
