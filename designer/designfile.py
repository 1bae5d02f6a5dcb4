"""Design files: TOML read with tomllib, written with tomli-w, validated strictly.

Unknown keys, wrong types and impossible values are DesignErrors naming the file, the layer index and the key.

A residual block is a ``[[layers]]`` table of ``kind = "residual"`` holding its own arrays of tables
``[[layers.main]]`` (required, non-empty) and ``[[layers.shortcut]]`` (absent or empty = identity), plus
``activation`` (after the add, default "relu") and ``group``; blocks nest (``[[layers.main.main]]``). Errors
inside a block name the path: "layer 3 (residual), main layer 1 (conv2d), key 'filters'".
"""

from __future__ import annotations

import math
import os
import tempfile
import tomllib
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from designer.design import (
    MAX_SIZE,
    Design,
    DesignError,
    NotebookFigures,
    analyze,
    check_size,
    check_values,
    show_value,
)
from designer.layers import ACTIVATIONS, BRANCHES, LAYER_TYPES, MAIN, SHORTCUT, Item, Layer, Residual

_TOP_KEYS = {"name", "input_shape", "classes", "notes", "notebook", "layers"}
_NOTEBOOK_KEYS = {f.name for f in fields(NotebookFigures)}


def _type_name(value: object) -> str:
    return {bool: "boolean", int: "integer", float: "float", str: "string", list: "array",
            dict: "table"}.get(type(value), type(value).__name__)


def _coerce(value: Any, annotation: Any, *, index: int | None, kind: str, key: str) -> Any:
    """Check one TOML value against a layer field's annotation; pairs accept an int or [h, w]."""
    def fail(expected: str) -> DesignError:
        return DesignError(f"expected {expected}, received {_type_name(value)} {show_value(value)}", index=index,
                           kind=kind, key=key)

    if annotation in ("tuple[int, int] | None", "tuple[int, int]"):
        if isinstance(value, int) and not isinstance(value, bool):
            return (value, value)
        if (isinstance(value, list) and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
            return (value[0], value[1])
        raise fail("an integer or a pair of integers")
    if annotation == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise fail("an integer")
    if annotation == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            # float() of an integer of 2**1024 or more raises OverflowError; inf and nan parse as TOML floats.
            try:
                as_float = float(value)
            except OverflowError:
                as_float = math.inf
            if math.isfinite(as_float):
                return as_float
            raise fail("a finite number")
        raise fail("a number")
    if annotation == "bool":
        if isinstance(value, bool):
            return value
        raise fail("true or false")
    if annotation == "str":
        if isinstance(value, str):
            return value
        raise fail("a string")
    raise AssertionError(f"unhandled annotation {annotation}")


def layer_from_dict(data: dict[str, Any], index: int | None = None) -> Layer:
    """Build one layer from its TOML table; raises DesignError for anything unknown, mistyped or impossible."""
    kind = data.get("kind")
    if not isinstance(kind, str):
        raise DesignError("missing 'kind' (a string such as \"conv2d\")", index=index, key="kind")
    cls = LAYER_TYPES.get(kind)
    if cls is None:
        raise DesignError(f"unknown kind '{kind}'; known kinds: {', '.join(LAYER_TYPES)}", index=index,
                          key="kind")
    by_name = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key == "kind":
            continue
        if key not in by_name:
            raise DesignError(f"unknown key for {kind}; allowed keys: {', '.join(by_name)}", index=index,
                              kind=kind, key=key)
        kwargs[key] = _coerce(value, by_name[key].type, index=index, kind=kind, key=key)
    for f in by_name.values():
        if f.default is MISSING and f.default_factory is MISSING and f.name not in kwargs:
            raise DesignError("missing required key", index=index, kind=kind, key=f.name)
    layer = cls(**kwargs)
    bad = check_values(layer)
    if bad is not None:
        raise DesignError(bad[1], index=index, kind=kind, key=bad[0])
    return layer


_BLOCK_KEYS = ("kind", "main", "shortcut", "activation", "group")


def _stack_from_list(raw: Any, key: str) -> tuple[Item, ...]:
    """The items of one stack (a TOML array of tables); errors are located in this stack."""
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise DesignError(f"expected an array of tables ([[{key}]])", key=key)
    return tuple(item_from_dict(t, i) for i, t in enumerate(raw))


def _block_from_dict(data: dict[str, Any], index: int | None) -> Residual:
    kind = Residual.kind
    for key in data:
        if key not in _BLOCK_KEYS:
            raise DesignError(f"unknown key for residual; allowed keys: {', '.join(_BLOCK_KEYS[1:])}",
                              index=index, kind=kind, key=key)
    for key in ("activation", "group"):
        if key in data and not isinstance(data[key], str):
            raise DesignError(f"expected a string, received {_type_name(data[key])} {show_value(data[key])}",
                              index=index, kind=kind, key=key)
    activation = data.get("activation", "relu")
    if activation not in ACTIVATIONS:
        raise DesignError(f"must be one of {', '.join(ACTIVATIONS)}; received {show_value(activation)}",
                          index=index, kind=kind, key="activation")
    if not data.get("main"):
        raise DesignError("a residual block needs a non-empty main path ([[layers.main]] tables)", index=index,
                          kind=kind, key="main")
    stacks: list[tuple[Item, ...]] = []
    for branch in (MAIN, SHORTCUT):
        name = BRANCHES[branch]
        try:
            # A nested error is located from this block, then (by our caller's caller) from its own stack.
            stacks.append(_stack_from_list(data.get(name, []), name))
        except DesignError as exc:
            if exc.index is None:  # the branch itself is not an array of tables
                raise DesignError(exc.reason, index=index, kind=kind, key=name) from None
            raise exc.inside(index if index is not None else 0, kind, branch) from None
    return Residual(main=stacks[0], shortcut=stacks[1], activation=activation, group=data.get("group", ""))


def item_from_dict(data: dict[str, Any], index: int | None = None) -> Item:
    """Build one stack item (a layer or a residual block) from its TOML table; strict like layer_from_dict."""
    if data.get("kind") == Residual.kind:
        return _block_from_dict(data, index)
    return layer_from_dict(data, index)


def layer_to_dict(layer: Layer) -> dict[str, Any]:
    """The TOML table of one layer: its kind and every setting."""
    return {"kind": layer.kind, **layer.config()}


def item_to_dict(item: Item) -> dict[str, Any]:
    """The TOML table of one stack item; a block keeps every key, so a saved design reads back equal."""
    if isinstance(item, Residual):
        out: dict[str, Any] = {"kind": item.kind, "activation": item.activation}
        if item.group:
            out["group"] = item.group
        out["main"] = [item_to_dict(i) for i in item.main]
        if item.shortcut:
            out["shortcut"] = [item_to_dict(i) for i in item.shortcut]
        return out
    return layer_to_dict(item)


def _expect(data: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise DesignError(f"expected {what}, received {_type_name(value)} {show_value(value)}", key=key)
    return value


def _notebook_from_dict(data: Any) -> NotebookFigures:
    if not isinstance(data, dict):
        raise DesignError("expected a table", key="notebook")
    for key in data:
        if key not in _NOTEBOOK_KEYS:
            raise DesignError(f"unknown key in [notebook]; allowed: {', '.join(sorted(_NOTEBOOK_KEYS))}",
                              key=f"notebook.{key}")
    values: dict[str, Any] = {}
    for f in fields(NotebookFigures):
        if f.name in data:
            # "float | None": None cannot be written in TOML, so a present value must be a number.
            annotation = str(f.type).removesuffix(" | None")
            values[f.name] = _coerce(data[f.name], annotation, index=None, kind="", key=f"notebook.{f.name}")
        elif f.default is MISSING:
            raise DesignError("missing required key", key=f"notebook.{f.name}")
    figures = NotebookFigures(**values)
    if figures.params_convention not in ("total", "trainable"):
        raise DesignError("must be \"total\" or \"trainable\"", key="notebook.params_convention")
    return figures


def design_from_dict(data: dict[str, Any], *, default_name: str = "design") -> Design:
    """Build a design from a parsed TOML document, validating every key."""
    for key in data:
        if key not in _TOP_KEYS:
            raise DesignError(f"unknown top-level key; allowed: {', '.join(sorted(_TOP_KEYS))}", key=key)
    name = _expect(data, "name", str, "a string") if "name" in data else default_name
    input_shape: tuple[int, ...] = (32, 32, 3)
    if "input_shape" in data:
        raw = _expect(data, "input_shape", list, "[height, width, channels]")
        if len(raw) != 3 or any(check_size(v, "") is not None for v in raw):
            raise DesignError(f"expected three positive integers [height, width, channels], each at most "
                              f"{MAX_SIZE:,}; received {show_value(raw)}", key="input_shape")
        input_shape = tuple(raw)
    classes = _expect(data, "classes", int, "an integer") if "classes" in data else 10
    if (bad := check_size(classes, "it")) is not None:
        raise DesignError(bad.removeprefix("it "), key="classes")
    notes = _expect(data, "notes", str, "a string") if "notes" in data else ""
    notebook = _notebook_from_dict(data["notebook"]) if "notebook" in data else None
    layers = _stack_from_list(data.get("layers", []), "layers")
    return Design(name=name, layers=layers, input_shape=input_shape, classes=classes, notes=notes,
                  notebook=notebook)


def design_to_dict(design: Design) -> dict[str, Any]:
    """The TOML document of a design."""
    out: dict[str, Any] = {"name": design.name, "input_shape": list(design.input_shape),
                           "classes": design.classes}
    if design.notes:
        out["notes"] = design.notes
    if design.notebook is not None:
        out["notebook"] = {f.name: getattr(design.notebook, f.name) for f in fields(NotebookFigures)
                           if getattr(design.notebook, f.name) not in ("", None)}
    out["layers"] = [item_to_dict(item) for item in design.layers]
    return out


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    """tomllib.loads, with every way it fails (not only TOMLDecodeError) as a DesignError naming ``source``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        reason = str(exc)
    except RecursionError:
        reason = "arrays or tables nested too deeply"
    except ValueError as exc:
        # Python's int-from-string limit (sys.get_int_max_str_digits(), 4,300 digits by default).
        reason = "an integer with too many digits" if "digits" in str(exc) else str(exc)
    except Exception as exc:  # any other parser failure is still a bad file, not a crash
        reason = f"{type(exc).__name__}: {exc}"
    raise DesignError(f"not valid TOML: {' '.join(reason.split())[:200]}", source=source)


def loads(text: str, *, source: str = "<string>", default_name: str = "design", validate: bool = False) -> Design:
    """Parse a design from TOML text; errors name ``source``.

    A design being edited may be invalid for a while (and is saved and reopened so), so shapes are only checked
    with ``validate=True``: then an impossible shape or an output that is not (classes,) also names ``source``.
    """
    data = _parse_toml(text, source)
    try:
        design = design_from_dict(data, default_name=default_name)
        if validate:
            analyze(design)
    except DesignError as exc:
        raise exc.in_source(source) from None
    return design


def load(path: str | os.PathLike[str], *, validate: bool = False) -> Design:
    """Read a design file (``validate``: as for loads)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise DesignError(f"cannot read design file: {exc.strerror or exc}", source=str(p)) from None
    return loads_bytes(data, source=str(p), default_name=p.stem, validate=validate)


def loads_bytes(data: bytes, *, source: str = "<bytes>", default_name: str = "design",
                validate: bool = False) -> Design:
    """Parse a design from the bytes of a file (UTF-8); as loads otherwise."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DesignError("not a UTF-8 text file", source=source) from None
    # Universal newlines, as Path.read_text reads a file.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return loads(text, source=source, default_name=default_name, validate=validate)


def dumps(design: Design) -> str:
    """The TOML text of a design."""
    import tomli_w  # here, not at the top: only saving writes TOML, and the app's start-up reads only

    return tomli_w.dumps(design_to_dict(design))


def save(design: Design, path: str | os.PathLike[str]) -> None:
    """Write a design file atomically: a crash mid-write never leaves a half-written file behind."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(dumps(design))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

