"""Predictions and labels in the store: idempotent inserts, windows, label joins, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from skloop.core import StoreError
from skloop.store import Prediction, Store

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _record(request_id: str, row: int = 0, minutes: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": request_id, "row": row, "time": (T0 + timedelta(minutes=minutes)).isoformat(),
        "model": "churn", "version": 2, "inputs": {"tenure": 3, "plan": "basic"},
        "outputs": {"prediction": "yes", "probabilities": {"no": 0.4, "yes": 0.6}}, "flags": [], **extra,
    }  # fmt: skip


def test_insert_is_idempotent_and_round_trips(store: Store) -> None:
    records = [_record("r1", 0, entity_id="c-1"), _record("r1", 1), _record("r2", 0, minutes=5)]
    assert store.predictions.insert_predictions(records) == 3
    assert store.predictions.insert_predictions(records + records) == 0  # again, and duplicated within one call
    assert store.predictions.insert_predictions([_record("r3"), _record("r3")]) == 1
    assert store.predictions.count_predictions() == 4
    first = store.predictions.query_predictions("churn")[0]
    assert isinstance(first, Prediction)
    assert (first.request_id, first.row, first.time, first.version, first.entity_id) == ("r1", 0, T0, 2, "c-1")
    assert first.prediction == "yes" and first.inputs == {"tenure": 3, "plan": "basic"}
    assert first.outputs["probabilities"] == {"no": 0.4, "yes": 0.6} and first.flags == ()
    assert first.label is None


def test_windows_and_counts(store: Store) -> None:
    store.predictions.insert_predictions([_record(f"r{m}", minutes=m) for m in range(10)])
    store.predictions.insert_predictions([{**_record("other"), "model": "fraud"}])
    window = store.predictions.query_predictions(
        "churn", start=T0 + timedelta(minutes=2), end=T0 + timedelta(minutes=5)
    )
    assert [p.request_id for p in window] == ["r2", "r3", "r4"]
    assert (
        store.predictions.count_predictions("churn", start="2025-03-01T12:02:00Z", end="2025-03-01T12:05:00+00:00") == 3
    )
    assert store.predictions.count_predictions("churn") == 10 and store.predictions.count_predictions() == 11
    assert [p.request_id for p in store.predictions.query_predictions("churn", limit=2)] == ["r0", "r1"]
    assert [p.request_id for p in store.predictions.iter_predictions("churn", batch_size=3)] == [
        f"r{m}" for m in range(10)
    ]


def test_labels_join_by_entity_or_by_prediction_and_later_labels_replace(store: Store) -> None:
    store.predictions.insert_predictions(
        [
            _record("a", 0, entity_id="c-1"),
            _record("a", 1, entity_id="c-2"),
            _record("b", 0, entity_id="c-1"),
            _record("c", 0),
        ]
    )
    assert (
        store.predictions.insert_labels("churn", [{"entity_id": "c-1", "label": "no"}, {"entity_id": 7, "label": 1.0}])
        == 2
    )
    assert store.predictions.insert_labels("churn", [{"request_id": "c", "row": 0, "label": "yes"}]) == 1
    got = {(p.request_id, p.row): p.label for p in store.predictions.query_predictions("churn")}
    assert got == {("a", 0): "no", ("a", 1): None, ("b", 0): "no", ("c", 0): "yes"}
    # a correction replaces the earlier label; a per-prediction label beats the entity's
    store.predictions.insert_labels("churn", [{"entity_id": "c-1", "label": "yes", "time": "2025-03-02T00:00:00Z"}])
    store.predictions.insert_labels("churn", [{"request_id": "b", "row": 0, "label": "maybe"}])
    got = {
        (p.request_id, p.row): (p.label, p.label_time)
        for p in store.predictions.query_predictions("churn", labeled=True)
    }
    assert got[("a", 0)] == ("yes", datetime(2025, 3, 2, tzinfo=UTC))
    assert got[("b", 0)][0] == "maybe" and set(got) == {("a", 0), ("b", 0), ("c", 0)}
    assert [p.request_id for p in store.predictions.query_predictions("churn", labeled=False)] == ["a"]
    assert store.predictions.count_predictions("churn", labeled=True) == 3
    assert store.predictions.count_labels("churn") == 4 and store.predictions.count_labels("fraud") == 0
    labels = store.predictions.list_labels("churn")
    assert [(x.entity_id, x.label) for x in labels[:2]] == [("c-1", "yes"), ("7", "1")]
    assert {(x.request_id, x.row) for x in labels[2:]} == {("c", 0), ("b", 0)}


def test_labels_of_one_model_do_not_touch_another(store: Store) -> None:
    store.predictions.insert_predictions(
        [_record("a", entity_id="c-1"), {**_record("f", entity_id="c-1"), "model": "fraud"}]
    )
    store.predictions.insert_labels("fraud", [{"entity_id": "c-1", "label": "fraud"}])
    assert store.predictions.query_predictions("churn")[0].label is None
    assert store.predictions.query_predictions("fraud")[0].label == "fraud"


def test_the_last_label_for_a_key_in_one_call_wins(store: Store) -> None:
    assert (
        store.predictions.insert_labels("churn", [{"entity_id": "x", "label": "a"}, {"entity_id": "x", "label": "b"}])
        == 1
    )
    assert [x.label for x in store.predictions.list_labels("churn")] == ["b"]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"row": 0, "time": "2025-01-01T00:00:00Z", "model": "m"}, "record 1: 'request_id' is missing"),
        ({"request_id": "r", "row": "x", "time": "2025-01-01T00:00:00Z", "model": "m"}, "'row' must be an integer"),
        ({"request_id": "r", "row": 0, "time": "yesterday", "model": "m"}, "'time': 'yesterday' is not an ISO"),
        ({"request_id": "r", "row": 0, "time": "2025-01-01T00:00:00Z"}, "'model' is missing"),
    ],
)
def test_invalid_predictions_name_the_record_and_field(store: Store, record: dict[str, Any], message: str) -> None:
    with pytest.raises(StoreError, match=message):
        store.predictions.insert_predictions([_record("ok"), record])
    assert store.predictions.count_predictions() == 0  # nothing stored
    skipped: list[tuple[int, str]] = []
    assert (
        store.predictions.insert_predictions([_record("ok"), record], on_invalid=lambda i, r, m: skipped.append((i, m)))
        == 1
    )
    assert [i for i, _ in skipped] == [1]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"label": "x"}, "label record 0: give either 'entity_id' or 'request_id' and 'row', given neither"),
        ({"entity_id": 1, "request_id": "r", "row": 0, "label": "x"}, "given both"),
        ({"entity_id": 1}, "'label' is missing"),
        ({"request_id": "r", "label": "x"}, "'row' is missing"),
    ],
)
def test_invalid_labels_name_the_record_and_field(store: Store, record: dict[str, Any], message: str) -> None:
    with pytest.raises(StoreError, match=message):
        store.predictions.insert_labels("churn", [record])
    assert store.predictions.count_labels() == 0
