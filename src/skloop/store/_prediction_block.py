"""A request's predictions as one columnar block: what the server logs, what the store reads.

A block holds the fields its rows share once (``request_id``, ``correlation_id``,
``time``, ``model``, ``version``) and the others as columns of ``rows`` values each::

    {"block": 1, "request_id": "...", "time": "...", "model": "churn", "version": 3, "rows": 2,
     "inputs": {"age": [30, null], ...},
     "outputs": {"prediction": [true, false], "probabilities": {"False": [0.1, 0.8], "True": [0.9, 0.2]}},
     "flags": [[], [{...}]], "entity_id": ["c1", "c2"]}

(``outputs`` may also carry ``shadow``, a list of one mapping a row; ``flags`` and
``entity_id`` are left out when no row has one.) Row ``i`` of a block is the record
:func:`block_records` gives, the one line per row the log held before blocks; the
store reads a block column by column (:func:`block_values`), with no record per row,
and checks its shared fields once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from skloop.core import StoreError

__all__ = ["BLOCK_KEY", "block_records", "block_values", "is_block"]

BLOCK_KEY = "block"
"""The key (value ``1``, the format's version) that marks a log line as a block."""
_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def is_block(record: object) -> bool:
    """Whether a log line's document is a block (see the module doc)."""
    return isinstance(record, Mapping) and record.get(BLOCK_KEY) == 1


def _columns(block: Mapping[str, Any], where: str) -> tuple[int, dict[str, list[Any]], dict[str, Any]]:
    """``(rows, inputs, outputs)`` of ``block``, every column checked to hold ``rows`` values."""
    n = block.get("rows")
    if type(n) is not int or n < 1:
        raise StoreError(f"{where}: 'rows' must be a positive integer, given {n!r}")

    def column(values: Any, name: str) -> list[Any]:
        if not isinstance(values, list) or len(values) != n:
            raise StoreError(f"{where}: {name} must be a list of {n} values (one a row)")
        return values

    inputs = block.get("inputs")
    outputs = block.get("outputs")
    if not isinstance(inputs, Mapping) or not isinstance(outputs, Mapping):
        raise StoreError(f"{where}: 'inputs' and 'outputs' must be mappings of columns")
    ins = {str(k): column(v, f"inputs[{k!r}]") for k, v in inputs.items()}
    outs: dict[str, Any] = {"prediction": column(outputs.get("prediction"), "outputs['prediction']")}
    probabilities = outputs.get("probabilities")
    if probabilities is not None:
        if not isinstance(probabilities, Mapping):
            raise StoreError(f"{where}: outputs['probabilities'] must map each class to a column")
        outs["probabilities"] = {str(k): column(v, f"probabilities[{k!r}]") for k, v in probabilities.items()}
    if outputs.get("shadow") is not None:
        outs["shadow"] = column(outputs["shadow"], "outputs['shadow']")
    for key in ("flags", "entity_id"):
        if block.get(key) is not None:
            column(block[key], repr(key))
    return n, ins, outs


def _row_outputs(n: int, outs: Mapping[str, Any]) -> list[dict[str, Any]]:
    predictions = outs["prediction"]
    probabilities = outs.get("probabilities")
    if probabilities is None:
        rows: list[dict[str, Any]] = [{"prediction": p} for p in predictions]
    else:
        labels = list(probabilities)
        rows = [
            {"prediction": p, "probabilities": dict(zip(labels, ps, strict=True))}
            for p, ps in zip(predictions, zip(*probabilities.values(), strict=True), strict=True)
        ]
    if "shadow" in outs:
        for row, shadow in zip(rows, outs["shadow"], strict=True):
            row["shadow"] = shadow
    return rows


def _row_inputs(n: int, ins: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(ins)
    if not names:
        return [{} for _ in range(n)]
    return [dict(zip(names, row, strict=True)) for row in zip(*ins.values(), strict=True)]


def block_records(block: Mapping[str, Any], index: int = 0) -> list[dict[str, Any]]:
    """The per-row records of ``block``: exactly the lines the log held before blocks.

    Raises
    ------
    StoreError
        A column that does not hold one value a row, or ``rows`` missing.

    Examples
    --------
    >>> block = {"block": 1, "request_id": "r1", "time": "2026-01-01T00:00:00+00:00", "model": "m",
    ...          "version": 1, "rows": 2, "inputs": {"x": [1, None]}, "outputs": {"prediction": [0.5, 0.7]}}
    >>> [(r["row"], r["inputs"], r["outputs"], r["flags"]) for r in block_records(block)]
    [(0, {'x': 1}, {'prediction': 0.5}, []), (1, {'x': None}, {'prediction': 0.7}, [])]
    """
    n, ins, outs = _columns(block, f"prediction block {index}")
    head: dict[str, Any] = {"request_id": block.get("request_id")}
    if block.get("correlation_id") is not None:
        head["correlation_id"] = block["correlation_id"]
    shared = {"time": block.get("time"), "model": block.get("model"), "version": block.get("version")}
    flags = block.get("flags") or [[] for _ in range(n)]
    records = [
        {**head, "row": i, **shared, "inputs": inputs, "outputs": outputs, "flags": row_flags}
        for i, (inputs, outputs, row_flags) in enumerate(
            zip(_row_inputs(n, ins), _row_outputs(n, outs), flags, strict=True)
        )
    ]
    if block.get("entity_id") is not None:
        for record, entity in zip(records, block["entity_id"], strict=True):
            record["entity_id"] = entity
    return records


def block_values(block: Mapping[str, Any], index: int = 0) -> list[tuple[Any, ...]]:
    """The ``predictions`` rows of ``block`` (values in ``ROW_COLUMNS``' order), its shared fields checked once.

    The same values :func:`~skloop.store._predictions.prediction_values` gives for each
    of :func:`block_records`' records.
    """
    from skloop.store._predictions import as_text, prediction_values

    n, ins, outs = _columns(block, f"prediction block {index}")
    head = {k: block.get(k) for k in ("request_id", "correlation_id", "time", "model", "version")}
    first = prediction_values({**head, "row": 0, "outputs": {"prediction": None}}, index)
    where = f"prediction block {index}"
    texts: dict[tuple[type, Any], str | None] = {}

    def text(value: Any) -> str | None:
        key = (type(value), value)
        try:
            return texts[key]
        except KeyError:
            texts[key] = found = as_text(value)
            return found
        except TypeError:  # unhashable: not cached
            return as_text(value)

    entities = block.get("entity_id") or [None] * n
    flags = block.get("flags") or [None] * n
    try:
        inputs = [orjson.dumps(r, option=_ORJSON).decode() for r in _row_inputs(n, ins)]
        outputs = [orjson.dumps(r, option=_ORJSON).decode() for r in _row_outputs(n, outs)]
        flag_texts = [orjson.dumps(f, option=_ORJSON).decode() if f else None for f in flags]
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise StoreError(f"{where}: cannot be written as JSON: {exc}") from None
    entity_texts = [None if e is None else text(e) for e in entities]
    for entity in entity_texts:
        if entity is not None and len(entity) > 200:
            raise StoreError(f"{where}: 'entity_id' is longer than 200 characters")
    shared = first[:2], first[3:6]
    return [
        (*shared[0], i, *shared[1], entity or None, text(p), ins_text, outs_text, flag_text)
        for i, (entity, p, ins_text, outs_text, flag_text) in enumerate(
            zip(entity_texts, outs["prediction"], inputs, outputs, flag_texts, strict=True)
        )
    ]


def expand(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``records`` with each block replaced by its rows' records."""
    out: list[Mapping[str, Any]] = []
    for i, record in enumerate(records):
        if is_block(record):
            out.extend(block_records(record, i))
        else:
            out.append(record)
    return out
