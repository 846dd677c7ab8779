"""A request's rows logged as one columnar block: read back as the records one a row, stored alike."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from skloop.registry import ValidationIssue
from skloop.serve._logblock import log_block
from skloop.serve._validate import Prepared
from skloop.store import block_records, is_block
from skloop.store._prediction_block import block_values
from skloop.store._predictions import prediction_values


class _Model:  # what log_block reads of a served model
    name, version, class_names = "churn", 3, ("False", "True")

    def __init__(self) -> None:
        from skloop.registry import Signature

        self.signature = Signature.from_dict(
            {
                "inputs": [
                    {"name": "age", "dtype": "int64", "kind": "numeric", "nullable": True},
                    {"name": "fee", "dtype": "float64", "kind": "numeric", "nullable": True},
                    {"name": "city", "dtype": "string", "kind": "categorical", "nullable": True},
                    {"name": "since", "dtype": "datetime64", "kind": "datetime", "nullable": True},
                ],
                "output": {"task": "classification", "classes": [False, True], "dtype": "bool"},
            }
        )


def _block(**extra: Any) -> dict[str, Any]:
    rows = Prepared(
        n=3,
        columns={
            "age": np.array([30.0, np.nan, 2.0**63]),
            "fee": np.array([1.5, np.nan, -0.0]),
            "city": np.array(["a", None, "ü"], dtype=object),
            "since": np.array([0.0, np.nan, 86400.5]),
        },
        flags=[ValidationIssue(row=1, column="city", problem="unknown category", severity="flag")],
        ids=extra.pop("ids", None),
    )
    proba = np.array([[0.25, 0.75], [1.0, 0.0], [0.5, 0.5]])
    predictions = np.array([True, False, False], dtype=object)
    return log_block("r1", extra.pop("correlation_id", None), "2026-12-02T05:00:00+00:00", _Model(), rows,
                     predictions, proba, **extra)  # type: ignore[arg-type]  # fmt: skip


def test_a_block_reads_back_as_the_records_of_its_rows() -> None:
    block = orjson.loads(orjson.dumps(_block(ids=["c1", None, "c3"], correlation_id="cx")))
    assert is_block(block) and not is_block(block_records(block)[0])
    records = block_records(block)
    assert [r["row"] for r in records] == [0, 1, 2]
    assert records[0] == {
        "request_id": "r1",
        "correlation_id": "cx",
        "row": 0,
        "time": "2026-12-02T05:00:00+00:00",
        "model": "churn",
        "version": 3,
        "inputs": {"age": 30, "fee": 1.5, "city": "a", "since": "1970-01-01T00:00:00"},
        "outputs": {"prediction": True, "probabilities": {"False": 0.25, "True": 0.75}},
        "flags": [],
        "entity_id": "c1",
    }
    assert records[1]["inputs"] == {"age": None, "fee": None, "city": None, "since": None}
    assert records[1]["flags"] == [{"row": 1, "column": "city", "problem": "unknown category", "severity": "flag"}]
    assert records[2]["inputs"]["age"] == 2**63 - 1 and records[2]["entity_id"] == "c3"


def test_a_block_is_stored_as_its_records_are() -> None:
    for block in (_block(), _block(ids=["c1", "", None], shadow=[{"p": 1}, {"p": 2}, {"p": 3}])):
        block = orjson.loads(orjson.dumps(block))
        assert block_values(block) == [prediction_values(r, i) for i, r in enumerate(block_records(block))]


def test_a_block_with_a_short_column_is_refused_by_name() -> None:
    import pytest

    from skloop.core import StoreError

    block = orjson.loads(orjson.dumps(_block()))
    block["inputs"]["fee"] = [1.0]
    with pytest.raises(StoreError, match=r"inputs\['fee'\] must be a list of 3 values"):
        block_values(block)
