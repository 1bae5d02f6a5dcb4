"""The bundle's firmware files: they compile (C99, C11, C++17 against a stub of TFLM's API), the ops header
registers exactly the model's operator codes, and the test vectors replay through tflite-micro to the same
bytes. One exported bundle (the session's tiny run) serves every test here."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from designer.export import firmware
from tests.export.conftest import Bundle, TinyRun

STUB = Path(__file__).parent / "tflm_stub"
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("g++") is None,
                               reason="gcc/g++ not installed")
WARNINGS = ["-Wall", "-Wextra", "-Werror"]


def _array(text: str, name: str) -> np.ndarray:
    """The values of a generated ``static const int8_t name[n][m] = {...};`` as an n x m int8 array."""
    found = re.search(rf"{name}\[(\d+)\]\[(\d+)\][^=]*= \{{(.*?)\n\}};", text, re.S)
    assert found, name
    n, m, body = int(found.group(1)), int(found.group(2)), found.group(3)
    return np.array([int(v) for v in re.findall(r"-?\d+", body)], dtype=np.int8).reshape(n, m)


@needs_gcc
@pytest.mark.slow
@pytest.mark.parametrize("std", ["c99", "c11"])
def test_c_files_compile_and_hold_what_they_say(run_bundle: Bundle, tmp_path: Path, std: str) -> None:
    out = run_bundle.out
    (tmp_path / "main.c").write_text("""
#include <stdio.h>
#include <stdint.h>
#include "tiny_net_data.h"
#include "tiny_net_config.h"
#include "tiny_net_test_vectors.h"
int main(void) {
    int v, i;
    if ((uintptr_t)tiny_net_model_data % 16 != 0) return 3;
    fwrite(tiny_net_model_data, 1, tiny_net_model_data_len, stdout);
    for (v = 0; v < TINY_NET_TEST_VECTOR_COUNT; v++)
        for (i = 0; i < TINY_NET_NUM_CLASSES; i++) fprintf(stderr, "%d ", tiny_net_test_outputs[v][i]);
    fprintf(stderr, "| %d %s %d", (int)sizeof tiny_net_test_inputs[0], tiny_net_class_names[2],
            TINY_NET_TENSOR_ARENA_SIZE);
    return 0;
}
""")
    subprocess.run(["gcc", f"-std={std}", *WARNINGS, "-pedantic", f"-I{out}", "-o", "prog", "main.c",
                    str(out / "tiny_net_data.c")], cwd=tmp_path, check=True)
    done = subprocess.run([str(tmp_path / "prog")], capture_output=True, check=True)
    assert done.stdout == (out / "model_int8.tflite").read_bytes()
    vectors = (out / "tiny_net_test_vectors.h").read_text()
    expected = " ".join(str(v) for v in _array(vectors, "tiny_net_test_outputs").reshape(-1))
    config_bytes = run_bundle.report["arena"]["cortex_m"]["cmsis_nn_config_bytes"]
    assert done.stderr.decode() == f"{expected} | {8 * 8 * 3} blue {config_bytes}"


def _compile_example(out: Path, tmp_path: Path, *defines: str,
                     source: str | None = None) -> subprocess.CompletedProcess[str]:
    example = out / "tiny_net_main_example.cc"
    if source is not None:
        example = tmp_path / "tiny_net_main_example.cc"
        example.write_text(source)
    return subprocess.run(["g++", "-std=c++17", *WARNINGS, "-fno-exceptions", "-fno-rtti", *defines,
                           f"-I{STUB}", f"-I{out}", "-c", str(example), "-o", str(tmp_path / "example.o")],
                          capture_output=True, text=True)


@needs_gcc
@pytest.mark.slow
@pytest.mark.parametrize("defines", [(), ("-DTINY_NET_EXAMPLE_MAIN", "-DTINY_NET_USE_REFERENCE_KERNELS")])
def test_main_example_compiles_as_cpp17_against_the_tflm_api(run_bundle: Bundle, tmp_path: Path,
                                                             defines: tuple[str, ...]) -> None:
    done = _compile_example(run_bundle.out, tmp_path, *defines)
    assert done.returncode == 0, done.stderr
    symbols = subprocess.run(["nm", "-C", str(tmp_path / "example.o")], capture_output=True, text=True).stdout
    for name in ("tiny_net_setup", "tiny_net_classify", "tiny_net_self_test"):
        assert re.search(rf" T {name}$", symbols, re.M), name  # C linkage: callable from a C main()
    assert (" T main" in symbols) == bool(defines)


@needs_gcc
@pytest.mark.slow
@pytest.mark.parametrize(("wrong", "right"), [
    ("interpreter.AllocateTensors()", "interpreter.AllocateTensors(1)"),  # a call TFLM does not have
    ("tflite::Register_CONV_2D_INT8()", "tflite::Register_CONV_2D_INT16()"),  # a registration it lacks
    ('static_cast<int>(sizeof tiny_net_tensor_arena));', "sizeof tiny_net_tensor_arena);"),  # %d of a size_t
])
def test_the_stub_catches_a_wrong_call(run_bundle: Bundle, tmp_path: Path, wrong: str, right: str) -> None:
    """The stub checks calls and types: the example with one call broken does not compile."""
    for name in ("tiny_net_main_example.cc", "tiny_net_ops.h"):
        text = (run_bundle.out / name).read_text()
        if wrong in text:
            (tmp_path / name).write_text(text.replace(wrong, right, 1))
    assert any((tmp_path / n).exists() for n in ("tiny_net_main_example.cc", "tiny_net_ops.h")), wrong
    for name in ("tiny_net_config.h", "tiny_net_data.h", "tiny_net_test_vectors.h", "tiny_net_ops.h",
                 "tiny_net_main_example.cc"):
        if not (tmp_path / name).exists():
            shutil.copy(run_bundle.out / name, tmp_path / name)
    done = _compile_example(tmp_path, tmp_path, source=(tmp_path / "tiny_net_main_example.cc").read_text())
    assert done.returncode != 0


@pytest.mark.slow
def test_ops_header_registers_exactly_the_operator_codes(run_bundle: Bundle) -> None:
    from designer.export.evaluate import ops_used

    tflite = (run_bundle.out / "model_int8.tflite").read_bytes()
    header = (run_bundle.out / "tiny_net_ops.h").read_text()
    registered = re.findall(r"if \(resolver\.(\w+)\((tflite::\w+\(\))?\) != kTfLiteOk\) return kTfLiteError;"
                            r"  /\* (\w+) \*/", header)
    assert sorted(op for *_, op in registered) == ops_used(tflite)  # LiteRT's reading of the same file
    assert f"#define TINY_NET_OP_COUNT {len(registered)}" in header
    assert "tflite::MicroMutableOpResolver<TINY_NET_OP_COUNT>" in header
    for method, registration, op in registered:
        expected = firmware.TFLM_REGISTRATIONS[op]
        assert method == expected.method
        assert registration == (f"tflite::{expected.int8_registration}()" if expected.int8_registration else "")
    assert ("AddConv2D", "tflite::Register_CONV_2D_INT8()", "CONV_2D") in registered
    calls = [c["call"] for c in run_bundle.report["tflm"]["resolver_calls"]]
    assert calls == [f"{m}({r})" for m, r, _ in registered]


@pytest.mark.slow
def test_test_vectors_replay_through_tflite_micro(run_bundle: Bundle, tiny_run: TinyRun) -> None:
    from tflite_micro import runtime

    from designer.export.evaluate import io_quantization, quantize_input

    tflite = (run_bundle.out / "model_int8.tflite").read_bytes()
    text = (run_bundle.out / "tiny_net_test_vectors.h").read_text()
    inputs, outputs = _array(text, "tiny_net_test_inputs"), _array(text, "tiny_net_test_outputs")
    assert inputs.shape == (3, 8 * 8 * 3) and outputs.shape == (3, 3)
    assert "#define TINY_NET_TEST_VECTORS_FROM_TEST_SPLIT 1" in text
    labels = [int(v) for v in re.search(r"tiny_net_test_labels\[3\][^=]*= \{([^}]*)\}", text).group(1).split(",")]
    assert all(0 <= v < 3 for v in labels)
    micro = runtime.Interpreter.from_bytes(tflite, arena_size=1 << 20)
    for x, y in zip(inputs, outputs, strict=True):
        micro.set_input(x.reshape(1, 8, 8, 3), 0)
        micro.invoke()
        assert micro.get_output(0)[0].tobytes() == y.tobytes()
    # Each input is an image of the run's test split, quantized with the model's input parameters, and its
    # label is that image's.
    q_in, _ = io_quantization(tflite)
    test = np.load(tiny_run.npz)
    quantized = quantize_input(test["x_test"].astype(np.float32) / 255.0, q_in).reshape(len(test["x_test"]), -1)
    for x, label in zip(inputs, labels, strict=True):
        rows = np.flatnonzero(np.all(quantized == x, axis=1))
        assert len(rows) and label in test["y_test"][rows]


def test_an_op_without_a_known_registration_is_named() -> None:
    with pytest.raises(ValueError, match="op GELU, for which cnn-designer knows no TFLite Micro resolver"):
        firmware.model_ops_h("m", ["CONV_2D", "GELU"])


def test_ops_header_deduplicates_and_counts() -> None:
    text = firmware.model_ops_h("m", ["CONV_2D", "RESHAPE", "CONV_2D", "ADD"])
    assert "#define M_OP_COUNT 3" in text and text.count("resolver.AddConv2D(") == 1
    assert '#include "tensorflow/lite/micro/kernels/add.h"' in text and "AddReshape()" in text


def test_vectors_must_match_in_number() -> None:
    with pytest.raises(ValueError, match="as many inputs, outputs and labels"):
        firmware.test_vectors_h("m", firmware.TestVectors((b"\x00",), (), (0,), "x", True))
