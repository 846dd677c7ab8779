"""The bulk path of the prediction log: what it stores equals what SQLAlchemy's own types store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from sqlalchemy.dialects import sqlite

from skloop.core import StoreError
from skloop.store import Store
from skloop.store._prediction_bulk import sqlite_time
from skloop.store._schema import UTCDateTime

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _records(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"request_id": f"q{i // 3}", "row": i % 3, "time": T0 + timedelta(seconds=i), "model": "m", "version": 1,
         "entity_id": f"e{i}", "inputs": {"x": float(i), "s": "a", "n": None},
         "outputs": {"prediction": i % 2, "probabilities": {"0": 0.25, "1": 0.75}}, **extra}
        for i in range(n)
    ]  # fmt: skip


@pytest.mark.parametrize("value", [T0, T0 + timedelta(microseconds=7), datetime(1999, 12, 31, 23, 59, 59, 999999)])
def test_sqlite_time_is_what_sqlalchemy_writes(value: datetime) -> None:
    dialect = sqlite.dialect()
    process = UTCDateTime().impl.dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    assert sqlite_time(value.replace(tzinfo=UTC)) == process(value.replace(tzinfo=None))


def test_bulk_insert_keeps_order_values_and_idempotency(store: Store) -> None:
    records = _records(2_500)  # more than one statement's worth on every back end
    records[5]["time"] = (T0 + timedelta(seconds=5)).astimezone(timezone(timedelta(hours=2))).isoformat()
    records[6]["inputs"] = {"x": np.float64(6.0), "s": "a", "n": float("nan")}
    records[7]["flags"] = ["out_of_range:x"]
    assert store.predictions.insert_predictions(records + records[:10]) == 2_500  # duplicates in one call: once
    assert store.predictions.insert_predictions(records[100:200]) == 0  # a replayed segment
    stored = store.predictions.query_predictions("m")
    assert [p.entity_id for p in stored] == [f"e{i}" for i in range(2_500)]
    assert [p.id for p in stored] == sorted(p.id for p in stored)  # ids follow the records' order
    assert all(p.time == T0 + timedelta(seconds=i) for i, p in enumerate(stored))
    assert stored[6].inputs == {"x": 6.0, "s": "a", "n": None}  # NaN is JSON null
    assert stored[7].flags == ("out_of_range:x",) and stored[8].flags == ()
    assert stored[3].prediction == "1" and stored[3].outputs["prediction"] == 1
    assert stored[3].outputs["probabilities"] == {"0": 0.25, "1": 0.75}


def test_an_input_that_is_not_json_is_named_and_skipped(store: Store) -> None:
    records = _records(3)
    records[1]["inputs"] = {"x": object()}
    with pytest.raises(StoreError, match="prediction record 1, 'inputs': cannot be written as JSON"):
        store.predictions.insert_predictions(records)
    rejected: list[int] = []
    assert store.predictions.insert_predictions(records, on_invalid=lambda i, r, m: rejected.append(i)) == 2
    assert rejected == [1]
