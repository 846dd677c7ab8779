"""Labels: the true outcomes of logged predictions, sent to the server or loaded from a file.

``POST /v2/models/{name}/labels`` (the model server's admin route, behind its token)
takes a JSON list of ``{"id": ..., "label": ...}``
(the label of an entity: every prediction made for it) or ``{"request_id": ...,
"row": ..., "label": ...}`` (the label of one prediction), each optionally with a
``"time"``. :func:`ingest_label_records` validates the whole list first, so a bad
record stores nothing, and the error names the record's index and the field.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skloop.core import DataError

if TYPE_CHECKING:
    from skloop.store import Store

__all__ = ["MAX_LABEL_RECORDS", "LabelError", "ingest_label_file", "ingest_label_records"]

MAX_LABEL_RECORDS = 100_000
"""Most label records accepted in one request."""
_MAX_SHOWN = 10


class LabelError(DataError):
    """Label records that cannot be stored; ``issues`` has one entry per problem.

    Each issue is ``{"row": index, "column": field, "problem": text, "severity": "error"}``
    (the shape of the server's error bodies).
    """

    code = "BAD_REQUEST"

    def __init__(self, message: str, issues: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.message = message
        self.issues = issues


def _missing(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


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
        if isinstance(row, bool) or not isinstance(row, int) or row < 0:
            return "row", f"must be an integer >= 0, given {record.get('row')!r}"
    elif isinstance(record.get("id"), dict | list):
        return "id", "must be a string or a number"
    return None


def _check(records: object, start: int = 0) -> list[dict[str, Any]]:
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
        if not isinstance(record, Mapping):
            issues.append({"row": i, "column": None, "problem": f"not an object: {record!r}"[:200]})
            continue
        if _missing(record.get("label")):
            issues.append({"row": i, "column": "label", "problem": "missing"})
        elif isinstance(record["label"], dict | list):
            issues.append({"row": i, "column": "label", "problem": "must be a string, number or boolean"})
        key = _key_problem(record)
        if key is not None:
            issues.append({"row": i, "column": key[0], "problem": key[1]})
        unknown = sorted(set(record) - {"id", "request_id", "row", "label", "time"})
        if unknown:
            issues.append(
                {"row": i, "column": unknown[0], "problem": "unknown field (use id, request_id, row, label, time)"}
            )
        if not issues or issues[-1]["row"] != i:
            has_id = not _missing(record.get("id"))
            rows.append({
                "label": record["label"], "time": record.get("time"),
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


def ingest_label_records(store: Store, model: str, records: Sequence[Mapping[str, Any]]) -> int:
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

    Raises
    ------
    LabelError
        A :class:`~skloop.core.DataError` naming each bad record's index and field;
        nothing is stored then.

    Examples
    --------
    >>> ingest_label_records(store, "churn", [{"id": "c-17", "label": "yes"}])  # doctest: +SKIP
    1
    """
    from skloop.core import StoreError

    rows = _check(records)
    try:
        return store.insert_labels(model, rows)
    except StoreError as exc:
        text = str(exc)
        if text.startswith("label record "):  # a value the store refused (a bad time, ...)
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
) -> int:
    """Store the labels of a CSV or Parquet file for ``model``; return how many were stored.

    Each row gives a label (``label_column``) and its key: the entity id
    (``id_column``), or, when ``request_id_column`` and ``row_column`` are given, the
    prediction. The file is read in chunks; each chunk is validated, then stored.

    Raises
    ------
    DataError
        When the file cannot be read, lacks a named column, or has rows without a key
        or label (the message names the file, the row and the field).
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
    stored = start = 0
    for chunk in iter_batches(source, batch_rows):
        missing = [c for c in rename if c not in chunk.columns]
        if missing:
            raise DataError(f"{source}: no column(s) {missing}; it has {list(chunk.columns)[:20]}")
        frame = chunk[list(rename)].rename(columns=rename)
        if "time" in frame.columns:
            frame["time"] = [None if _missing(t) else str(t) for t in frame["time"].astype(object)]
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        try:
            rows = _check(records, start)
        except LabelError as exc:
            raise LabelError(f"{source}: {exc.message}".replace("record ", "row "), exc.issues) from None
        stored += store.insert_labels(model, rows)
        start += len(chunk)
    return stored
