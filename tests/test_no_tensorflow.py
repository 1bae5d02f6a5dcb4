"""The import rules: designer/ and the CLI load no TensorFlow/Keras, and designer/ never loads textual or tui.

Each check runs in a fresh interpreter, because this test process may already have imported TensorFlow.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DESIGNER = ROOT / "designer"

# These build or convert the real Keras model; they import TensorFlow inside functions, and are the only
# designer modules a caller may import expecting to pay for it.
TENSORFLOW_MODULES = {"designer.keras_build", "designer.tflite_tools"}
HEAVY = ("tensorflow", "keras", "tf_keras")


def designer_modules() -> list[str]:
    """Every importable module under designer/ (not __main__, which would run a program)."""
    names = []
    for path in sorted(DESIGNER.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def modules_after(code: str, tmp_path: Path) -> set[str]:
    """sys.modules of a fresh interpreter after running ``code`` in the repository root."""
    out = tmp_path / "modules.json"
    script = f"{code}\nimport json, sys\nopen({str(out)!r}, 'w').write(json.dumps(sorted(sys.modules)))\n"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(json.loads(out.read_text()))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_module_discovery_finds_the_core() -> None:
    found = designer_modules()
    for name in ("designer", "designer.design", "designer.footprint", "designer.boards", "designer.keras_build"):
        assert name in found


def test_importing_designer_loads_no_tensorflow(tmp_path: Path) -> None:
    names = [m for m in designer_modules() if m not in TENSORFLOW_MODULES]
    code = "\n".join(f"import {name}" for name in names)
    assert heavy(modules_after(code, tmp_path)) == []


def test_designer_never_loads_textual(tmp_path: Path) -> None:
    code = "\n".join(f"import {name}" for name in designer_modules())
    loaded = modules_after(code, tmp_path)
    assert sorted(m for m in loaded if m.split(".")[0] in ("textual", "tui")) == []


def test_designer_source_never_imports_textual_or_tui() -> None:
    # Catches imports inside functions too, which the fresh-interpreter checks cannot see.
    offenders = []
    for path in sorted(DESIGNER.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = [node.module.split(".")[0]]
            else:
                continue
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} {r}" for r in roots if r in ("textual", "tui")]
    assert offenders == []


@pytest.mark.parametrize("argv", [
    ["estimate", "model5"],
    ["estimate", "model5", "--json", "--runtime", "tflm", "--dtype", "int8"],
    ["presets", "--json"],
    ["boards"],
    ["estimate", "model99"],  # the error path too
], ids=lambda argv: " ".join(argv))
def test_cli_subcommands_load_no_tensorflow_nor_textual(argv: list[str], tmp_path: Path) -> None:
    code = ("import contextlib, io\nfrom tui.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
            f"    main({argv!r})\n")
    loaded = modules_after(code, tmp_path)
    assert heavy(loaded) == []
    assert sorted(m for m in loaded if m.split(".")[0] == "textual") == []


@pytest.mark.skipif(importlib.util.find_spec("tui.app") is None, reason="tui.app is not in this tree")
def test_app_start_up_loads_no_tensorflow(tmp_path: Path) -> None:
    assert heavy(modules_after("import tui.app", tmp_path)) == []
