"""The bundle's report (report.json, and report.md rendered from the same dict) and its README.md.

report.json is the source of truth; report.md shows the same figures for people. Estimates come from
designer.footprint (our models of X-CUBE-AI and TFLite Micro); measured figures from the files themselves, the
tflite-micro interpreter and, when it ran, ``stedgeai analyze``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from designer.boards import Board
from designer.design import Analysis, Design
from designer.export.cortex_m_arena import CortexMArena
from designer.export.evaluate import Accuracy
from designer.export.stedgeai import AnalyzeRun

SCHEMA = 2
ARENA_RULE = ("Cortex-M arena per kernel set = the 64-bit host measurement's head + its tail re-sized for 32-bit "
              "pointers (+ CMSIS-NN scratch buffers and op data for CMSIS-NN), designer/export/cortex_m_arena.py; "
              "configured = that figure rounded up to 16, + the margin, rounded up to 16")
INT8_DROP_WARN_POINTS = 1.0
"""Warn when int8 loses more than this many accuracy points against float32."""

UNTRAINED_WARNING = ("UNTRAINED DESIGN: exported from a design, not a training run. The weights are random: file "
                     "sizes and the arena are right, predictions are meaningless and int8 was calibrated on "
                     "random images. Train the design and export the run.")


TFLM_FLASH_KB = {"int8_registrations": 46.2, "generic_registrations": 77.0, "reference_kernels": 33.6}
"""TFLM library code (KB) for Model4/Model5 on a Cortex-M4 build (arm-none-eabi-gcc, QEMU mps2-an386, issue 15):
CMSIS-NN kernels registered with the Register_*_INT8() variants (what <c_name>_ops.h does), CMSIS-NN with
the plain AddXxx() calls, and the reference kernels."""
TFLM_FLASH_MEASURED_ON = "measured on a Cortex-M4 build of Model4/Model5 (arm-none-eabi-gcc, TFLM + CMSIS-NN)"


def kb_to_bytes(kb: float) -> int:
    """KB as reported by the build, taken as KiB (the larger reading, so a budget check errs safe)."""
    return round(kb * 1024)


@dataclass(frozen=True)
class ExportFacts:
    """What the export measured and decided; the report is built from these alone."""

    design: Design
    analysis: Analysis
    c_name: str
    source_kind: str
    source_path: str
    trained: bool
    board: Board
    compression: str
    calibration: str
    preprocessing: str
    class_names: tuple[str, ...]
    input_quant: dict[str, Any]
    output_quant: dict[str, Any]
    arena: dict[str, Any]  # int8 ArenaMeasurement as a dict (total/head/tail bytes)
    arena_smallest_bytes: int
    arena_config_bytes: int
    arena_margin_bytes: int
    float32_arena: dict[str, Any]
    accuracy: Accuracy
    cortex_m_arena: CortexMArena
    arena_reference_config_bytes: int
    files: dict[str, dict[str, Any]]
    analyze_run: AnalyzeRun | None = None
    run_metrics: dict[str, Any] = field(default_factory=dict)
    int8_ops: tuple[str, ...] = ()  # builtin ops of the int8 model (the TFLM op resolver needs them)
    bn_as_depthwise: tuple[str, ...] = ()  # Keras names of the BNs the .tflite files hold as depthwise convs
    resolver_calls: tuple[tuple[str, str], ...] = ()  # (op, C++ resolver call) as <c_name>_ops.h writes them
    test_vectors: str = ""  # where <c_name>_test_vectors.h's inputs came from
    c_files: tuple[str, ...] = ()


def _estimate(design: Design, runtime: str, dtype: str, compression: str) -> tuple[Any, str]:
    """(Footprint or None, why not) — the estimators may reject an option or be missing."""
    from designer.footprint import estimate

    try:
        return estimate(design, runtime=runtime, dtype=dtype, compression=compression), ""
    except (ImportError, ValueError, NotImplementedError) as exc:
        return None, f"no {runtime} {dtype} estimate: {exc}"


def _footprint_dict(fp: Any) -> dict[str, Any]:
    return {"weights_bytes": fp.weights_bytes, "activations_bytes": fp.activations_bytes,
            "runtime_flash_bytes": fp.runtime_flash_bytes, "runtime_ram_bytes": fp.runtime_ram_bytes,
            "flash_bytes": fp.flash_bytes, "ram_bytes": fp.ram_bytes, "macc": fp.macc}


def _fit(board: Board, flash: int, ram: int) -> dict[str, Any]:
    return {"flash_used_bytes": flash, "ram_used_bytes": ram, "flash_budget_bytes": board.flash_bytes,
            "ram_budget_bytes": board.ram_bytes, "flash_ok": flash <= board.flash_bytes,
            "ram_ok": ram <= board.ram_bytes, "fits": flash <= board.flash_bytes and ram <= board.ram_bytes}


def _row(figure: str, estimated: int | None, measured: int | None, how: str) -> dict[str, Any]:
    diff = None
    if estimated is not None and measured:
        diff = round((estimated - measured) / measured * 100, 1)
    return {"figure": figure, "estimated_bytes": estimated, "measured_bytes": measured, "error_percent": diff,
            "measured_by": how}


def build_report(f: ExportFacts) -> dict[str, Any]:
    """report.json's content."""
    warnings: list[str] = []
    notes: list[str] = []
    if not f.trained:
        warnings.append(UNTRAINED_WARNING)
    tflm_int8, why = _estimate(f.design, "tflm", "int8", f.compression)
    if why:
        notes.append(why)
    xcube, why = _estimate(f.design, "xcubeai", "float32", f.compression)
    if why:
        notes.append(why)
    int8_size = f.files["model_int8.tflite"]["bytes"]
    comparison = [
        _row("int8 .tflite (TFLM flash for the model)", tflm_int8.weights_bytes if tflm_int8 else None, int8_size,
             "file size"),
        # Like with like: the host arena estimate (activations_bytes is the Cortex-M figure).
        _row("TFLM int8 tensor arena (64-bit host)",
             tflm_int8.tflm.arena_host_bytes if tflm_int8 and tflm_int8.tflm else None,
             f.arena["total_bytes"], "tflite-micro print_allocations (64-bit host)"),
        _row("TFLM int8 tensor arena (Cortex-M, CMSIS-NN)",
             tflm_int8.tflm.arena_cortex_m_bytes if tflm_int8 and tflm_int8.tflm else None,
             f.cortex_m_arena.cmsis_nn_bytes, "derived from the host measurement (designer/export/cortex_m_arena.py)"),
    ]
    analyze = f.analyze_run.report if f.analyze_run else None
    cm = f.cortex_m_arena
    if xcube is not None or analyze is not None:
        for figure, attr, rattr in (("X-CUBE-AI weights (float32 .h5)", "weights_bytes", "weights_bytes"),
                                    ("X-CUBE-AI activations", "activations_bytes", "activations_bytes"),
                                    ("X-CUBE-AI total flash", "flash_bytes", "total_flash_bytes"),
                                    ("X-CUBE-AI total RAM", "ram_bytes", "total_ram_bytes")):
            comparison.append(_row(figure, getattr(xcube, attr) if xcube else None,
                                   getattr(analyze, rattr) if analyze else None,
                                   "stedgeai analyze" if analyze else "not measured (stedgeai not run)"))
    # TFLM on the board: the model, the configured CMSIS-NN arena, the library code measured on a Cortex-M4
    # for the registration style <c_name>_ops.h uses, and designer.footprint's runtime RAM estimate.
    lib_flash = kb_to_bytes(TFLM_FLASH_KB["int8_registrations"])
    lib_ram = tflm_int8.runtime_ram_bytes if tflm_int8 else 0
    fit = {"tflm_int8": {**_fit(f.board, int8_size + lib_flash, f.arena_config_bytes + lib_ram),
                         "basis": f"measured .tflite + configured CMSIS-NN arena + TFLM code "
                                  f"{TFLM_FLASH_KB['int8_registrations']} KB (Register_*_INT8, "
                                  f"{TFLM_FLASH_MEASURED_ON}) + estimated runtime RAM"}}
    if analyze is not None:
        fit["xcubeai_float32"] = {**_fit(f.board, analyze.total_flash_bytes, analyze.total_ram_bytes),
                                  "basis": "stedgeai analyze"}
    elif xcube is not None:
        fit["xcubeai_float32"] = {**_fit(f.board, xcube.flash_bytes, xcube.ram_bytes), "basis": "estimate"}
    for name, verdict in fit.items():
        if not verdict["fits"]:
            over = [w for w, ok in (("flash", verdict["flash_ok"]), ("RAM", verdict["ram_ok"])) if not ok]
            warnings.append(f"{name} does not fit {f.board.name}: {' and '.join(over)} over budget "
                            f"({verdict['basis']})")
    c, lite = f.accuracy.micro, f.accuracy.litert
    accuracy = {"interpreter": "tflite-micro (TFLM reference kernels: the int8 output bytes a board computes)",
                "evaluated_on": f.accuracy.micro_evaluated_on, "images": c.images, "float32": c.float32_accuracy,
                "int8": c.int8_accuracy, "top1_agreement": c.agreement, "drop_points": c.drop_points,
                "keras_test_accuracy": f.run_metrics.get("test_accuracy"),
                "litert": {"interpreter": "LiteRT (ai_edge_litert, default delegates: XNNPACK)",
                           "evaluated_on": f.accuracy.litert_evaluated_on, "images": lite.images,
                           "float32": lite.float32_accuracy, "int8": lite.int8_accuracy,
                           "top1_agreement": lite.agreement, "drop_points": lite.drop_points,
                           "int8_bytes_equal_tflite_micro": f.accuracy.litert_int8_bytes_equal,
                           "int8_top1_equal_tflite_micro": f.accuracy.litert_int8_top1_equal}}
    if c.drop_points is not None and c.drop_points > INT8_DROP_WARN_POINTS:
        warnings.append(f"int8 loses {c.drop_points:.1f} accuracy points against float32 "
                        f"({c.float32_accuracy:.2%} -> {c.int8_accuracy:.2%} on {c.images} images, tflite-micro)")
    xcubeai: dict[str, Any] | None = None
    if f.analyze_run is not None:
        xcubeai = {"command": f.analyze_run.command, "error": f.analyze_run.error,
                   "report": analyze.to_dict() if analyze else None}
        if f.analyze_run.error:
            warnings.append(f"stedgeai analyze gave no figures: {f.analyze_run.error}")
    layers = []
    tflm_layers = {lf.index: lf for lf in tflm_int8.layers} if tflm_int8 else {}
    xc_layers = {lf.index: lf for lf in xcube.layers} if xcube else {}
    for s in f.analysis.layers:
        t, x = tflm_layers.get(s.index), xc_layers.get(s.index)
        layers.append({"index": s.index, "kind": s.layer.kind, "summary": s.layer.summary(),
                       "output_shape": list(s.output_shape), "params": s.params_total, "macc": s.macc,
                       "tflm_int8_weights_bytes": t.weights_bytes if t else None,
                       "tflm_int8_ram_bytes": t.ram_bytes if t else None,
                       "xcubeai_weights_bytes": x.weights_bytes if x else None,
                       "xcubeai_ram_bytes": x.ram_bytes if x else None})
    data = {
        "schema": SCHEMA, "design": f.design.name, "c_name": f.c_name, "untrained": not f.trained,
        "source": {"kind": f.source_kind, "path": f.source_path},
        "board": {"name": f.board.name, "series": f.board.series, "flash_bytes": f.board.flash_bytes,
                  "ram_bytes": f.board.ram_bytes},
        "compression": f.compression,
        "model": {"input_shape": list(f.design.input_shape), "classes": f.design.classes,
                  "class_names": list(f.class_names), "params_total": f.analysis.params_total,
                  "params_trainable": f.analysis.params_trainable, "macc": f.analysis.macc},
        "quantization": {"input": f.input_quant, "output": f.output_quant, "calibration": f.calibration,
                         "preprocessing": f.preprocessing, "batchnorm_as_depthwise": list(f.bn_as_depthwise)},
        "arena": {"int8_measured_bytes": f.arena["total_bytes"], "int8_head_bytes": f.arena["head_bytes"],
                  "int8_tail_bytes": f.arena["tail_bytes"], "int8_smallest_bytes": f.arena_smallest_bytes,
                  "margin_bytes": f.arena_margin_bytes, "config_bytes": f.arena_config_bytes,
                  "cortex_m": {"cmsis_nn_bytes": cm.cmsis_nn_bytes, "reference_bytes": cm.reference_bytes,
                               "head_bytes": cm.head_bytes, "cmsis_nn_scratch_head_bytes":
                               cm.cmsis_nn_scratch_head_bytes, "reference_tail_bytes": cm.reference_tail_bytes,
                               "cmsis_nn_tail_bytes": cm.cmsis_nn_tail_bytes,
                               "largest_scratch_bytes": cm.largest_scratch_bytes,
                               "largest_scratch_op": cm.largest_scratch_op,
                               "cmsis_nn_config_bytes": f.arena_config_bytes,
                               "reference_config_bytes": f.arena_reference_config_bytes},
                  "float32_measured_bytes": f.float32_arena["total_bytes"],
                  "rule": ARENA_RULE},
        "tflm": {"resolver_calls": [{"op": op, "call": call} for op, call in f.resolver_calls],
                 "op_count": len(f.resolver_calls),
                 "library_flash_kb": dict(TFLM_FLASH_KB), "library_flash_basis": TFLM_FLASH_MEASURED_ON,
                 "library_flash_bytes": lib_flash, "runtime_ram_bytes": lib_ram,
                 "runtime_ram_basis": "designer.footprint's estimate: interpreter, resolver and stack",
                 "c_files": list(f.c_files), "test_vectors": f.test_vectors},
        "files": f.files, "int8_ops": list(f.int8_ops),
        "estimates": {"tflm_int8": _footprint_dict(tflm_int8) if tflm_int8 else None,
                      "xcubeai_float32": _footprint_dict(xcube) if xcube else None},
        "comparison": comparison, "fit": fit, "accuracy": accuracy, "layers": layers, "xcubeai_analyze": xcubeai,
        "warnings": warnings, "notes": notes,
    }
    # Through JSON and back, so the dict callers get equals what report.json holds (tuples become lists).
    return json.loads(json.dumps(data))


def _n(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def render_markdown(r: dict[str, Any]) -> str:
    """report.md from report.json's content."""
    out = [f"# Export of {r['design']}", ""]
    if r["untrained"]:
        out += [f"> **WARNING — {UNTRAINED_WARNING}**", ">"]
    for w in r["warnings"]:
        if w != UNTRAINED_WARNING:
            out.append(f"> **Warning:** {w}")
    if r["warnings"]:
        out.append("")
    m, q, a = r["model"], r["quantization"], r["arena"]
    out += [f"Source: {r['source']['kind']} `{r['source']['path']}` · board {r['board']['name']} "
            f"({r['board']['series']}, {_n(r['board']['flash_bytes'])} B flash, {_n(r['board']['ram_bytes'])} B "
            f"RAM) · X-CUBE-AI compression {r['compression']} · C name `{r['c_name']}`", "",
            f"Input {'×'.join(map(str, m['input_shape']))}, {m['classes']} classes, {_n(m['params_total'])} "
            f"params, {_n(m['macc'])} MACC.", "",
            "## Files", "", "| file | bytes |", "|---|---:|"]
    out += [f"| {name} | {_n(e['bytes'])} |" for name, e in r["files"].items()]
    out += ["", "## Estimated vs measured", "", "| figure | estimated (B) | measured (B) | error | measured by |",
            "|---|---:|---:|---:|---|"]
    for row in r["comparison"]:
        err = "–" if row["error_percent"] is None else f"{row['error_percent']:+.1f} %"
        out.append(f"| {row['figure']} | {_n(row['estimated_bytes'])} | {_n(row['measured_bytes'])} | {err} | "
                   f"{row['measured_by']} |")
    cm, t = a["cortex_m"], r["tflm"]
    out += ["", "## Tensor arena (TFLite Micro, int8)", "",
            f"| kernel set | derived for a 32-bit Cortex-M (B) | configured in {r['c_name']}_config.h (B) |",
            "|---|---:|---:|",
            f"| CMSIS-NN (the default: `{r['c_name'].upper()}_TENSOR_ARENA_SIZE`) | {_n(cm['cmsis_nn_bytes'])} | "
            f"{_n(cm['cmsis_nn_config_bytes'])} |",
            f"| reference (`{r['c_name'].upper()}_USE_REFERENCE_KERNELS`) | {_n(cm['reference_bytes'])} | "
            f"{_n(cm['reference_config_bytes'])} |",
            f"| 64-bit host, tflite-micro Python (measured) | {_n(a['int8_measured_bytes'])} | – |", "",
            f"Rule: {a['rule']} (margin {_n(a['margin_bytes'])} B). Host measurement: head "
            f"{_n(a['int8_head_bytes'])} + tail {_n(a['int8_tail_bytes'])} B (the smallest host arena that "
            f"constructs: {_n(a['int8_smallest_bytes'])} B). Cortex-M: head {_n(cm['head_bytes'])} B "
            f"(+{_n(cm['cmsis_nn_scratch_head_bytes'])} B of CMSIS-NN scratch; the largest, "
            f"{_n(cm['largest_scratch_bytes'])} B, for {cm['largest_scratch_op'] or 'no op'}), tail "
            f"{_n(cm['reference_tail_bytes'])} B with reference kernels, {_n(cm['cmsis_nn_tail_bytes'])} B with "
            f"CMSIS-NN. float32 model on the host: {_n(a['float32_measured_bytes'])} B.", "",
            "## TFLite Micro on the board", "",
            f"Ops ({t['op_count']}, registered by `{r['c_name']}_register_ops()` in `{r['c_name']}_ops.h`): "
            + ", ".join(f"`{c['call']}`" for c in t["resolver_calls"]) + ".", "",
            f"TFLM library flash: {t['library_flash_kb']['int8_registrations']} KB with the `Register_*_INT8()` "
            f"registrations the ops header uses (CMSIS-NN kernels), "
            f"{t['library_flash_kb']['generic_registrations']} KB with plain `AddXxx()` calls, "
            f"{t['library_flash_kb']['reference_kernels']} KB with the reference kernels; {t['library_flash_basis']}. "
            f"Board fit counts {_n(t['library_flash_bytes'])} B. Runtime RAM besides the arena: "
            f"{_n(t['runtime_ram_bytes'])} B ({t['runtime_ram_basis']}).", "",
            f"Test vectors (`{r['c_name']}_test_vectors.h`): {t['test_vectors']}.", "",
            "## Board fit", "", "| runtime | flash used / budget | RAM used / budget | fits | basis |",
            "|---|---:|---:|---|---|"]
    for name, v in r["fit"].items():
        out.append(f"| {name} | {_n(v['flash_used_bytes'])} / {_n(v['flash_budget_bytes'])} | "
                   f"{_n(v['ram_used_bytes'])} / {_n(v['ram_budget_bytes'])} | {'yes' if v['fits'] else '**NO**'} | "
                   f"{v['basis']} |")
    acc, lite = r["accuracy"], r["accuracy"]["litert"]
    out += ["", "## Accuracy: float32 vs int8", "",
            "| interpreter | images | float32 | int8 | top-1 agreement |", "|---|---|---:|---:|---:|",
            f"| **{acc['interpreter']}** | {acc['evaluated_on']} | {_pct(acc['float32'])} | {_pct(acc['int8'])} | "
            f"{_pct(acc['top1_agreement'])} |",
            f"| {lite['interpreter']} | {lite['evaluated_on']} | {_pct(lite['float32'])} | {_pct(lite['int8'])} | "
            f"{_pct(lite['top1_agreement'])} |", "",
            f"The first row is what the board computes. On the tflite-micro images, LiteRT's int8 output bytes "
            f"equal tflite-micro's on {lite['int8_bytes_equal_tflite_micro']:,} of {acc['images']:,} and its top-1 "
            f"class on {lite['int8_top1_equal_tflite_micro']:,}."]
    if acc["drop_points"] is not None:
        out.append(f"int8 changes accuracy by {-acc['drop_points']:+.2f} points (tflite-micro).")
    out += ["", "## Quantization", "",
            f"Input scale {q['input']['scale']:.9g}, zero point {q['input']['zero_point']}; output scale "
            f"{q['output']['scale']:.9g}, zero point {q['output']['zero_point']}. Preprocessing: "
            f"{q['preprocessing']}. Calibration: {q['calibration']}.", ""]
    if q["batchnorm_as_depthwise"]:
        out[-1:] = ["", f"BatchNormalization layers the converter cannot fold into a conv "
                    f"({', '.join(q['batchnorm_as_depthwise'])}) are 1x1 depthwise convolutions in the .tflite "
                    "files: the same float function, with per-channel int8 scales where the converter would "
                    "write MUL + ADD with one scale per tensor. model.keras and model.h5 keep them as "
                    "BatchNormalization (X-CUBE-AI folds them itself).", ""]
    xa = r["xcubeai_analyze"]
    if xa and xa["report"]:
        x = xa["report"]
        out += ["## X-CUBE-AI (stedgeai analyze)", "", f"`{' '.join(xa['command'])}`", "",
                f"Weights {_n(x['weights_bytes'])} B, activations {_n(x['activations_bytes'])} B, library "
                f"{_n(x['library_flash_bytes'])} B flash / {_n(x['library_ram_bytes'])} B RAM; total flash "
                f"{_n(x['total_flash_bytes'])} B, total RAM {_n(x['total_ram_bytes'])} B; MACC {_n(x['macc'])}.", ""]
    out += ["## Per-layer footprint (estimates)", "",
            "| # | kind | settings | output | params | MACC | TFLM int8 weights | TFLM int8 RAM | X-CUBE-AI weights "
            "| X-CUBE-AI RAM |", "|---:|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in r["layers"]:
        out.append(f"| {row['index']} | {row['kind']} | {row['summary']} | {'×'.join(map(str, row['output_shape']))}"
                   f" | {_n(row['params'])} | {_n(row['macc'])} | {_n(row['tflm_int8_weights_bytes'])} | "
                   f"{_n(row['tflm_int8_ram_bytes'])} | {_n(row['xcubeai_weights_bytes'])} | "
                   f"{_n(row['xcubeai_ram_bytes'])} |")
    if r["notes"]:
        out += ["", "Notes: " + "; ".join(r["notes"])]
    return "\n".join(out) + "\n"


def write_report(out: Path, data: dict[str, Any]) -> None:
    """report.json and report.md into ``out``."""
    (out / "report.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(render_markdown(data), encoding="utf-8")
