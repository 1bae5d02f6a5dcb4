"""The X-CUBE-AI analyze report parser on the six real seed reports and on synthetic ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from designer.export.stedgeai import ReportParseError, analyze_command, load_report, parse_report, shell_script
from tests.export.fake_reports import analyze_text, interleave

SEED = Path("/work/shared/seed/xcubeai")
if not SEED.is_dir():
    SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "xcubeai"

# (file, total flash, total RAM, weights, activations, library flash, library RAM, macc, params, compression)
# transcribed from the reports' final blocks and headers.
REAL = [
    ("course-base-cnn_compression-high.txt", 1723162, 152124, 1702696, 143468, 20466, 8656, 32997984, 1343146,
     "high"),
    ("course-base-cnn_compression-low.txt", 2249370, 152124, 2228904, 143468, 20466, 8656, 32997984, 1343146,
     "low"),
    ("course-base-cnn_compression-medium.txt", 1723162, 152124, 1702696, 143468, 20466, 8656, 32997984, 1343146,
     "medium"),
    ("course-base-cnn_compression-none.txt", 5393034, 152124, 5372584, 143468, 20450, 8656, 32997984, 1343146,
     "none"),
    ("notebook-model2_compression-high.txt", 142586, 148788, 125928, 143468, 16658, 5320, 15348000, 49386, "high"),
    ("notebook-model5_compression-high.txt", 1308098, 151416, 1288424, 143468, 19674, 7948, 39299168, 551722,
     "high"),
]


@pytest.mark.parametrize("row", REAL, ids=[r[0] for r in REAL])
def test_real_reports(row: tuple) -> None:
    name, flash, ram, weights, acts, lib_flash, lib_ram, macc, params, compression = row
    path = SEED / name
    if not path.is_file():
        pytest.skip(f"seed report {path} not available")
    r = load_report(path)
    assert (r.total_flash_bytes, r.total_ram_bytes) == (flash, ram)
    assert (r.weights_bytes, r.activations_bytes) == (weights, acts)
    assert (r.library_flash_bytes, r.library_ram_bytes) == (lib_flash, lib_ram)
    assert r.weights_bytes + r.library_flash_bytes == r.total_flash_bytes
    assert r.activations_bytes + r.library_ram_bytes == r.total_ram_bytes
    assert (r.macc, r.params, r.compression, r.target) == (macc, params, compression, "stm32l4")
    assert r.input_bytes == 12288 and r.output_bytes == 40
    assert r.layers[0].name == "input_0" and r.layers[1].layer_type == "Conv2D"
    assert r.layers[1].params == 896 and r.layers[1].param_bytes == 3584 and r.layers[1].macc == 884768
    assert len({layer.name for layer in r.layers}) == len(r.layers)


def test_interleaved_real_report_counts_two_runs() -> None:
    path = SEED / "course-base-cnn_compression-high.txt"
    if not path.is_file():
        pytest.skip("seed report not available")
    r = load_report(path)
    assert r.runs == 2
    assert [layer.m_id for layer in r.layers if layer.name in ("input_0", "conv2d")] == [0, 0]


def test_warning_lines_are_kept() -> None:
    path = SEED / "course-base-cnn_compression-none.txt"
    if not path.is_file():
        pytest.skip("seed report not available")
    assert any("bigger than available" in w for w in load_report(path).warnings)


def test_stedgeai_stdout_without_cubemx_block() -> None:
    r = parse_report(analyze_text(weights=31_000, activations=6_500, lib_flash=14_000, lib_ram=2_900))
    assert (r.weights_bytes, r.activations_bytes, r.library_flash_bytes, r.library_ram_bytes) == (
        31_000, 6_500, 14_000, 2_900)
    assert (r.total_flash_bytes, r.total_ram_bytes) == (45_000, 9_400)
    assert r.tool_version == "ST Edge AI Core v9.9.9-00000"
    assert [(layer.m_id, layer.name) for layer in r.layers] == [
        (0, "input_0"), (0, "l00_conv2d"), (3, "l05_dense_dense"), (3, "l05_dense")]


def test_cubemx_block_agrees_and_windows_text_is_fine() -> None:
    text = analyze_text(cubemx_block=True).replace(" ", "\u00a0").replace("\n", "\r\n")
    r = parse_report(text)
    assert (r.total_flash_bytes, r.library_ram_bytes) == (45_000, 3_000)


def test_interleaved_runs_that_agree_are_accepted() -> None:
    text = analyze_text(cubemx_block=True)
    assert parse_report(interleave(text, text)).runs == 2


def test_interleaved_runs_that_disagree_fail_clearly() -> None:
    text = interleave(analyze_text(weights=30_000, cubemx_block=True), analyze_text(weights=40_000,
                                                                                   cubemx_block=True))
    with pytest.raises(ReportParseError, match=r"several analyze runs with different figures for weights"):
        parse_report(text, source="two.txt")


def test_runs_one_after_another_keep_the_last() -> None:
    text = analyze_text(weights=30_000, cubemx_block=True) + analyze_text(weights=40_000, compression="low")
    r = parse_report(text)
    assert (r.weights_bytes, r.compression, r.runs) == (40_000, "low", 1)


@pytest.mark.parametrize("text", ["", "hello\nworld\n", "Total Flash:     1000 B (1 KiB)\n"])
def test_not_a_report(text: str) -> None:
    with pytest.raises(ReportParseError, match=r"bad\.txt: not a complete X-CUBE-AI analyze report"):
        parse_report(text, source="bad.txt")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ReportParseError, match="cannot read the report"):
        load_report(tmp_path / "missing.txt")


def test_command_lines() -> None:
    assert analyze_command(model="model.h5", c_name="tiny", target="stm32l4", compression="high",
                           workspace="ws", output="out") == [
        "stedgeai", "analyze", "--target", "stm32l4", "--name", "tiny", "-m", "model.h5", "--compression",
        "high", "--workspace", "ws", "--output", "out"]
    assert "--compression" not in analyze_command(model="model_int8.tflite", c_name="t", target="stm32l4")
    script = shell_script(c_name="tiny", target="stm32f4", compression="medium")
    assert "stedgeai analyze --target stm32f4 --name tiny -m model.h5 --compression medium" in script
    assert "stedgeai generate --target stm32f4 --name tiny_int8 -m model_int8.tflite" in script


def test_run_analyze_with_a_fake_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from designer.export.stedgeai import run_analyze
    from tests.export.conftest import FAKE_FIGURES, write_fake_stedgeai

    model = tmp_path / "model.h5"
    model.write_bytes(b"h5")
    for exit_code in (0, 3):
        script = write_fake_stedgeai(tmp_path / f"bin{exit_code}", exit_code=exit_code)
        monkeypatch.setenv("PATH", str(script.parent))
        run = run_analyze(model, c_name="tiny_net", target="stm32h7", compression="low")
        assert run.command[:4] == ["stedgeai", "analyze", "--target", "stm32h7"]
        if exit_code == 0:
            assert run.error == "" and run.report is not None
            assert run.report.library_ram_bytes == FAKE_FIGURES["lib_ram"]
        else:
            assert run.report is None and run.error.startswith("stedgeai analyze exited with status 3")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert run_analyze(model, c_name="t", target="stm32l4", compression="high").error == "stedgeai is not on PATH"


def test_parser_agrees_with_the_estimator_tests_transcription() -> None:
    """tests/xcubeai_reports.py transcribes the same six reports for the estimator: both must read alike."""
    reports = pytest.importorskip("tests.xcubeai_reports")
    for expected in reports.REPORTS:
        path = SEED / expected.report
        if not path.is_file():
            pytest.skip(f"seed report {path} not available")
        r = load_report(path)
        assert (r.params, r.macc, r.weights_bytes, r.activations_bytes, r.library_flash_bytes,
                r.library_ram_bytes, r.total_flash_bytes, r.total_ram_bytes, r.compression) == (
            expected.params, expected.macc, expected.weights_bytes, expected.activations_bytes,
            expected.lib_flash_bytes, expected.lib_ram_bytes, expected.total_flash_bytes,
            expected.total_ram_bytes, expected.compression), expected.report
