"""Bulk import of metric histories (``Store.import_metric_history``) after ``import_runs``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from skloop.core import StoreError
from skloop.store import Run, Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _runs(store: Store, n: int = 3) -> list[str]:
    return store.runs.import_runs(
        Run(id="", project="p", kind="train", status="finished", start_time=T0, end_time=T0, metrics={"loss": 9.0})
        for _ in range(n)
    )


def test_histories_are_read_back_and_the_latest_follows_the_last_step(store: Store) -> None:
    ids = _runs(store)
    rows = [(run_id, "loss", 1.0 / (step + 1) + i, step) for i, run_id in enumerate(ids) for step in range(5)]
    assert store.runs.import_metric_history(rows, chunk_size=4) == 15
    history = store.runs.get_metric_history(ids[1], "loss")
    assert [(m.step, m.value) for m in history][-5:] == [(s, 1.0 / (s + 1) + 1) for s in range(5)]
    run = store.runs.get_run(ids[1])
    assert run.metrics["loss"] == pytest.approx(1.2)  # step 4, not the imported 9.0 at step 0
    found = store.runs.search_runs("p", filter="metrics.loss < 1.5", limit=None)
    assert sorted(r.id for r in found) == sorted(ids[:2])  # run 2's last loss is 2.2


def test_unknown_run_is_refused_and_its_chunk_not_written(store: Store) -> None:
    (run_id,) = _runs(store, 1)
    with pytest.raises(StoreError, match="does not exist; import_runs first"):
        store.runs.import_metric_history([(run_id, "loss", 1.0, 1), ("f" * 32, "loss", 1.0, 1)])
    assert [m.step for m in store.runs.get_metric_history(run_id, "loss")] == [0]


def test_bad_keys_and_values_are_refused(store: Store) -> None:
    (run_id,) = _runs(store, 1)
    with pytest.raises(StoreError):
        store.runs.import_metric_history([(run_id, "", 1.0, 1)])
    with pytest.raises(StoreError):
        store.runs.import_metric_history([(run_id, "loss", "high", 1)])  # type: ignore[list-item]


def test_a_large_import_refreshes_the_planners_statistics(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without statistics SQLite starts a filtered page from the metric index (half the store)."""
    from skloop.store import _bulk

    calls: list[object] = []
    real = _bulk.analyze
    monkeypatch.setattr(_bulk, "analyze", lambda db: (calls.append(db), real(db)))
    _runs(store, 5)
    assert calls == []  # a small import leaves the statistics alone
    monkeypatch.setattr(_bulk, "_ANALYZE_AFTER", 20)
    _runs(store, 20)
    assert len(calls) == 1
    if store.db.engine.dialect.name == "sqlite":
        with store.db.engine.connect() as conn:
            tables = {r[0] for r in conn.exec_driver_sql("SELECT tbl FROM sqlite_stat1").all()}
        assert {"runs", "latest_metrics"} <= tables  # (tables with no rows get no statistics)
