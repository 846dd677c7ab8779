"""Labels: validation naming record and field, files, joins by id and by request (the route: test_served_labels)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from skloop.core import DataError
from skloop.registry import OutputSchema
from skloop.serve import LabelError, ingest_label_file, ingest_label_records
from skloop.store import Store

Record = Callable[..., dict[str, Any]]
YES_NO = OutputSchema(task="classification", classes=("no", "yes"), dtype="string")


def test_labels_join_by_id_and_by_request(wal_store: Store, wal_record: Record) -> None:
    wal_store.predictions.insert_predictions(
        [wal_record("a", 0, entity="c-1"), wal_record("a", 1, entity="c-2"), wal_record("b")]
    )
    n = ingest_label_records(
        wal_store, "churn", [{"id": "c-1", "label": "yes"}, {"request_id": "b", "row": 0, "label": "no"}], output=YES_NO
    )
    assert n == 2
    got = {(p.request_id, p.row): p.label for p in wal_store.predictions.query_predictions("churn")}
    assert got == {("a", 0): "yes", ("a", 1): None, ("b", 0): "no"}


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"id": 1, "label": "no"}, {"label": "no"}], "record 1, field 'id': missing"),
        ([{"id": 1}], "record 0, field 'label': missing"),
        ([{"id": 1, "request_id": "r", "row": 0, "label": "no"}], "not both"),
        ([{"request_id": "r", "row": -1, "label": "no"}], "record 0, field 'row': must be an integer from 0"),
        ([{"request_id": "r", "label": "no"}], "field 'row'"),
        ([{"id": 1, "label": "no", "colour": "red"}], "field 'colour': unknown field"),
        ([{"id": 1, "label": {"a": 1}}], "field 'label': must be a string"),
        ([3], "record 0: not an object"),
        ({"id": 1}, "a JSON list of objects"),
        ([{"id": 1, "label": "no", "time": "soon"}], "record 0, field 'time': 'soon' is not an ISO 8601 time"),
    ],
)
def test_bad_records_are_named_and_nothing_is_stored(wal_store: Store, records: Any, message: str) -> None:
    with pytest.raises(LabelError, match=message) as info:
        ingest_label_records(wal_store, "churn", records, output=YES_NO)
    assert isinstance(info.value, DataError) and info.value.issues
    assert wal_store.predictions.count_labels() == 0


def test_label_files_by_id_and_by_request(tmp_path: Path, wal_store: Store, wal_record: Record) -> None:
    wal_store.predictions.insert_predictions([wal_record("a", i, entity=100 + i) for i in range(4)])
    by_id = tmp_path / "by_id.csv"
    pd.DataFrame({"customer": [100.0, 101.0, None], "y": ["yes", "no", "no"]}).to_csv(by_id, index=False)
    with pytest.raises(LabelError, match=r"by_id.csv: .*row 2, field 'id': missing"):
        ingest_label_file(wal_store, "churn", by_id, id_column="customer", label_column="y", output=YES_NO)
    pd.DataFrame({"customer": [100.0, 101.0], "y": ["yes", "no"]}).to_parquet(tmp_path / "ok.parquet")
    ok = tmp_path / "ok.parquet"
    assert ingest_label_file(wal_store, "churn", ok, id_column="customer", label_column="y", output=YES_NO) == 2
    by_request = tmp_path / "by_request.csv"
    by_request.write_text("rid,n,truth,at\na,2,yes,2025-03-02T00:00:00Z\n")
    stored = ingest_label_file(
        wal_store, "churn", by_request, label_column="truth", request_id_column="rid", row_column="n", time_column="at",
        output=YES_NO,
    )  # fmt: skip
    assert stored == 1
    got = {p.row: p.label for p in wal_store.predictions.query_predictions("churn")}
    assert got == {0: "yes", 1: "no", 2: "yes", 3: None}
    with pytest.raises(DataError, match="no column"):
        ingest_label_file(wal_store, "churn", by_request, id_column="customer", label_column="truth", output=YES_NO)
