"""Labels: the true outcomes of logged predictions, sent to the server or loaded from a file.

``POST /v2/models/{name}/labels`` (the model server's admin route, behind its token)
takes a JSON list of ``{"id": ..., "label": ...}``
(the label of an entity: every prediction made for it) or ``{"request_id": ...,
"row": ..., "label": ...}`` (the label of one prediction), each optionally with a
``"time"``. :func:`ingest_label_records` validates the whole list first, so a bad
record stores nothing, and the error names the record's index and the field.

A label is checked against the model it is for (its output schema: the served
version's, or the champion's, else the latest version's): a classifier's label must
be one of its classes, a regressor's a finite number. Labels are compared with the
classes as text, the way the monitor and the loop compare them (:func:`label_text`),
with numbers and booleans also read from their text: for a class ``1``, the labels
``1``, ``1.0``, ``"1"`` and ``"1.0"`` are all that class, and it is stored as ``"1"``.
A label that matches nothing is refused (it would make every later ``skloop loop run``
fail, and every monitored prediction count as wrong).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skloop.core import DataError, LabelError
from skloop.monitor import label_text
from skloop.registry import DEFAULT_ALIAS, INT64_MAX, OutputSchema, Registry, Signature, brief

if TYPE_CHECKING:
    from skloop.store import Store

__all__ = [
    "MAX_LABEL_CHARS",
    "MAX_LABEL_RECORDS",
    "LabelError",
    "ingest_label_file",
    "ingest_label_records",
    "label_output",
]

MAX_LABEL_RECORDS = 100_000
"""Most label records accepted in one request."""
MAX_LABEL_CHARS = 200
"""Longest label accepted, as text."""
_MAX_SHOWN = 10
_MAX_KEY_CHARS = {"id": 200, "request_id": 100}  # the store's limits on entity and request ids
_FIELDS = ("id", "request_id", "row", "label", "time")


def label_output(store: Store, model: str) -> OutputSchema | None:
    """The output schema that labels of ``model`` are checked against.

    The champion's (:data:`~skloop.registry.DEFAULT_ALIAS`), else the latest registered
    version's; ``None`` when that version was registered without a signature.

    Raises
    ------
    ModelNotFoundError
        ``model`` has no version in the registry (naming the models there).
    """
    registry = Registry(store)
    versions = registry.versions(model)  # a name, never a reference: "x@y" is no model
    champion = registry.aliases(model).get(DEFAULT_ALIAS)
    registered = [v for v in versions if not v.is_rejected] or versions
    version = next((v for v in versions if v.version == champion), registered[-1])
    return None if version.signature is None else Signature.from_dict(version.signature).output


def _missing(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _number(value: Any) -> float | int | None:
    """A finite number from a number or its text; ``None`` for anything else (booleans too)."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    item = getattr(value, "item", None)
    if callable(item):  # numpy scalars
        value = item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _label(value: Any, output: OutputSchema | None) -> tuple[str | None, str | None]:
    """``(text to store, None)`` for a valid label, ``(None, problem)`` otherwise."""
    if isinstance(value, dict | list | tuple | set):
        return None, "must be a string, number or boolean"
    if isinstance(value, float) and not math.isfinite(value):
        return None, f"{brief(value)} is not a finite number"
    if isinstance(value, str):
        if len(value) > MAX_LABEL_CHARS:
            return None, f"is {len(value)} characters long; a label has at most {MAX_LABEL_CHARS}"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return None, "is not valid Unicode text (a lone surrogate)"
    text = label_text(value)
    if text is None or len(text) > MAX_LABEL_CHARS:
        return None, f"{brief(value)} is not a label; give a class or a number"
    if output is None:
        return text, None
    if output.task == "regression":
        number = _number(value)
        if number is None:
            return None, f"{brief(value)} is not a finite number, which a regression model's label is"
        return label_text(number), None
    if not output.classes:
        return text, None
    classes = [label_text(c) for c in output.classes]
    if text in classes:
        return text, None
    if isinstance(value, str):  # a number or a boolean written as text: "1.0" for 1, "true" for True
        number = _number(value)
        if number is not None and label_text(number) in classes:
            return label_text(number), None
        word = value.strip().lower()
        if word in ("true", "false") and label_text(word == "true") in classes:
            return label_text(word == "true"), None
    shown = ", ".join(str(c) for c in classes[:20]) + (f" and {len(classes) - 20} more" if len(classes) > 20 else "")
    return None, f"{brief(value)} is not one of the model's classes ({shown})"


def _time_problem(value: Any) -> str | None:
    if value is None or isinstance(value, datetime):
        return None
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return None
    return f"{brief(value)} is not an ISO 8601 time such as 2025-01-31T12:00:00Z"


def _key_problem(record: Mapping[str, Any]) -> tuple[str, str] | None:
    has_id = not _missing(record.get("id"))
    has_request = not _missing(record.get("request_id")) or not _missing(record.get("row"))
    if has_id and has_request:
        return "id", "give either 'id' or 'request_id' and 'row', not both"
    if not has_id and not has_request:
        return "id", "missing: give 'id' (the entity) or 'request_id' and 'row' (one prediction)"
    if has_request:
        if _missing(record.get("request_id")):
            return "request_id", "missing (it goes with 'row')"
        row = record.get("row")
        if isinstance(row, float) and row.is_integer():
            row = int(row)
        if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row <= INT64_MAX:
            return "row", f"must be an integer from 0 to 2**63 - 1, given {brief(record.get('row'))}"
    key = "id" if has_id else "request_id"
    value = record.get(key)
    if isinstance(value, dict | list | tuple | set | bool):
        return key, "must be a string or a number"
    text = label_text(value)
    if text is None or len(text) > _MAX_KEY_CHARS[key]:
        return key, f"must be a string or a number of at most {_MAX_KEY_CHARS[key]} characters"
    return None


def _record_issues(i: int, record: Any, output: OutputSchema | None) -> tuple[list[dict[str, Any]], str | None]:
    if not isinstance(record, Mapping):
        return [{"row": i, "column": None, "problem": f"not an object: {brief(record)}"}], None
    issues: list[dict[str, Any]] = []
    text = None
    if _missing(record.get("label")):
        issues.append({"row": i, "column": "label", "problem": "missing"})
    else:
        text, problem = _label(record["label"], output)
        if problem is not None:
            issues.append({"row": i, "column": "label", "problem": problem})
    key = _key_problem(record)
    if key is not None:
        issues.append({"row": i, "column": key[0], "problem": key[1]})
    time = _time_problem(record.get("time"))
    if time is not None:
        issues.append({"row": i, "column": "time", "problem": time})
    unknown = sorted(str(k) for k in set(record) - set(_FIELDS))
    if unknown:
        issues.append(
            {"row": i, "column": unknown[0][:60], "problem": "unknown field (use id, request_id, row, label, time)"}
        )
    return issues, text


def _check(records: object, start: int = 0, output: OutputSchema | None = None) -> list[dict[str, Any]]:
    if not isinstance(records, Sequence) or isinstance(records, str | bytes):
        raise LabelError(
            'labels are a JSON list of objects such as [{"id": "c-17", "label": "yes"}], '
            f"given {type(records).__name__}",
            [{"row": None, "column": None, "problem": "not a list", "severity": "error"}],
        )
    if len(records) > MAX_LABEL_RECORDS:
        raise LabelError(
            f"{len(records)} label records in one call; send at most {MAX_LABEL_RECORDS}",
            [{"row": None, "column": None, "problem": "too many records", "severity": "error"}],
        )
    issues: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for i, record in enumerate(records, start):
        found, text = _record_issues(i, record, output)
        if found:
            issues += found
            continue
        has_id = not _missing(record.get("id"))
        rows.append({
            "label": text, "time": record.get("time"),
            **({"entity_id": record["id"]} if has_id
               else {"request_id": record["request_id"], "row": int(record["row"])}),
        })  # fmt: skip
    if issues:
        for issue in issues:
            issue["severity"] = "error"
        shown = "; ".join(
            f"record {x['row']}" + (f", field {x['column']!r}" if x["column"] else "") + f": {x['problem']}"
            for x in issues[:_MAX_SHOWN]
        )
        more = f" (and {len(issues) - _MAX_SHOWN} more)" if len(issues) > _MAX_SHOWN else ""
        raise LabelError(f"{len(issues)} problem(s) in the labels, nothing stored: {shown}{more}", issues)
    return rows


def ingest_label_records(
    store: Store, model: str, records: Sequence[Mapping[str, Any]], *, output: OutputSchema | None = None
) -> int:
    """Validate label records and store them for ``model``; return how many were stored.

    Parameters
    ----------
    store : Store
        Where the labels go.
    model : str
        The model's name.
    records : sequence of mapping
        ``{"id", "label"}`` or ``{"request_id", "row", "label"}``, each optionally with
        ``"time"`` (ISO 8601; default now). A later label for the same key replaces
        the earlier one.
    output : OutputSchema, optional
        What the labels are checked against (a server passes its model's); by default
        :func:`label_output` of ``model``.

    Raises
    ------
    LabelError
        A :class:`~skloop.core.DataError` naming each bad record's index and field
        (a label that is not one of the classes, a row beyond int64, ...); nothing is
        stored then.
    ModelNotFoundError
        Without ``output``, when ``model`` is not in the registry.

    Examples
    --------
    >>> ingest_label_records(store, "churn", [{"id": "c-17", "label": "yes"}])  # doctest: +SKIP
    1
    """
    from skloop.core import StoreError

    if output is None:
        output = label_output(store, model)
    rows = _check(records, output=output)
    try:
        return store.predictions.insert_labels(model, rows)
    except StoreError as exc:
        text = str(exc)
        if text.startswith("label record "):  # a value the store refused
            index = int(text.split()[2].rstrip(":,"))
            raise LabelError(text, [{"row": index, "column": None, "problem": text, "severity": "error"}]) from exc
        raise


def ingest_label_file(
    store: Store,
    model: str,
    path: str | os.PathLike[str],
    *,
    id_column: str | None = "id",
    label_column: str = "label",
    request_id_column: str | None = None,
    row_column: str | None = None,
    time_column: str | None = None,
    batch_rows: int = 50_000,
    output: OutputSchema | None = None,
) -> int:
    """Store the labels of a CSV or Parquet file for ``model``; return how many were stored.

    Each row gives a label (``label_column``) and its key: the entity id
    (``id_column``), or, when ``request_id_column`` and ``row_column`` are given, the
    prediction. All or nothing: the whole file is read and validated (in chunks of
    ``batch_rows``) before any label is stored, so a file with a bad row stores
    nothing; then it is read again and stored chunk by chunk (should the store fail
    part-way, run it again: a later label for a key replaces the earlier one).

    Parameters
    ----------
    output : OutputSchema, optional
        What the labels are checked against; by default :func:`label_output` of ``model``.

    Raises
    ------
    DataError
        When the file cannot be read, lacks a named column, or has rows that are not
        valid labels (a :class:`LabelError`: the message names the file, the rows and
        the fields); nothing is stored then.
    ModelNotFoundError
        Without ``output``, when ``model`` is not in the registry.
    """
    from skloop.data import iter_batches

    by_request = request_id_column is not None or row_column is not None
    if by_request and (request_id_column is None or row_column is None):
        raise DataError("labels keyed by prediction need both a request id column and a row column")
    if not by_request and id_column is None:
        raise DataError("give the id column (the entity) or the request id and row columns (the prediction)")
    rename = {label_column: "label"}
    if by_request:
        rename |= {str(request_id_column): "request_id", str(row_column): "row"}
    else:
        rename[str(id_column)] = "id"
    if time_column is not None:
        rename[time_column] = "time"
    source = Path(path)
    if output is None:
        output = label_output(store, model)

    def chunks() -> Any:
        start = 0
        for chunk in iter_batches(source, batch_rows):
            missing = [c for c in rename if c not in chunk.columns]
            if missing:
                raise DataError(f"{source}: no column(s) {missing}; it has {list(chunk.columns)[:20]}")
            frame = chunk[list(rename)].rename(columns=rename)
            if "time" in frame.columns:
                frame["time"] = [None if _missing(t) else str(t) for t in frame["time"].astype(object)]
            records = frame.astype(object).where(frame.notna(), None).to_dict("records")
            try:
                yield _check(records, start, output)
            except LabelError as exc:
                raise LabelError(f"{source}: {exc.message}".replace("record ", "row "), exc.issues) from None
            start += len(chunk)

    for _ in chunks():  # validate the whole file first: nothing is stored from a file with a bad row
        pass
    return sum(store.predictions.insert_labels(model, rows) for rows in chunks())
