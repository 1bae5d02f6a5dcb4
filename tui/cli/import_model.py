"""``cnn-designer import MODEL.keras|MODEL.h5 -o DESIGN.toml``: a Keras model's layers as a design file.

The model's config is read and checked first (designer.keras_import: unsupported layers are refused before
anything is deserialised, and no TensorFlow is imported for that); only then does Keras load the file, with
``safe_mode=True``, to check that the design's parameter count equals the model's ``count_params()``. Weights
are not imported. ``-o`` never replaces an existing file unless ``--force``. Exit status: 0 written, 1 the
counts disagree (nothing written), 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from designer import designfile
from designer.design import DesignError, analyze
from designer.keras_import import SUFFIXES, keras_count_params, read_keras_design
from tui.cli.common import EXIT_FAILURE, PROG


def add_import_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``import MODEL -o DESIGN.toml [--force]``."""
    p = subparsers.add_parser(
        "import", prog=f"{PROG} import",
        help="turn a Keras model (.keras or .h5) into a design file (layers only, not weights)",
        description="Read MODEL (a Keras Sequential or Functional model saved as .keras or .h5) and write its "
                    "layers as a design file. Supported layers: Conv2D, DepthwiseConv2D, BatchNormalization, "
                    "Activation/ReLU/Softmax, MaxPooling2D, AveragePooling2D, Dropout, SpatialDropout2D, "
                    "Flatten, GlobalAveragePooling2D, Dense, and Add (as residual blocks). Weights are not "
                    "imported; no code in the file is run.")
    p.add_argument("model", metavar="MODEL", help=f"a Keras model file ({', '.join(SUFFIXES)})")
    p.add_argument("-o", "--output", metavar="DESIGN.toml", required=True, help="the design file to write")
    p.add_argument("--force", action="store_true", help="replace DESIGN.toml if it exists")
    return p


def run_import_command(args: argparse.Namespace) -> int:
    """Import ``args.model`` into ``args.output``; DesignError (exit 2) for bad input, printed by tui.cli."""
    out = Path(args.output)
    if out.suffix != ".toml":
        raise DesignError(f"the output must be a .toml design file, received '{out}'")
    if out.exists() and not args.force:
        raise DesignError(f"{out} exists; pass --force to replace it")
    imported = read_keras_design(args.model)
    params = analyze(imported.design).params_total
    keras_params = keras_count_params(args.model)
    if keras_params != params:
        print(f"{PROG}: {args.model}: the design counts {params:,} params but Keras' count_params() is "
              f"{keras_params:,}; nothing written", file=sys.stderr)
        return EXIT_FAILURE
    designfile.save(imported.design, out)
    design = imported.design
    h, w, c = design.input_shape
    ignored = f"; ignored: {'; '.join(imported.ignored)}" if imported.ignored else ""
    print(f"imported {args.model} ({imported.model_class}, {imported.keras_layers} Keras layers) -> {out}: "
          f"{params:,} params (= Keras count_params()), input {h}x{w}x{c}, {design.classes} classes; "
          f"weights not imported{ignored}")
    return 0
