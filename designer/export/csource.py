"""C sources of an export bundle: the int8 model as a byte array (<c_name>_data.h/.c) and <c_name>_config.h.

Every file name and C symbol starts with the design's C name, so several bundles link into one firmware.

Pure string building, no TensorFlow: the bundle step hands in the bytes and the figures it measured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# C11 and C++ keywords a design name could collide with once sanitised.
_RESERVED = frozenset("""
alignas alignof auto bool break case char class const constexpr continue default delete do double else enum
extern false float for goto if inline int long namespace new nullptr operator private protected public register
restrict return short signed sizeof static struct switch template this throw true try typedef typename union
unsigned using virtual void volatile while
""".split())

ARENA_ALIGN_BYTES = 16
"""The arena sizes in <c_name>_config.h are rounded up to this (TFLM aligns its buffers to 16 bytes)."""


def c_identifier(name: str) -> str:
    """A lower-case C identifier from a design name: ``Model 2 (small)`` -> ``model_2_small``."""
    cleaned = re.sub(r"[^0-9a-zA-Z_]+", "_", name).strip("_").lower()
    cleaned = re.sub(r"_+", "_", cleaned) or "model"
    if cleaned[0].isdigit():
        cleaned = f"m_{cleaned}"
    if cleaned in _RESERVED or cleaned.startswith("__"):
        cleaned = f"{cleaned}_model"
    # Leave room for the longest suffix the sources add ("_TENSOR_ARENA_SIZE_REFERENCE", 28 characters)
    # within 63, C's portable limit on significant characters.
    return check_c_identifier(cleaned[:MAX_C_NAME_CHARS].rstrip("_"))


MAX_C_NAME_CHARS = 63 - len("_TENSOR_ARENA_SIZE_REFERENCE")
"""A design's C name is cut to this many characters."""


_C_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def check_c_identifier(name: str) -> str:
    """``name`` if it is a plain C identifier (ASCII letters, digits, ``_``; not a keyword; at most 63
    characters, C's portable limit); ValueError otherwise. Every name written into a C file passes here."""
    if not isinstance(name, str) or not _C_IDENTIFIER.fullmatch(name) or name in _RESERVED:
        raise ValueError(f"not a usable C identifier: {name!r}")
    return name


def c_comment(text: str) -> str:
    """``text`` made safe inside a ``/* ... */`` comment: one line, printable ASCII, no ``*/``."""
    flat = " ".join(str(text).split())
    safe = "".join(ch if 0x20 <= ord(ch) < 0x7F else "?" for ch in flat)
    return safe.replace("*/", "* /").replace("/*", "/ *")


def c_string(text: str) -> str:
    """A C string literal of ``text`` (UTF-8; anything outside printable ASCII as octal escapes)."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F and ch != "?":  # "?" escaped: no trigraphs
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def round_up(n: int) -> int:
    """``n`` rounded up to ARENA_ALIGN_BYTES."""
    return -(-n // ARENA_ALIGN_BYTES) * ARENA_ALIGN_BYTES


def arena_with_margin(derived_bytes: int, margin_bytes: int) -> int:
    """The arena size to configure: the derived figure rounded up to 16 (``arena_used_bytes()`` is up to
    16 B short of the smallest arena that allocates), plus the margin, rounded up to 16 again."""
    return round_up(round_up(derived_bytes) + margin_bytes)


def c_file_names(c_name: str) -> dict[str, str]:
    """The bundle's C/C++ file names, each prefixed with the design's C name so several bundles live in one
    firmware: role ("data.h", "data.c", "config.h", "ops.h", "test_vectors.h", "main_example.cc") -> name."""
    check_c_identifier(c_name)
    return {role: f"{c_name}_{role}" for role in C_FILE_ROLES}


C_FILE_ROLES = ("data.h", "data.c", "config.h", "ops.h", "test_vectors.h", "main_example.cc")
"""What each generated C/C++ file is, the suffix after ``<c_name>_`` in its name."""


def model_data_h(c_name: str, length: int) -> str:
    """<c_name>_data.h: declarations of the model array and its length."""
    check_c_identifier(c_name)
    guard = f"{c_name.upper()}_DATA_H"
    return f"""/* {c_name}: the int8 TensorFlow Lite model (model_int8.tflite) as a C array. Made by cnn-designer. */
#ifndef {guard}
#define {guard}

#ifdef __cplusplus
extern "C" {{
#endif

/* Size of {c_name}_model_data in bytes. */
#define {c_name.upper()}_MODEL_DATA_LEN {length}u

/* The flatbuffer, 16-byte aligned (TFLite Micro reads it in place; keep it in flash). */
extern const unsigned char {c_name}_model_data[];
extern const unsigned int {c_name}_model_data_len;

#ifdef __cplusplus
}}
#endif

#endif /* {guard} */
"""


def model_data_c(c_name: str, data: bytes, *, per_line: int = 12) -> str:
    """<c_name>_data.c: the bytes of the .tflite as an ``alignas(16) const unsigned char`` array."""
    check_c_identifier(c_name)
    rows = []
    for start in range(0, len(data), per_line):
        chunk = data[start:start + per_line]
        rows.append("    " + ", ".join(f"0x{b:02x}" for b in chunk) + ",")
    body = "\n".join(rows)
    align = f"{c_name.upper()}_DATA_ALIGN"
    return f"""/* {c_name}: model_int8.tflite, {len(data)} bytes. Generated by cnn-designer; do not edit. */
#include "{c_name}_data.h"

#if defined(__cplusplus)
#define {align} alignas(16)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#include <stdalign.h>
#define {align} alignas(16)
#else
#define {align} __attribute__((aligned(16)))
#endif

{align} const unsigned char {c_name}_model_data[] = {{
{body}
}};

const unsigned int {c_name}_model_data_len = {len(data)}u;
"""


@dataclass(frozen=True)
class ModelConfig:
    """What <c_name>_config.h states; sizes in bytes, scales as float32 values."""

    c_name: str
    input_shape: tuple[int, int, int]  # height, width, channels
    class_names: tuple[str, ...]
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    arena_host_bytes: int  # tflite-micro's "Arena allocation total" on the 64-bit export host
    arena_cmsis_nn_bytes: int  # derived 32-bit Cortex-M arena with CMSIS-NN kernels (designer.export.cortex_m_arena)
    arena_reference_bytes: int  # the same with TFLM's reference kernels
    arena_margin_bytes: int
    preprocessing: str  # e.g. "x = pixel / 255" (what the model expects before quantization)
    untrained: bool = False

    @property
    def arena_bytes(self) -> int:
        """The configured tensor arena for CMSIS-NN kernels (the default): derived + margin, rounded up to 16."""
        return arena_with_margin(self.arena_cmsis_nn_bytes, self.arena_margin_bytes)

    @property
    def arena_reference_config_bytes(self) -> int:
        """The configured tensor arena for reference kernels: derived + margin, rounded up to 16."""
        return arena_with_margin(self.arena_reference_bytes, self.arena_margin_bytes)


def _float(value: float) -> str:
    return f"{value:.9g}f" if any(c in f"{value:.9g}" for c in ".e") else f"{value:.9g}.0f"


def model_config_h(cfg: ModelConfig) -> str:
    """<c_name>_config.h: input shape, quantization, class names and the tensor arena per kernel set."""
    p = check_c_identifier(cfg.c_name).upper()
    h, w, c = (int(v) for v in cfg.input_shape)
    names = ",\n".join(f"    {c_string(n)}" for n in cfg.class_names)
    warning = ("\n/* WARNING: exported from an UNTRAINED design (random weights): the sizes are right, the\n"
               " * predictions are meaningless. Train it, then export the run. */\n") if cfg.untrained else ""
    return f"""/* {cfg.c_name}: how to feed the int8 model and how much RAM it needs. Generated by cnn-designer. */
#ifndef {p}_CONFIG_H
#define {p}_CONFIG_H
{warning}
/* Input tensor: int8, shape 1 x {h} x {w} x {c} (NHWC). */
#define {p}_INPUT_HEIGHT {h}
#define {p}_INPUT_WIDTH {w}
#define {p}_INPUT_CHANNELS {c}
#define {p}_INPUT_SIZE ({h} * {w} * {c})

/* Quantization: q = round(x / SCALE) + ZERO_POINT, clamped to [-128, 127], where x is the value the float
 * model expects ({c_comment(cfg.preprocessing)}). Output: score = (q - ZERO_POINT) * SCALE. */
#define {p}_INPUT_SCALE {_float(cfg.input_scale)}
#define {p}_INPUT_ZERO_POINT ({cfg.input_zero_point})
#define {p}_OUTPUT_SCALE {_float(cfg.output_scale)}
#define {p}_OUTPUT_ZERO_POINT ({cfg.output_zero_point})

/* Output tensor: int8, {len(cfg.class_names)} class scores. */
#define {p}_NUM_CLASSES {len(cfg.class_names)}
#if defined(__GNUC__)
#define {p}_CONFIG_UNUSED __attribute__((unused))
#else
#define {p}_CONFIG_UNUSED
#endif
static const char *const {cfg.c_name}_class_names[{p}_NUM_CLASSES] {p}_CONFIG_UNUSED = {{
{names}
}};

/* TFLite Micro tensor arena in bytes, per kernel set, for a 32-bit Cortex-M. Rule: the figure derived for
 * the kernel set, rounded up to {ARENA_ALIGN_BYTES}, + a {cfg.arena_margin_bytes} B margin, rounded up to
 * {ARENA_ALIGN_BYTES} again.
 * The derivation starts from tflite-micro's measurement on the 64-bit export host ({cfg.arena_host_bytes} B,
 * reference kernels): the activation head is the same on any target; the persistent tail is re-sized for
 * 32-bit pointers; CMSIS-NN adds its kernels' scratch buffers and op data (cnn-designer's
 * designer/export/cortex_m_arena.py, checked against Cortex-M4 builds). After AllocateTensors(),
 * interpreter.arena_used_bytes() tells the figure on the board (the smallest arena that allocates is up to
 * 16 B more). Define {p}_USE_REFERENCE_KERNELS when the firmware is built without CMSIS-NN. Declare it
 *   alignas(16) static uint8_t tensor_arena[{p}_TENSOR_ARENA_SIZE]; */
#define {p}_TENSOR_ARENA_SIZE_CMSIS_NN {cfg.arena_bytes}
#define {p}_TENSOR_ARENA_SIZE_REFERENCE {cfg.arena_reference_config_bytes}
#define {p}_ARENA_DERIVED_CMSIS_NN {cfg.arena_cmsis_nn_bytes}
#define {p}_ARENA_DERIVED_REFERENCE {cfg.arena_reference_bytes}
#define {p}_ARENA_MEASURED_HOST_64BIT {cfg.arena_host_bytes}
#define {p}_ARENA_MARGIN {cfg.arena_margin_bytes}
#if defined({p}_USE_REFERENCE_KERNELS)
#define {p}_TENSOR_ARENA_SIZE {p}_TENSOR_ARENA_SIZE_REFERENCE
#else
#define {p}_TENSOR_ARENA_SIZE {p}_TENSOR_ARENA_SIZE_CMSIS_NN
#endif

#endif /* {p}_CONFIG_H */
"""
