"""Load ``skloop.yaml`` with errors that name the file, the line and the key.

PyYAML's node tree keeps the position of every key and value; we walk it once to map
each key path to its line, then translate pydantic's errors through that map.

The YAML is composed by a loader that refuses, while it composes and before anything
big is built, what a spec never needs: anchors and aliases that expand to more than
:data:`MAX_EXPANDED_NODES` values (a "billion laughs" document grows exponentially), an
alias inside the node it names (a recursive document), and a key given twice in one
mapping (YAML would keep the last one silently).
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

__all__ = ["MAX_EXPANDED_NODES", "SPEC_FILENAME", "load_spec", "parse_spec", "spec_from_dict"]

MAX_EXPANDED_NODES = 100_000
"""Most values (scalars, lists, mappings) a spec may hold once its aliases are expanded."""

_Path = tuple[str | int, ...]
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Refused(Exception):
    """A document the loader will not compose; ``parse_spec`` adds the file name."""

    def __init__(self, line: int, key: str, message: str) -> None:
        super().__init__(message)
        self.line, self.key, self.message = line, key, message


class _BoundedLoader(yaml.SafeLoader):
    """A safe loader that counts the expanded size of every node as it composes it.

    An alias costs the expanded size of the node it names, so the count is what a walk
    of the finished tree would visit; it is checked as each node is finished, long
    before the exponential structure a walk (or pydantic) would build.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}  # id(node) -> expanded size, once composed

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            # types-PyYAML leaves peek_event unannotated; after check_event it is this alias
            event: yaml.AliasEvent = self.peek_event()  # type: ignore[no-untyped-call]
            target = self.anchors.get(event.anchor)
            if target is not None:  # an undefined alias is PyYAML's error to raise
                line = event.start_mark.line + 1 if event.start_mark is not None else 0  # the parser marks every event
                if id(target) not in self._sizes:  # named, not finished: the alias is inside its own anchor
                    raise _Refused(
                        line,
                        f"*{event.anchor}",
                        f"line {line}: the alias *{event.anchor} is inside the node it names "
                        f"(&{event.anchor} at line {target.start_mark.line + 1}); a spec cannot be recursive, "
                        "write the value out",
                    )
        node = super().compose_node(parent, index)
        if node is not None and id(node) not in self._sizes:
            children: list[yaml.Node] = []
            if isinstance(node, yaml.SequenceNode):
                children = node.value
            elif isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            size = 1 + sum(self._sizes[id(c)] for c in children)
            if size > MAX_EXPANDED_NODES:
                line = node.start_mark.line + 1
                raise _Refused(
                    line,
                    "(aliases)",
                    f"line {line}: the value that starts here expands to more than {MAX_EXPANDED_NODES:,} "
                    "values through anchors and aliases; a spec needs far fewer: write them out or nest fewer aliases",
                )
            self._sizes[id(node)] = size
        return node

    # types-PyYAML types ``anchor`` as a dict; PyYAML passes the event's anchor name
    def compose_mapping_node(self, anchor: str | None) -> yaml.MappingNode:  # type: ignore[override]
        node = super().compose_mapping_node(anchor)  # type: ignore[arg-type]
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue  # merged keys (<<: *base) may be overridden, that is their point
            key = self.construct_object(key_node)  # "1" and "01" are the same int key
            line = key_node.start_mark.line + 1
            if key in first:
                raise _Refused(
                    line,
                    str(key),
                    f"line {line}: the key {key!r} is given twice in one mapping (first at line {first[key]}); "
                    "YAML would keep only the last, so remove one",
                )
            first[key] = line
        return node


def _compose(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the data of ``text``, composed once."""
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        return node, (None if node is None else loader.construct_document(node))
    finally:
        loader.dispose()


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
        node, data = _compose(text)
    except _Refused as exc:
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
