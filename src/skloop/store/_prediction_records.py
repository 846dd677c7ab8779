"""Logged prediction records as the store keeps them: fields checked, ids and values as text.

:func:`prediction_values` turns one record of the prediction log (one row of a request)
into the values of a ``predictions`` row, naming the field of a bad record;
:func:`as_text` is how entity ids, labels and predicted values are compared (integral
floats without their ``.0``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from skloop.core import StoreError

__all__ = ["as_text", "parse_time", "prediction_row", "prediction_values"]

_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
_MAX_TEXT = {"request_id": 100, "correlation_id": 128, "model": 200, "entity_id": 200}


def as_text(value: object) -> str | None:
    """``value`` as the text stored for ids, labels and predictions (``None`` stays ``None``).

    The rule of :func:`skloop.data.class_name`, so a stored label or prediction is the
    name of its class (``1.0`` and ``1`` are both ``"1"``).

    Examples
    --------
    >>> as_text(42.0), as_text(42), as_text("a"), as_text(float("nan"))
    ('42', '42', 'a', None)
    """
    global _class_name
    if _class_name is None:  # on first use: the store opens without pandas (``skloop runs``)
        from skloop.data import class_name

        _class_name = class_name
    return _class_name(value)


_class_name: Callable[[object], str | None] | None = None


def parse_time(value: object, where: str = "time") -> datetime:
    """A timezone-aware UTC datetime from a datetime or an ISO 8601 string."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise StoreError(f"{where}: {value!r} is not an ISO 8601 time such as 2025-01-31T12:00:00Z") from None
    if not isinstance(value, datetime):
        raise StoreError(f"{where}: expected an ISO 8601 time or a datetime, given {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _text_field(record: Mapping[str, Any], key: str, where: str, *, required: bool) -> str | None:
    value = as_text(record.get(key))
    if value is None or value == "":
        if required:
            raise StoreError(f"{where}: {key!r} is missing; every prediction needs request_id, row, time and model")
        return None
    if len(value) > _MAX_TEXT[key]:
        raise StoreError(f"{where}: {key!r} is longer than {_MAX_TEXT[key]} characters")
    return value


def _int_field(record: Mapping[str, Any], key: str, where: str, *, required: bool) -> int | None:
    value = record.get(key)
    if value is None:
        if required:
            raise StoreError(f"{where}: {key!r} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise StoreError(f"{where}: {key!r} must be an integer, given {value!r}")
    return value


def _text(record: Mapping[str, Any], key: str, where: str, *, required: bool) -> str | None:
    """:func:`_text_field`, with a shortcut for the common case (a non-empty ``str``)."""
    value = record.get(key)
    if type(value) is str and value and len(value) <= _MAX_TEXT[key]:
        return value
    return _text_field(record, key, where, required=required)


def _int(record: Mapping[str, Any], key: str, where: str, *, required: bool) -> int | None:
    value = record.get(key)
    return value if type(value) is int else _int_field(record, key, where, required=required)


@lru_cache(maxsize=256)
def _iso_time(value: str) -> datetime | str:
    """``datetime.fromisoformat(value)``, or ``value`` when it is not one; cached: a request's rows share their time."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:  # parse_time says what is wrong
        return value


def _time(value: object, where: str) -> datetime:
    if type(value) is str:
        value = _iso_time(value)
    if type(value) is datetime and value.tzinfo is UTC:
        return value
    return parse_time(value, where)


def _json_text(value: Any, where: str) -> str:
    """``value`` as JSON text (orjson; non-finite floats become ``null``, as JSON has no NaN)."""
    try:
        return orjson.dumps(value, option=_ORJSON).decode()
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise StoreError(f"{where}: cannot be written as JSON: {exc}") from None


def prediction_values(record: Mapping[str, Any], index: int = 0) -> tuple[Any, ...]:
    """The ``predictions`` row of one log record, as values in the order of :data:`ROW_COLUMNS`.

    What :func:`prediction_row` checks, with ``inputs``, ``outputs`` and ``flags``
    already JSON text (``None`` for SQL NULL): the bulk path of
    :meth:`PredictionStore.insert_predictions` hands these to the driver as they are.
    """
    where = f"prediction record {index}"
    if not isinstance(record, Mapping):
        raise StoreError(f"{where}: expected a mapping, given {type(record).__name__}")
    outputs = record.get("outputs")
    if not isinstance(outputs, Mapping):
        outputs = {} if outputs is None else {"prediction": outputs}
    inputs = record.get("inputs")
    flags = record.get("flags")
    prediction = record["prediction"] if "prediction" in record else outputs.get("prediction")
    return (
        _text(record, "request_id", where, required=True),
        _text(record, "correlation_id", where, required=False),
        _int(record, "row", where, required=True),
        _time(record.get("time"), f"{where}, 'time'"),
        _text(record, "model", where, required=True),
        _int(record, "version", where, required=False),
        _text(record, "entity_id", where, required=False),
        as_text(prediction),
        _json_text(inputs, f"{where}, 'inputs'") if isinstance(inputs, Mapping) else None,
        _json_text(outputs, f"{where}, 'outputs'") if outputs else None,
        _json_text(list(flags), f"{where}, 'flags'") if isinstance(flags, list | tuple) and flags else None,
    )


def prediction_row(record: Mapping[str, Any], index: int = 0) -> dict[str, Any]:
    """The ``predictions`` row of one log record (see :meth:`PredictionStore.insert_predictions`)."""
    where = f"prediction record {index}"
    if not isinstance(record, Mapping):
        raise StoreError(f"{where}: expected a mapping, given {type(record).__name__}")
    outputs = record.get("outputs")
    outputs = dict(outputs) if isinstance(outputs, Mapping) else ({} if outputs is None else {"prediction": outputs})
    inputs = record.get("inputs")
    flags = record.get("flags")
    prediction = record.get("prediction", outputs.get("prediction"))
    return {
        "request_id": _text_field(record, "request_id", where, required=True),
        "correlation_id": _text_field(record, "correlation_id", where, required=False),
        "row": _int_field(record, "row", where, required=True),
        "time": parse_time(record.get("time"), f"{where}, 'time'"),
        "model": _text_field(record, "model", where, required=True),
        "version": _int_field(record, "version", where, required=False),
        "entity_id": _text_field(record, "entity_id", where, required=False),
        "prediction": as_text(prediction),
        "inputs": dict(inputs) if isinstance(inputs, Mapping) else None,
        "outputs": outputs or None,
        "flags": list(flags) if isinstance(flags, list | tuple) and flags else None,
    }
