"""Synthetic ``stedgeai analyze`` output in the tool's format, for the parser tests and the fake stedgeai.

Written from scratch with made-up figures (nothing copied from real reports): a header, a per-layer table,
the "Summary" table, and optionally STM32CubeMX's closing "Total Flash / Total Ram" block.
"""

from __future__ import annotations


def analyze_text(*, weights: int = 30_000, activations: int = 6_000, lib_flash: int = 15_000, lib_ram: int = 3_000,
                 macc: int = 120_000, params: int = 7_000, c_name: str = "tiny", target: str = "stm32l4",
                 compression: str = "high", cubemx_block: bool = False) -> str:
    """One run's report text."""
    def c(n: int) -> str:
        return f"{n:,}"

    lines = [
        "ST Edge AI Core v9.9.9-00000 fake",
        "",
        " Exec/report summary (analyze)",
        " " + "-" * 60,
        " model file         :   /tmp/model.h5",
        " type               :   keras",
        f" c_name             :   {c_name}",
        f" compression        :   {compression}",
        f" target/series      :   {target}",
        " model_name         :   tiny",
        f" params #           :   {c(params)} items (1.00 KiB)",
        " " + "-" * 60,
        " input 1/1          :   'input_0', f32(1x8x8x3), 768 Bytes, activations",
        f" macc               :   {c(macc)}",
        f" weights (ro)       :   {c(weights)} B (1.00 KiB) (1 segment)",
        f" activations (rw)   :   {c(activations)} B (1.00 KiB) (1 segment) *",
        f" ram (total)        :   {c(activations)} B (1.00 KiB) = {c(activations)} + 0 + 0",
        " " + "-" * 60,
        " Model name - tiny",
        " ------ ------------------------------ ---------------------- ---------- --------- -----------",
        " m_id   layer (original)               oshape                 param/size      macc  connected to",
        " ------ ------------------------------ ---------------------- ---------- --------- -----------",
        " 0      input_0 (None)                 [b:1,h:8,w:8,c:3]",
        "        l00_conv2d (Conv2D)            [b:1,h:8,w:8,c:4]      112/448        6,912      input_0",
        " ------ ------------------------------ ---------------------- ---------- --------- -----------",
        " 3      l05_dense_dense (Dense)        [b:1,c:3]              195/780          195   l04_flatten",
        "        l05_dense (Dense)              [b:1,c:3]                                45   l05_dense_dense",
        "  Summary - \"" + target + "\" target",
        "  --------------------------------------------------",
        "               FLASH (ro)      %*   RAM (rw)      %",
        "  --------------------------------------------------",
        f"  RT total         {c(lib_flash)}   50.0%      {c(lib_ram)}  33.3%",
        "  --------------------------------------------------",
        f"  TOTAL           {c(weights + lib_flash)}            {c(activations + lib_ram)}",
        "  --------------------------------------------------",
    ]
    if cubemx_block:
        lines += [
            "Model file:      model.h5",
            f"Total Flash:     {weights + lib_flash} B (1.00 KiB)",
            f"    Weights:     {weights} B (1.00 KiB)",
            f"    Library:     {lib_flash} B (1.00 KiB)",
            f"Total Ram:       {activations + lib_ram} B (1.00 KiB)",
            f"    Activations: {activations} B (1.00 KiB)",
            f"    Library:     {lib_ram} B (1.00 KiB)",
            "    Input:       768 B (0.75 KiB included in Activations)",
            "Done",
        ]
    return "\n".join(lines) + "\n"


def interleave(a: str, b: str) -> str:
    """Two runs' lines alternating, as two processes writing one console do."""
    la, lb = a.splitlines(), b.splitlines()
    out: list[str] = []
    for i in range(max(len(la), len(lb))):
        out += la[i:i + 1] + lb[i:i + 1]
    return "\n".join(out) + "\n"
