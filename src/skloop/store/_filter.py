"""The search language of :meth:`RunStore.search_runs`, parsed safely into SQL.

A filter is comparisons joined by ``and`` / ``or`` with parentheses::

    metrics.cv_roc_auc > 0.8 and params.model__max_depth = '8' and status = 'finished'

A comparison is ``<field> <op> <value>``. Fields are ``metrics.<key>`` (numbers),
``params.<key>`` and ``tags.<key>`` (text), or a run attribute (``status``, ``kind``,
``name``, ``project``, ``id``, ``start_time``, ...). A key with unusual characters is
written in backticks: ``metrics.`val loss```. Operators: ``= == != < <= > >=``,
``like``, ``ilike``, ``in (...)``, ``not in (...)``, ``is null``, ``is not null``.
Values are numbers or quoted strings. Nothing in a filter is ever pasted into SQL:
every value is a bound parameter and every field is looked up in a fixed table.
Parentheses nest at most :data:`MAX_FILTER_DEPTH` deep.

A filter or ordering that cannot be parsed raises :class:`SearchFilterError`, a
:class:`~skloop.core.StoreError` that is also a :class:`~skloop.core.UsageError`
(the CLI exits 2: the user's text is wrong, not the store).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from skloop.core import SearchFilterError

__all__ = [
    "ATTRIBUTES",
    "MAX_FILTER_DEPTH",
    "BoolOp",
    "Comparison",
    "OrderKey",
    "SearchFilterError",
    "parse_filter",
    "parse_order_by",
]

MAX_FILTER_DEPTH = 32
"""Deepest nesting of parentheses in a filter (the parser recurses once per level)."""


#: Run attributes a filter or an ordering may name, with the type of their values.
ATTRIBUTES: dict[str, str] = {
    "id": "str", "project": "str", "kind": "str", "name": "str", "status": "str",
    "start_time": "time", "end_time": "time", "error": "str", "code_commit": "str",
    "code_dirty": "bool", "seed": "num", "parent_run_id": "str", "pid": "num",
    "hostname": "str",
}  # fmt: skip
_ATTR_ALIASES = {"run_id": "id", "run_name": "name"}
_ENTITIES = {
    "metrics": "metrics", "metric": "metrics", "params": "params", "param": "params",
    "tags": "tags", "tag": "tags", "attributes": "attributes", "attribute": "attributes",
    "attr": "attributes", "run": "attributes",
}  # fmt: skip
_SHOWN_CHARS = 200  # of the filter, quoted in an error
_KEYWORDS = {"and", "or", "not", "in", "like", "ilike", "is", "null", "true", "false"}
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<field>[A-Za-z_]\w*\.`[^`]+`|[A-Za-z_][\w.\-/:]*)
  | (?P<op><=|>=|!=|<>|==|=|<|>)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Comparison:
    """``entity.key op value``; ``entity`` is metrics, params, tags or attributes."""

    entity: str
    key: str
    op: str
    value: Any
    position: int


@dataclass(frozen=True)
class BoolOp:
    """``and`` or ``or`` of two or more terms."""

    op: str
    terms: tuple[Comparison | BoolOp, ...]


@dataclass(frozen=True)
class OrderKey:
    """One ordering term: a field and a direction."""

    entity: str
    key: str
    descending: bool


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _error(source: str, pos: int, token: str, problem: str) -> SearchFilterError:
    shown = source if len(source) <= _SHOWN_CHARS else source[:_SHOWN_CHARS] + f"... ({len(source):,} characters)"
    return SearchFilterError(
        f"bad search filter at position {pos + 1}, token {token!r}: {problem}; in {shown!r}. "
        "Example of a valid filter: metrics.cv_roc_auc > 0.8 and params.model__max_depth = '8' "
        "and status = 'finished'"
    )


def _tokenize(source: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None:
            raise _error(source, pos, source[pos : pos + 10], "unexpected character")
        kind = m.lastgroup or ""
        if kind != "ws":
            text = m.group()
            if kind == "field" and text.lower() in _KEYWORDS:
                kind, text = "kw", text.lower()
            tokens.append(_Tok(kind, text, pos))
        pos = m.end()
    return tokens


def _split_field(source: str, tok: _Tok) -> tuple[str, str]:
    text = tok.text
    head, dot, rest = text.partition(".")
    if dot and head.lower() in _ENTITIES:
        entity = _ENTITIES[head.lower()]
        key = rest[1:-1] if rest.startswith("`") else rest
    elif not dot:
        entity, key = "attributes", text
    else:
        raise _error(
            source,
            tok.pos,
            text,
            f"fields are metrics.<key>, params.<key>, tags.<key> or one of {', '.join(sorted(ATTRIBUTES))}",
        )
    if not key:
        raise _error(source, tok.pos, text, "the field has no key")
    if entity == "attributes":
        key = _ATTR_ALIASES.get(key.lower(), key.lower())
        if key not in ATTRIBUTES:
            raise _error(
                source,
                tok.pos,
                text,
                f"unknown run attribute; use one of {', '.join(sorted(ATTRIBUTES))}, or metrics./params./tags.<key>",
            )
    return entity, key


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expect: str | None = None, *, what: str | None = None) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise _error(self.source, len(self.source), "<end>", f"expected {what or expect}")
        if expect is not None and expect not in (tok.kind, tok.text):
            raise _error(self.source, tok.pos, tok.text, f"expected {expect}")
        self.i += 1
        return tok

    def parse(self) -> Comparison | BoolOp:
        node = self.expr()
        if (tok := self.peek()) is not None:
            raise _error(self.source, tok.pos, tok.text, "expected 'and', 'or' or the end")
        return node

    def expr(self) -> Comparison | BoolOp:
        return self._chain("or", self.conjunction)

    def conjunction(self) -> Comparison | BoolOp:
        return self._chain("and", self.atom)

    def _chain(self, word: str, sub: Any) -> Comparison | BoolOp:
        terms = [sub()]
        while (tok := self.peek()) is not None and tok.text == word:
            self.take()
            terms.append(sub())
        return terms[0] if len(terms) == 1 else BoolOp(word, tuple(terms))

    def atom(self) -> Comparison | BoolOp:
        tok = self.peek()
        if tok is not None and tok.text == "(":
            if self.depth == MAX_FILTER_DEPTH:
                raise _error(
                    self.source, tok.pos, tok.text, f"parentheses nest more than {MAX_FILTER_DEPTH} deep; use fewer"
                )
            self.take()
            self.depth += 1
            node = self.expr()
            self.depth -= 1
            self.take(")")
            return node
        return self.comparison()

    def comparison(self) -> Comparison:
        tok = self.take(what="a field")
        if tok.kind != "field":
            raise _error(self.source, tok.pos, tok.text, "expected a field such as metrics.<key>")
        entity, key = _split_field(self.source, tok)
        op_tok = self.take(what="an operator")
        op = op_tok.text
        if op_tok.kind == "op":
            op = {"==": "=", "<>": "!="}.get(op, op)
            value: Any = self.value()
        elif op in ("like", "ilike"):
            value = self.value()
        elif op == "is":
            negate = self.peek() is not None and self.peek().text == "not"  # type: ignore[union-attr]
            if negate:
                self.take()
            self.take("null")
            op, value = ("is not null" if negate else "is null"), None
        elif op in ("in", "not"):
            if op == "not":
                self.take("in")
                op = "not in"
            self.take("(")
            value = [self.value()]
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.take()
                value.append(self.value())
            self.take(")")
        else:
            raise _error(
                self.source,
                op_tok.pos,
                op_tok.text,
                "expected an operator (= != < <= > >= like ilike in 'not in' 'is null')",
            )
        return self._typed(Comparison(entity, key, op, value, tok.pos), op_tok)

    def value(self) -> _Tok:
        tok = self.take(what="a value")
        if tok.kind not in ("str", "num") and tok.text not in ("true", "false"):
            raise _error(self.source, tok.pos, tok.text, "expected a number or a quoted string")
        return tok

    def _typed(self, cmp: Comparison, op_tok: _Tok) -> Comparison:
        if cmp.op in ("is null", "is not null"):
            return cmp
        kind = {"metrics": "num", "params": "str", "tags": "str"}.get(cmp.entity) or ATTRIBUTES[cmp.key]
        if cmp.op in ("like", "ilike") and kind != "str":
            raise _error(self.source, op_tok.pos, op_tok.text, f"{cmp.op} needs a text field")
        toks = cmp.value if isinstance(cmp.value, list) else [cmp.value]
        values = [self._convert(t, kind, cmp) for t in toks]
        return Comparison(
            cmp.entity,
            cmp.key,
            cmp.op,
            values if isinstance(cmp.value, list) else values[0],
            cmp.position,
        )

    def _convert(self, tok: _Tok, kind: str, cmp: Comparison) -> Any:
        text = tok.text[1:-1].replace(tok.text[0] * 2, tok.text[0]) if tok.kind == "str" else tok.text
        field = cmp.key if cmp.entity == "attributes" else f"{cmp.entity}.{cmp.key}"
        if kind == "num":
            try:
                return float(text) if tok.kind == "num" else float(text.strip())
            except ValueError:
                raise _error(self.source, tok.pos, tok.text, f"{field} is a number") from None
        if kind == "bool":
            if text.lower() not in ("true", "false", "1", "0"):
                raise _error(self.source, tok.pos, tok.text, f"{field} is true or false")
            return text.lower() in ("true", "1")
        if kind == "time":
            try:
                if tok.kind == "num":
                    return datetime.fromtimestamp(float(text) / 1000, UTC)
                when = datetime.fromisoformat(text)
            except (ValueError, OverflowError, OSError):
                raise _error(
                    self.source,
                    tok.pos,
                    tok.text,
                    f"{field} needs an ISO date such as '2025-01-31' or '2025-01-31T12:00:00'",
                ) from None
            return when if when.tzinfo else when.replace(tzinfo=UTC)
        return text


def parse_filter(source: str) -> Comparison | BoolOp | None:
    """Parse a filter; ``None`` for an empty one.

    Raises
    ------
    SearchFilterError
        Naming the position and the token that could not be understood.

    Examples
    --------
    >>> parse_filter("metrics.auc > 0.8")
    Comparison(entity='metrics', key='auc', op='>', value=0.8, position=0)
    """
    if source is None or not source.strip():
        return None
    if not isinstance(source, str):
        raise SearchFilterError(f"a search filter is a string, given {type(source).__name__}")
    return _Parser(source).parse()


def parse_order_by(items: list[str] | tuple[str, ...] | str | None) -> list[OrderKey]:
    """Parse ``["metrics.auc DESC", "start_time"]`` into ordering keys.

    An item is tokenised like a filter, so a key with spaces or other unusual
    characters is written in backticks there too (``metrics.`val loss` DESC``), and one
    item may hold several keys separated by commas (``"metrics.auc DESC, start_time"``).

    Raises
    ------
    SearchFilterError
        Naming the item that is not ``<field> [ASC|DESC]``.

    Examples
    --------
    >>> parse_order_by("metrics.`val loss` DESC")
    [OrderKey(entity='metrics', key='val loss', descending=True)]
    """
    if items is None:
        return []
    if isinstance(items, str):
        items = [items]
    keys: list[OrderKey] = []
    for item in items:
        text = str(item)
        shape = SearchFilterError(
            f"bad order_by item {text!r}: expected '<field> [ASC|DESC]', e.g. 'metrics.cv_roc_auc DESC' "
            "(a key with spaces in backticks: metrics.`val loss` DESC)"
        )
        try:
            tokens = _tokenize(text)
        except SearchFilterError:
            raise shape from None
        groups: list[list[_Tok]] = [[]]
        for tok in tokens:
            if tok.text == ",":
                groups.append([])
            else:
                groups[-1].append(tok)
        for group in groups:
            if not group or len(group) > 2 or (len(group) == 2 and group[1].text.lower() not in ("asc", "desc")):
                raise shape
            field = group[0]
            not_a_field = SearchFilterError(
                f"bad order_by item {text!r}: {field.text!r} is not a field; use "
                "metrics.<key>, params.<key>, tags.<key> or a run attribute"
            )
            if field.kind != "field":
                raise not_a_field
            try:
                entity, key = _split_field(text, field)
            except SearchFilterError as exc:
                raise not_a_field from exc
            keys.append(OrderKey(entity, key, len(group) == 2 and group[1].text.lower() == "desc"))
    return keys
