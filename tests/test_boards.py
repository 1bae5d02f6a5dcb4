"""The board catalogue (datasheet figures, user boards, strict validation), fit verdicts and inference time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from designer.boards import (
    CORES,
    CYCLES_PER_MACC,
    USER_BOARDS_ENV,
    Board,
    BoardError,
    boards_that_fit,
    default_board,
    find_board,
    fits,
    inference_ms,
    load_catalogue,
    parse_boards,
)
from designer.layers import has_blocks
from presets import load_preset, preset_ids

KIB = 1024
MIB = 1024 * 1024

# (name, mcu, core, series, clock MHz, flash, usable RAM) from the MCU datasheets (see boards.toml's notes).
DATASHEET = [
    ("32L4R9IDISCOVERY", "STM32L4R9AI", "cortex-m4", "stm32l4", 120, 2 * MIB, 192 * KIB),
    ("NUCLEO-G0B1RE", "STM32G0B1RE", "cortex-m0+", "stm32g0", 64, 512 * KIB, 144 * KIB),
    ("NUCLEO-F401RE", "STM32F401RE", "cortex-m4", "stm32f4", 84, 512 * KIB, 96 * KIB),
    ("NUCLEO-F446RE", "STM32F446RE", "cortex-m4", "stm32f4", 180, 512 * KIB, 128 * KIB),
    ("NUCLEO-L452RE", "STM32L452RE", "cortex-m4", "stm32l4", 80, 512 * KIB, 160 * KIB),
    ("NUCLEO-L4R5ZI", "STM32L4R5ZI", "cortex-m4", "stm32l4", 120, 2 * MIB, 640 * KIB),
    ("NUCLEO-G474RE", "STM32G474RE", "cortex-m4", "stm32g4", 170, 512 * KIB, 128 * KIB),
    ("NUCLEO-F429ZI", "STM32F429ZI", "cortex-m4", "stm32f4", 180, 2 * MIB, 192 * KIB),
    ("STM32F746G-DISCO", "STM32F746NG", "cortex-m7", "stm32f7", 216, 1 * MIB, 320 * KIB),
    ("STM32F769I-DISCO", "STM32F769NI", "cortex-m7", "stm32f7", 216, 2 * MIB, 512 * KIB),
    ("NUCLEO-H743ZI2", "STM32H743ZI", "cortex-m7", "stm32h7", 480, 2 * MIB, 512 * KIB),
    ("STM32H747I-DISCO", "STM32H747XI", "cortex-m7", "stm32h7", 400, 2 * MIB, 512 * KIB),
    ("B-U585I-IOT02A", "STM32U585AI", "cortex-m33", "stm32u5", 160, 2 * MIB, 768 * KIB),
]


@pytest.fixture(autouse=True)
def no_user_boards(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's own ~/.config boards out of every test."""
    monkeypatch.delenv(USER_BOARDS_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@dataclass(frozen=True)
class FakeFootprint:
    flash_bytes: int
    ram_bytes: int


def _board(**changes: object) -> Board:
    base = dict(name="TEST", mcu="STM32TEST", core="cortex-m4", series="stm32l4", clock_hz=100_000_000,
                flash_bytes=1000, ram_bytes=500)
    base.update(changes)
    return Board(**base)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- catalogue


def test_catalogue_has_the_datasheet_boards_in_order() -> None:
    catalogue = load_catalogue()
    assert len(catalogue) >= 12
    assert catalogue.names()[: len(DATASHEET)] == [row[0] for row in DATASHEET]


@pytest.mark.parametrize("name, mcu, core, series, mhz, flash, ram", DATASHEET, ids=[r[0] for r in DATASHEET])
def test_board_figures(name: str, mcu: str, core: str, series: str, mhz: int, flash: int, ram: int) -> None:
    board = find_board(name)
    assert (board.mcu, board.core, board.series) == (mcu, core, series)
    assert board.clock_hz == mhz * 1_000_000
    assert board.flash_bytes == flash
    assert board.ram_bytes == ram
    assert board.ram_region, "every board says which RAM region ram_bytes counts"


def test_every_board_is_well_formed() -> None:
    for board in load_catalogue():
        assert board.core in CORES
        assert board.series.startswith("stm32")
        assert board.clock_hz > 0 and board.flash_bytes > 0 and board.ram_bytes > 0


def test_default_is_the_seed_board() -> None:
    board = default_board()
    assert board.name == "32L4R9IDISCOVERY"
    assert (board.flash_bytes, board.ram_bytes) == (2 * MIB, 192 * KIB)
    assert board.clock_mhz == 120


def test_find_board_is_case_insensitive() -> None:
    assert find_board("nucleo-f446re").name == "NUCLEO-F446RE"
    assert find_board(" Stm32H747I-Disco ").name == "STM32H747I-DISCO"


def test_unknown_board_lists_the_known_names() -> None:
    with pytest.raises(BoardError, match=r"unknown board 'NUCLEO-X'; known boards: 32L4R9IDISCOVERY, NUCLEO-G0B1RE"):
        find_board("NUCLEO-X")


# ---------------------------------------------------------------------------------------------- user boards

USER_BOARD = """
[[boards]]
name = "MY-BOARD"
mcu = "STM32L476RG"
core = "cortex-m4"
series = "stm32l4"
clock_hz = 80_000_000
flash_bytes = 1_048_576
ram_bytes = 98_304
ram_region = "SRAM1"
"""


def test_user_file_from_the_environment_adds_boards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "boards.toml"
    path.write_text(USER_BOARD)
    monkeypatch.setenv(USER_BOARDS_ENV, str(path))
    catalogue = load_catalogue()
    assert catalogue.names()[-1] == "MY-BOARD"
    assert find_board("my-board").ram_bytes == 98_304
    assert default_board().name == "32L4R9IDISCOVERY"
    assert load_catalogue(include_user=False).names() == [row[0] for row in DATASHEET]


def test_user_file_in_the_config_folder_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "config" / "cnn-designer"
    folder.mkdir(parents=True)
    (folder / "boards.toml").write_text(USER_BOARD)
    assert find_board("MY-BOARD").mcu == "STM32L476RG"


def test_user_board_replaces_a_shipped_one_and_can_be_the_default(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "boards.toml"
    path.write_text('default = "nucleo-f446re"\n' + USER_BOARD.replace("MY-BOARD", "NUCLEO-F446RE"))
    monkeypatch.setenv(USER_BOARDS_ENV, str(path))
    catalogue = load_catalogue()
    assert len(catalogue) == len(DATASHEET)
    assert catalogue.names().index("NUCLEO-F446RE") == 3
    assert catalogue.default.mcu == "STM32L476RG"


def test_missing_user_file_named_by_the_environment_is_an_error(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(USER_BOARDS_ENV, str(tmp_path / "nope.toml"))
    with pytest.raises(BoardError, match=r"nope\.toml: cannot read boards file"):
        load_catalogue()


def _with(key: str, value: str) -> str:
    return re.sub(rf"^{key} = .*$", lambda _: f"{key} = {value}", USER_BOARD, flags=re.M)


BAD_USER_FILES = [
    ("unknown-key", USER_BOARD + 'eeprom_bytes = 4096\n', ["boards[0] (MY-BOARD)", "key 'eeprom_bytes'",
                                                           "unknown key"]),
    ("string-size", _with("ram_bytes", '"96K"'), ["boards[0] (MY-BOARD)", "key 'ram_bytes'",
                                                  "positive integer (bytes)", "'96K'"]),
    ("bool-size", _with("flash_bytes", "true"), ["key 'flash_bytes'", "received boolean"]),
    ("zero-clock", _with("clock_hz", "0"), ["key 'clock_hz'", "positive integer (Hz)"]),
    ("float-size", _with("ram_bytes", "98.5"), ["key 'ram_bytes'", "received float"]),
    ("bad-core", _with("core", '"cortex-a53"'), ["key 'core'", "cortex-m0+, cortex-m4", "'cortex-a53'"]),
    ("missing-key", USER_BOARD.replace('series = "stm32l4"\n', ""), ["key 'series'", "missing required key"]),
    ("empty-name", _with("name", '""'), ["key 'name'", "must not be empty"]),
    ("number-name", _with("mcu", "476"), ["key 'mcu'", "expected a string"]),
    ("duplicate", USER_BOARD + USER_BOARD, ["boards[1] (MY-BOARD)", "duplicate board name"]),
    ("unknown-default", 'default = "NOPE"\n' + USER_BOARD, ["key 'default'", "unknown board 'NOPE'"]),
    ("top-level-key", "boardz = 1\n", ["key 'boardz'", "unknown top-level key"]),
    ("boards-not-array", 'boards = "x"\n', ["key 'boards'", "array of tables"]),
    ("not-toml", "[[boards]\nname = 1\n", ["not valid TOML"]),
    # Hostile values: each would reach stedgeai.sh or a C file if it were let through.
    ("series-newline-command", _with("series", '"stm32l4\\ntouch canary"'),
     ["boards[0] (MY-BOARD)", "key 'series'", "stm32[a-z0-9]{1,8}", "'stm32l4\\ntouch canary'"]),
    ("series-uppercase", _with("series", '"STM32L4"'), ["key 'series'", "'STM32L4'"]),
    ("series-word-split", _with("series", '"stm32l4 --output /x"'), ["key 'series'"]),
    ("name-command-substitution", _with("name", '"B$(touch canary)"'),
     ["boards[0] ('B$(touch canary)')", "key 'name'", "no quotes, $, backticks"]),
    ("name-backticks", _with("name", '"B`touch canary`"'), ["key 'name'", "'B`touch canary`'"]),
    ("name-quotes", _with("name", """'B"; touch canary; "'"""), ["key 'name'"]),
    ("mcu-newline", _with("mcu", '"STM32\\nX"'), ["key 'mcu'", "'STM32\\nX'"]),
    ("region-semicolon", _with("ram_region", '"SRAM; rm -rf x"'), ["key 'ram_region'"]),
    ("note-control-char", USER_BOARD + 'note = "ok\\u001b[2J"\n', ["key 'note'", "printable"]),
    ("huge-size", _with("flash_bytes", str(2**70)), ["key 'flash_bytes'", "at most 1,099,511,627,776",
                                                     str(2**70)]),
    ("huge-clock", _with("clock_hz", "100_000_000_000"), ["key 'clock_hz'", "at most 10,000,000,000"]),
    ("4300-digit-integer", _with("ram_bytes", "1" * 4400), ["not valid TOML"]),
    ("deep-nesting", "x = " + "[" * 1200 + "]" * 1200 + "\n", ["not valid TOML"]),
    ("hostile-default", 'default = "$(touch canary)"\n' + USER_BOARD, ["key 'default'"]),
]


@pytest.mark.parametrize("content, fragments", [(c, f) for _, c, f in BAD_USER_FILES],
                         ids=[i for i, _, _ in BAD_USER_FILES])
def test_bad_user_file_raises_a_clear_error(content: str, fragments: list[str], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "my-boards.toml"
    path.write_text(content)
    monkeypatch.setenv(USER_BOARDS_ENV, str(path))
    with pytest.raises(BoardError) as info:
        load_catalogue()
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


# ---------------------------------------------------------------------------------------------- fits


def test_fits_to_the_byte() -> None:
    board = _board(flash_bytes=1000, ram_bytes=500)
    exact = fits(FakeFootprint(1000, 500), board)
    assert exact.fits and exact.flash_margin_bytes == 0 and exact.ram_margin_bytes == 0
    over_flash = fits(FakeFootprint(1001, 10), board)
    assert not over_flash.flash_ok and over_flash.ram_ok and not over_flash.fits
    assert over_flash.flash_margin_bytes == -1
    over_ram = fits(FakeFootprint(10, 750), board)
    assert over_ram.flash_ok and not over_ram.ram_ok
    assert over_ram.ram_margin_bytes == -250 and over_ram.ram_fraction == 1.5
    assert (over_ram.flash_budget_bytes, over_ram.ram_budget_bytes) == (1000, 500)


def _notebook_bytes(text: str) -> int:
    # X-CUBE-AI's figures as the notebook writes them: "1M99" = 1.99 MiB, "155K" = 155 KiB.
    if "M" in text:
        whole, frac = text.split("M")
        return int((int(whole) + int(frac) / 100) * MIB)
    return int(text.rstrip("Kk")) * KIB


@pytest.mark.parametrize("preset_id, flash_ok, ram_ok", [
    ("model8", True, True),  # 1M99 / 155K: "fits"
    ("model0", False, True),  # 2M39
    ("model6", False, True),  # 4M52
    ("model9", False, False),  # 2M22 / 284K: "not feasible"
    ("model11", True, False),  # 286K: RAM "does not fit"
    ("model13", True, True),
])
def test_default_board_reproduces_the_notebook_verdicts(preset_id: str, flash_ok: bool, ram_ok: bool) -> None:
    notebook = load_preset(preset_id).notebook
    assert notebook is not None
    verdict = fits(FakeFootprint(_notebook_bytes(notebook.rom), _notebook_bytes(notebook.ram)), default_board())
    assert (verdict.flash_ok, verdict.ram_ok) == (flash_ok, ram_ok)


def test_boards_that_fit_agrees_with_fits_on_every_board() -> None:
    from designer.footprint import estimate

    for preset_id in preset_ids():
        design = load_preset(preset_id)
        if has_blocks(design.layers):
            continue  # the X-CUBE-AI estimator refuses residual blocks until it walks designer.graph
        footprint = estimate(design)
        expected = [b for b in load_catalogue() if fits(footprint, b).fits]
        assert boards_that_fit(design) == expected


def test_a_design_over_every_flash_fits_no_board() -> None:
    # Model0 is 2M39 of float32 weights even with compression high; no board has more than 2 MiB of flash.
    assert boards_that_fit(load_preset("model0")) == []
    assert default_board() in boards_that_fit(load_preset("model4"))


# ---------------------------------------------------------------------------------------------- inference time

RESNET8_MACC = 12_500_000


@pytest.mark.parametrize("board_name, expected_ms", [("NUCLEO-L4R5ZI", 227.0), ("STM32H747I-DISCO", 28.7)])
def test_inference_time_reproduces_the_mlperf_calibration(board_name: str, expected_ms: float) -> None:
    assert inference_ms(RESNET8_MACC, find_board(board_name), "int8") == pytest.approx(expected_ms, rel=1e-3)


def test_inference_time_scales_with_macc_and_clock() -> None:
    slow, fast = _board(clock_hz=80_000_000), _board(clock_hz=160_000_000)
    assert inference_ms(2_000_000, slow, "int8") == pytest.approx(2 * inference_ms(1_000_000, slow, "int8"))
    assert inference_ms(1_000_000, slow, "int8") == pytest.approx(2 * inference_ms(1_000_000, fast, "int8"))
    assert inference_ms(0, slow, "float32") == 0


def test_every_core_has_both_dtypes_and_float_is_slower() -> None:
    for core in CORES:
        assert CYCLES_PER_MACC[(core, "float32")] > CYCLES_PER_MACC[(core, "int8")]
    # Per clock: M7 beats M4/M33, which beat M0+; soft float on M0+ is the slowest of all.
    assert CYCLES_PER_MACC[("cortex-m7", "int8")] < CYCLES_PER_MACC[("cortex-m4", "int8")]
    assert CYCLES_PER_MACC[("cortex-m4", "int8")] < CYCLES_PER_MACC[("cortex-m0+", "int8")]
    assert max(CYCLES_PER_MACC.values()) == CYCLES_PER_MACC[("cortex-m0+", "float32")]


def test_unknown_dtype_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="dtype 'int4'"):
        inference_ms(1, default_board(), "int4")


def test_tflm_is_estimated_slower_than_x_cube_ai() -> None:
    board = default_board()
    for dtype in ("int8", "float32"):
        assert inference_ms(1_000_000, board, dtype, "tflm") > inference_ms(1_000_000, board, dtype, "xcubeai")
    assert inference_ms(1_000_000, board, "int8") == inference_ms(1_000_000, board, "int8", "xcubeai")
    with pytest.raises(ValueError, match="runtime 'onnx'"):
        inference_ms(1, board, "int8", "onnx")


def test_latency_budget_is_optional_and_checked() -> None:
    template = 'name = "B"\nmcu = "M"\ncore = "cortex-m4"\nseries = "stm32l4"\nclock_hz = 80000000\n' \
               'flash_bytes = 1048576\nram_bytes = 131072\n'
    (plain,), _ = parse_boards(f"[[boards]]\n{template}", "t.toml")
    assert plain.latency_budget_ms is None
    (timed,), _ = parse_boards(f"[[boards]]\n{template}latency_budget_ms = 50\n", "t.toml")
    assert timed.latency_budget_ms == 50.0
    for bad in ("0", "-1", "true", '"fast"', "nan", "1e12"):
        with pytest.raises(BoardError, match=r"t.toml: boards\[0\] \(B\), key 'latency_budget_ms': expected a "
                                             "positive number of milliseconds"):
            parse_boards(f"[[boards]]\n{template}latency_budget_ms = {bad}\n", "t.toml")
