"""The training worker: ``python -m designer.training.worker --config JSON`` trains one design and reports.

It speaks the protocol of :mod:`designer.training.protocol`, one JSON object per line on its stdout. At start
:func:`main` moves file descriptor 1 onto the run's worker.log (with fd 2), so nothing Keras, TensorFlow or the
C++ runtime prints can reach the protocol stream, which is written to a duplicate of the original stdout.

Stopping: SIGINT, SIGTERM or a ``cancel`` line on stdin stops training after the current step, saves
last.keras and ends with ``finished`` (status ``cancelled``). Any error ends with a ``failed`` event carrying
its reason, then a non-zero exit. :class:`Worker` takes its streams and cancel flag as arguments, so tests run
it in-process.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import threading
import traceback
import zlib
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from designer.design import Design, DesignError
from designer.training import runs
from designer.training.datasets import PREPROCESSING, DataError, ImageData, load_data, make_pipelines
from designer.training.protocol import (
    CANCEL_COMMAND,
    Event,
    Failed,
    Finished,
    Log,
    ProtocolError,
    Started,
    TrainConfig,
    encode_event,
)
from designer.training.recipe import (
    Cancelled,
    Monitor,
    compile_model,
    evaluate_metrics,
    keras_callback,
    one_hot_labels,
    plateau_callbacks,
    recipe_record,
    reschedule,
    resolve_recipe,
    save_model,
)

EXIT_OK = 0
EXIT_FAILED = 1
_EXPECTED_ERRORS = (DataError, DesignError, ProtocolError, runs.RunError)


class Worker:
    """One training job: ``run()`` emits events to ``out`` and returns the exit status."""

    def __init__(self, config: TrainConfig, out: IO[str], *, err: IO[str] | None = None,
                 cancel: threading.Event | None = None, design: Design | None = None) -> None:
        self.config = config
        self.out = out
        self.err = err if err is not None else sys.stderr
        self.cancel_event = cancel if cancel is not None else threading.Event()
        self.design = design
        self.run_dir: Path | None = None
        self.epochs_done = 0

    def emit(self, event: Event) -> None:
        """Write one protocol line and flush it."""
        self.out.write(encode_event(event) + "\n")
        self.out.flush()

    def log(self, message: str, level: str = "info") -> None:
        """A log event, also written to stderr (the run's worker.log)."""
        print(f"[{datetime.now():%H:%M:%S}] {level}: {message}", file=self.err, flush=True)
        self.emit(Log(message=message, level=level))

    def cancel(self) -> None:
        """Ask the job to stop after the current step (safe from signal handlers and other threads)."""
        self.cancel_event.set()

    def run(self) -> int:
        """Train; the last event is ``finished`` or ``failed``."""
        try:
            return self._run()
        except Cancelled:
            return self._cancelled(None, self.epochs_done)
        except _EXPECTED_ERRORS as exc:
            return self._failed(str(exc))
        except MemoryError:
            return self._failed("out of memory: try a smaller --batch-size or --limit", traceback.format_exc())
        except Exception as exc:
            if type(exc).__name__ == "ResourceExhaustedError":  # tf.errors, without importing TF here
                return self._failed(f"out of memory: try a smaller --batch-size ({_first_line(exc)})",
                                    traceback.format_exc())
            return self._failed(f"{type(exc).__name__}: {_first_line(exc)}", traceback.format_exc())

    def _failed(self, reason: str, detail: str = "") -> int:
        if detail:
            print(detail, file=self.err, flush=True)
        print(f"failed: {reason}", file=self.err, flush=True)
        if self.run_dir is not None:
            try:
                runs.write_status(self.run_dir, "failed", len(runs.read_history(self.run_dir)), reason)
            except OSError:
                pass
        self.emit(Failed(reason=reason, run_dir=str(self.run_dir or ""), detail=detail))
        return EXIT_FAILED

    def _cancelled(self, model: Any, epochs_completed: int) -> int:
        if model is not None and self.run_dir is not None:
            save_model(model, self.run_dir / runs.LAST_MODEL)
            self.log(f"cancelled: saved the model as it stands to {runs.LAST_MODEL}")
        if self.run_dir is not None:
            runs.write_status(self.run_dir, "cancelled", epochs_completed)
        self.emit(Finished(ok=False, status="cancelled", run_dir=str(self.run_dir or ""),
                           epochs_completed=epochs_completed))
        return EXIT_OK

    def _run(self) -> int:
        # The data is checked here, before TensorFlow is imported and before any model is built.
        config, design = runs.prepare_run(self.config, self.design)
        self.run_dir = run_dir = Path(str(config.run_dir))
        seed = config.seed if config.seed is not None else _default_seed(config)
        config = replace(config, seed=seed)
        history = runs.read_history(run_dir) if config.resume else []
        initial_epoch = self.epochs_done = len(history)
        recipe = resolve_recipe(config)
        record = runs.config_record(config, design, preprocessing=PREPROCESSING, recipe=recipe_record(recipe),
                                    started=datetime.now().isoformat(timespec="seconds"))
        runs.write_json(run_dir / runs.CONFIG_FILE, record)
        runs.write_status(run_dir, "running", initial_epoch)
        self.log(f"run folder {run_dir}; loading TensorFlow")

        # Imported here: TensorFlow (~5 s, ~500 MB) is paid only by this worker process.
        import keras
        import tensorflow as tf

        keras.config.disable_interactive_logging()
        strategy = _strategy(tf, config)
        if config.strategy != "default":
            devices = ", ".join(strategy.extended.worker_devices)
            self.log(f"{type(strategy).__name__}: {strategy.num_replicas_in_sync} replica(s) on {devices}")
        if _mixed_precision(tf, config.mixed_precision):
            keras.mixed_precision.set_global_policy("mixed_float16")
            self.log("mixed precision: Keras' mixed_float16 policy")
        self.log(f"recipe {recipe.describe()}")
        self.log(f"loading data: {config.data}")
        data = load_data(str(config.data), design.input_shape, design.classes, seed=seed,
                         validation_split=config.validation_split, limit=config.limit, cache_dir=config.cache_dir,
                         log=self.log)
        if self.cancel_event.is_set():
            raise Cancelled
        record["data"] = _data_record(data)
        record["versions"] = package_versions()
        runs.write_json(run_dir / runs.CONFIG_FILE, record)
        # A resumed run reshuffles differently from its first epochs; the split above keeps the original seed.
        keras.utils.set_random_seed(seed + initial_epoch)
        pipes = make_pipelines(data, config.batch_size, augment=recipe.augment, translate=recipe.translate,
                               seed=seed + initial_epoch,
                               one_hot=one_hot_labels(recipe))
        with strategy.scope():
            if config.resume:
                model = keras.models.load_model(run_dir / runs.LAST_MODEL)
                reschedule(model, recipe, pipes.steps_per_epoch, config.epochs)
                self.log(f"resuming from {runs.LAST_MODEL} after epoch {initial_epoch}")
            else:
                from designer.keras_build import build_model

                model = build_model(design)
                compile_model(model, design, recipe, pipes.steps_per_epoch, config.epochs)
        self.emit(Started(design=design.name, run_dir=str(run_dir), epochs=config.epochs,
                          initial_epoch=initial_epoch, steps_per_epoch=pipes.steps_per_epoch,
                          batch_size=config.batch_size, train_images=len(data.x_train),
                          val_images=len(data.x_val), test_images=len(data.x_test),
                          class_names=list(data.class_names), params=int(model.count_params()),
                          strategy=config.strategy, replicas=int(strategy.num_replicas_in_sync), seed=seed,
                          recipe=recipe.describe()))
        monitor = Monitor(emit=self.emit, cancel=self.cancel_event, run_dir=run_dir, epochs=config.epochs,
                          steps=pipes.steps_per_epoch, batch_size=config.batch_size,
                          train_images=len(data.x_train), history=history)
        callbacks = [keras_callback(monitor), *plateau_callbacks(config.early_stopping, config.reduce_lr)]
        try:
            model.fit(pipes.train, validation_data=pipes.val, epochs=config.epochs, initial_epoch=initial_epoch,
                      callbacks=callbacks, shuffle=False, verbose=0)  # the pipeline shuffles
            if self.cancel_event.is_set():
                raise Cancelled
        except Cancelled:
            return self._cancelled(model, len(history))
        if len(history) == initial_epoch and not (run_dir / runs.LAST_MODEL).exists():
            save_model(model, run_dir / runs.LAST_MODEL)
        self.log(f"evaluating on the {data.test_split} split ({len(data.x_test)} images)")
        # Loaded outside the strategy's scope, so every worker evaluates the whole test split on its own,
        # in order (a distributed predict would interleave the replicas' outputs).
        chosen = runs.BEST_MODEL if (run_dir / runs.BEST_MODEL).exists() else runs.LAST_MODEL
        final = keras.models.load_model(run_dir / chosen)
        metrics = evaluate_metrics(final, pipes.test, data.y_test, data.class_names, data.test_split)
        metrics["model"] = chosen
        metrics["epochs_completed"] = len(history)
        runs.write_json(run_dir / runs.METRICS_FILE, metrics)
        runs.write_status(run_dir, "completed", len(history))
        self.emit(Finished(ok=True, status="completed", run_dir=str(run_dir), epochs_completed=len(history),
                           metrics=metrics))
        return EXIT_OK


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def package_versions() -> dict[str, str]:
    """The versions config.json records: Python, TensorFlow, Keras, NumPy and cnn-designer."""
    import platform
    from importlib import metadata

    import keras
    import numpy
    import tensorflow as tf

    try:
        ours = metadata.version("cnn-designer")
    except metadata.PackageNotFoundError:  # a checkout run without an install
        ours = "unknown"
    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": numpy.__version__, "cnn-designer": ours}


def _mixed_precision(tf: Any, setting: str) -> bool:
    """Whether to train with mixed_float16: ``on``, or ``auto`` with a GPU (on a CPU float16 is slower)."""
    return setting == "on" or (setting == "auto" and bool(tf.config.list_physical_devices("GPU")))


def _data_record(data: ImageData) -> dict[str, Any]:
    return {"source": data.source, "class_names": list(data.class_names), "train_images": len(data.x_train),
            "val_images": len(data.x_val), "test_images": len(data.x_test), "test_split": data.test_split,
            "image_shape": list(data.x_train.shape[1:])}


def _strategy(tf: Any, config: TrainConfig) -> Any:
    """The tf.distribute strategy; with ``cpu_devices > 1`` the CPU is first split into logical devices."""
    if config.cpu_devices > 1:
        cpus = tf.config.list_physical_devices("CPU")
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(config.cpu_devices)])
        except RuntimeError as exc:
            raise ProtocolError(f"cpu_devices={config.cpu_devices} needs a fresh process: {exc}") from None
    if config.strategy == "mirrored":
        gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
        devices = gpus or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if config.strategy == "multi-worker":
        return _multi_worker_strategy(tf)
    return tf.distribute.get_strategy()


def _multi_worker_strategy(tf: Any) -> Any:
    """MultiWorkerMirroredStrategy from TF_CONFIG (checked by prepare_run); it blocks until every worker of
    the cluster has joined.

    Keras 3's fit() asks the strategy to reduce a nest of per-replica values (the first batch, to build the
    model) and scalar metrics "along axis 0", which MultiWorkerMirroredStrategy refuses (tensorflow/tensorflow
    #72388: "Invalid reduction dimension 0 for input with 0 dimensions"). This subclass reduces each value on
    its own, scalars across replicas: the mean Keras means. The two-worker test fails if that stops holding.
    """

    class KerasMultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op: Any, value: Any, axis: int | None) -> Any:
            def one(v: Any) -> Any:
                local = self.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) \
                    else v
                scalar = getattr(getattr(local, "shape", None), "rank", None) == 0
                return super(KerasMultiWorkerStrategy, self).reduce(reduce_op, v, None if scalar else axis)

            return tf.nest.map_structure(one, value)

    return KerasMultiWorkerStrategy()


def _default_seed(config: TrainConfig) -> int:
    """A random seed, except for multi-worker: every worker must split and shuffle the data alike, so the
    seed comes from the cluster (the same TF_CONFIG cluster on every worker)."""
    if config.strategy != "multi-worker":
        return random.SystemRandom().randrange(2**31)
    cluster = json.loads(os.environ["TF_CONFIG"])["cluster"]  # checked by runs.multi_worker_task
    return zlib.crc32(json.dumps(cluster, sort_keys=True).encode()) % 2**31


def _watch_stdin(stream: IO[str], worker: Worker) -> None:
    """A ``cancel`` line on stdin cancels; end of input does not (a worker may run with stdin closed)."""
    for line in stream:
        if line.strip() == CANCEL_COMMAND:
            worker.cancel()


def parse_config(argv: list[str] | None) -> TrainConfig:
    """The TrainConfig from ``--config JSON`` or ``--config-file PATH``."""
    parser = argparse.ArgumentParser(prog="python -m designer.training.worker", description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--config", help="TrainConfig as one JSON object")
    group.add_argument("--config-file", help="a file holding that JSON object")
    args = parser.parse_args(argv)
    text = args.config if args.config is not None else Path(args.config_file).read_text(encoding="utf-8")
    return TrainConfig.from_json(text)


def main(argv: list[str] | None = None) -> int:
    """Entry point: protocol on the original stdout, everything else (fd 1 and 2) into the run's worker.log."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    cancel = threading.Event()
    try:
        config = parse_config(argv)
        config, design = runs.prepare_run(config, check=False)  # Worker.run checks the data (a failed event)
    except (*_EXPECTED_ERRORS, OSError, SystemExit) as exc:
        if isinstance(exc, SystemExit) and not exc.code:  # --help (printed on stderr)
            return EXIT_OK
        reason = str(exc) if not isinstance(exc, SystemExit) else "bad worker arguments (see its stderr)"
        out.write(encode_event(Failed(reason=reason)) + "\n")
        out.flush()
        return EXIT_FAILED
    log_fd = os.open(Path(str(config.run_dir)) / runs.LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    worker = Worker(config, out, cancel=cancel, design=design)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: cancel.set())
    threading.Thread(target=_watch_stdin, args=(sys.stdin, worker), daemon=True, name="stdin-cancel").start()
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
