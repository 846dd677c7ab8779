"""Load ``skloop.yaml`` with errors that name the file, the line and the key.

PyYAML's node tree keeps the position of every key and value; we walk it once to map
each key path to its line, then translate pydantic's errors through that map. The YAML
is composed by the bounded loader of :mod:`skloop.core._spec_yaml`, which refuses
alias bombs, recursive documents and keys given twice.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from skloop.core._errors import SpecError
from skloop.core._names import SPEC_FILENAME
from skloop.core._spec import Spec
from skloop.core._spec_yaml import MAX_EXPANDED_NODES, Refused, compose

__all__ = ["MAX_EXPANDED_NODES", "SPEC_FILENAME", "load_spec", "parse_spec", "spec_from_dict"]

_Path = tuple[str | int, ...]


def _line_map(node: yaml.Node | None, path: _Path = (), out: dict[_Path, int] | None = None) -> dict[_Path, int]:
    out = {} if out is None else out
    if node is None:
        return out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            out[(*path, key)] = key_node.start_mark.line + 1
            _line_map(value_node, (*path, key), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, (*path, i), out)
    return out


def _fmt_path(loc: _Path) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _allowed_keys(model: type[Any], loc: _Path) -> list[str]:
    """The keys allowed at the mapping that contains ``loc``'s last element."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if fields is None or not isinstance(part, str):
            return []
        field = next((f for n, f in fields.items() if (f.alias or n) == part), None)
        if field is None:
            return []
        ann = field.annotation
        current = next((a for a in getattr(ann, "__args__", (ann,)) if hasattr(a, "model_fields")), None)
        if current is None:
            return []
    fields = getattr(current, "model_fields", {})
    return sorted(f.alias or n for n, f in fields.items())


_MISSING = object()


def _looks_like_tag(part: Any) -> bool:
    return isinstance(part, str) and (
        part[:1].isupper() or "[" in part or part in {"str", "int", "float", "bool", "function-after"}
    )


def _clean_loc(loc: tuple[Any, ...], data: Any = _MISSING) -> _Path:
    """The location of an error as the user's keys, without pydantic's union-branch tags.

    Pydantic adds tags ("str", "SqlSource", "list[...]") to locations. A part that is a
    key (or index) of the input at that point is the user's, whatever its case (a key
    ``Age`` is kept); a part that is not is dropped when it looks like a tag, and kept
    otherwise (the missing key of a ``missing`` error).
    """
    cleaned: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        if in_dict or (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)):
            node = node[part]
        elif _looks_like_tag(part):
            continue
        else:
            node = _MISSING
        cleaned.append(part)
    return tuple(cleaned)


def _problems(exc: ValidationError, lines: dict[_Path, int], file: str, data: Any = _MISSING) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    seen: set[tuple[_Path, str]] = set()
    for err in exc.errors(include_url=False):
        loc = _clean_loc(tuple(err["loc"]), data)
        kind = err["type"]
        if (loc, kind) in seen:
            continue
        seen.add((loc, kind))
        line = next((lines[loc[:i]] for i in range(len(loc), -1, -1) if loc[:i] in lines), None)
        given = err.get("input")
        allowed: str | None = None
        if kind == "extra_forbidden":
            keys = _allowed_keys(Spec, loc)
            close = difflib.get_close_matches(str(loc[-1]), keys, n=1)
            message = f"unknown key {loc[-1]!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            allowed = ", ".join(keys) if keys else None
            given = None
        elif kind == "missing":
            message = "required key is missing"
            given = None
        elif kind == "literal_error":
            message = "value not allowed"
            allowed = err.get("ctx", {}).get("expected")
        else:
            message = err["msg"].removeprefix("Value error, ")
        problems.append(
            {"file": file, "line": line, "key": _fmt_path(loc), "message": message, "given": given, "allowed": allowed}
        )
    # a union failing on every branch repeats itself; keep the most specific messages
    return problems


def _render(problems: list[dict[str, Any]]) -> str:
    head = f"{problems[0]['file']}: the spec is not valid ({len(problems)} problem{'s' * (len(problems) > 1)})"
    lines = [head]
    for p in problems:
        where = f"line {p['line']}: " if p["line"] else ""
        text = f"  {where}{p['key']}: {p['message']}"
        if p["given"] is not None and not isinstance(p["given"], dict):
            text += f"; given {p['given']!r}"
        if p["allowed"]:
            text += f"; allowed: {p['allowed']}"
        lines.append(text)
    return "\n".join(lines)


def spec_from_dict(data: Any, file: str = "<spec>", lines: dict[_Path, int] | None = None) -> Spec:
    """Validate already-parsed spec data.

    Raises
    ------
    SpecError
        When ``data`` is not a valid spec; the message lists every problem.
    """
    if not isinstance(data, dict):
        raise SpecError(
            f"{file}: the spec must be a mapping of keys (name, data, pipeline, ...), given {type(data).__name__}",
            [
                {
                    "file": file,
                    "line": 1,
                    "key": "(top level)",
                    "message": "not a mapping",
                    "given": None,
                    "allowed": None,
                }
            ],
        )
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc, lines or {}, file, data)
        raise SpecError(_render(problems), problems) from None
    except (TypeError, ValueError) as exc:  # e.g. unhashable keys from odd YAML
        raise SpecError(f"{file}: the spec is not valid: {exc}") from None


def parse_spec(text: str, file: str = "<spec>") -> Spec:
    """Parse and validate spec text (YAML)."""
    try:
        node, data = compose(text)
    except Refused as exc:
        problem = {"file": file, "line": exc.line, "key": exc.key, "message": exc.message, "given": None}
        raise SpecError(f"{file}: {exc.message}", [{**problem, "allowed": None}]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"{file}: not valid YAML{where}: {reason}") from None
    except (RecursionError, ValueError, TypeError, OverflowError, AttributeError, KeyError, IndexError) as exc:
        # PyYAML's constructors fail with plain Python errors on some explicitly tagged values
        # (``!!timestamp 2024-01-01x`` is an AttributeError inside PyYAML): the document is at fault
        raise SpecError(f"{file}: not valid YAML: {exc!r}; check the tagged (!!) and unusual values") from None
    return spec_from_dict(data, file, _line_map(node))


def load_spec(path: str | os.PathLike[str]) -> Spec:
    """Read and validate a ``skloop.yaml`` file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "skloop.yaml").write_text("name: x\\ndata: {train: t.csv, target: y}\\n")
    >>> load_spec(d / "skloop.yaml").data.target
    'y'
    """
    p = Path(path)
    if p.is_dir():
        p = p / SPEC_FILENAME
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{p}: no such spec file; create one with 'skloop init'") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{p}: cannot read the spec: {exc}") from None
    return parse_spec(text, str(p))
