"""STM32 boards: the shipped catalogue plus the user's own, fit verdicts and an inference-time estimate.

The catalogue is ``designer/data/boards.toml`` (package data). A user file in the same format, named by the
``CNN_DESIGNER_BOARDS`` environment variable or found at ``~/.config/cnn-designer/boards.toml``, adds boards
(a board with a shipped board's name replaces it) and may set ``default``. Both files are validated strictly:
an error names the file, the board and the key. Board fields reach generated files (the series is
``stedgeai --target`` in a bundle's stedgeai.sh, the name its comment), so they are checked here: ``series``
against :data:`SERIES_RE`, names against :data:`NAME_RE`, notes printable, sizes positive and capped.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from designer.design import Design
from designer.footprint import estimate

CORES: tuple[str, ...] = ("cortex-m0+", "cortex-m4", "cortex-m7", "cortex-m33")
USER_BOARDS_ENV = "CNN_DESIGNER_BOARDS"
"""Environment variable naming a user boards file; when set, the file must exist."""


SERIES_RE = re.compile(r"stm32[a-z0-9]{1,8}")
"""An ST Edge AI Core (X-CUBE-AI) ``--target`` series: lowercase, e.g. stm32f4, stm32l4, stm32h7, stm32u5, stm32n6."""
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+/#(),:-]{0,63}")
"""Board names, MCUs and RAM regions: letters, digits, spaces and ``._+/#(),:-``, at most 64 characters (no
quotes, ``$``, backticks, backslashes, ``;&|<>`` or line breaks: they end up in scripts and reports)."""
MAX_NOTE_CHARS = 2000
MAX_SIZE_BYTES = 2**40
"""1 TiB: more flash or RAM than any MCU has; the cap keeps every figure derived from a board finite."""
MAX_CLOCK_HZ = 10**10


class BoardError(ValueError):
    """A boards file that cannot be used, or a board name that is not in the catalogue."""


@dataclass(frozen=True)
class Board:
    """One STM32 board's budget for a model."""

    name: str
    mcu: str
    core: str  # one of CORES
    series: str  # X-CUBE-AI's --target, e.g. "stm32l4"
    clock_hz: int  # core clock the board runs at
    flash_bytes: int  # internal flash
    ram_bytes: int  # the one contiguous RAM region a model may use (see ram_region)
    ram_region: str = ""  # which region ram_bytes counts, e.g. "SRAM1" (details in note)
    note: str = ""
    latency_budget_ms: float | None = None
    """Optional: the longest one inference may take, in milliseconds (the app then shows a latency row)."""

    @property
    def clock_mhz(self) -> float:
        """Core clock in MHz, for display."""
        return self.clock_hz / 1e6


_REQUIRED_STR = ("name", "mcu", "core", "series")
_REQUIRED_INT = ("clock_hz", "flash_bytes", "ram_bytes")
_OPTIONAL_STR = ("ram_region", "note")
MAX_LATENCY_MS = 1e9
_BOARD_KEYS = tuple(f.name for f in fields(Board))
_TOP_KEYS = ("default", "boards")


@dataclass(frozen=True)
class Catalogue:
    """The boards one can pick from, in file order (shipped first, then the user's), and the default's name."""

    boards: tuple[Board, ...]
    default_name: str

    def __iter__(self) -> Iterator[Board]:
        return iter(self.boards)

    def __len__(self) -> int:
        return len(self.boards)

    def names(self) -> list[str]:
        """Every board name, in catalogue order."""
        return [b.name for b in self.boards]

    def find(self, name: str) -> Board:
        """The board called ``name`` (case-insensitive); BoardError lists the known names otherwise."""
        key = name.strip().casefold()
        for board in self.boards:
            if board.name.casefold() == key:
                return board
        raise BoardError(f"unknown board '{name}'; known boards: {', '.join(self.names())}")

    @property
    def default(self) -> Board:
        """The board designs are checked against unless another is chosen."""
        return self.find(self.default_name)


def _type_name(value: object) -> str:
    return {bool: "boolean", int: "integer", float: "float", str: "string", list: "array",
            dict: "table"}.get(type(value), type(value).__name__)


def _shown(value: object) -> str:
    """A value for an error message: repr (so a newline shows as \\n), cut short."""
    text = repr(value) if not isinstance(value, int) or isinstance(value, bool) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _board_from_dict(data: Any, source: str, index: int) -> Board:
    where = f"{source}: boards[{index}]"
    if not isinstance(data, dict):
        raise BoardError(f"{where}: expected a table ([[boards]]), received {_type_name(data)}")
    if isinstance(data.get("name"), str):
        where += f" ({_shown(data['name'])})" if not NAME_RE.fullmatch(data["name"]) else f" ({data['name']})"
    for key in data:
        if key not in _BOARD_KEYS:
            raise BoardError(f"{where}, key '{key}': unknown key; allowed keys: {', '.join(_BOARD_KEYS)}")
    for key in (*_REQUIRED_STR, *_REQUIRED_INT):
        if key not in data:
            raise BoardError(f"{where}, key '{key}': missing required key")
    for key in (*_REQUIRED_STR, *_OPTIONAL_STR):
        if key in data and not isinstance(data[key], str):
            raise BoardError(f"{where}, key '{key}': expected a string, received {_type_name(data[key])} "
                             f"{data[key]!r}")
    for key in _REQUIRED_STR:
        if not data[key].strip():
            raise BoardError(f"{where}, key '{key}': must not be empty")
    for key in ("name", "mcu", "ram_region"):
        if key in data and data[key] and not NAME_RE.fullmatch(data[key]):
            raise BoardError(f"{where}, key '{key}': must be 1-64 letters, digits, spaces or ._+/#(),:- "
                             f"(no quotes, $, backticks or line breaks); received {_shown(data[key])}")
    if not SERIES_RE.fullmatch(data["series"]):
        raise BoardError(f"{where}, key 'series': must be an ST Edge AI target series matching "
                         f"{SERIES_RE.pattern} (e.g. stm32l4, stm32h7, stm32u5); received {_shown(data['series'])}")
    note = data.get("note", "")
    if len(note) > MAX_NOTE_CHARS or not note.isprintable():
        raise BoardError(f"{where}, key 'note': must be printable text (no line breaks or control characters), "
                         f"at most {MAX_NOTE_CHARS} characters; received {_shown(note)}")
    for key in _REQUIRED_INT:
        value = data[key]
        unit, cap = ("Hz", MAX_CLOCK_HZ) if key == "clock_hz" else ("bytes", MAX_SIZE_BYTES)
        # bool is an int in Python; "true" for a byte count is a mistake, not 1 byte.
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= cap:
            raise BoardError(f"{where}, key '{key}': expected a positive integer ({unit}) of at most {cap:,}, "
                             f"received {_type_name(value)} {_shown(value)}")
    if data["core"] not in CORES:
        raise BoardError(f"{where}, key 'core': must be one of {', '.join(CORES)}; received '{data['core']}'")
    latency = data.get("latency_budget_ms")
    if latency is not None:
        if isinstance(latency, bool) or not isinstance(latency, int | float) or not 0 < latency <= MAX_LATENCY_MS:
            raise BoardError(f"{where}, key 'latency_budget_ms': expected a positive number of milliseconds of "
                             f"at most {MAX_LATENCY_MS:,.0f}, received {_type_name(latency)} {_shown(latency)}")
        data = {**data, "latency_budget_ms": float(latency)}
    return Board(**data)


def parse_boards(text: str, source: str) -> tuple[tuple[Board, ...], str | None]:
    """The boards and the optional ``default`` name of one boards file; BoardError names ``source``."""
    try:
        data = tomllib.loads(text)
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, a 4,300-digit integer, deep nesting
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise BoardError(f"{source}: not valid TOML: {reason}") from None
    for key in data:
        if key not in _TOP_KEYS:
            raise BoardError(f"{source}, key '{key}': unknown top-level key; allowed: {', '.join(_TOP_KEYS)}")
    default = data.get("default")
    if default is not None and (not isinstance(default, str) or not NAME_RE.fullmatch(default)):
        raise BoardError(f"{source}, key 'default': expected a board name (string), received "
                         f"{_type_name(default)} {default!r}")
    raw = data.get("boards", [])
    if not isinstance(raw, list):
        raise BoardError(f"{source}, key 'boards': expected an array of tables ([[boards]]), received "
                         f"{_type_name(raw)}")
    boards = tuple(_board_from_dict(item, source, i) for i, item in enumerate(raw))
    seen: set[str] = set()
    for i, board in enumerate(boards):
        if board.name.casefold() in seen:
            raise BoardError(f"{source}: boards[{i}] ({board.name}), key 'name': duplicate board name")
        seen.add(board.name.casefold())
    return boards, default


@functools.cache
def _shipped() -> tuple[tuple[Board, ...], str]:
    # Cached: package data cannot change while the process runs, and the app asks on every redraw.
    # A plain file beside this module (package data); not importlib.resources, whose import (zip support
    # included) would cost ~2.5 ms of every app start.
    text = (Path(__file__).parent / "data" / "boards.toml").read_text(encoding="utf-8")
    boards, default = parse_boards(text, "designer/data/boards.toml")
    assert default is not None, "the shipped catalogue names its default board"
    return boards, default


def user_boards_path() -> Path | None:
    """The user boards file to read: $CNN_DESIGNER_BOARDS, else ~/.config/cnn-designer/boards.toml if present."""
    explicit = os.environ.get(USER_BOARDS_ENV, "")
    if explicit:
        return Path(explicit).expanduser()
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    candidate = Path(config_home) / "cnn-designer" / "boards.toml"
    return candidate if candidate.is_file() else None


def load_catalogue(user_file: str | os.PathLike[str] | None = None, *, include_user: bool = True) -> Catalogue:
    """The shipped boards merged with the user's (``user_file``, else user_boards_path()).

    A user board named like a shipped one replaces it in place; new ones follow the shipped list. The user
    file's ``default``, if any, wins. ``include_user=False`` gives the shipped catalogue alone.
    """
    boards, default = _shipped()
    merged = list(boards)
    if include_user:
        path = Path(user_file) if user_file is not None else user_boards_path()
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise BoardError(f"{path}: cannot read boards file: {exc.strerror or exc}") from None
            except UnicodeDecodeError:
                raise BoardError(f"{path}: not a UTF-8 text file") from None
            extra, user_default = parse_boards(text, str(path))
            index = {b.name.casefold(): i for i, b in enumerate(merged)}
            for board in extra:
                at = index.get(board.name.casefold())
                if at is None:
                    merged.append(board)
                else:
                    merged[at] = board
            if user_default is not None:
                if user_default.casefold() not in {b.name.casefold() for b in merged}:
                    raise BoardError(f"{path}, key 'default': unknown board '{user_default}'; known boards: "
                                     f"{', '.join(b.name for b in merged)}")
                default = user_default
    return Catalogue(tuple(merged), default)


def default_board() -> Board:
    """The board designs are checked against by default (the seed's 32L4R9IDISCOVERY unless the user says)."""
    return load_catalogue().default


def find_board(name: str) -> Board:
    """A board by name, case-insensitive; BoardError lists the known names when there is none."""
    return load_catalogue().find(name)


class HasTotals(Protocol):
    """What a fit verdict needs from a footprint (designer.footprint.Footprint has both)."""

    @property
    def flash_bytes(self) -> int: ...

    @property
    def ram_bytes(self) -> int: ...


@dataclass(frozen=True)
class FitResult:
    """Flash and RAM verdicts of one footprint on one board; margins are budget minus use (negative = over)."""

    board: Board
    flash_used_bytes: int
    ram_used_bytes: int

    @property
    def flash_budget_bytes(self) -> int:
        """The board's flash."""
        return self.board.flash_bytes

    @property
    def ram_budget_bytes(self) -> int:
        """The board's usable RAM region."""
        return self.board.ram_bytes

    @property
    def flash_margin_bytes(self) -> int:
        """Flash left over; negative when the design does not fit."""
        return self.board.flash_bytes - self.flash_used_bytes

    @property
    def ram_margin_bytes(self) -> int:
        """RAM left over; negative when the design does not fit."""
        return self.board.ram_bytes - self.ram_used_bytes

    @property
    def flash_ok(self) -> bool:
        """The design's flash fits the board's."""
        return self.flash_margin_bytes >= 0

    @property
    def ram_ok(self) -> bool:
        """The design's RAM fits the board's usable region."""
        return self.ram_margin_bytes >= 0

    @property
    def fits(self) -> bool:
        """Both flash and RAM fit."""
        return self.flash_ok and self.ram_ok

    @property
    def flash_fraction(self) -> float:
        """Flash used / budget (over 1.0 when it does not fit), for gauges."""
        return self.flash_used_bytes / self.board.flash_bytes

    @property
    def ram_fraction(self) -> float:
        """RAM used / budget (over 1.0 when it does not fit), for gauges."""
        return self.ram_used_bytes / self.board.ram_bytes


def fits(footprint: HasTotals, board: Board) -> FitResult:
    """Whether a footprint's total flash and RAM fit a board, with the margins."""
    return FitResult(board, footprint.flash_bytes, footprint.ram_bytes)


def boards_that_fit(design: Design, *, runtime: str = "xcubeai", dtype: str = "float32",
                    compression: str = "high", boards: Sequence[Board] | Catalogue | None = None) -> list[Board]:
    """The boards (default: the whole catalogue) whose flash and RAM hold the design, in catalogue order.

    Raises DesignError for an invalid design. The footprint does not depend on the board, so it is
    estimated once.
    """
    footprint = estimate(design, runtime=runtime, dtype=dtype, compression=compression)
    candidates = load_catalogue() if boards is None else boards
    return [board for board in candidates if fits(footprint, board).fits]


# Inference time: cycles per MACC by core family and dtype. These are ESTIMATES for X-CUBE-AI-generated code
# (TFLite Micro with CMSIS-NN is usually somewhat slower); real time also depends on layer mix, flash wait
# states, caches and where the weights live, so treat the result as an order of magnitude (within ~2x).
#
# Calibration, MLPerf Tiny image classification (ResNet-8 on CIFAR-10, 12.5 M MACC, int8, X-CUBE-AI):
#   Cortex-M4,  NUCLEO-L4R5ZI at 120 MHz: 227 ms  -> 0.227 s * 120e6 Hz / 12.5e6 MACC = 2.18 cycles/MACC
#   Cortex-M7,  STM32H747 at 400 MHz:     28.7 ms -> 0.0287 s * 400e6 Hz / 12.5e6 MACC = 0.92 cycles/MACC
#     (the M7's dual-issue pipeline, 64-bit loads and caches make it ~2.4x the M4 per clock)
# Derived, not measured:
#   Cortex-M33 (STM32U5, with the DSP extension): the same SIMD multiply-accumulate instructions (SMLAD) and a
#     pipeline of the M4's class, so the M4's figures.
#   Cortex-M0+: no DSP/SIMD, so CMSIS-NN's two-MACs-per-instruction path is lost and every MAC is two 2-cycle
#     byte loads plus multiply and add: we take 3x the M4 for int8.
#   float32 on M4/M33 (single-precision FPU): one MAC per VFMA plus a load per operand, against two int8 MACs
#     per SMLAD: we take 2.5x the int8 figure, inside the 2-4x int8 speed-up commonly reported for Cortex-M.
#   float32 on M7: the FPU dual-issues with loads, so the gap is smaller: 2x the int8 figure.
#   float32 on M0+: no FPU; each MAC is a software multiply and add (libgcc __aeabi_fmul + __aeabi_fadd, some
#     60-100 cycles together): we take 80 cycles/MACC.
_M4_INT8 = 0.227 * 120e6 / 12.5e6
_M7_INT8 = 0.0287 * 400e6 / 12.5e6
CYCLES_PER_MACC: dict[tuple[str, str], float] = {
    ("cortex-m4", "int8"): _M4_INT8,
    ("cortex-m4", "float32"): _M4_INT8 * 2.5,
    ("cortex-m33", "int8"): _M4_INT8,
    ("cortex-m33", "float32"): _M4_INT8 * 2.5,
    ("cortex-m7", "int8"): _M7_INT8,
    ("cortex-m7", "float32"): _M7_INT8 * 2.0,
    ("cortex-m0+", "int8"): _M4_INT8 * 3.0,
    ("cortex-m0+", "float32"): 80.0,
}
"""Estimated core cycles per multiply-accumulate, by (core, dtype); see the derivation above."""

# The calibration above is X-CUBE-AI's generated code. TensorFlow Lite Micro runs the same layers through its
# kernels: for int8 those call CMSIS-NN (the same SMLAD inner loops, but per-op dispatch, im2col copies and
# requantisation it does not fuse), which ST and Arm benchmarks put some 1.2-2x behind X-CUBE-AI on Cortex-M;
# we take 1.5x. For float32 CMSIS-NN has no kernels, so TFLM uses its portable reference ones (plain C
# loops, no FPU-friendly blocking): we take 2x. Both are assumptions, not measurements: an order of
# magnitude, like the rest.
RUNTIME_FACTOR: dict[tuple[str, str], float] = {
    ("xcubeai", "int8"): 1.0,
    ("xcubeai", "float32"): 1.0,
    ("tflm", "int8"): 1.5,
    ("tflm", "float32"): 2.0,
}
"""Inference time of a runtime relative to X-CUBE-AI's, by (runtime, dtype); see the reasoning above."""


def inference_ms(macc: int, board: Board, dtype: str, runtime: str = "xcubeai") -> float:
    """ESTIMATED time of one inference in milliseconds: MACC x cycles-per-MACC(core, dtype) / clock.

    Calibrated on MLPerf Tiny's ResNet-8 (12.5 M MACC, int8, X-CUBE-AI): 227 ms on a NUCLEO-L4R5ZI
    (Cortex-M4, 120 MHz) and 28.7 ms on an STM32H747 (Cortex-M7, 400 MHz). The float32, Cortex-M0+ and
    Cortex-M33 factors are derived from the cores' instruction sets, not measured (see CYCLES_PER_MACC's
    comments); ``runtime`` "tflm" multiplies by RUNTIME_FACTOR (an assumption, see there). Expect the right
    order of magnitude, not the board's exact figure.
    """
    try:
        cycles = CYCLES_PER_MACC[(board.core, dtype)]
    except KeyError:
        raise ValueError(f"no inference-time figure for core '{board.core}' with dtype '{dtype}'") from None
    try:
        factor = RUNTIME_FACTOR[(runtime, dtype)]
    except KeyError:
        raise ValueError(f"no inference-time figure for runtime '{runtime}' with dtype '{dtype}'") from None
    return macc * cycles * factor / board.clock_hz * 1e3
