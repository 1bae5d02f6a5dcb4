"""The memory view (issue 12): the activation bytes alive per layer as bars against the board's RAM, the peak
layer named."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import Static

from designer.boards import load_catalogue
from designer.design import Design
from tests.tui.conftest import SIZE
from tui.app import DesignerApp
from tui.budget import Settings, estimate_with
from tui.screens.memory import BAR_WIDTH, MemoryScreen, live_of, memory_lines

MakeApp = Callable[..., DesignerApp]


def test_one_bar_per_layer_and_the_peak_named(model5: Design) -> None:
    board = load_catalogue(include_user=False).default
    for runtime in ("tflm", "xcubeai"):
        fp = estimate_with(model5, Settings(runtime=runtime))
        lines = [line.plain for line in memory_lines(fp, board)]
        peak = max(fp.layers, key=live_of)
        assert lines[0].startswith(f"peak: layer {peak.index} ({peak.kind}),")
        bars = lines[2:]
        assert len(bars) == len(model5.layers) and sum("◀ peak" in bar for bar in bars) == 1
        assert "◀ peak" in bars[peak.index]
        full = [bar.count("█") for bar in bars]
        assert max(full) == full[peak.index] and all(count <= BAR_WIDTH for count in full)
    tflm = estimate_with(model5, Settings(runtime="tflm"))
    assert any(lf.live_bytes for lf in tflm.layers)  # the planner's figure is the one drawn for TFLM
    assert [live_of(lf) for lf in tflm.layers] == [lf.live_bytes or lf.ram_bytes for lf in tflm.layers]


async def test_m_opens_the_memory_view(make_app: MakeApp, model5: Design) -> None:
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("r", "M")
        assert isinstance(app.screen, MemoryScreen) and app.screen.settings == "tflm · float32"
        text = str(app.screen.query_one("#memory-text", Static).render())
        assert "◀ peak" in text and "conv2d 32 3x3 s1 same relu" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, MemoryScreen)
