"""stedgeai.sh runs exactly the stedgeai commands it shows, whatever a board or design name holds.

The script is run with bash against a stub ``stedgeai`` on PATH that records its argv; a canary file that an
injected command would create must not appear.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from designer.boards import USER_BOARDS_ENV, load_catalogue
from designer.export.csource import c_identifier
from designer.export.stedgeai import analyze_command, generate_command, shell_script

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")

ODD_BOARD = """
[[boards]]
name = "Odd (rev. 2) #1 + shield/v1.0, A:B"
mcu = "STM32U585AI"
core = "cortex-m33"
series = "stm32u5"
clock_hz = 160_000_000
flash_bytes = 2_097_152
ram_bytes = 786_432
ram_region = "SRAM1+SRAM2 (contiguous)"
note = "Odd but legal: ; & | < > $ ` ' \\" \\\\ in a note, which never reaches a script."
"""

HOSTILE_DESIGN_NAME = 'x"; touch CANARY; echo "$(touch CANARY)`touch CANARY`'


def _stub(folder: Path) -> Path:
    """A ``stedgeai`` that appends its argv (one JSON list per call) to calls.jsonl."""
    folder.mkdir()
    stub = folder / "stedgeai"
    stub.write_text(f"#!{sys.executable}\nimport json, sys\n"
                    f"with open({str(folder / 'calls.jsonl')!r}, 'a') as f:\n"
                    "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n")
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    return stub


@pytest.mark.parametrize("mode", ["analyze", "generate"])
def test_script_runs_only_the_commands_it_shows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    boards = tmp_path / "boards.toml"
    boards.write_text(ODD_BOARD)
    monkeypatch.setenv(USER_BOARDS_ENV, str(boards))
    board = load_catalogue().find("odd (rev. 2) #1 + shield/v1.0, a:b")  # passes validation
    c_name = c_identifier(HOSTILE_DESIGN_NAME)
    bundle = tmp_path / "bundle dir $(touch CANARY)"  # the script cds to its own folder, quoted
    bundle.mkdir()
    script = bundle / "stedgeai.sh"
    text = shell_script(c_name=c_name, target=board.series, compression="high", board_name=board.name)
    script.write_text(text)
    assert f"# Target series stm32u5 (board {board.name}, --target stm32u5)" in text
    stub = _stub(tmp_path / "bin")
    env = {**os.environ, "PATH": f"{stub.parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(script), mode], cwd=tmp_path, env=env, capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    calls = [json.loads(line) for line in (stub.parent / "calls.jsonl").read_text().splitlines()]
    command = analyze_command if mode == "analyze" else generate_command
    expected = [command(model="model.h5", c_name=c_name, target="stm32u5", compression="high"),
                command(model="model_int8.tflite", c_name=f"{c_name}_int8", target="stm32u5", compression="high",
                        workspace="stedgeai_ws_int8", output="stedgeai_out_int8")]
    assert calls == [cmd[1:] for cmd in expected]
    assert not list(tmp_path.rglob("CANARY")) and done.stdout == ""


@pytest.mark.parametrize(("kw", "match"), [
    (dict(target="stm32l4\ntouch CANARY"), "target series must match"),
    (dict(target="stm32l4; touch CANARY"), "target series must match"),
    (dict(c_name="x$(touch CANARY)"), "not a usable C identifier"),
    (dict(compression="high --output /"), "not a usable C identifier"),
    (dict(board_name="B\ntouch CANARY"), "non-printable character"),
])
def test_script_refuses_values_the_loader_would_not_let_through(kw: dict[str, str], match: str) -> None:
    args = dict(c_name="tiny", target="stm32l4", compression="high", board_name="B") | kw
    with pytest.raises(ValueError, match=match):
        shell_script(**args)
