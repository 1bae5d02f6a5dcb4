"""End to end: export the tiny trained run and check every file against the others and the runtimes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from designer.export.bundle import bundle_files
from designer.export.protocol import STEPS
from designer.outdir import MANIFEST_NAME, read_manifest
from tests.export.conftest import FAKE_FIGURES, Bundle, TinyRun, make_images

pytestmark = pytest.mark.slow


def _define(text: str, name: str) -> int:
    found = re.search(rf"#define {name} \(?(-?\d+)\)?", text)
    assert found, name
    return int(found.group(1))


def test_every_file_is_there_and_nothing_partial_is_left(run_bundle: Bundle) -> None:
    names = {p.name for p in run_bundle.out.iterdir()}
    assert set(bundle_files("tiny_net")) | {"stedgeai_analyze.txt", MANIFEST_NAME} == names
    assert [p.name for p in run_bundle.out.parent.iterdir()] == ["bundle"]
    assert [(s, d) for s, d, _ in run_bundle.steps] == [(s, d) for s in STEPS for d in (False, True)]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
def test_model_data_compiles(run_bundle: Bundle, tmp_path: Path) -> None:
    subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-c", str(run_bundle.out / "tiny_net_data.c"),
                    "-o", str(tmp_path / "tiny_net_data.o")], check=True)


def test_c_array_is_the_int8_model(run_bundle: Bundle) -> None:
    text = (run_bundle.out / "tiny_net_data.c").read_text()
    body = text[text.index("tiny_net_model_data[] = {"):]
    array = bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", body))
    tflite = (run_bundle.out / "model_int8.tflite").read_bytes()
    assert array == tflite
    assert f"tiny_net_model_data_len = {len(tflite)}u" in text
    assert f"#define TINY_NET_MODEL_DATA_LEN {len(tflite)}u" in (run_bundle.out / "tiny_net_data.h").read_text()


def test_config_header_matches_the_model(run_bundle: Bundle) -> None:
    from designer import tflite_tools
    from designer.export.evaluate import io_quantization

    cfg = (run_bundle.out / "tiny_net_config.h").read_text()
    tflite = (run_bundle.out / "model_int8.tflite").read_bytes()
    q_in, q_out = io_quantization(tflite)
    assert (q_in.dtype, q_out.dtype) == ("int8", "int8")
    assert _define(cfg, "TINY_NET_INPUT_ZERO_POINT") == q_in.zero_point
    assert _define(cfg, "TINY_NET_OUTPUT_ZERO_POINT") == q_out.zero_point
    assert [_define(cfg, f"TINY_NET_INPUT_{k}") for k in ("HEIGHT", "WIDTH", "CHANNELS")] == [8, 8, 3]
    assert '"red",\n    "green",\n    "blue"' in cfg
    measured = tflite_tools.measure_arena(tflite).total_bytes
    assert _define(cfg, "TINY_NET_ARENA_MEASURED_HOST_64BIT") == measured
    cm = run_bundle.report["arena"]["cortex_m"]
    for kernels in ("CMSIS_NN", "REFERENCE"):
        derived = _define(cfg, f"TINY_NET_ARENA_DERIVED_{kernels}")
        arena = _define(cfg, f"TINY_NET_TENSOR_ARENA_SIZE_{kernels}")
        assert arena % 16 == 0 and arena >= derived + 1024 and arena - (derived + 1024) < 32
        assert derived == cm[f"{kernels.lower()}_bytes"]
    # CMSIS-NN needs at least what the reference kernels need; a 32-bit tail is smaller than the host's.
    assert cm["reference_bytes"] <= cm["cmsis_nn_bytes"] and cm["reference_bytes"] < measured
    assert cm["head_bytes"] == tflite_tools.measure_arena(tflite).head_bytes
    assert "#define TINY_NET_TENSOR_ARENA_SIZE TINY_NET_TENSOR_ARENA_SIZE_CMSIS_NN" in cfg
    assert "UNTRAINED" not in cfg


def test_tflite_micro_agrees_with_litert(run_bundle: Bundle) -> None:
    from tflite_micro import runtime

    from designer.export.evaluate import io_quantization, predict, quantize_input

    tflite = (run_bundle.out / "model_int8.tflite").read_bytes()
    cfg = (run_bundle.out / "tiny_net_config.h").read_text()
    x, _ = make_images(40, 7)
    images = x.astype(np.float32) / 255.0
    expected = predict(tflite, images)
    q_in, _ = io_quantization(tflite)
    micro = runtime.Interpreter.from_bytes(tflite, arena_size=_define(cfg, "TINY_NET_ARENA_MEASURED_HOST_64BIT"))
    got = []
    for image in images:
        micro.set_input(quantize_input(image[None, ...], q_in), 0)
        micro.invoke()
        got.append(micro.get_output(0)[0].copy())
    got_arr = np.stack(got)
    assert got_arr.dtype == np.int8
    assert np.abs(got_arr.astype(int) - expected.astype(int)).max() <= 1
    assert np.mean(got_arr.argmax(1) == expected.argmax(1)) >= 0.95


def test_manifest_lists_every_file_with_its_hash(run_bundle: Bundle) -> None:
    from designer.export.bundle import BUNDLE_KIND, check_target

    manifest = read_manifest(run_bundle.out)
    assert manifest is not None and manifest.kind == BUNDLE_KIND
    assert set(manifest.files) == {p.name for p in run_bundle.out.iterdir()} - {MANIFEST_NAME}
    assert check_target(run_bundle.out) == run_bundle.out.resolve()  # a later export may replace it


def test_report_matches_the_files(run_bundle: Bundle) -> None:
    import hashlib

    r = json.loads((run_bundle.out / "report.json").read_text())
    assert r == run_bundle.report
    assert not r["untrained"] and r["c_name"] == "tiny_net" and r["model"]["params_total"] == 643
    for name, entry in r["files"].items():
        data = (run_bundle.out / name).read_bytes()
        assert entry == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}, name
    assert set(r["files"]) == set(bundle_files("tiny_net")) - {"report.md", "report.json"} | {"stedgeai_analyze.txt"}
    rows = {row["figure"]: row for row in r["comparison"]}
    int8_size = (run_bundle.out / "model_int8.tflite").stat().st_size
    assert rows["int8 .tflite (TFLM flash for the model)"]["measured_bytes"] == int8_size
    assert rows["TFLM int8 tensor arena (64-bit host)"]["measured_bytes"] == r["arena"]["int8_measured_bytes"]
    assert r["arena"]["int8_smallest_bytes"] <= r["arena"]["int8_measured_bytes"]
    assert r["fit"]["tflm_int8"]["fits"] and r["fit"]["tflm_int8"]["flash_used_bytes"] >= int8_size
    assert "CONV_2D" in r["int8_ops"] and "DELEGATE" not in r["int8_ops"]
    # The BN after the ReLU conv is a per-channel depthwise conv in the .tflite, and the report says so.
    assert "DEPTHWISE_CONV_2D" in r["int8_ops"] and "MUL" not in r["int8_ops"]
    assert r["quantization"]["batchnorm_as_depthwise"] == ["l01_batchnorm"]
    md = (run_bundle.out / "report.md").read_text()
    assert "(l01_batchnorm) are 1x1 depthwise convolutions" in md
    assert f"| model_int8.tflite | {int8_size:,} |" in md
    cm = r["arena"]["cortex_m"]
    assert (f"| CMSIS-NN (the default: `TINY_NET_TENSOR_ARENA_SIZE`) | {cm['cmsis_nn_bytes']:,} | "
            f"{r['arena']['config_bytes']:,} |") in md
    assert "| **tflite-micro (TFLM reference kernels" in md and "Register_SOFTMAX_INT8" in md
    assert "46.2 KB with the `Register_*_INT8()` registrations" in md
    assert "UNTRAINED" not in md


def test_accuracy_float32_vs_int8(run_bundle: Bundle) -> None:
    acc = run_bundle.report["accuracy"]
    assert acc["images"] == 120 and "test images" in acc["evaluated_on"]
    assert acc["interpreter"].startswith("tflite-micro") and acc["litert"]["interpreter"].startswith("LiteRT")
    assert acc["litert"]["images"] == 120 and acc["litert"]["float32"] > 0.6
    assert 0 <= acc["litert"]["int8_bytes_equal_tflite_micro"] <= acc["litert"]["int8_top1_equal_tflite_micro"] <= 120
    assert acc["float32"] > 0.6 and acc["int8"] > 0.6  # the tiny task is learnable in two epochs
    assert acc["top1_agreement"] >= 0.9
    assert acc["drop_points"] == pytest.approx((acc["float32"] - acc["int8"]) * 100)
    drop_warned = any("int8 loses" in w for w in run_bundle.report["warnings"])
    assert drop_warned == (acc["drop_points"] > 1.0)
    assert run_bundle.report["quantization"]["calibration"].startswith("100 training images of")


def test_fake_stedgeai_figures_sit_beside_ours(run_bundle: Bundle) -> None:
    argv = run_bundle.stedgeai_argv
    assert argv[:6] == ["analyze", "--target", "stm32l4", "--name", "tiny_net", "-m"]
    assert argv[argv.index("--compression") + 1] == "high" and argv[6].endswith("model.h5")
    x = run_bundle.report["xcubeai_analyze"]["report"]
    assert (x["weights_bytes"], x["activations_bytes"]) == (FAKE_FIGURES["weights"], FAKE_FIGURES["activations"])
    assert x["total_flash_bytes"] == FAKE_FIGURES["weights"] + FAKE_FIGURES["lib_flash"]
    rows = {row["figure"]: row for row in run_bundle.report["comparison"]}
    assert rows["X-CUBE-AI total RAM"]["measured_bytes"] == FAKE_FIGURES["activations"] + FAKE_FIGURES["lib_ram"]
    assert rows["X-CUBE-AI total RAM"]["measured_by"] == "stedgeai analyze"
    assert run_bundle.report["fit"]["xcubeai_float32"]["basis"] == "stedgeai analyze"
    md = (run_bundle.out / "report.md").read_text()
    assert "## X-CUBE-AI (stedgeai analyze)" in md and f"{FAKE_FIGURES['weights']:,}" in md


def test_stedgeai_script_and_readme(run_bundle: Bundle) -> None:
    script = (run_bundle.out / "stedgeai.sh").read_text()
    assert "stedgeai analyze --target stm32l4 --name tiny_net -m model.h5 --compression high" in script
    assert "-m model_int8.tflite" in script
    assert (run_bundle.out / "stedgeai.sh").stat().st_mode & 0o111
    readme = (run_bundle.out / "README.md").read_text()
    assert "STM32CubeIDE" in readme and "TINY_NET_TENSOR_ARENA_SIZE" in readme
    assert "resolver.AddConv2D(tflite::Register_CONV_2D_INT8())" in readme and "tiny_net_self_test()" in readme
    size = (run_bundle.out / "model_int8.tflite").stat().st_size
    assert f"the model is {size:,} B (`TINY_NET_MODEL_DATA_LEN`)" in readme


def test_keras_files_load(run_bundle: Bundle, tiny_run: TinyRun) -> None:
    import keras

    original = keras.models.load_model(tiny_run.run_dir / "best.keras", compile=False)
    x, _ = make_images(4, 3)
    for name in ("model.keras", "model.h5"):
        model = keras.models.load_model(run_bundle.out / name, compile=False)
        np.testing.assert_allclose(model.predict(x / 255.0, verbose=0), original.predict(x / 255.0, verbose=0),
                                   rtol=1e-5, atol=1e-6)
