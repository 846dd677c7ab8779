"""How the prediction log encodes its records: one strict JSON document per line.

orjson by default; the standard library's encoder is the reference the tests compare
with. Datetimes become ISO strings, numpy values plain numbers, NaN and infinities
``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import orjson

from skloop.core import UsageError

__all__ = ["encode_records"]


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return tolist()
    return str(value)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


_json_encode = json.JSONEncoder(separators=(",", ":"), default=_default, allow_nan=True, ensure_ascii=False).encode


def _encode_stdlib(record: Any) -> bytes:
    text = _json_encode(record)
    if "NaN" in text or "Infinity" in text:  # rare: walk the record only then
        text = _json_encode(_finite(record))
    return text.encode()


_ORJSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _encode_fast(record: Any) -> bytes:
    return orjson.dumps(record, default=_default, option=_ORJSON_OPTIONS)


def encode_records(records: Sequence[Mapping[str, Any]], *, fast: bool = True) -> bytes:
    """The bytes appended for ``records``: one strict JSON document per line.

    Parameters
    ----------
    records : sequence of mapping
        JSON-like records; datetimes become ISO strings, numpy values plain numbers,
        NaN and infinities ``null``, anything else its ``str``.
    fast : bool, default=True
        Use :mod:`orjson` (``False``: the standard library, the reference the tests compare with).

    Examples
    --------
    >>> encode_records([{"a": 1, "b": float("nan")}])
    b'{"a":1,"b":null}\\n'
    """
    encode = _encode_fast if fast else _encode_stdlib
    try:
        return b"".join([encode(r) + b"\n" for r in records])
    except (TypeError, ValueError) as exc:  # e.g. a circular structure or an int key clash
        raise UsageError(f"a prediction record cannot be encoded as JSON: {exc}") from exc
