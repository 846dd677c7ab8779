"""Retention and pages: old predictions go in batches with their labels; open decisions keep theirs (SQLite, PG)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from skloop.core import StoreError
from skloop.store import Store

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def _log(store: Store, model: str, days: range, *, per_day: int = 3) -> None:
    store.predictions.insert_predictions(
        {"request_id": f"{model}-{d}", "row": r, "time": T0 + timedelta(days=d, minutes=r), "model": model,
         "version": 1, "entity_id": f"e{d % 4}", "inputs": {"x": d}, "outputs": {"prediction": 1}}
        for d in days for r in range(per_day)
    )  # fmt: skip


def test_prune_deletes_old_rows_and_their_labels_in_batches(store: Store) -> None:
    _log(store, "churn", range(10))  # 30 rows over 10 days
    _log(store, "fraud", range(10), per_day=1)
    store.predictions.insert_labels("churn", [
        {"request_id": "churn-0", "row": 0, "label": 1},  # an old row's label: goes
        {"request_id": "churn-8", "row": 1, "label": 0},  # a kept row's: stays
        {"entity_id": "e1", "label": 1},  # e1 has kept rows (day 9 is e1): stays
    ])  # fmt: skip
    store.predictions.insert_labels("churn", [{"entity_id": "e3", "label": 0}])  # e3: days 3 and 7 only
    cutoff = T0 + timedelta(days=8)

    dry = store.predictions.prune(cutoff, dry_run=True)
    assert (dry.predictions, dry.labels, dry.models) == (32, 2, {"churn": 24, "fraud": 8}) and dry.dry_run
    assert store.predictions.count_predictions() == 40 and store.predictions.count_labels() == 4

    done = store.predictions.prune(cutoff, batch_size=5)
    assert (done.predictions, done.labels, done.models, done.kept) == (32, 2, {"churn": 24, "fraud": 8}, 0)
    left = store.predictions.query_predictions("churn")
    assert {p.time for p in left} >= {T0 + timedelta(days=8)} and all(p.time >= cutoff for p in left)
    assert store.predictions.count_predictions() == 8
    labels = {(lab.entity_id, lab.request_id) for lab in store.predictions.list_labels("churn")}
    assert labels == {("e1", None), (None, "churn-8")}
    assert {p.request_id: p.label for p in left if p.row == 1}["churn-8"] == "0"
    assert store.predictions.prune(cutoff).predictions == 0  # again: nothing left to do


def test_prune_keeps_the_windows_of_open_loop_decisions(store: Store) -> None:
    _log(store, "churn", range(10))
    _log(store, "fraud", range(10))
    _log(store, "other", range(10))
    store.loop.create_decision("churn", evaluated_at=T0 + timedelta(days=6))  # reads 3 days back: days 3..5
    store.loop.create_decision("other", evaluated_at=T0 + timedelta(days=6))  # its reach unknown: all kept
    done = store.loop.create_decision("fraud", evaluated_at=T0 + timedelta(days=6))
    store.loop.finish_decision(done.id, outcome="none", reason="nothing fired")  # finished: needs nothing
    result = store.predictions.prune(T0 + timedelta(days=8), protect={"churn": timedelta(days=3)})
    assert result.models == {"churn": 9, "fraud": 24}
    assert result.kept == 15 + 24  # churn days 3..7, all of other's old rows
    assert min(p.time for p in store.predictions.query_predictions("churn")) == T0 + timedelta(days=3)
    assert store.predictions.count_predictions("other") == 30


def test_prune_refuses_bad_arguments(store: Store) -> None:
    with pytest.raises(StoreError, match="older_than"):
        store.predictions.prune("90 days ago")
    with pytest.raises(StoreError, match="batch_size"):
        store.predictions.prune(T0, batch_size=0)


def test_pages_cover_every_row_once_in_either_order(store: Store) -> None:
    _log(store, "churn", range(5), per_day=7)
    store.predictions.insert_labels("churn", [{"entity_id": "e2", "label": 1}])
    expected = [(p.id, p.label) for p in store.predictions.query_predictions("churn")]
    for order in ("id", "time"):
        for size in (1, 4, None):
            pages = list(store.predictions.iter_pages("churn", page_size=size, order=order))
            got = [(int(i), None if lab != lab else lab) for pg in pages for i, lab in pg.rows["label"].items()]
            assert sorted(got) == sorted(expected), (order, size)
            assert all(len(pg) == size for pg in pages[:-1]) if size else len(pages) == 1
    labeled = [i for pg in store.predictions.iter_pages("churn", labeled=True, page_size=3) for i in pg.rows.index]
    assert labeled == [p.id for p in store.predictions.query_predictions("churn", labeled=True)]
    window = store.predictions.iter_pages("churn", start=T0 + timedelta(days=1), end=T0 + timedelta(days=2), version=1)
    assert sum(len(pg) for pg in window) == 7
    page = next(store.predictions.iter_pages("churn", order="time"))
    assert page.inputs["x"].tolist()[:7] == [0] * 7 and str(page.rows["time"].dt.tz) == "UTC"
    with pytest.raises(StoreError, match="order"):
        next(store.predictions.iter_pages("churn", order="random"))  # type: ignore[arg-type]


def test_prune_in_many_batches_matches_its_dry_run(store: Store) -> None:
    # more batches than psycopg runs before preparing a statement (PostgreSQL's generic plans)
    store.predictions.insert_predictions(
        {"request_id": f"r{i // 4}", "row": i % 4, "time": T0 + timedelta(hours=i), "model": "churn", "version": 1,
         "entity_id": f"e{i % 7}", "inputs": {"x": i}, "outputs": {"prediction": 1}}
        for i in range(60)
    )  # fmt: skip
    store.predictions.insert_labels("churn", [{"request_id": f"r{i // 4}", "row": i % 4, "label": 1}
                                             for i in range(0, 60, 3)])  # fmt: skip
    store.predictions.insert_labels("churn", [{"entity_id": f"e{k}", "label": 0} for k in range(7)])
    cutoff = T0 + timedelta(hours=40)  # rows 0..39 go; e0..e6 all have rows 40..59 left, but e-labels stay
    dry = store.predictions.prune(cutoff, dry_run=True, batch_size=3)
    done = store.predictions.prune(cutoff, batch_size=3)
    assert (dry.predictions, dry.labels) == (done.predictions, done.labels) == (40, 14)  # 0, 3, ..., 39
    assert store.predictions.count_predictions("churn") == 20
    left = {(lab.entity_id, lab.request_id, lab.row) for lab in store.predictions.list_labels("churn")}
    assert {e for e, _, _ in left if e} == {f"e{k}" for k in range(7)}
    assert {(r, w) for _, r, w in left if r} == {(f"r{i // 4}", i % 4) for i in range(42, 60, 3)}
    later = store.predictions.prune(T0 + timedelta(hours=57), batch_size=3)  # rows 57..59 are e1, e2, e3
    assert (later.predictions, later.labels) == (17, 4 + 5)  # e0, e4, e5, e6; rows 42, 45, ..., 54
    left = {(lab.entity_id, lab.request_id, lab.row) for lab in store.predictions.list_labels("churn")}
    assert left == {("e1", None, None), ("e2", None, None), ("e3", None, None), (None, "r14", 1)}
