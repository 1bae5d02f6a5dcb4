"""Build an export bundle: Keras files, float32 and int8 .tflite, C sources, stedgeai commands and a report.

Everything is written into a scratch folder beside the target and moved into place only when complete, so a
failed export leaves nothing that looks like a bundle. The target must be new, empty or an earlier bundle
whose files nobody changed (designer.outdir's manifest); :func:`plan_export` checks that, the source and the
board before any slow step, so a refusal costs no TensorFlow. Progress goes to an ``on_step``
callback (the worker turns it into protocol events). TensorFlow is imported inside the steps that need it.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from designer import outdir, tflite_tools
from designer.boards import Board, BoardError, default_board, find_board
from designer.design import analyze
from designer.export import csource, firmware, readme, report, stedgeai
from designer.export.cortex_m_arena import (
    cortex_m_arena_from_host_measurement,
    measure_host_allocations,
    read_graph,
)
from designer.export.evaluate import evaluate_accuracy, io_quantization, make_test_vectors, ops_used
from designer.export.protocol import STEPS, ExportRequest
from designer.export.source import (
    ExportData,
    ExportError,
    ExportSource,
    data_to_use,
    random_data,
    resolve_source,
    run_data,
)
from designer.graph import lower

if TYPE_CHECKING:
    import keras

StepCallback = Callable[[str, bool, float, str], None]
"""on_step(step, done, seconds, detail): called when a step starts (done False) and when it ends."""

MODEL_FILES: tuple[str, ...] = ("model.keras", "model.h5", "model_float32.tflite", "model_int8.tflite",
                                 "stedgeai.sh", "README.md", "report.md", "report.json")
"""The bundle's files besides its C sources. They never go into a firmware, so they keep plain names."""

def bundle_files(c_name: str) -> tuple[str, ...]:
    """Files every bundle of this C name holds (stedgeai_analyze.txt joins them when stedgeai ran), beside
    the manifest (designer.outdir.MANIFEST_NAME) that lists them all with their sha256."""
    return (*MODEL_FILES, *csource.c_file_names(c_name).values())

BUNDLE_KIND = "cnn-designer-bundle/1"
"""The kind in a bundle's manifest (designer.outdir): only a folder of this kind may be replaced."""


@dataclass(frozen=True)
class ExportResult:
    """A finished bundle: where it is and report.json's content."""

    out_dir: Path
    report: dict[str, Any]

    @property
    def untrained(self) -> bool:
        """Exported from a design, not a trained run."""
        return bool(self.report["untrained"])

    @property
    def warnings(self) -> list[str]:
        """The report's warnings (untrained, int8 accuracy loss, board fit, stedgeai problems)."""
        return list(self.report["warnings"])


def default_out_dir(source: ExportSource) -> Path:
    """``<run>/export`` for a run, ``exports/<c_name>`` (in the working folder) for a design."""
    if source.kind == "run":
        return Path(source.path) / "export"
    return Path("exports") / csource.c_identifier(source.design.name)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _remove_stale_partials(target: Path) -> None:
    """Remove the scratch folders of exports to ``target`` whose process is gone (killed with SIGKILL, or
    the machine went down): a cancelled or failed export cleans up after itself, a killed one cannot."""
    for folder in target.parent.glob(f".{glob.escape(target.name)}.partial-*"):
        pid = folder.name.rsplit(".partial-", 1)[1].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def check_target(target: str | os.PathLike[str]) -> Path:
    """The resolved bundle folder if an export may write it (new, empty, or an unchanged earlier bundle);
    ExportError (one line, offering ``--out DIR/NAME``) otherwise."""
    try:
        return outdir.check_out_dir(target, BUNDLE_KIND)
    except outdir.OutDirError as exc:
        raise ExportError(str(exc)) from None


@dataclass(frozen=True)
class ExportPlan:
    """What an export will read and where it will write, checked before any slow step."""

    source: ExportSource
    board: Board
    target: Path  # resolved: symlinks followed, absolute


def plan_export(request: ExportRequest) -> ExportPlan:
    """Resolve the source (run folder, design file or preset), the board and the bundle folder; ExportError
    names the first that cannot be used. Cheap: no TensorFlow, nothing written."""
    source = resolve_source(request.source)
    if source.trained:
        data_to_use(source, request.data)
    try:
        board = find_board(request.board) if request.board else default_board()
    except BoardError as exc:
        raise ExportError(str(exc)) from None
    try:  # what stedgeai.sh will hold, checked now rather than after the slow steps
        stedgeai.check_script_words(c_name=csource.c_identifier(source.design.name), target=board.series,
                                    compression=request.compression)
    except ValueError as exc:
        raise ExportError(f"cannot write stedgeai.sh for board {board.name}: {exc}") from None
    target = check_target(request.out_dir if request.out_dir else default_out_dir(source))
    return ExportPlan(source, board, target)


def _prepare_target(target: Path) -> Path:
    """A fresh scratch folder beside the (checked) target."""
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_partials(target)
        scratch = parent / f".{target.name}.partial-{os.getpid()}-{time.monotonic_ns()}"
        scratch.mkdir()
        probe = scratch / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ExportError(f"cannot write the export to {target}: the folder {parent} is not writable "
                          f"({exc.strerror or exc})") from None
    return scratch


def _move_into_place(scratch: Path, target: Path) -> None:
    """Record the scratch folder's files in its manifest and install it as ``target`` (designer.outdir)."""
    outdir.write_manifest(scratch, BUNDLE_KIND, [p.name for p in scratch.iterdir() if p.is_file()])
    try:
        outdir.install(scratch, target, BUNDLE_KIND)
    except outdir.OutDirError as exc:
        raise ExportError(f"{exc} (it changed while the export ran)") from None


def _converter_failure(message: str, source: ExportSource, dtype: str) -> str:
    """A sentence naming the layer (when the converter's message names one of ours) and the op at fault."""
    where = "a layer"
    for node in lower(analyze(source.design)).nodes:
        # Keras may suffix a name in the traced graph ("l01_activation_1").
        if re.search(rf"(?<!\w){re.escape(node.name)}(?:_\d+)?(?!\w)", message):
            where = f"layer {node.id} ({node.stats.layer.kind}, Keras name {node.name})"
            break
    op = re.search(r"'(tf\.\w+)' op is neither a custom op nor a flex op", message)
    if op:
        cause = (f"op {op.group(1)} has no TFLite builtin kernel (it would need TF Select, which neither "
                 "TFLite Micro nor X-CUBE-AI runs)")
    else:
        found = re.search(r"op: '(\w+)'|'(tfl?\.\w+)'", message)
        cause = f"op {found.group(1) or found.group(2)}: {message[:300]}" if found else message[:400]
    return f"the TFLite converter cannot lower {where} of '{source.design.name}' to {dtype}: {cause}"


def _convert(model: keras.Model, dtype: str, source: ExportSource,
             representative: Callable[[], Iterator[list[Any]]] | None = None) -> bytes:
    try:
        return tflite_tools.convert(model, dtype, representative)
    except Exception as exc:  # the converter raises ConverterError, RuntimeError, ValueError… all fatal here
        raise ExportError(_converter_failure(" ".join(str(exc).split()), source, dtype)) from None


def _load_model(source: ExportSource, seed: int) -> keras.Model:
    # Imported here: keras pulls in TensorFlow (~5 s).
    import keras

    if source.model_path is not None:
        try:
            return keras.models.load_model(source.model_path, compile=False)
        except Exception as exc:  # a corrupt or foreign .keras file: Keras raises many kinds
            raise ExportError(f"{source.model_path}: cannot load the trained model: {exc}") from None
    from designer.keras_build import build_model

    keras.utils.set_random_seed(seed)
    # Trained-like BN statistics and biases: with Keras' defaults the converter folds layers away and the
    # measured file and arena would be smaller than a trained model's.
    return tflite_tools.make_representative(build_model(source.design, batch_size=1), seed=seed)


def _file_entry(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def export_bundle(request: ExportRequest, on_step: StepCallback | None = None,
                  on_log: Callable[[str], None] | None = None) -> ExportResult:
    """Export ``request.source`` into a bundle folder; ExportError names the cause when it cannot."""
    step_cb = on_step or (lambda *_: None)
    log = on_log or (lambda _: None)
    started: dict[str, float] = {}

    def begin(step: str) -> None:
        assert step in STEPS
        started[step] = time.perf_counter()
        step_cb(step, False, 0.0, "")

    def end(step: str, detail: str = "") -> None:
        step_cb(step, True, time.perf_counter() - started[step], detail)

    plan = plan_export(request)  # refusals come before the first step
    source, board, target = plan.source, plan.board, plan.target
    begin("load")
    scratch = _prepare_target(target)
    try:
        if source.trained:
            data = run_data(source, data=request.data, calibration_images=request.calibration_images,
                            eval_images=request.eval_images, seed=request.seed)
        else:
            data = random_data(source, images=request.calibration_images, seed=request.seed)
        model = _load_model(source, request.seed)
        end("load", f"{source.kind} {source.path}")
        result = _build(request, source, board, data, model, scratch, begin, end, log)
        _move_into_place(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return ExportResult(target, result)


def _build(request: ExportRequest, source: ExportSource, board: Board, data: ExportData, model: keras.Model,
           out: Path, begin: Callable[[str], None], end: Callable[..., None],
           log: Callable[[str], None]) -> dict[str, Any]:
    design = source.design
    c_name = csource.c_identifier(design.name)
    files = csource.c_file_names(c_name)

    begin("convert")
    float_bytes = _convert(model, "float32", source)
    end("convert", f"model_float32.tflite {len(float_bytes)} B")

    begin("quantize")
    calib = data.calibration

    def representative() -> Iterator[list[Any]]:
        for image in calib:
            yield [image[None, ...]]

    int8_bytes = _convert(model, "int8", source, representative)
    q_in, q_out = io_quantization(int8_bytes)
    end("quantize", f"model_int8.tflite {len(int8_bytes)} B, {len(calib)} calibration images")

    begin("measure")
    host = measure_host_allocations(int8_bytes)
    arena = tflite_tools.ArenaMeasurement(host.total_bytes, host.head_bytes, host.tail_bytes)
    smallest = tflite_tools.smallest_arena(int8_bytes, upper_bytes=arena.total_bytes + 64)
    float_arena = tflite_tools.measure_arena(float_bytes)
    graph = read_graph(int8_bytes)
    try:
        ops = firmware.registrations(graph.op_codes)
    except ValueError as exc:
        raise ExportError(f"cannot write {files['ops.h']}: {exc}") from None
    target = cortex_m_arena_from_host_measurement(host, graph)
    end("measure", f"int8 arena: host {arena.total_bytes} B, Cortex-M CMSIS-NN {target.cmsis_nn_bytes} B, "
                   f"reference {target.reference_bytes} B")

    begin("evaluate")
    images = data.test_x if data.test_x is not None else data.calibration
    accuracy, micro_x, micro_y = evaluate_accuracy(float_bytes, int8_bytes, images, data.test_y,
                                                   micro_images=request.micro_eval_images, seed=request.seed)
    vectors = make_test_vectors(int8_bytes, micro_x, micro_y, shape=tuple(design.input_shape),
                           input_range=data.input_range, seed=request.seed)
    end("evaluate", f"tflite-micro on {accuracy.micro_evaluated_on}; LiteRT on {accuracy.litert_evaluated_on}")

    begin("write sources")
    model.save(out / "model.keras")
    # Keras 3 still writes the legacy HDF5 format, which is what X-CUBE-AI imports for Keras models.
    model.save(out / "model.h5")
    (out / "model_float32.tflite").write_bytes(float_bytes)
    (out / "model_int8.tflite").write_bytes(int8_bytes)
    cfg = csource.ModelConfig(c_name, tuple(design.input_shape), data.class_names, q_in.scale, q_in.zero_point,
                              q_out.scale, q_out.zero_point, arena.total_bytes, target.cmsis_nn_bytes,
                              target.reference_bytes, request.arena_margin_bytes, data.preprocessing,
                              untrained=not source.trained)
    sources = {"data.h": csource.model_data_h(c_name, len(int8_bytes)),
               "data.c": csource.model_data_c(c_name, int8_bytes), "config.h": csource.model_config_h(cfg),
               "ops.h": firmware.model_ops_h(c_name, graph.op_codes),
               "test_vectors.h": firmware.test_vectors_h(c_name, vectors),
               "main_example.cc": firmware.main_example_cc(c_name)}
    for role, text in sources.items():
        (out / files[role]).write_text(text, encoding="utf-8")
    script = out / "stedgeai.sh"
    text = stedgeai.shell_script(c_name=c_name, target=board.series, compression=request.compression,
                                 board_name=board.name)
    script.write_text(text, encoding="utf-8")
    script.chmod(0o755)
    (out / "README.md").write_text(readme.bundle_readme(c_name, board, request.compression, ops=ops,
                                                        config=cfg, model_bytes=len(int8_bytes),
                                                        untrained=not source.trained),
                                   encoding="utf-8")
    end("write sources", f"{', '.join(files.values())}; arena {cfg.arena_bytes} B (CMSIS-NN)")

    begin("stedgeai")
    analyze_run = None
    if not request.stedgeai:
        end("stedgeai", "skipped (disabled)")
    elif stedgeai.find_stedgeai() is None:
        end("stedgeai", "skipped: stedgeai is not on PATH")
    else:
        analyze_run = stedgeai.run_analyze(out / "model.h5", c_name=c_name, target=board.series,
                                           compression=request.compression)
        (out / "stedgeai_analyze.txt").write_text(analyze_run.output_text, encoding="utf-8")
        if analyze_run.error:
            log(f"stedgeai analyze: {analyze_run.error}")
        end("stedgeai", analyze_run.error or "analyze report parsed")

    begin("write report")
    facts = report.ExportFacts(
        design=design, analysis=analyze(design), c_name=c_name, source_kind=source.kind,
        source_path=source.path, trained=source.trained, board=board, compression=request.compression,
        calibration=data.description, preprocessing=data.preprocessing, class_names=data.class_names,
        input_quant=asdict(q_in), output_quant=asdict(q_out), arena=asdict(arena), arena_smallest_bytes=smallest,
        arena_config_bytes=cfg.arena_bytes, arena_margin_bytes=request.arena_margin_bytes,
        float32_arena=asdict(float_arena), accuracy=accuracy, cortex_m_arena=target,
        arena_reference_config_bytes=cfg.arena_reference_config_bytes,
        files={name: _file_entry(out / name) for name in sorted(os.listdir(out))
               if (out / name).is_file()},
        analyze_run=analyze_run, run_metrics=source.metrics, int8_ops=tuple(ops_used(int8_bytes)),
        resolver_calls=tuple((name, firmware.resolver_call(reg)) for name, reg in ops),
        test_vectors=vectors.source, c_files=tuple(files.values()),
        bn_as_depthwise=tuple(tflite_tools.unfoldable_batchnorms(model)))
    data_json = report.build_report(facts)
    report.write_report(out, data_json)
    end("write report", f"{len(data_json['warnings'])} warning(s)")
    return data_json
