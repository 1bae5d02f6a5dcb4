"""The import graph of tui/: no module imports, directly or through others, a module that imports it back.

Every import counts, read from the source with ast: at the top, inside functions (the lazy ones) and under
``if TYPE_CHECKING`` (a circle "for typing only" still ties the modules together). The dialogs and the search
form know the app through tui.host.Host instead of importing tui.app; a check here keeps Host true to
DesignerApp, member by member.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from pathlib import Path

from tui.app import DesignerApp
from tui.host import Host

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path, root: Path) -> str:
    """``tui/jobs/events.py`` -> ``tui.jobs.events``; a package's ``__init__.py`` is the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports anywhere in its source (``from a import b`` counts as
    ``a.b`` when that is a module, else as ``a``)."""
    paths = {module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}

    def known(name: str) -> str | None:
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        targets: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(known(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's own package, up level - 1
                    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
                    up = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                    base = f"{up}.{base}" if base else up
                targets.update(known(f"{base}.{alias.name}") or known(base) for alias in node.names)
        graph[name] = {t for t in targets if t is not None and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted: every import circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    # A circle made only of a lazy import and a TYPE_CHECKING one, plus a relative import: all must be found.
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from pkg.sub import b\n")
    (package / "sub" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n")
    (package / "sub" / "c.py").write_text("from . import b\nfrom ..a import f\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg.a"}
    assert graph["pkg.sub.c"] == {"pkg.sub.b", "pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.sub.b"]]


def test_tui_has_no_import_cycle() -> None:
    graph = import_graph(ROOT, "tui")
    assert "tui.dialogs" in graph and "tui.app" in graph and "tui.cli.estimate" in graph  # the walk found tui/
    assert "tui.dialogs" in graph["tui.app"]  # the app opens the dialogs (lazily) ...
    assert cycles(graph) == []  # ... and nothing the dialogs import reaches back, nor anywhere else in tui/


def _parameters(function: Callable[..., object]) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def test_the_host_protocol_is_what_the_app_has(make_app: Callable[..., DesignerApp]) -> None:
    app = make_app()
    members = [name for name in vars(Host) if not name.startswith("_")]
    attributes = list(Host.__annotations__)
    assert "design" in members and "push_screen" in members and "path" in attributes
    for name in attributes:
        assert hasattr(app, name), name
    for name in members:
        ours, theirs = getattr(Host, name), inspect.getattr_static(DesignerApp, name)
        if isinstance(ours, property):
            assert isinstance(theirs, property), name
        else:
            assert _parameters(ours) == _parameters(theirs), name
