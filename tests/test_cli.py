"""The cnn-designer command line: JSON shapes and values, tables, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.boards import USER_BOARDS_ENV
from designer.design import analyze
from presets import load_preset, preset_ids
from tui.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parent.parent
BAD_DESIGNS = sorted((Path(__file__).parent / "data" / "bad").glob("*.toml"))


@pytest.fixture(autouse=True)
def no_user_boards(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's own ~/.config boards out of every test."""
    monkeypatch.delenv(USER_BOARDS_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run(capsys, *argv, "--json")
    assert (code, err) == (0, "")
    return json.loads(out)


# ---------------------------------------------------------------------------------------------- estimate


def test_estimate_json_model5(capsys: pytest.CaptureFixture[str]) -> None:
    report = run_json(capsys, "estimate", "model5")
    assert report["design"] == "Model5"
    assert report["board"] == "32L4R9IDISCOVERY"
    assert (report["runtime"], report["dtype"], report["compression"]) == ("xcubeai", "float32", "high")
    assert report["params"] == {"total": 552_362, "trainable": 551_466}
    flash, ram = report["flash"], report["ram"]
    assert set(flash) >= {"weights", "runtime", "total", "budget"}
    assert set(ram) >= {"activations", "runtime", "total", "budget"}
    assert flash["total"] == flash["weights"] + flash["runtime"]
    assert ram["total"] == ram["activations"] + ram["runtime"]
    assert (flash["budget"], ram["budget"]) == (2 * 1024 * 1024, 192 * 1024)
    assert report["fits"] == (flash["total"] <= flash["budget"] and ram["total"] <= ram["budget"])
    # The notebook: Model5 is 1M25 flash / 147K RAM with X-CUBE-AI, so it fits the seed board.
    assert report["fits"] is True
    assert report["macc"] > 0 and report["inference_ms"] > 0

    design = load_preset("model5")
    layers = report["layers"]
    assert [row["index"] for row in layers] == list(range(len(design.layers)))
    assert [row["kind"] for row in layers] == [layer.kind for layer in design.layers]
    assert set(layers[0]) >= {"index", "kind", "output_shape", "params", "macc", "weights_bytes", "ram_bytes"}
    assert layers[0]["output_shape"] == [32, 32, 32]
    assert sum(row["params"] for row in layers) == 552_362


@pytest.mark.parametrize("runtime", ["xcubeai", "tflm"])
def test_estimate_json_rows_of_a_residual_design_name_their_place(capsys: pytest.CaptureFixture[str],
                                                                  runtime: str) -> None:
    report = run_json(capsys, "estimate", "resnet8", "--runtime", runtime)
    rows = analyze(load_preset("resnet8")).layers
    layers = report["layers"]
    assert [(row["path"], row["role"], row["group"]) for row in layers] == [
        (list(s.path), s.role, s.layer.group) for s in rows]
    assert {row["role"] for row in layers} == {"", "main", "shortcut", "add"}
    assert max(row["live_bytes"] for row in layers) == layers[-1]["peak_bytes"] > 0


@pytest.mark.parametrize("runtime", ["xcubeai", "tflm"])
@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_estimate_json_echoes_the_options(capsys: pytest.CaptureFixture[str], runtime: str, dtype: str) -> None:
    report = run_json(capsys, "estimate", "model2", "--runtime", runtime, "--dtype", dtype,
                      "--compression", "none", "--board", "nucleo-f446re")
    assert (report["runtime"], report["dtype"], report["board"]) == (runtime, dtype, "NUCLEO-F446RE")
    assert report["ram"]["budget"] == 128 * 1024


def test_int8_is_faster_and_smaller_than_float32(capsys: pytest.CaptureFixture[str]) -> None:
    f32 = run_json(capsys, "estimate", "model5", "--compression", "none")
    i8 = run_json(capsys, "estimate", "model5", "--compression", "none", "--dtype", "int8")
    assert i8["inference_ms"] < f32["inference_ms"]
    assert i8["flash"]["weights"] < f32["flash"]["weights"]


def test_estimate_reads_a_design_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from designer import designfile

    path = tmp_path / "mine.toml"
    designfile.save(load_preset("model2"), path)
    report = run_json(capsys, "estimate", str(path))
    assert report["source"] == str(path)
    assert report["params"]["total"] == analyze(load_preset("model2")).params_total


def test_estimate_tables_mark_peak_ram_and_heaviest_weights(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "estimate", "model5")
    assert (code, err) == (0, "")
    assert "Model5" in out and "32L4R9IDISCOVERY" in out
    assert "(estimate)" in out
    assert out.count("peak RAM") == 1 and out.count("most weights") == 1


# ---------------------------------------------------------------------------------------------- presets / boards


def test_presets_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "presets")
    assert data["board"] == "32L4R9IDISCOVERY"
    rows = data["presets"]
    assert [row["id"] for row in rows] == preset_ids()
    for row in rows:
        notebook = row["notebook"]
        convention = notebook["params_convention"]
        # Our params are exact (Keras agrees), so they equal the notebook's in the notebook's convention.
        assert row["estimate"]["params"][convention] == notebook["params"], row["id"]
        assert set(row["estimate"]) >= {"flash_bytes", "ram_bytes", "flash_text", "ram_text"}
        # A residual preset has no X-CUBE-AI estimate until the estimator walks designer.graph: it says so.
        assert isinstance(row["fits"], bool) or "residual blocks" in row["error"], row["id"]
    by_id = {row["id"]: row for row in rows}
    assert by_id["model5"]["notebook"]["rom"] == "1M25"
    assert by_id["model0"]["fits"] is False
    assert by_id["resnet8"]["notebook"]["accuracy_int8_percent"] == 85.6


def test_presets_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "presets")
    assert code == 0
    for preset_id in preset_ids():
        assert preset_id in out
    assert "84.02" in out and "1M25" in out


def test_boards_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "boards")
    assert data["default"] == "32L4R9IDISCOVERY"
    boards = data["boards"]
    assert len(boards) >= 12
    assert [b["name"] for b in boards if b["default"]] == ["32L4R9IDISCOVERY"]
    assert set(boards[0]) >= {"name", "mcu", "core", "series", "clock_hz", "flash_bytes", "ram_bytes", "ram_region"}


def test_boards_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "boards")
    assert code == 0
    assert "NUCLEO-G0B1RE" in out and "cortex-m0+" in out and "B-U585I-IOT02A" in out


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "presets" in out and "estimate" in out


# ---------------------------------------------------------------------------------------------- bad input


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Each bad input: argv and fragments its one stderr line must hold."""
    malformed = _write(tmp_path, "malformed.toml", 'name = "x\n')
    mistyped = _write(tmp_path, "mistyped.toml", '[[layers]]\nkind = "conv2d"\nfilters = "many"\n')
    impossible = _write(tmp_path, "impossible.toml", '[[layers]]\nkind = "conv2d"\nfilters = 8\nkernel = 40\n'
                                                     'padding = "valid"\n[[layers]]\nkind = "flatten"\n'
                                                     '[[layers]]\nkind = "dense"\nunits = 10\n')
    return {
        "unknown-preset": (["estimate", "model99"], ["'model99'", "model0, model1"]),
        "missing-file": (["estimate", str(tmp_path / "nope.toml")], ["nope.toml", "cannot read design file"]),
        "malformed-file": (["estimate", malformed], ["malformed.toml", "not valid TOML"]),
        "mistyped-key": (["estimate", mistyped], ["mistyped.toml", "layer 0 (conv2d)", "key 'filters'"]),
        "impossible-layer": (["estimate", impossible], ["impossible.toml", "layer 0 (conv2d)", "kernel=(40, 40)"]),
        "unknown-board": (["estimate", "model5", "--board", "NUCLEO-X"], ["unknown board 'NUCLEO-X'",
                                                                           "NUCLEO-F446RE"]),
        "unknown-runtime": (["estimate", "model5", "--runtime", "onnx"], ["--runtime", "'onnx'"]),
        "missing-design": (["estimate"], ["required", "DESIGN"]),
        "presets-unknown-board": (["presets", "--board", "nope"], ["unknown board 'nope'"]),
        "app-unknown-preset": (["--preset", "model99"], ["unknown preset 'model99'"]),
        "app-impossible-layer": ([impossible], ["impossible.toml", "layer 0 (conv2d)"]),
        "app-unknown-word": (["frobnicate"], ["'frobnicate'"]),
    }


BAD_INPUT_IDS = ["unknown-preset", "missing-file", "malformed-file", "mistyped-key", "impossible-layer",
                 "unknown-board", "unknown-runtime", "missing-design", "presets-unknown-board", "app-unknown-preset",
                 "app-impossible-layer", "app-unknown-word"]


@pytest.mark.parametrize("case", BAD_INPUT_IDS)
def test_bad_input_exits_2_with_one_line(case: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv, fragments = _bad_inputs(tmp_path)[case]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("cnn-designer")
    for fragment in fragments:
        assert fragment in err


@pytest.mark.parametrize("path", BAD_DESIGNS, ids=[p.name for p in BAD_DESIGNS])
def test_every_bad_design_fixture_exits_2_naming_the_file(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "estimate", str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and str(path) in err


def test_bad_user_boards_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(USER_BOARDS_ENV, _write(tmp_path, "boards.toml", "boardz = 1\n"))
    code, _, err = run(capsys, "boards")
    assert code == 2
    assert err.count("\n") == 1 and "boards.toml, key 'boardz'" in err


def test_module_entry_point_exits_2_without_traceback() -> None:
    result = subprocess.run([sys.executable, "-m", "tui.cli", "estimate", "model99"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------------- opening the app


@pytest.fixture
def fake_app(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Stand in for tui.app so these tests check what the CLI hands over (the design it loaded and checked, and
    the path saves go to), not the app itself."""
    calls: list[dict[str, Any]] = []
    module = types.ModuleType("tui.app")

    def run_app(**kwargs: Any) -> int:
        calls.append(kwargs)
        return 0

    module.run_app = run_app  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tui.app", module)
    return calls


def test_preset_option_opens_the_app(fake_app: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--preset", "model5")[0] == 0
    assert fake_app == [{"design": load_preset("model5"), "path": None}]


def test_preset_id_as_design_opens_the_app(fake_app: list[dict[str, Any]],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "Model2")[0] == 0
    assert fake_app == [{"design": load_preset("model2"), "path": None}]


def test_design_file_opens_the_app(fake_app: list[dict[str, Any]], capsys: pytest.CaptureFixture[str],
                                   tmp_path: Path) -> None:
    from designer import designfile

    path = tmp_path / "mine.toml"
    designfile.save(load_preset("model4"), path)
    assert run(capsys, str(path))[0] == 0
    assert fake_app == [{"design": designfile.load(path), "path": str(path)}]


def test_new_design_file_opens_the_app(fake_app: list[dict[str, Any]], capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    path = tmp_path / "new.toml"
    assert run(capsys, str(path))[0] == 0
    assert fake_app == [{"design": None, "path": str(path)}]


def test_no_arguments_opens_an_empty_app(fake_app: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys)[0] == 0
    assert fake_app == [{"design": None, "path": None}]


def test_file_and_preset_together_is_bad_input(fake_app: list[dict[str, Any]],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "model2", "--preset", "model5")
    assert code == 2 and err.count("\n") == 1
    assert fake_app == []


# ---------------------------------------------------------------------------------------------- robustness


def _strict_json(text: str) -> Any:
    """json.loads that refuses Infinity and NaN, as strict parsers (and other languages) do."""
    def refuse(name: str) -> None:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


_LAYERS_TAIL = '[[layers]]\nkind = "flatten"\n[[layers]]\nkind = "dense"\nunits = 10\n'
ONE_ELEMENT_FLATTEN = ('input_shape = [4, 4, 1]\nclasses = 1\n[[layers]]\nkind = "global_avg_pool"\n'
                       '[[layers]]\nkind = "flatten"\n[[layers]]\nkind = "dense"\nunits = 1\n')

# Each reproducer of issue 9: the file's text and fragments its one stderr line must hold.
UNREPRESENTABLE: dict[str, tuple[str, list[str]]] = {
    "rate-2**1024": (f'[[layers]]\nkind = "dropout"\nrate = {2**1024}\n{_LAYERS_TAIL}',
                     ["layer 0 (dropout)", "key 'rate'", "finite number", "~10^308"]),
    "rate-inf": (f'[[layers]]\nkind = "dropout"\nrate = inf\n{_LAYERS_TAIL}', ["key 'rate'", "finite number"]),
    "filters-1e308": (f'[[layers]]\nkind = "conv2d"\nfilters = {10**308}\n{_LAYERS_TAIL}',
                      ["layer 0 (conv2d)", "key 'filters'", "at most 65,536", "~10^308"]),
    "units-2**31": (f'[[layers]]\nkind = "flatten"\n[[layers]]\nkind = "dense"\nunits = {2**31}\n',
                    ["layer 1 (dense)", "key 'units'", "at most 65,536"]),
    "input-huge": (f'input_shape = [65536, 65536, 65536]\n{_LAYERS_TAIL}', ["key 'input_shape'", "2,147,483,647"]),
    "classes-huge": (f'classes = {10**400}\n{_LAYERS_TAIL}', ["key 'classes'", "at most 65,536"]),
    "weights-over-cap": ('input_shape = [4096, 4096, 64]\n' + _LAYERS_TAIL.replace("10", "2"),
                         ["layer 1 (dense)", "weights", "2,147,483,647"]),
    "channels-compound": ('input_shape = [2, 2, 64]\n' + '[[layers]]\nkind = "depthwise_conv2d"\n'
                          'depth_multiplier = 65536\n' + _LAYERS_TAIL,
                          ["layer 0 (depthwise_conv2d)", "over 65,536"]),
    "4400-digits": ("classes = " + "9" * 4400 + "\n", ["not valid TOML", "too many digits"]),
    "1000-deep": ("x = " + "[" * 1000 + "]" * 1000 + "\n", ["not valid TOML", "nested too deeply"]),
}


@pytest.mark.parametrize("case", list(UNREPRESENTABLE))
@pytest.mark.parametrize("runtime", ["xcubeai", "tflm"])
def test_unrepresentable_input_exits_2_with_one_line(case: str, runtime: str, capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    text, fragments = UNREPRESENTABLE[case]
    path = _write(tmp_path, "bad.toml", text)
    code, out, err = run(capsys, "estimate", path, "--runtime", runtime, "--json")
    assert (code, out) == (2, ""), err
    assert err.count("\n") == 1 and err.startswith(f"cnn-designer: {path}"), err
    for fragment in fragments:
        assert fragment in err, err


def test_non_utf8_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'name = "caf\xe9"\n')
    code, _, err = run(capsys, "estimate", str(path))
    assert code == 2 and err == f"cnn-designer: {path}: not a UTF-8 text file\n"


@pytest.mark.parametrize("runtime", ["xcubeai", "tflm"])
@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_one_element_flatten_estimates(runtime: str, dtype: str, capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    path = _write(tmp_path, "one.toml", ONE_ELEMENT_FLATTEN)
    code, out, err = run(capsys, "estimate", path, "--runtime", runtime, "--dtype", dtype, "--json")
    assert (code, err) == (0, "")
    report = _strict_json(out)
    assert [row["output_shape"] for row in report["layers"]] == [[1], [1], [1]]
    assert report["flash"]["weights"] > 0 and report["ram"]["activations"] > 0


def test_estimate_json_is_strict_at_the_caps(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # The largest design the caps allow still gives finite numbers: inference_ms is a plain float.
    text = ('input_shape = [32767, 65536, 1]\nclasses = 1\n[[layers]]\nkind = "conv2d"\nfilters = 1\n'
            'kernel = 255\n[[layers]]\nkind = "global_avg_pool"\n[[layers]]\nkind = "dense"\nunits = 1\n')
    for dtype in ("float32", "int8"):
        code, out, err = run(capsys, "estimate", _write(tmp_path, "big.toml", text), "--dtype", dtype, "--json")
        assert (code, err) == (0, "")
        report = _strict_json(out)
        assert report["macc"] > 2**40 and 0 < report["inference_ms"] < float("inf")


def test_unexpected_error_exits_1_with_one_line(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import tui.cli.estimate

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug\nover two lines")

    monkeypatch.setattr(tui.cli.estimate, "estimate", broken)
    code, out, err = run(capsys, "estimate", "model5")
    assert (code, out) == (1, "")
    assert err == "cnn-designer: internal error: ZeroDivisionError: a bug over two lines\n"


@pytest.mark.parametrize("case", ["1000-deep", "rate-2**1024"])
def test_reproducers_via_the_real_command_have_no_traceback(case: str, tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.toml", UNREPRESENTABLE[case][0])
    result = subprocess.run([sys.executable, "-m", "tui.cli", "estimate", path, "--json"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


# ------------------------------------------------------------------------------------------------ polish (issue 12)

@pytest.mark.parametrize("command", COMMANDS)
def test_each_subcommand_has_its_own_usage(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith(f"usage: cnn-designer {command} ") and "[DESIGN | --preset ID]" not in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"cnn-designer {version('cnn-designer')}"


_WORDS = ["--preset", "--preset=", "--preset=model5", "--preset=-x", "model5", "Model5", "d.toml", "my design.toml",
          "-", "-x", "--", "", "--pre", "--version", "-h", "=", "--preset=a=b", "é.toml"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_WORDS), max_size=3))
def test_the_apps_quick_reading_of_a_line_is_argparses(words: list[str]) -> None:
    # Opening the app the usual ways skips argparse (tui.cli.app_arguments); wherever it reads a line, the
    # app's argparse parser must read it the same, and it must leave every other line to argparse.
    from tui.cli import app_arguments
    from tui.cli.parsers import build_app_parser

    quick = app_arguments(words)
    if quick is None:
        return
    parsed = build_app_parser().parse_args(words)
    assert quick == (parsed.design, parsed.preset)


def test_the_usual_lines_open_the_app_without_argparse() -> None:
    from tui.cli import app_arguments

    assert app_arguments([]) == (None, None)
    assert app_arguments(["d.toml"]) == ("d.toml", None)
    assert app_arguments(["--preset", "model5"]) == (None, "model5")
    assert app_arguments(["--preset=model5"]) == (None, "model5")
    for other in (["--help"], ["--version"], ["a", "b"], ["--preset"], ["--pre", "model5"], ["-x"]):
        assert app_arguments(other) is None
    code = ("import sys, tui.cli; assert tui.cli.app_arguments(['--preset', 'model5']) == (None, 'model5'); "
            "print('argparse' in sys.modules, 'tui.cli.parsers' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("argv, suggestion", [
    (["estimate", "modle5"], "did you mean 'model5'?"),
    (["estimate", "model5", "--board", "nucleo-f446"], "did you mean 'NUCLEO-F446RE'?"),
    (["--preset", "mdel13"], "did you mean 'model13'?"),
])
def test_did_you_mean(capsys: pytest.CaptureFixture[str], argv: list[str], suggestion: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.strip().endswith(suggestion)


def test_nothing_close_suggests_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "estimate", "model5", "--board", "zzzz")
    assert code == 2 and "did you mean" not in err


def test_int8_says_compression_has_no_effect(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "estimate", "model5", "--dtype", "int8")
    assert code == 0 and "compression applies to float32 dense weights only; no effect with int8" in out
    low = run_json(capsys, "estimate", "model5", "--dtype", "int8", "--compression", "none", "--json")
    high = run_json(capsys, "estimate", "model5", "--dtype", "int8", "--compression", "high", "--json")
    assert low["flash"] == high["flash"]  # what the message says: the estimator ignores it for int8
    code, out, _ = run(capsys, "estimate", "model5")
    assert code == 0 and "no effect" not in out


def test_inference_time_depends_on_the_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    x = run_json(capsys, "estimate", "model5", "--dtype", "int8", "--json")
    t = run_json(capsys, "estimate", "model5", "--dtype", "int8", "--runtime", "tflm", "--json")
    assert t["inference_ms"] == pytest.approx(1.5 * x["inference_ms"], rel=1e-3)
