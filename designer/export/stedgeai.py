"""ST Edge AI Core (X-CUBE-AI's ``stedgeai``): command lines, running ``analyze``, parsing its report.

The parser reads what ``stedgeai analyze`` prints (or the text STM32CubeMX shows, which appends a short
"Total Flash / Total Ram" block). Figures come from several places in one report (the summary header, the
"Summary" table, the final block); every place that states a figure must agree, so a file holding two runs
interleaved line by line is accepted when both runs give the same figures and refused, naming the figure and
the values, when they do not. No TensorFlow here: ``cnn-designer report`` must start fast.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from designer.boards import SERIES_RE
from designer.export.csource import check_c_identifier


class ReportParseError(ValueError):
    """A text that is not a usable X-CUBE-AI analyze report; the message names the file and the cause."""


@dataclass(frozen=True)
class AnalyzeLayer:
    """One row of the report's per-layer table ("Model name - ...")."""

    m_id: int
    name: str
    layer_type: str  # the original framework layer type, e.g. "Conv2D"
    output_shape: str  # as printed, e.g. "[b:1,h:32,w:32,c:32]"
    params: int
    param_bytes: int  # size of the layer's parameters as X-CUBE-AI stores them, in bytes
    macc: int
    connected_to: str


@dataclass(frozen=True)
class AnalyzeReport:
    """The figures of one ``stedgeai analyze`` run; every *_bytes field is in bytes."""

    weights_bytes: int  # flash for the weights (after compression)
    activations_bytes: int  # the activations buffer (RAM)
    library_flash_bytes: int  # runtime library code + constants in flash ("RT total" FLASH)
    library_ram_bytes: int  # runtime library data in RAM ("RT total" RAM)
    total_flash_bytes: int
    total_ram_bytes: int
    macc: int | None = None
    params: int | None = None
    input_bytes: int | None = None
    output_bytes: int | None = None
    model_file: str = ""
    model_name: str = ""
    c_name: str = ""
    target: str = ""
    compression: str = ""
    tool_version: str = ""
    runs: int = 1  # analyze runs found in the text (interleaved copies that agree count separately)
    warnings: tuple[str, ...] = ()
    layers: tuple[AnalyzeLayer, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        data = asdict(self)
        data["layers"] = [asdict(layer) for layer in self.layers]
        data["warnings"] = list(self.warnings)
        return data


_HEADER = re.compile(r"^\s*(model file|c_name|compression|target/series|model_name|params #|macc|"
                     r"weights \(ro\)|activations \(rw\))\s*:\s+(.*?)\s*$")
_FINAL = re.compile(r"^\s*(Model file|Total Flash|Total Ram|Weights|Activations|Library|Input|Output):"
                    r"\s+(.*?)\s*$")
_RT_TOTAL = re.compile(r"^\s*RT total\s+([\d,]+)\s+[\d.]+%\s+([\d,]+)\s+[\d.]+%\s*$")
_SUMMARY_TOTAL = re.compile(r"^\s*TOTAL\s+([\d,]+)\s+([\d,]+)\s*$")
_VERSION = re.compile(r"^\s*(ST Edge AI Core v\S+)")
_BYTES = re.compile(r"^([\d,]+)\s*B\b")
_INT = re.compile(r"^([\d,]+)")
_LAYER_ROW = re.compile(r"^\s*(\d+)?\s+(\S+) \((\w+)\)\s+(\[[^\]]*\])(.*)$")
_RUN_START = re.compile(r"^\s*Exec/report summary \(analyze\)")
_NOTES = (re.compile(r"bigger than available", re.IGNORECASE), re.compile(r"^\s*(E|W)\d{3}\(", re.IGNORECASE))


def _number(text: str) -> int:
    return int(text.replace(",", ""))


class _Figures:
    """Values seen for each figure, with the line each came from, so disagreements can be named."""

    def __init__(self) -> None:
        self.seen: dict[str, list[tuple[int, Any]]] = {}

    def add(self, key: str, line_no: int, value: Any) -> None:
        self.seen.setdefault(key, []).append((line_no, value))

    def get(self, key: str, source: str) -> Any:
        values = self.seen.get(key, [])
        distinct = sorted({v for _, v in values}, key=str)
        if len(distinct) > 1:
            where = ", ".join(f"{v} (line {n})" for n, v in values[:6])
            raise ReportParseError(
                f"{source}: the report holds several analyze runs with different figures for {key}: {where}; "
                "save each run's output to its own file")
        return distinct[0] if distinct else None


def _final_block_library(lines: list[tuple[int, str]]) -> tuple[list[int], list[int]]:
    """Library values under "Total Flash" and under "Total Ram" in the final block (order says which)."""
    flash: list[int] = []
    ram: list[int] = []
    section: list[int] | None = None
    for _, line in lines:
        m = _FINAL.match(line)
        if not m:
            continue
        key, value = m.groups()
        if key == "Total Flash":
            section = flash
        elif key == "Total Ram":
            section = ram
        elif key == "Library" and section is not None and (b := _BYTES.match(value)):
            section.append(_number(b.group(1)))
    return flash, ram


def _parse_layers(lines: list[tuple[int, str]]) -> tuple[AnalyzeLayer, ...]:
    rows: dict[str, AnalyzeLayer] = {}
    last_id = 0
    for _, line in lines:
        m = _LAYER_ROW.match(line)
        if not m:
            continue
        m_id_text, name, layer_type, oshape, rest = m.groups()
        params = param_bytes = macc = 0
        connected = ""
        for token in rest.split():
            if "/" in token and (parts := token.split("/")) and all(_INT.fullmatch(p) for p in parts):
                params, param_bytes = _number(parts[0]), _number(parts[1])
            elif _INT.fullmatch(token) and not connected:
                macc = _number(token)
            else:
                connected = token
        if m_id_text is not None:
            m_id = last_id = int(m_id_text)
        else:
            # A continuation row belongs to the m_id of the row it is connected to (conv2d under input_0,
            # dense under dense_dense); interleaved runs make "the previous row" unreliable.
            m_id = rows[connected].m_id if connected in rows else last_id
        rows.setdefault(name, AnalyzeLayer(m_id, name, layer_type, oshape, params, param_bytes, macc, connected))
    return tuple(rows.values())


def parse_report(text: str, *, source: str = "<report>") -> AnalyzeReport:
    """Parse an analyze report; ReportParseError names ``source`` and what is missing or contradictory."""
    raw = [line.replace("\u00a0", " ").rstrip() for line in text.splitlines()]
    starts = [i for i, line in enumerate(raw) if _RUN_START.match(line)]
    # Runs written one after another (a run's totals before the next run's start): keep the last one.
    # Interleaved runs start together, before any totals, and are all kept: their figures must then agree.
    first = 0
    for start in starts:
        if start == starts[0] or any(_FINAL.match(line) or _SUMMARY_TOTAL.match(line)
                                     for line in raw[first:start]):
            first = start
    lines = list(enumerate(raw, start=1))[first:]
    runs = max(1, sum(1 for _, line in lines if _RUN_START.match(line)))

    figures = _Figures()
    version = ""
    notes: list[str] = []
    for i, line in enumerate(raw):
        if v := _VERSION.match(line):
            version = v.group(1)  # the last one before the kept run starts (the tool prints it first)
            if i >= first:
                break
    for line_no, line in lines:
        if any(p.search(line) for p in _NOTES) and line.strip() not in notes:
            notes.append(line.strip())
        if m := _HEADER.match(line):
            key, value = m.groups()
            if key in ("weights (ro)", "activations (rw)"):
                if b := _BYTES.match(value):
                    figures.add("weights" if key.startswith("weights") else "activations", line_no,
                                _number(b.group(1)))
            elif key in ("macc", "params #"):
                if n := _INT.match(value):
                    figures.add(key.rstrip(" #"), line_no, _number(n.group(1)))
            else:
                figures.add(key, line_no, value.split()[0] if key != "model file" else value)
        elif m := _FINAL.match(line):
            key, value = m.groups()
            if key == "Model file":
                figures.add("model file name", line_no, value)
            elif key != "Library" and (b := _BYTES.match(value)):
                figures.add(key.lower().replace("total ", "total_"), line_no, _number(b.group(1)))
        elif m := _RT_TOTAL.match(line):
            figures.add("library flash", line_no, _number(m.group(1)))
            figures.add("library ram", line_no, _number(m.group(2)))
        elif m := _SUMMARY_TOTAL.match(line):
            figures.add("total_flash", line_no, _number(m.group(1)))
            figures.add("total_ram", line_no, _number(m.group(2)))

    weights = figures.get("weights", source)
    activations = figures.get("activations", source)
    total_flash = figures.get("total_flash", source)
    total_ram = figures.get("total_ram", source)
    missing = [name for name, value in (("weights", weights), ("activations", activations),
                                        ("Total Flash", total_flash), ("Total Ram", total_ram)) if value is None]
    if missing:
        raise ReportParseError(f"{source}: not a complete X-CUBE-AI analyze report: no {', '.join(missing)} "
                               "figure found (expected 'weights (ro)', 'activations (rw)' and the "
                               "Summary table or a 'Total Flash:' block)")
    lib_flash = figures.get("library flash", source)
    lib_ram = figures.get("library ram", source)
    block_flash, block_ram = _final_block_library(lines)
    if lib_flash is None:
        # No Summary table: the final block's Total Flash is weights + library, by construction.
        lib_flash = block_flash[0] if runs == 1 and len(block_flash) == 1 else total_flash - weights
    if lib_ram is None:
        lib_ram = block_ram[0] if runs == 1 and len(block_ram) == 1 else total_ram - activations
    model_file = figures.get("model file", source) or figures.get("model file name", source) or ""
    return AnalyzeReport(
        weights_bytes=weights, activations_bytes=activations, library_flash_bytes=lib_flash,
        library_ram_bytes=lib_ram, total_flash_bytes=total_flash, total_ram_bytes=total_ram,
        macc=figures.get("macc", source), params=figures.get("params", source),
        input_bytes=figures.get("input", source), output_bytes=figures.get("output", source),
        model_file=model_file, model_name=figures.get("model_name", source) or "",
        c_name=figures.get("c_name", source) or "", target=figures.get("target/series", source) or "",
        compression=figures.get("compression", source) or "", tool_version=version, runs=runs,
        warnings=tuple(notes), layers=_parse_layers(lines))


def load_report(path: str | os.PathLike[str]) -> AnalyzeReport:
    """Read and parse a saved report file (UTF-8; Windows line ends and non-breaking spaces are fine)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ReportParseError(f"{p}: cannot read the report: {exc.strerror or exc}") from None
    return parse_report(text, source=str(p))


# --- command lines -------------------------------------------------------------------------------------------

def analyze_command(*, model: str, c_name: str, target: str, compression: str = "high",
                    workspace: str = "stedgeai_ws", output: str = "stedgeai_out") -> list[str]:
    """``stedgeai analyze`` for one model file (.h5 keeps float32 weights, compression applies to dense)."""
    cmd = ["stedgeai", "analyze", "--target", target, "--name", c_name, "-m", model]
    if not model.endswith(".tflite"):
        # Compression only applies to float weights; an int8 model is already quantized.
        cmd += ["--compression", compression]
    return cmd + ["--workspace", workspace, "--output", output]


def generate_command(*, model: str, c_name: str, target: str, compression: str = "high",
                     workspace: str = "stedgeai_ws", output: str = "stedgeai_out") -> list[str]:
    """``stedgeai generate``: the C sources (network.c, network_data.c) for an STM32CubeIDE project."""
    cmd = analyze_command(model=model, c_name=c_name, target=target, compression=compression,
                          workspace=workspace, output=output)
    cmd[1] = "generate"
    return cmd


def _comment(text: str) -> str:
    """One shell comment line: refuses anything that could end the line (newline, carriage return, any
    control character), so nothing in it can become a command."""
    if not text.isprintable():
        raise ValueError(f"refusing to write a non-printable character into stedgeai.sh: {text!r}")
    return f"# {text}"


def check_script_words(*, c_name: str, target: str, compression: str) -> None:
    """ValueError unless every value a stedgeai.sh command holds is of the expected form (the words are also
    shlex-quoted; this keeps them what the tool expects)."""
    if not SERIES_RE.fullmatch(target):
        raise ValueError(f"target series must match {SERIES_RE.pattern} (an ST Edge AI target such as stm32l4); "
                         f"received {target!r}")
    check_c_identifier(c_name)
    check_c_identifier(compression)


def shell_script(*, c_name: str, target: str, compression: str, board_name: str = "") -> str:
    """stedgeai.sh: the analyze and generate commands for the float .h5 and the int8 .tflite.

    Every word is ``shlex.quote``d and every value checked (:func:`check_script_words`); comment lines refuse
    line breaks and control characters.
    """
    check_script_words(c_name=c_name, target=target, compression=compression)

    def line(cmd: list[str]) -> str:
        return shlex.join(cmd)

    h5 = dict(model="model.h5", c_name=c_name, target=target, compression=compression)
    int8 = dict(model="model_int8.tflite", c_name=f"{c_name}_int8", target=target, compression=compression,
                workspace="stedgeai_ws_int8", output="stedgeai_out_int8")
    board = f"board {board_name}, " if board_name else ""
    return "\n".join([
        "#!/bin/sh",
        "# ST Edge AI Core (X-CUBE-AI) command lines for this bundle; run from the bundle folder.",
        _comment(f"Target series {target} ({board}--target {shlex.quote(target)}); float .h5 with --compression "
                 f"{compression}, or the int8 .tflite"),
        "# (full-integer PTQ; compression does not apply). Needs `stedgeai` on PATH (X-CUBE-AI installs it",
        "# under STM32Cube/Repository/Packs/STMicroelectronics/X-CUBE-AI/<version>/Utilities/<os>/).",
        "set -e",
        'cd "$(dirname "$0")"',
        'case "${1:-analyze}" in',
        "  analyze)",
        f"    {line(analyze_command(**h5))}",
        f"    {line(analyze_command(**int8))}",
        "    ;;",
        "  generate)",
        f"    {line(generate_command(**h5))}",
        f"    {line(generate_command(**int8))}",
        "    ;;",
        '  *) echo "usage: $0 [analyze|generate]" >&2; exit 2 ;;',
        "esac",
        "",
    ])


# --- running it ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AnalyzeRun:
    """The outcome of running ``stedgeai analyze``: the report, or why there is none."""

    command: list[str]
    report: AnalyzeReport | None
    output_text: str  # what stedgeai printed (stdout then stderr)
    error: str = ""


def find_stedgeai() -> str | None:
    """The ``stedgeai`` executable on PATH, or None."""
    return shutil.which("stedgeai")


def run_analyze(model_path: Path, *, c_name: str, target: str, compression: str,
                timeout_s: float = 600.0) -> AnalyzeRun:
    """Run ``stedgeai analyze`` on a model in a scratch workspace and parse what it reports.

    A missing tool, a failing run or an unreadable report gives an AnalyzeRun with ``error`` set, never an
    exception: X-CUBE-AI's figures are a bonus beside ours, not a condition of the export.
    """
    exe = find_stedgeai()
    with tempfile.TemporaryDirectory(prefix="stedgeai-") as scratch:
        cmd = analyze_command(model=str(model_path), c_name=c_name, target=target, compression=compression,
                              workspace=str(Path(scratch, "ws")), output=str(Path(scratch, "out")))
        if exe is None:
            return AnalyzeRun(cmd, None, "", "stedgeai is not on PATH")
        try:
            done = subprocess.run([exe, *cmd[1:]], capture_output=True, text=True, timeout=timeout_s,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return AnalyzeRun(cmd, None, "", f"could not run stedgeai: {exc}")
        text = done.stdout + (("\n" + done.stderr) if done.stderr else "")
        if done.returncode != 0:
            tail = " ".join(text.strip().splitlines()[-3:])
            return AnalyzeRun(cmd, None, text, f"stedgeai analyze exited with status {done.returncode}: {tail}")
        saved = Path(scratch, "out", f"{c_name}_analyze_report.txt")
        report_text = saved.read_text(encoding="utf-8", errors="replace") if saved.is_file() else done.stdout
        try:
            report = parse_report(report_text, source="stedgeai analyze output")
        except ReportParseError as exc:
            return AnalyzeRun(cmd, None, text, str(exc))
        return AnalyzeRun(cmd, report, text)
