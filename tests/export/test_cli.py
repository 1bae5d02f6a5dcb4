"""``cnn-designer export`` (through the real worker process) and ``cnn-designer report``."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from designer.designfile import save as save_design
from designer.export.protocol import Exported, ExportRequest, Failed, Step
from designer.training.protocol import Event
from tests.export.conftest import TINY, Bundle
from tests.export.test_stedgeai_report import SEED
from tui.cli.export import add_export_command, add_report_command, run_export_command, run_report_command


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cnn-designer")
    sub = parser.add_subparsers(dest="command")
    add_export_command(sub)
    add_report_command(sub)
    return parser.parse_args(argv)


@pytest.fixture(scope="module")
def untrained_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("cli")
    design = root / "tiny.toml"
    save_design(TINY, design)
    out = root / "bundle"
    args = _parse(["export", str(design), "--out", str(out), "--calibration-images", "30", "--eval-images", "30",
                   "--no-stedgeai", "--json"])
    buffer = io.StringIO()  # capsys is function-scoped; this fixture is shared by the module
    with contextlib.redirect_stdout(buffer):
        code = run_export_command(args)
    assert code == 0, buffer.getvalue()
    return out, json.loads(buffer.getvalue())


@pytest.mark.slow
def test_untrained_export_through_the_worker(untrained_bundle: tuple[Path, dict]) -> None:
    out, printed = untrained_bundle
    assert printed["ok"] and printed["out_dir"] == str(out)
    report = printed["report"]
    assert report["untrained"] and report["warnings"][0].startswith("UNTRAINED DESIGN")
    assert report == json.loads((out / "report.json").read_text())
    assert report["accuracy"]["float32"] is None and "agreement only" in report["accuracy"]["evaluated_on"]
    assert "uniform random images in [0, 1)" in report["quantization"]["calibration"]
    md = (out / "report.md").read_text()
    assert md.splitlines()[2].startswith("> **WARNING — UNTRAINED DESIGN")
    assert "UNTRAINED" in (out / "tiny_net_config.h").read_text() and "UNTRAINED" in (out / "README.md").read_text()


@pytest.mark.slow
def test_text_summary_is_loud_about_untrained(untrained_bundle: tuple[Path, dict],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = untrained_bundle

    def runner(request: ExportRequest) -> Iterator[Event]:
        yield Step("convert", 2, 8)
        yield Step("convert", 2, 8, True, 0.5, "float32")
        yield Exported(str(out), True, [], {})

    assert run_export_command(_parse(["export", "model2", "--out", str(out)]), runner) == 0
    captured = capsys.readouterr()
    assert "WARNING" in captured.out and "UNTRAINED DESIGN" in captured.out
    cm = json.loads((out / "report.json").read_text())["arena"]["cortex_m"]
    assert re.search(rf"TFLM arena CMSIS-NN: derived / configured\s+{cm['cmsis_nn_bytes']:,} / "
                     rf"{cm['cmsis_nn_config_bytes']:,} B", captured.out)
    assert "accuracy float32 / int8 (tflite-micro, 30 images)" in captured.out
    assert "[2/8] convert: done in 0.5 s — float32" in captured.err


def test_failed_export_exits_1_with_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    def runner(request: ExportRequest) -> Iterator[Event]:
        yield Failed("run r: no usable data set to calibrate int8 with\n(details)")

    assert run_export_command(_parse(["export", "model2", "--out", str(tmp_path / "b")]), runner) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["cnn-designer export: run r: no usable data set to calibrate int8 with (details)"]


def test_bad_option_values_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_export_command(_parse(["export", "model2", "--calibration-images", "0"])) == 2
    assert "calibration_images must be >= 1" in capsys.readouterr().err


def test_report_command_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    path = SEED / "notebook-model2_compression-high.txt"
    if not path.is_file():
        pytest.skip("seed report not available")
    assert run_report_command(_parse(["report", str(path)])) == 0
    out = capsys.readouterr().out
    for figure in ("125,928", "143,468", "16,658", "5,320", "142,586", "148,788", "15,348,000", "49,386",
                   "[b:1,h:32,w:32,c:32]", "conv2d_20"):
        assert figure in out
    assert run_report_command(_parse(["report", str(path), "--json"])) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_flash_bytes"] == 142586 and data["layers"][1]["name"] == "conv2d_20"


def test_report_command_on_a_bundle_folder(run_bundle: Bundle, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_report_command(_parse(["report", str(run_bundle.out), "--json"])) == 0
    assert json.loads(capsys.readouterr().out)["weights_bytes"] == 2_468


@pytest.mark.parametrize(("content", "code", "message"), [
    ("not a report\n", 1, "not a complete X-CUBE-AI analyze report"), (None, 2, "no such file"),
])
def test_report_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, code: int,
                               message: str) -> None:
    path = tmp_path / "r.txt"
    if content is not None:
        path.write_text(content)
    assert run_report_command(_parse(["report", str(path)])) == code
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
