"""``o`` on a Keras model: a real ResNet-8 saved by Keras (.keras and .h5) opens as an unsaved design with the
preset's layers and params, read in a worker thread; a file that is not a model is a one-line refusal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from designer.design import Design, analyze
from presets import load_preset
from tests.tui.conftest import SIZE
from tui.app import DesignerApp

MakeApp = Callable[..., DesignerApp]


@pytest.fixture(scope="module")
def saved_resnet8(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The ResNet-8 preset built by real Keras and saved in both formats."""
    from designer.keras_build import build_model

    folder = tmp_path_factory.mktemp("keras")
    model = build_model(load_preset("resnet8"))
    assert model.count_params() == 78_666
    paths = {suffix: folder / f"resnet8{suffix}" for suffix in (".keras", ".h5")}
    for path in paths.values():
        model.save(path)
    return paths


async def _open(app: DesignerApp, pilot: Pilot[None], path: Path) -> None:
    shown: list[str] = []
    status = app.set_status

    def recording(text: str, *, error: bool = False) -> None:
        shown.append(text)
        status(text, error=error)
    app.set_status = recording  # type: ignore[method-assign]
    await pilot.press("o")
    await pilot.pause()
    app.screen.query_one(Input).value = str(path)
    await pilot.press("enter")
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert shown[0] == f"importing {path}…"  # before the worker's answer, whichever came first


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
async def test_o_imports_a_keras_model_as_an_unsaved_design(make_app: MakeApp, model5: Design,
                                                            saved_resnet8: dict[str, Path], suffix: str) -> None:
    app = make_app(model5, path=None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await _open(app, pilot, saved_resnet8[suffix])
        assert app.status == (f"imported {saved_resnet8[suffix]}: its layers, not its weights (s asks where to "
                              "save the design)")
        assert app.path is None and analyze(app.design).params_total == 78_666
        assert [i.kind for i in app.design.layers] == [i.kind for i in load_preset("resnet8").layers]
        assert app.table.cell(3, "kind") == "┌ residual"
        await pilot.press("u")  # the design before the import is one undo away
        await pilot.pause()
        assert app.design.layers == model5.layers


async def test_o_refuses_a_file_that_is_not_a_model(make_app: MakeApp, model5: Design, tmp_path: Path) -> None:
    fake = tmp_path / "notes.keras"
    fake.write_text("not a zip")
    app = make_app(model5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await _open(app, pilot, fake)
        assert app.status == f"cannot import: {fake}: not a .keras file (a .keras file is a zip archive)"
        assert app.design == model5 and app.is_running
