"""The layer stack: one table row per layer, grouped rows drawn as a bracket in the group column.

Columns: index, group, kind, configuration, output shape, params, MACC, weight bytes, activation bytes and
a marks column: ▲ on the layer that sets peak RAM, ◆ on the one with the most weight bytes, ✗ on the layer
an invalid design's DesignError names. While the design is invalid the figures columns show "–".
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from designer.design import Design
from designer.footprint import Footprint
from tui.budget import human_bytes, human_count

COLUMNS: tuple[tuple[str, str], ...] = (
    ("index", "#"), ("group", "Group"), ("kind", "Kind"), ("config", "Configuration"), ("output", "Output"),
    ("params", "Params"), ("macc", "MACC"), ("weights", "Weights"), ("act", "Act. RAM"), ("mark", ""),
)


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def _group_cell(design: Design, index: int) -> Text:
    group = design.layers[index].group
    if not group:
        return Text("")
    first = index == 0 or design.layers[index - 1].group != group
    last = index == len(design.layers) - 1 or design.layers[index + 1].group != group
    if first and last:
        return Text(f"[ {group}", style="bold")
    if first:
        return Text(f"┌ {group}", style="bold")
    return Text("└" if last else "│", style="dim")


class LayerTable(DataTable[Text | str]):
    """The design's layers; the cursor row is the layer edits apply to."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's own parameter name
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            justify = "right" if key in ("index", "params", "macc", "weights", "act") else "left"
            self.add_column(Text(label, justify=justify), key=key)  # type: ignore[arg-type]

    @property
    def layer_index(self) -> int:
        """The layer under the cursor (0 when the design is empty)."""
        return max(0, self.cursor_row)

    def show(self, design: Design, footprint: Footprint | None, error_index: int | None) -> None:
        """Redraw for ``design``; ``footprint`` is its own (None when the design does not analyse)."""
        cursor = self.cursor_row
        self.clear()
        per_layer = {lf.index: lf for lf in footprint.layers} if footprint is not None else {}
        peak = footprint.peak_layer if footprint is not None else None
        heaviest = footprint.heaviest_layer if footprint is not None else None
        for index, layer in enumerate(design.layers):
            lf = per_layer.get(index)
            marks = ("▲" if index == peak else "") + ("◆" if index == heaviest else "")
            if index == error_index:
                marks = "✗"

            def num(text: str) -> Text:
                return Text(text, justify="right")
            row: list[Text | str] = [num(str(index)), _group_cell(design, index), layer.kind, layer.summary()]
            if lf is None:
                row += ["–", num("–"), num("–"), num("–"), num("–")]
            else:
                row += [_shape(lf.output_shape), num(f"{lf.params:,}"), num(human_count(lf.macc)),
                        num(human_bytes(lf.weights_bytes)), num(human_bytes(lf.ram_bytes))]
            row.append(Text(marks, style="bold red" if marks == "✗" else "bold yellow"))
            self.add_row(*row, key=str(index))
        if design.layers:
            self.move_cursor(row=min(max(cursor, 0), len(design.layers) - 1), animate=False)

    def select_layer(self, index: int) -> None:
        """Put the cursor on layer ``index``."""
        if self.row_count:
            self.move_cursor(row=max(0, min(index, self.row_count - 1)), animate=False)
