"""The serving page's per-minute rollups: ``serving_stats`` from them equals the one over every row.

A log of about four hours (buckets of a minute and more, so the rollups are read) with
versions 1, none and 2, flags of several kinds, a duplicate key within a batch and a
replayed batch; windows that cut minutes at both ends (and larger buckets); then a prune, and the rollups
recounted from the rows as the migration does. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from skloop.store import Store
from skloop.store._serving_minutes import FLAG_MINUTES, MINUTES, refresh_minutes
from skloop.store._serving_stats import serving_stats

T0 = datetime(2025, 3, 1, 12, 0, 7, 250_000, tzinfo=UTC)
MISSING = {"column": "age", "problem": "missing value; imputed", "severity": "flag"}
UNKNOWN = {"column": "plan", "problem": "is a category not seen in training", "severity": "flag"}


def _log() -> list[dict[str, Any]]:
    """Request ``i`` at ``T0 + 37 i`` s (400 of them, 4.1 h) with ``1 + i % 3`` rows."""
    records = []
    for i in range(400):
        version = 1 if i < 150 else (None if i < 200 else 2)
        for row in range(1 + i % 3):
            flags: list[Any] = []
            if i % 4 == 0 and row == 0:
                flags.append({**MISSING, "row": row})
            if i % 7 == 0:
                flags.append({**UNKNOWN, "row": None})
            if i % 50 == 0:
                flags.append({"problem": "no column"})
            records.append({
                "request_id": f"req-{i}", "row": row, "time": (T0 + timedelta(seconds=37 * i)).isoformat(),
                "model": "churn", "version": version, "outputs": {"prediction": "no"}, "flags": flags,
            })  # fmt: skip
    return records


WINDOWS = [
    (None, None),
    (T0 + timedelta(seconds=95.5), None),
    (None, T0 + timedelta(hours=3, seconds=31)),
    (T0 + timedelta(minutes=17, seconds=3), T0 + timedelta(hours=2, minutes=40, seconds=59.9)),
    (T0 + timedelta(minutes=5), T0 + timedelta(minutes=5, seconds=40)),  # within one minute: the rows
]


def _same(store: Store) -> None:
    for (start, end), max_buckets in [*((w, 120) for w in WINDOWS), (WINDOWS[3], 10)]:
        rolled = serving_stats(store.db, "churn", start=start, end=end, max_buckets=max_buckets)
        rows = serving_stats(store.db, "churn", start=start, end=end, max_buckets=max_buckets, rollups=False)
        assert rolled == rows, (start, end, max_buckets)


def test_rollups_give_the_same_stats_as_the_rows(store: Store) -> None:
    records = _log()
    assert store.predictions.insert_predictions(records[:500] + records[10:20]) == 500  # a key twice: once
    assert store.predictions.insert_predictions(records[400:]) == len(records) - 500  # 400..499 replayed
    store.predictions.insert_predictions([{**records[0], "model": "other", "request_id": "o"}])
    stats = serving_stats(store.db, "churn")
    assert stats.bucket_seconds >= 60 and stats.rows == len(records) and stats.flagged_rows > 0
    assert {b.version for b in stats.buckets} == {1, None, 2}
    _same(store)

    store.predictions.prune(T0 + timedelta(hours=1, seconds=30.5), batch_size=97)
    assert serving_stats(store.db, "churn").start == T0 + timedelta(seconds=37 * 99)
    _same(store)

    with store.db.session("recounting the rollups") as conn:  # as migration 0013 does
        before = {t.name: sorted(tuple(r) for r in conn.execute(t.select())) for t in (MINUTES, FLAG_MINUTES)}
        conn.execute(MINUTES.delete())
        conn.execute(FLAG_MINUTES.delete())
        refresh_minutes(conn)
        after = {t.name: sorted(tuple(r) for r in conn.execute(t.select())) for t in (MINUTES, FLAG_MINUTES)}
    assert after == before and len(after["prediction_minutes"]) > 100
