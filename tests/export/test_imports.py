"""The export modules load no TensorFlow at import: the CLI's ``report`` and the app must start fast."""

from __future__ import annotations

import subprocess
import sys

import pytest

MODULES = ["designer.export", "designer.export.bundle", "designer.export.csource", "designer.export.evaluate",
           "designer.export.protocol", "designer.export.report", "designer.export.source",
           "designer.export.stedgeai", "designer.export.worker", "tui.cli.export"]


@pytest.mark.parametrize("module", MODULES)
def test_no_tensorflow_at_import(module: str) -> None:
    code = (f"import sys, {module}; heavy = [m for m in ('tensorflow', 'keras', 'textual', 'tflite_micro', "
            "'ai_edge_litert') if m in sys.modules]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
