"""What the server logs for a request: its rows as one columnar block.

A request's rows share their request id, time, model and version; their inputs and
outputs are columns the server already holds as arrays. So the log gets one line a
request (:mod:`skloop.store._prediction_block` describes it), encoded by orjson in one
call from per-column lists, rather than one record a row: a 10,000-row request costs
a few milliseconds to log instead of tens, and the ingestion reads it column by column.
Readers of the log (:func:`~skloop.serve.read_segment`) still see one record a row.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from skloop.serve._model import ServedModel
from skloop.serve._validate import Prepared, log_columns
from skloop.store import BLOCK_KEY

__all__ = ["log_block"]


def log_block(
    request_id: str,
    correlation_id: str | None,
    now: str,
    model: ServedModel,
    rows: Prepared,
    predictions: np.ndarray,
    proba: np.ndarray | None,
    shadow: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The log block of one request's ``rows`` and what the model answered for them."""
    outputs: dict[str, Any] = {"prediction": predictions.tolist()}
    if proba is not None:
        labels = model.class_names or ()  # the canonical names the log reader and the monitor use
        outputs["probabilities"] = dict(zip(labels, proba.T.tolist(), strict=True))
    if shadow is not None:  # under outputs: the store keeps them when the log is ingested
        outputs["shadow"] = shadow
    block: dict[str, Any] = {BLOCK_KEY: 1, "request_id": request_id}
    if correlation_id is not None:
        block["correlation_id"] = correlation_id
    block.update(
        time=now,
        model=model.name,
        version=model.version,
        rows=rows.n,
        inputs=log_columns(rows, model.signature),
        outputs=outputs,
    )
    if rows.flags:
        by_row: dict[int | None, list[dict[str, Any]]] = {}
        for flag in rows.flags:
            by_row.setdefault(flag.row, []).append(flag.to_dict())
        shared = by_row.get(None, [])
        block["flags"] = [by_row.get(i, []) + shared for i in range(rows.n)]
    if rows.ids is not None:  # the spec's data.id column: labels posted later join on it
        block["entity_id"] = list(rows.ids)
    return block
