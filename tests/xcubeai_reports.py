"""Figures transcribed from the nine real X-CUBE-AI 10.2 reports in shared/seed/xcubeai/ (``analyze`` or ``generate``).

One entry per report: the design file that reproduces the analysed model (tests/data/xcubeai/), the options,
and the report's own numbers. ``lib_flash`` is text + rodata + data and ``lib_ram`` is data + bss of its
"RT total" row; total flash/RAM are its "Total Flash"/"Total Ram" lines (a ``generate`` report has no such
lines: they are its summary's "TOTAL" row, which is the same sum).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Report:
    """The numbers one analyze report prints (every *_bytes in bytes)."""

    report: str  # file name in shared/seed/xcubeai/
    design: str  # tests/data/xcubeai/<design>.toml
    compression: str
    params: int  # "params #"
    macc: int  # summary "macc"
    weights_bytes: int  # "weights (ro)"
    activations_bytes: int  # "activations (rw)"
    lib_flash_bytes: int  # "RT total" FLASH (ro)
    lib_ram_bytes: int  # "RT total" RAM (rw)
    total_flash_bytes: int
    total_ram_bytes: int


REPORTS: tuple[Report, ...] = (
    Report("course-base-cnn_compression-none.txt", "course-base-cnn", "none", 1_343_146, 32_997_984,
           5_372_584, 143_468, 20_450, 8_656, 5_393_034, 152_124),
    Report("course-base-cnn_compression-low.txt", "course-base-cnn", "low", 1_343_146, 32_997_984,
           2_228_904, 143_468, 20_466, 8_656, 2_249_370, 152_124),
    Report("course-base-cnn_compression-medium.txt", "course-base-cnn", "medium", 1_343_146, 32_997_984,
           1_702_696, 143_468, 20_466, 8_656, 1_723_162, 152_124),
    # Two runs interleaved line by line in the file; both print the same figures.
    Report("course-base-cnn_compression-high.txt", "course-base-cnn", "high", 1_343_146, 32_997_984,
           1_702_696, 143_468, 20_466, 8_656, 1_723_162, 152_124),
    Report("notebook-model2_compression-high.txt", "notebook-model2", "high", 49_386, 15_348_000,
           125_928, 143_468, 16_658, 5_320, 142_586, 148_788),
    Report("notebook-model5_compression-high.txt", "notebook-model5", "high", 551_722, 39_299_168,
           1_288_424, 143_468, 19_674, 7_948, 1_308_098, 151_416),
    # Input ReLU + BN (kept: Nonlinearity + ScaleBias), then conv -> BN (folded) -> ReLU -> MaxPool fused into
    # one c-layer whose output is the pooled map; "analyze" run.
    Report("project-vgg-input-bn-fused-pool_compression-none.txt", "project-vgg-input-bn-fused-pool", "none",
           60_560, 5_752_064, 241_472, 52_076, 15_262, 2_720, 256_734, 54_796),
    # Input ReLU + BN, two full-resolution 32-filter convs in the seed's style (BN after the ReLU: no fusion);
    # "generate" runs, 28 c-layers.
    Report("project-32x2-64x2-128-256-d128_compression-high.txt", "project-32x2-64x2-128-256-d128", "high",
           568_240, 34_450_656, 1_814_272, 143_468, 20_478, 8_656, 1_834_750, 152_124),
    Report("project-32x2-64x2-128-256-d128_compression-low.txt", "project-32x2-64x2-128-256-d128", "low",
           568_240, 34_450_656, 1_880_768, 143_468, 20_478, 8_656, 1_901_246, 152_124),
)
