"""Importing real Keras models (.keras and .h5): the design tree, exact params, and refusals that run no code.

Every model here is built and saved by real Keras; the imported design is compared with the preset or design
it came from, and its params with the reloaded model's count_params(). Refusals go through the real CLI
(exit 2, one line on stderr), and a Lambda's code must not run: it writes a canary file when called, which an
unsafe load (safe_mode=False) does create, and an import must not.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from designer import designfile
from designer.design import Design, DesignError, analyze
from designer.generate import random_residual_design
from designer.keras_build import build_model, keras_layer
from designer.keras_import import keras_count_params, load_keras_design, read_keras_design
from designer.layers import Activation, AvgPool, Item, MaxPool, Residual, iter_layers
from presets import load_preset
from tui.cli import main

keras = pytest.importorskip("keras")

ROOT = Path(__file__).resolve().parent.parent
FORMATS = (".keras", ".h5")
RESIDUAL_SEEDS = (3, 7, 11, 19, 23, 42)


def save(model: Any, folder: Path, name: str, suffix: str) -> Path:
    """Save ``model`` as ``folder/name+suffix`` (Keras' legacy-h5 warning is expected and harmless here)."""
    path = folder / f"{name}{suffix}"
    model.save(path)
    return path


def mlperf_resnet8() -> Any:
    """MLPerf Tiny's ResNet-8 as benchmark/training/image_classification/keras_model.py writes it (16 filters):
    the add reads (shortcut, main), l2 regularizers and he_normal initializers included."""
    layers, l2 = keras.layers, keras.regularizers.l2

    def conv(filters: int, kernel: int, strides: int) -> Any:
        return layers.Conv2D(filters, kernel_size=kernel, strides=strides, padding="same",
                             kernel_initializer="he_normal", kernel_regularizer=l2(1e-4))

    inputs = keras.Input(shape=(32, 32, 3))
    x = layers.Activation("relu")(layers.BatchNormalization()(conv(16, 3, 1)(inputs)))
    for filters, strides in ((16, 1), (32, 2), (64, 2)):
        y = layers.Activation("relu")(layers.BatchNormalization()(conv(filters, 3, strides)(x)))
        y = layers.BatchNormalization()(conv(filters, 3, 1)(y))
        if strides != 1:
            x = conv(filters, 1, strides)(x)
        x = layers.Activation("relu")(layers.add([x, y]))
    x = layers.AveragePooling2D(pool_size=int(min(x.shape[1:3])))(x)
    outputs = layers.Dense(10, activation="softmax", kernel_initializer="he_normal")(layers.Flatten()(x))
    return keras.Model(inputs=inputs, outputs=outputs)


def sequential(design: Design) -> Any:
    """A keras.Sequential of a linear design's layers (designer.keras_build's own layer mapping)."""
    layers = [keras_layer(layer, f"l{i:02d}_{layer.kind}") for i, layer in enumerate(design.layers)]
    return keras.Sequential([keras.Input(shape=design.input_shape), *layers], name="seq")


def plain(items: tuple[Item, ...]) -> tuple[Item, ...]:
    """A stack as an import reads it back: no groups (Keras keeps none), each block's longer path as its main,
    an activation layer right after a linear block as that block's activation, and a pool's strides equal
    to its pool size as the default (None: Keras saves both spellings alike)."""
    out: list[Item] = []
    for item in items:
        if isinstance(item, Residual):
            main, short = plain(item.main), plain(item.shortcut)
            if len(iter_layers(short)) > len(iter_layers(main)):
                main, short = short, main
            out.append(Residual(main=main, shortcut=short, activation=item.activation))
        elif isinstance(item, Activation) and out and isinstance(out[-1], Residual) \
                and out[-1].activation == "linear":
            out[-1] = replace(out[-1], activation=item.activation)
        elif isinstance(item, (MaxPool, AvgPool)) and item.strides == item.pool:
            out.append(replace(item, group="", strides=None))
        else:
            out.append(replace(item, group=""))
    return tuple(out)


def rows(design: Design) -> list[tuple[Any, ...]]:
    """analyze() rows without names or groups: role, kind, shapes, params."""
    return [(s.role, s.layer.kind, s.input_shape, s.output_shape, s.params_total, s.params_trainable, s.path)
            for s in analyze(design).layers]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["import", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("import")


@pytest.fixture(scope="module")
def resnet8(folder: Path) -> dict[str, Path]:
    model = mlperf_resnet8()
    assert model.count_params() == 78_666
    return {suffix: save(model, folder, "resnet8", suffix) for suffix in FORMATS}


# ------------------------------------------------------------------------------------------ ResNet-8


@pytest.mark.parametrize("suffix", FORMATS)
def test_mlperf_resnet8_imports_as_the_preset(resnet8: dict[str, Path], suffix: str) -> None:
    imported = load_keras_design(resnet8[suffix])
    analysis = analyze(imported)
    assert (analysis.params_total, analysis.params_trainable) == (78_666, 78_186)
    assert keras_count_params(resnet8[suffix]) == 78_666
    preset = load_preset("resnet8")
    assert rows(imported) == rows(preset)
    assert imported.layers == plain(preset.layers)
    assert (imported.input_shape, imported.classes) == ((32, 32, 3), 10)


@pytest.mark.parametrize("suffix", FORMATS)
def test_import_command_writes_the_design(resnet8: dict[str, Path], folder: Path, suffix: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = folder / f"resnet8{suffix[1:]}.toml"
    code, stdout, err = cli(capsys, str(resnet8[suffix]), "-o", str(out))
    assert (code, err) == (0, "")
    assert len(stdout.splitlines()) == 1
    assert "78,666 params (= Keras count_params())" in stdout and "weights not imported" in stdout
    # Ignored, and said so (Keras numbers unnamed layers per session, so only the form is fixed).
    assert re.search(r"ignored: kernel_regularizer \(L2\) on \w+, \w+, \w+ and 6 more$", stdout.strip())
    assert designfile.load(out, validate=True) == load_keras_design(resnet8[suffix])


def test_output_file_is_never_replaced_without_force(resnet8: dict[str, Path], folder: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = folder / "mine.toml"
    out.write_text("# the user's own file\n")
    code, stdout, err = cli(capsys, str(resnet8[".keras"]), "-o", str(out))
    assert (code, stdout) == (2, "")
    assert err.count("\n") == 1 and "exists; pass --force" in err and str(out) in err
    assert out.read_text() == "# the user's own file\n"
    code, _, err = cli(capsys, str(resnet8[".keras"]), "-o", str(folder / "design.txt"))
    assert code == 2 and "must be a .toml design file" in err
    code, _, err = cli(capsys, str(resnet8[".keras"]), "-o", str(out), "--force")
    assert (code, err) == (0, "")
    assert designfile.load(out).layers == load_keras_design(resnet8[".keras"]).layers


# ----------------------------------------------------------------------------- Sequential and blocks


@pytest.mark.parametrize("preset_id", ["model2", "model10"])
@pytest.mark.parametrize("suffix", FORMATS)
def test_sequential_preset_imports_with_the_same_layers(folder: Path, preset_id: str, suffix: str) -> None:
    preset = load_preset(preset_id)
    path = save(sequential(preset), folder, f"seq_{preset_id}", suffix)
    imported = read_keras_design(path)
    assert imported.model_class == "Sequential"
    assert imported.design.layers == plain(preset.layers)
    assert (imported.design.input_shape, imported.design.classes) == (preset.input_shape, preset.classes)
    assert analyze(imported.design).params_total == keras_count_params(path) == analyze(preset).params_total


def test_model19_projection_shortcuts(folder: Path) -> None:
    preset = load_preset("model19")
    path = save(build_model(preset), folder, "model19", ".keras")
    imported = load_keras_design(path)
    assert imported.layers == plain(preset.layers)
    assert analyze(imported).params_total == keras_count_params(path) == 59_714
    assert rows(imported) == rows(replace(preset, layers=plain(preset.layers)))


@pytest.mark.parametrize("seed", RESIDUAL_SEEDS)
def test_generated_residual_designs_round_trip(folder: Path, seed: int) -> None:
    design = random_residual_design(random.Random(seed), name=f"residual_{seed}")
    path = save(build_model(design), folder, f"residual_{seed}", ".keras" if seed % 2 else ".h5")
    imported = load_keras_design(path)
    assert imported.layers == plain(design.layers)
    assert analyze(imported).params_total == keras_count_params(path) == analyze(design).params_total


def test_generated_designs_cover_nesting_and_projections() -> None:
    # The seeds above must exercise what the importer has to get right, or the round trip proves little.
    # From the analysis rows: an add row sits at its block's path; shortcut rows below (block path, 1, j).
    depths, kinds = set(), set()
    for seed in RESIDUAL_SEEDS:
        stats = analyze(random_residual_design(random.Random(seed))).layers
        projected = {s.path[:-2] for s in stats if s.role == "shortcut"}
        for s in stats:
            if s.role == "add":
                depths.add(len(s.path) // 2)
                kinds.add("projection" if s.path in projected else "identity")
    assert depths >= {0, 1} and kinds == {"identity", "projection"}


def test_nested_identity_blocks_from_hand_written_graph(folder: Path) -> None:
    # x + (y + f(y)) where y = g(x): a block whose main path holds a block; ReLU(6) after an add is relu6.
    layers = keras.layers
    inputs = keras.Input(shape=(16, 16, 4))
    y = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    inner = layers.add([y, layers.DepthwiseConv2D(3, padding="same")(y)])
    outer = layers.ReLU(max_value=6)(layers.add([layers.BatchNormalization()(inner), inputs]))
    x = layers.GlobalAveragePooling2D()(layers.MaxPooling2D(2, strides=1)(outer))
    model = keras.Model(inputs, layers.Softmax()(layers.Dense(3)(x)))
    path = save(model, folder, "nested", ".keras")
    design = load_keras_design(path)
    assert [type(i).__name__ for i in design.layers] == ["Residual", "MaxPool", "GlobalAvgPool", "Dense",
                                                         "Activation"]
    block = design.layers[0]
    assert isinstance(block, Residual) and block.identity and block.activation == "relu6"
    assert [type(i).__name__ for i in block.main] == ["Conv2D", "Residual", "BatchNorm"]
    assert isinstance(block.main[1], Residual) and block.main[1].activation == "linear"
    assert analyze(design).params_total == model.count_params()


# ---------------------------------------------------------------------------------------- refusals


def one_line_refusal(capsys: pytest.CaptureFixture[str], model: Path, out: Path) -> str:
    code, stdout, err = cli(capsys, str(model), "-o", str(out))
    assert (code, stdout) == (2, "")
    assert err.count("\n") == 1 and err.startswith("cnn-designer: ") and "Traceback" not in err
    assert not out.exists()
    return err


@pytest.mark.parametrize("suffix", FORMATS)
def test_concatenate_is_refused_by_name(folder: Path, suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    layers = keras.layers
    inputs = keras.Input(shape=(8, 8, 3))
    x = layers.Concatenate(name="join")([layers.Conv2D(2, 1)(inputs), layers.Conv2D(2, 1)(inputs)])
    model = keras.Model(inputs, layers.Dense(2)(layers.Flatten()(x)))
    err = one_line_refusal(capsys, save(model, folder, "concat", suffix), folder / f"concat{suffix[1:]}.toml")
    assert "layer 'join' (Concatenate) is not supported; supported layers: InputLayer, Conv2D" in err


@pytest.fixture(scope="module")
def lambda_models(folder: Path) -> tuple[dict[str, Path], Path]:
    """A model whose Lambda writes a canary file when called, saved in both formats; the canary is removed
    after building (building the model calls the lambda once)."""
    canary = folder / "lambda-ran"
    inputs = keras.Input(shape=(4, 4, 1))
    # The path is a constant of the lambda's own code (Keras saves defaults in a form it cannot load back).
    touch = eval(f"lambda t: (open({str(canary)!r}, 'w').close(), t)[1]")  # noqa: S307  # our own literal
    x = keras.layers.Lambda(touch, name="sneaky")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    paths = {suffix: save(model, folder, "lambda", suffix) for suffix in FORMATS}
    assert canary.exists()  # the canary works: calling the lambda writes it
    canary.unlink()
    return paths, canary


@pytest.mark.parametrize("suffix", FORMATS)
def test_lambda_is_refused_and_never_run(lambda_models: tuple[dict[str, Path], Path], folder: Path, suffix: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    paths, canary = lambda_models
    err = one_line_refusal(capsys, paths[suffix], folder / f"lambda{suffix[1:]}.toml")
    assert "layer 'sneaky' (Lambda) is not supported" in err
    with pytest.raises(DesignError, match="Lambda"):
        load_keras_design(paths[suffix])
    assert not canary.exists()


@pytest.mark.parametrize("suffix", FORMATS)
def test_unsafe_load_would_run_the_lambda(lambda_models: tuple[dict[str, Path], Path], suffix: str) -> None:
    # Proves the canary test above can fail: deserialising the Lambda without safe mode runs its code.
    paths, canary = lambda_models
    keras.saving.load_model(paths[suffix], compile=False, safe_mode=False)
    assert canary.exists()
    canary.unlink()


def test_refusal_imports_no_tensorflow(lambda_models: tuple[dict[str, Path], Path], folder: Path) -> None:
    # The config is read and refused before Keras (hence TensorFlow) is ever imported.
    paths, canary = lambda_models
    script = ("import sys; from tui.cli import main; "
              f"rc = main(['import', {str(paths['.h5'])!r}, '-o', {str(folder / 'x.toml')!r}]); "
              "print(rc, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.split() == ["2", "False", "False"]
    assert "(Lambda) is not supported" in done.stderr
    assert not canary.exists()


def edited(folder: Path, source: Path, name: str, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of a .keras file whose config.json went through ``edit`` (a real config, one setting changed)."""
    with zipfile.ZipFile(source) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    config = json.loads(files["config.json"])
    edit(config)
    files["config.json"] = json.dumps(config).encode()
    path = folder / f"{name}.keras"
    with zipfile.ZipFile(path, "w") as archive:
        for n, data in files.items():
            archive.writestr(n, data)
    return path


def layer_config(config: dict[str, Any], class_name: str) -> dict[str, Any]:
    return next(e for e in config["config"]["layers"] if e["class_name"] == class_name)


def _set(class_name: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda c: layer_config(c, class_name)["config"].__setitem__(key, value)


def _custom(c: dict[str, Any]) -> None:
    entry = layer_config(c, "Conv2D")
    entry["module"], entry["registered_name"] = "my_package.layers", "MyConv"


def _custom_initializer(c: dict[str, Any]) -> None:
    layer_config(c, "Conv2D")["config"]["kernel_initializer"] = {
        "module": "os", "class_name": "system", "config": {}, "registered_name": None}


def _three_inputs(c: dict[str, Any]) -> None:
    args = layer_config(c, "Add")["inbound_nodes"][0]["args"][0]
    args.append(args[0])


@pytest.fixture(scope="module")
def sources(resnet8: dict[str, Path], folder: Path) -> dict[str, Path]:
    """Real .keras files to edit: ResNet-8, and a small model with a ReLU layer (ResNet-8 has none)."""
    inputs = keras.Input(shape=(4, 4, 1))
    relu = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(keras.layers.ReLU()(inputs))))
    return {"resnet8": resnet8[".keras"], "relu": save(relu, folder, "relu", ".keras")}


@pytest.mark.parametrize(("name", "source", "edit", "message"), [
    ("channels_first", "resnet8", _set("Conv2D", "data_format", "channels_first"), "data_format='channels_first'"),
    ("dilation", "resnet8", _set("Conv2D", "dilation_rate", [2, 2]), "dilation_rate=[2, 2] is not supported"),
    ("groups", "resnet8", _set("Conv2D", "groups", 2), "groups=2 is not supported"),
    ("swish", "resnet8", _set("Conv2D", "activation", "swish"),
     "activation='swish' is not supported; supported: linear"),
    ("custom_layer", "resnet8", _custom, "is a custom layer (module 'my_package.layers'"),
    ("custom_object", "resnet8", _custom_initializer,
     "'kernel_initializer' is a custom object (system from module 'os')"),
    ("three_inputs", "resnet8", _three_inputs, "adds 3 tensors; a residual add joins exactly two"),
    ("leaky", "relu", _set("ReLU", "negative_slope", 0.1), "negative_slope and threshold are not supported"),
])
def test_unsupported_settings_name_the_layer(sources: dict[str, Path], folder: Path, name: str, source: str,
                                            edit: Callable[[dict[str, Any]], None], message: str) -> None:
    path = edited(folder, sources[source], name, edit)
    with pytest.raises(DesignError, match="layer '") as caught:
        load_keras_design(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_graphs_that_are_not_chains_of_blocks(folder: Path) -> None:
    layers = keras.layers
    inputs = keras.Input(shape=(8, 8, 2))
    a = layers.Conv2D(2, 3, padding="same", name="a")(inputs)
    b = layers.Conv2D(2, 3, padding="same", name="b")(a)
    s = layers.add([b, inputs])
    t = layers.add([s, a])  # reads 'a', inside the first block's main path, from outside it
    model = keras.Model(inputs, layers.Dense(2)(layers.GlobalAveragePooling2D()(t)))
    with pytest.raises(DesignError, match="layer 'a' \\(Conv2D\\) is read from outside its residual block"):
        load_keras_design(save(model, folder, "cross", ".keras"))
    two_out = keras.Model(inputs, [layers.Dense(2)(layers.Flatten()(a)), layers.Dense(3)(layers.Flatten()(b))])
    with pytest.raises(DesignError, match="1 inputs and 2 outputs"):
        load_keras_design(save(two_out, folder, "two_out", ".keras"))
    feature_map = keras.Model(inputs, b)
    with pytest.raises(DesignError, match="output shape is \\(8, 8, 2\\)"):
        load_keras_design(save(feature_map, folder, "map_out", ".keras"))
    shared = layers.Conv2D(2, 3, padding="same", name="twice")
    reused = keras.Model(inputs, layers.Dense(2)(layers.Flatten()(shared(shared(inputs)))))
    with pytest.raises(DesignError, match="layer 'twice' \\(Conv2D\\) is called more than once"):
        load_keras_design(save(reused, folder, "shared", ".keras"))
    dense_on_map = keras.Model(inputs, layers.Dense(2, name="too_early")(b))
    with pytest.raises(DesignError, match="layer 'too_early': dense needs a flat input"):
        load_keras_design(save(dense_on_map, folder, "dense_map", ".keras"))


@pytest.mark.parametrize("suffix", FORMATS)
def test_corrupted_file_is_one_line_exit_2(resnet8: dict[str, Path], folder: Path, suffix: str) -> None:
    bad = folder / f"corrupt{suffix}"
    bad.write_bytes(resnet8[suffix].read_bytes()[:1500])  # a truncated download
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "tui.cli", "import", str(bad), "-o", str(folder / "c.toml")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"cnn-designer: {bad}: ")
    assert not (folder / "c.toml").exists()


def test_damaged_weights_are_one_line_exit_2(resnet8: dict[str, Path], folder: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    # The config reads fine, so only Keras' own load (the count_params check) finds the damage.
    with zipfile.ZipFile(resnet8[".keras"]) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    files["model.weights.h5"] = b"not hdf5"
    bad = folder / "bad_weights.keras"
    with zipfile.ZipFile(bad, "w") as archive:
        for n, data in files.items():
            archive.writestr(n, data)
    assert load_keras_design(bad).layers == load_keras_design(resnet8[".keras"]).layers
    err = one_line_refusal(capsys, bad, folder / "bad_weights.toml")
    assert "Keras could not load the model" in err


def test_two_configs_in_one_archive_are_refused(resnet8: dict[str, Path], folder: Path) -> None:
    # Which of two config.json entries a reader takes is the zip library's choice: refuse rather than guess.
    path = folder / "two_configs.keras"
    with zipfile.ZipFile(resnet8[".keras"]) as source, zipfile.ZipFile(path, "w") as archive:
        for n in source.namelist():
            archive.writestr(n, source.read(n))
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("config.json", b"{}")
    with pytest.raises(DesignError, match="2 config.json entries"):
        load_keras_design(path)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("model.onnx", b"x", "not a Keras model file: expected .keras, .h5, .hdf5"),
    ("missing.keras", None, "no such file"),
    ("plain.keras", b"hello", "a .keras file is a zip archive"),
    ("garbage.h5", b"\x00" * 64, "cannot read the model"),
])
def test_unreadable_files(folder: Path, name: str, content: bytes | None, message: str) -> None:
    path = folder / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DesignError, match=message):
        load_keras_design(path)
