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
from designer.export.evaluate import Comparison
from designer.export.stedgeai import AnalyzeRun

SCHEMA = 1
INT8_DROP_WARN_POINTS = 1.0
"""Warn when int8 loses more than this many accuracy points against float32."""

UNTRAINED_WARNING = ("UNTRAINED DESIGN: exported from a design, not a training run. The weights are random: file "
                     "sizes and the arena are right, predictions are meaningless and int8 was calibrated on "
                     "random images. Train the design and export the run.")


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
    comparison: Comparison
    evaluated_on: str
    files: dict[str, dict[str, Any]]
    analyze_run: AnalyzeRun | None = None
    run_metrics: dict[str, Any] = field(default_factory=dict)
    int8_ops: tuple[str, ...] = ()  # builtin ops of the int8 model (the TFLM op resolver needs them)
    bn_as_depthwise: tuple[str, ...] = ()  # Keras names of the BNs the .tflite files hold as depthwise convs


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
        _row("TFLM int8 tensor arena", tflm_int8.tflm.arena_host_bytes if tflm_int8 and tflm_int8.tflm else None,
             f.arena["total_bytes"], "tflite-micro print_allocations (64-bit host)"),
    ]
    analyze = f.analyze_run.report if f.analyze_run else None
    if xcube is not None or analyze is not None:
        for figure, attr, rattr in (("X-CUBE-AI weights (float32 .h5)", "weights_bytes", "weights_bytes"),
                                    ("X-CUBE-AI activations", "activations_bytes", "activations_bytes"),
                                    ("X-CUBE-AI total flash", "flash_bytes", "total_flash_bytes"),
                                    ("X-CUBE-AI total RAM", "ram_bytes", "total_ram_bytes")):
            comparison.append(_row(figure, getattr(xcube, attr) if xcube else None,
                                   getattr(analyze, rattr) if analyze else None,
                                   "stedgeai analyze" if analyze else "not measured (stedgeai not run)"))
    # TFLM on the board: the measured model and configured arena, plus our estimate of the runtime library.
    lib_flash = tflm_int8.runtime_flash_bytes if tflm_int8 else 0
    lib_ram = tflm_int8.runtime_ram_bytes if tflm_int8 else 0
    fit = {"tflm_int8": {**_fit(f.board, int8_size + lib_flash, f.arena_config_bytes + lib_ram),
                         "basis": "measured .tflite + configured arena + estimated TFLM library"}}
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
    c = f.comparison
    accuracy = {"evaluated_on": f.evaluated_on, "images": c.images, "float32": c.float32_accuracy,
                "int8": c.int8_accuracy, "top1_agreement": c.agreement, "drop_points": c.drop_points,
                "keras_test_accuracy": f.run_metrics.get("test_accuracy")}
    if c.drop_points is not None and c.drop_points > INT8_DROP_WARN_POINTS:
        warnings.append(f"int8 loses {c.drop_points:.1f} accuracy points against float32 "
                        f"({c.float32_accuracy:.2%} -> {c.int8_accuracy:.2%} on {c.images} images)")
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
                  "float32_measured_bytes": f.float32_arena["total_bytes"],
                  "note": "Measured on a 64-bit host: a 32-bit Cortex-M needs less for the persistent tail"},
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
    out += ["", "## Tensor arena (TFLite Micro, int8)", "",
            f"Measured {_n(a['int8_measured_bytes'])} B (head {_n(a['int8_head_bytes'])} + tail "
            f"{_n(a['int8_tail_bytes'])}); the smallest arena that constructs is {_n(a['int8_smallest_bytes'])} B. "
            f"model_config.h asks for {_n(a['config_bytes'])} B (+{_n(a['margin_bytes'])} B margin, rounded up to "
            f"16). {a['note']}. float32 model: {_n(a['float32_measured_bytes'])} B.", "",
            f"int8 ops (register them in a TFLM MicroMutableOpResolver): {', '.join(r['int8_ops'])}.", "",
            "## Board fit", "", "| runtime | flash used / budget | RAM used / budget | fits | basis |",
            "|---|---:|---:|---|---|"]
    for name, v in r["fit"].items():
        out.append(f"| {name} | {_n(v['flash_used_bytes'])} / {_n(v['flash_budget_bytes'])} | "
                   f"{_n(v['ram_used_bytes'])} / {_n(v['ram_budget_bytes'])} | {'yes' if v['fits'] else '**NO**'} | "
                   f"{v['basis']} |")
    acc = r["accuracy"]
    out += ["", "## Accuracy: float32 vs int8 (LiteRT interpreter)", "",
            f"On {acc['evaluated_on']}: float32 {_pct(acc['float32'])}, int8 {_pct(acc['int8'])}, top-1 agreement "
            f"{_pct(acc['top1_agreement'])}."]
    if acc["drop_points"] is not None:
        out.append(f"int8 changes accuracy by {-acc['drop_points']:+.2f} points.")
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


def bundle_readme(c_name: str, board: Board, compression: str, *, untrained: bool) -> str:
    """README.md of the bundle: what each file is and how to use it in STM32CubeIDE or a TFLM project."""
    p = c_name.upper()
    warn = f"\n> **WARNING:** {UNTRAINED_WARNING}\n" if untrained else ""
    return f"""# {c_name}: exported by cnn-designer
{warn}
| file | what it is |
|---|---|
| model.keras, model.h5 | the Keras model (float32); X-CUBE-AI imports the .h5 |
| model_float32.tflite | TensorFlow Lite, float32 |
| model_int8.tflite | TensorFlow Lite, full-integer int8 (int8 input and output) |
| model_data.h / model_data.c | model_int8.tflite as `{c_name}_model_data[]` (16-byte aligned) and its length |
| model_config.h | input shape, input/output quantization, class names, `{p}_TENSOR_ARENA_SIZE` |
| stedgeai.sh | `stedgeai analyze` / `generate` for {board.series} ({board.name}) |
| report.md / report.json | footprint estimated vs measured, board fit, float32 vs int8 accuracy |

## STM32CubeIDE with X-CUBE-AI

1. In STM32CubeMX (or the CubeIDE .ioc editor) enable *Software Packs → X-CUBE-AI* (Core, and the
   *Application* "SystemPerformance" or "ApplicationTemplate").
2. Add a network, choose *Keras* and `model.h5` (float32; set compression to `{compression}`), or *TFLite* and
   `model_int8.tflite` (already quantized). Name it `{c_name}`, press *Analyze*, then generate the code.
3. Or from a shell: `./stedgeai.sh analyze` checks flash and RAM for {board.series}; `./stedgeai.sh generate`
   writes `{c_name}.c` / `{c_name}_data.c` into `stedgeai_out/`; add those and X-CUBE-AI's runtime library
   to your project and call `ai_{c_name}_create_and_init()`, `ai_{c_name}_run()`.

## A plain TensorFlow Lite Micro project

Add `model_data.c`, `model_data.h` and `model_config.h` to a project built with TFLite Micro (with CMSIS-NN
kernels for Cortex-M), then:

```c++
#include "model_data.h"
#include "model_config.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"

alignas(16) static uint8_t tensor_arena[{p}_TENSOR_ARENA_SIZE];

const tflite::Model* model = tflite::GetModel({c_name}_model_data);
static tflite::MicroMutableOpResolver<8> resolver;  // add the ops report.md lists (Conv2D, FullyConnected…)
static tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, sizeof tensor_arena);
interpreter.AllocateTensors();
int8_t* in = interpreter.input(0)->data.int8;  // {p}_INPUT_SIZE values:
// in[i] = clamp(round(x[i] / {p}_INPUT_SCALE) + {p}_INPUT_ZERO_POINT, -128, 127), x = the preprocessed pixel
interpreter.Invoke();
int8_t* scores = interpreter.output(0)->data.int8;  // {p}_NUM_CLASSES scores; argmax is the class
```

The arena size was measured on a 64-bit host with tflite-micro and given a margin (see model_config.h);
`interpreter.arena_used_bytes()` after `AllocateTensors()` tells the figure on the board.
"""
