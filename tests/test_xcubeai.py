"""The X-CUBE-AI estimator against the nine real reports, the notebook's ROM/RAM strings and the ST model zoo's
published int8 weights; residual blocks over the lowering."""

from __future__ import annotations

from pathlib import Path

import pytest

from designer.design import analyze
from designer.designfile import load
from designer.footprint import estimate, format_size
from designer.xcubeai import estimate_xcubeai
from presets import load_preset
from tests.xcubeai_reports import REPORTS, Report

DATA = Path(__file__).parent / "data" / "xcubeai"
NOTEBOOK_MODELS = [f"model{i}" for i in range(14) if i != 12]  # Model12 has no ROM/RAM in the notebook


def _report_footprint(report: Report):
    return estimate_xcubeai(analyze(load(DATA / f"{report.design}.toml")), dtype="float32",
                            compression=report.compression)


# The fused conv + pool allocation is modelled by the streaming rule, not replayed byte for byte (docstring).
_ACTIVATIONS_NOT_EXACT = {"project-vgg-input-bn-fused-pool_compression-none.txt"}


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.report)
def test_report_exact_counts(report: Report) -> None:
    fp = _report_footprint(report)
    assert fp.params_trainable == report.params
    assert fp.macc == report.macc
    assert fp.weights_bytes == report.weights_bytes
    if report.report in _ACTIVATIONS_NOT_EXACT:
        assert fp.activations_bytes == pytest.approx(report.activations_bytes, rel=0.01)
    else:
        assert fp.activations_bytes == report.activations_bytes


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.report)
def test_report_totals_flash_half_percent_ram_one_percent(report: Report) -> None:
    fp = _report_footprint(report)
    assert fp.flash_bytes == pytest.approx(report.total_flash_bytes, rel=0.005)
    assert fp.ram_bytes == pytest.approx(report.total_ram_bytes, rel=0.01)
    # The report's own identity: totals are the weights/activations plus the library part.
    assert report.total_flash_bytes == report.weights_bytes + report.lib_flash_bytes
    assert report.total_ram_bytes == report.activations_bytes + report.lib_ram_bytes


def _notebook_bounds(text: str) -> tuple[float, float]:
    """The byte interval a notebook string stands for: "145K" = [145, 146) KiB, "1M25" = [1.245, 1.255) MiB."""
    text = text.upper()
    if "M" in text:
        whole, frac = text.split("M")
        mib = int(whole) + int(frac) / 100
        return (mib - 0.005) * 2**20, (mib + 0.005) * 2**20
    kib = int(text[:-1])
    return kib * 1024, (kib + 1) * 1024


def _relative_miss(value: int, text: str) -> float:
    lo, hi = _notebook_bounds(text)
    if value < lo:
        return (lo - value) / lo
    if value >= hi:
        return (value - hi) / hi
    return 0.0


def _notebook_rows() -> list[tuple[str, str, str, int]]:
    rows = []
    for preset in NOTEBOOK_MODELS:
        design = load_preset(preset)
        assert design.notebook is not None
        fp = estimate(design, runtime="xcubeai", dtype="float32", compression="high")
        rows.append((preset, "rom", design.notebook.rom, fp.flash_bytes))
        rows.append((preset, "ram", design.notebook.ram, fp.ram_bytes))
    return rows


def test_notebook_strings_mostly_equal() -> None:
    rows = _notebook_rows()
    assert len(rows) == 26
    equal = [r for r in rows if format_size(r[3]).lower() == r[2].lower()]
    misses = [(p, what, text, format_size(v)) for p, what, text, v in rows if (p, what, text, v) not in equal]
    assert len(equal) >= 25, misses


@pytest.mark.parametrize("row", _notebook_rows(), ids=lambda r: f"{r[0]}-{r[1]}")
def test_notebook_within_three_percent(row: tuple[str, str, str, int]) -> None:
    _, _, text, value = row
    assert _relative_miss(value, text) <= 0.03


def test_notebook_bounds_helper() -> None:
    assert _notebook_bounds("145K") == (145 * 1024, 146 * 1024)
    lo, hi = _notebook_bounds("1M25")
    assert lo == pytest.approx(1.245 * 2**20) and hi == pytest.approx(1.255 * 2**20)
    assert _relative_miss(145 * 1024, "145K") == 0.0
    assert _relative_miss(147 * 1024, "145K") > 0.0


def test_folded_layers_cost_nothing() -> None:
    fp = _report_footprint(next(r for r in REPORTS if r.design == "notebook-model5"))  # BN after Dense(128)
    design = load(DATA / "notebook-model5.toml")
    bn_after_dense = [i for i, layer in enumerate(design.layers)
                      if layer.kind == "batchnorm" and design.layers[i - 1].kind == "dense"]
    assert bn_after_dense
    row = fp.layers[bn_after_dense[0]]
    assert (row.macc, row.weights_bytes) == (0, 0)
    dropout_rows = [r for r in fp.layers if r.kind in ("dropout", "spatial_dropout", "flatten")]
    assert all(r.macc == 0 and r.weights_bytes == 0 for r in dropout_rows)


def test_per_layer_rows_add_up() -> None:
    fp = _report_footprint(REPORTS[0])
    assert sum(r.weights_bytes for r in fp.layers) == fp.weights_bytes
    assert sum(r.macc for r in fp.layers) == fp.macc
    assert max(r.ram_bytes for r in fp.layers) <= fp.activations_bytes
    assert fp.peak_layer == 0  # the first conv: input + full-resolution output + scratch


def test_model8_conv_chain_grows_the_buffer() -> None:
    # Three 32-filter convs at full resolution: each overlapping output drifts below its input.
    fp = estimate(load_preset("model8"), runtime="xcubeai", dtype="float32", compression="high")
    assert fp.activations_bytes > 143_468


def test_int8_is_smaller_and_sane() -> None:
    design = load_preset("model5")
    f32 = estimate(design, runtime="xcubeai", dtype="float32", compression="none")
    i8 = estimate(design, runtime="xcubeai", dtype="int8", compression="none")
    assert i8.activations_bytes * 4 == pytest.approx(f32.activations_bytes, rel=0.05)
    assert f32.weights_bytes / 4.2 < i8.weights_bytes < f32.weights_bytes / 3
    assert i8.macc == f32.macc
    # Compression applies to float weights only.
    assert estimate(design, runtime="xcubeai", dtype="int8", compression="high").weights_bytes == i8.weights_bytes


@pytest.mark.parametrize(("n_bytes", "text"), [
    (0, "0K"),
    (1023, "0K"),
    (1024, "1K"),
    (148_788, "145K"),
    (151_416, "147K"),
    (1024 * 1024 - 1, "1023K"),
    (1024 * 1024, "1M00"),
    (1_308_098, "1M25"),
    (int(2.39 * 2**20), "2M39"),
])
def test_format_size(n_bytes: int, text: str) -> None:
    assert format_size(n_bytes) == text
