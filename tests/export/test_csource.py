"""C sources: identifiers, string escapes, the arena margin, and that gcc compiles what we write."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from designer.export.csource import (
    ModelConfig,
    arena_with_margin,
    c_comment,
    c_identifier,
    c_string,
    check_c_identifier,
    model_config_h,
    model_data_c,
    model_data_h,
)

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")


@pytest.mark.parametrize(("name", "ident"), [
    ("Model2", "model2"), ("My model (v2)", "my_model_v2"), ("2fast", "m_2fast"), ("int", "int_model"),
    ("", "model"), ("é-net", "net"), ("a__b", "a_b"),
])
def test_c_identifier(name: str, ident: str) -> None:
    assert c_identifier(name) == ident


def test_c_string_escapes() -> None:
    assert c_string('a "b" \\ c?') == '"a \\"b\\" \\\\ c\\077"'
    assert c_string("é") == '"\\303\\251"'


@pytest.mark.parametrize(("derived", "margin", "expected"), [(1000, 1024, 2032), (1008, 1024, 2032),
                                                             (1009, 1024, 2048), (0, 0, 0), (38212, 0, 38224),
                                                             (1001, 10, 1024)])
def test_arena_margin(derived: int, margin: int, expected: int) -> None:
    # arena_used_bytes() is a few bytes short of the smallest arena that allocates (38,212 vs 38,220 on a
    # Cortex-M4): the derived figure is rounded up to 16 before the margin is added.
    got = arena_with_margin(derived, margin)
    assert got == expected and got % 16 == 0 and got >= -(-derived // 16) * 16 + margin


def _config(**kw: object) -> ModelConfig:
    base = dict(c_name="tiny", input_shape=(8, 8, 3), class_names=("cat", 'say "hi"', "ünï"),
                input_scale=1 / 255, input_zero_point=-128, output_scale=0.00390625, output_zero_point=-128,
                arena_host_bytes=5000, arena_cmsis_nn_bytes=4500, arena_reference_bytes=4200,
                arena_margin_bytes=1024, preprocessing="x = pixel / 255")
    base.update(kw)
    return ModelConfig(**base)  # type: ignore[arg-type]


def test_config_header_states_the_figures() -> None:
    text = model_config_h(_config(untrained=True))
    for line in ("TENSOR_ARENA_SIZE_CMSIS_NN 5536", "ARENA_MEASURED_HOST_64BIT 5000", "ARENA_DERIVED_CMSIS_NN 4500",
                 "TENSOR_ARENA_SIZE_REFERENCE 5232", "ARENA_DERIVED_REFERENCE 4200"):
        assert f"#define TINY_{line}\n" in text, line
    assert "#define TINY_INPUT_ZERO_POINT (-128)" in text and "64-bit export host" in text and "CMSIS-NN" in text
    assert "UNTRAINED" in text
    assert "UNTRAINED" not in model_config_h(_config())


@needs_gcc
@pytest.mark.parametrize("std", ["c11", "c99"])
def test_sources_compile_and_hold_the_bytes(tmp_path: Path, std: str) -> None:
    data = bytes(range(256)) * 3 + b"\x01"
    (tmp_path / "tiny_data.h").write_text(model_data_h("tiny", len(data)))
    (tmp_path / "tiny_data.c").write_text(model_data_c("tiny", data))
    (tmp_path / "tiny_config.h").write_text(model_config_h(_config()))
    (tmp_path / "main.c").write_text("""
#include <stdio.h>
#include <stdint.h>
#include "tiny_data.h"
#include "tiny_config.h"
int main(void) {
    if ((uintptr_t)tiny_model_data % 16 != 0) return 3;
    if (tiny_model_data_len != TINY_MODEL_DATA_LEN) return 4;
    fwrite(tiny_model_data, 1, tiny_model_data_len, stdout);
    fprintf(stderr, "%d %s %d", TINY_TENSOR_ARENA_SIZE, tiny_class_names[1], TINY_NUM_CLASSES);
    return 0;
}
""")
    flags = [f"-std={std}", "-Wall", "-Wextra", "-Werror", "-pedantic"]
    subprocess.run(["gcc", *flags, "-o", "prog", "main.c", "tiny_data.c"], cwd=tmp_path, check=True)
    done = subprocess.run([str(tmp_path / "prog")], capture_output=True, check=True)
    assert done.stdout == data
    assert done.stderr.decode() == '5536 say "hi" 3'


@pytest.mark.parametrize("name", ["x$(touch y)", "a b", "1abc", "int", "", "é", "a" * 64, "a;b", "a\nb"])
def test_check_c_identifier_refuses(name: str) -> None:
    with pytest.raises(ValueError, match="not a usable C identifier"):
        check_c_identifier(name)


def test_c_identifier_of_any_name_is_usable() -> None:
    for name in ('x"; system("rm -rf /"); //', "*/ evil /*", "\n#define A 1", "a" * 300, "__init__", "_" * 5):
        ident = c_identifier(name)
        assert check_c_identifier(ident) == ident and len(ident.upper() + "_TENSOR_ARENA_SIZE_REFERENCE") <= 63


def test_c_comment_cannot_end_the_comment() -> None:
    assert c_comment("a */ b\n#include <x> /* c") == "a * / b #include <x> / * c"
    assert c_comment("x\x00y\u2028z") == "x?y z"


HOSTILE = '*/ #error injected\n"); /*\\'


@needs_gcc
def test_hostile_class_names_and_preprocessing_stay_data(tmp_path: Path) -> None:
    (tmp_path / "tiny_config.h").write_text(model_config_h(_config(
        class_names=(HOSTILE, "??=", "\x01\t"), preprocessing=f"x = pixel / 255 {HOSTILE}")))
    (tmp_path / "main.c").write_text("""
#include <stdio.h>
#include "tiny_config.h"
int main(void) { for (int i = 0; i < TINY_NUM_CLASSES; i++) printf("%s|", tiny_class_names[i]); return 0; }
""")
    subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-o", "prog", "main.c"],
                   cwd=tmp_path, check=True)
    done = subprocess.run([str(tmp_path / "prog")], capture_output=True, check=True)
    assert done.stdout.decode() == f"{HOSTILE}|??=|\x01\t|"
