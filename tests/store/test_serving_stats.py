"""``store.predictions.serving_stats``: the prediction log per time bucket, against a hand count.

Runs on SQLite and, when configured, PostgreSQL (the shared ``store`` fixture).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from skloop.core import StoreError
from skloop.store import Store, VersionSwap
from skloop.store._serving_stats import BUCKET_SIZES, bucket_size

T0 = datetime(2025, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)
MISSING = {"column": "age", "problem": "missing value; imputed", "severity": "flag"}
UNKNOWN = {"column": "plan", "problem": "is a category not seen in training", "severity": "flag"}


def _log(n_requests: int = 30) -> list[dict[str, Any]]:
    """Request ``i`` at ``T0 + 13 i`` seconds with ``1 + i % 3`` rows; v1 until 17, then v2, v1 at 25+.

    Every 4th request's first row lacks ``age``; every 7th has an unknown ``plan`` on all rows.
    """
    records = []
    for i in range(n_requests):
        version = 1 if i < 17 or i >= 25 else 2
        for row in range(1 + i % 3):
            flags = []
            if i % 4 == 0 and row == 0:
                flags.append({**MISSING, "row": row})
            if i % 7 == 0:
                flags.append({**UNKNOWN, "row": None})
            records.append({
                "request_id": f"req-{i}", "row": row, "time": (T0 + timedelta(seconds=13 * i)).isoformat(),
                "model": "churn", "version": version, "outputs": {"prediction": "no"}, "flags": flags,
            })  # fmt: skip
    return records


def _hand_count(records: list[dict[str, Any]], size: int) -> dict[tuple[int, int], tuple[int, int, int]]:
    """(bucket start in epoch seconds, version) -> (requests, rows, flagged rows), in Python."""
    out: dict[tuple[int, int], list[int]] = {}
    for r in records:
        epoch = int(datetime.fromisoformat(r["time"]).timestamp())
        key = (epoch // size * size, r["version"])
        counts = out.setdefault(key, [0, 0, 0])
        counts[0] += r["row"] == 0
        counts[1] += 1
        counts[2] += bool(r["flags"])
    return {k: (a, b, c) for k, (a, b, c) in out.items()}


def test_buckets_versions_swaps_and_flags_equal_a_hand_count(store: Store) -> None:
    records = _log()
    store.predictions.insert_predictions(records)
    extra = [{**records[0], "model": "other", "request_id": "o"}, {**records[1], "request_id": "x"}]
    store.predictions.insert_predictions(extra)
    stats = store.predictions.serving_stats("churn")
    span = 13 * 29  # 377 s between the first and last request
    assert stats.bucket_seconds == bucket_size(span) == 5  # 377 / 1 >= 120, 377 / 5 < 120
    assert stats.start == T0 and stats.end == T0 + timedelta(seconds=span)
    churn = list(records)
    assert (stats.requests, stats.rows) == (30 + 1, len(churn) + 1)  # "x" is one more request of churn
    churn.append({**records[1], "request_id": "x"})
    got = {(int(b.start.timestamp()), b.version): (b.requests, b.rows, b.flagged_rows) for b in stats.buckets}
    assert got == _hand_count(churn, 5)
    assert stats.flagged_rows == sum(bool(r["flags"]) for r in churn)
    assert [b.start for b in stats.buckets] == sorted(b.start for b in stats.buckets)
    by_version = {v.version: (v.requests, v.rows) for v in stats.versions}
    assert by_version == {
        1: (sum(r["row"] == 0 and r["version"] == 1 for r in churn), sum(r["version"] == 1 for r in churn)),
        2: (8, sum(r["version"] == 2 for r in churn)),
    }
    assert [v.version for v in stats.versions] == [1, 2]  # by first prediction
    assert stats.swaps == (
        VersionSwap(T0 + timedelta(seconds=13 * 17), 1, 2),
        VersionSwap(T0 + timedelta(seconds=13 * 25), 2, 1),
    )
    flags = Counter()
    for r in churn:
        for f in r["flags"]:
            flags[(f["column"], f["problem"])] += 1
    assert {(f.column, f.problem): f.count for f in stats.flags} == dict(flags)
    assert stats.flags[0].count >= stats.flags[-1].count


def test_a_window_and_a_wider_span_choose_their_bucket(store: Store) -> None:
    records = _log()
    far = {**records[0], "request_id": "late", "time": (T0 + timedelta(days=3)).isoformat()}
    store.predictions.insert_predictions([*records, far])
    stats = store.predictions.serving_stats("churn")
    assert stats.bucket_seconds == 3600  # 3 days in < 120 buckets: 1 h (72 buckets)
    got = {(int(b.start.timestamp()), b.version): (b.requests, b.rows, b.flagged_rows) for b in stats.buckets}
    assert got == _hand_count([*records, far], 3600)
    window = store.predictions.serving_stats(
        "churn", start=T0 + timedelta(seconds=13 * 10), end=(T0 + timedelta(seconds=13 * 20)).isoformat()
    )
    inside = [r for r in records if 10 <= int(r["request_id"].split("-")[1]) < 20]
    assert (window.requests, window.rows) == (10, len(inside))
    assert window.bucket_seconds == 1  # 117 s in < 120 one-second buckets
    assert window.swaps == (VersionSwap(T0 + timedelta(seconds=13 * 17), 1, 2),)


def test_an_empty_log_and_the_bucket_rule(store: Store) -> None:
    stats = store.predictions.serving_stats("churn")
    assert stats.empty and stats.start is None and stats.buckets == () and stats.flags == ()
    store.predictions.insert_predictions([{**_log(1)[0], "flags": []}])
    one = store.predictions.serving_stats("churn")
    assert (one.requests, one.rows, one.flagged_rows, one.flags) == (1, 1, 0, ())
    assert one.swaps == () and [v.version for v in one.versions] == [1]
    assert [bucket_size(s) for s in (0, 119, 120, 599, 600, 10**12)] == [1, 1, 5, 5, 10, BUCKET_SIZES[-1]]
    assert bucket_size(3600, max_buckets=10) == 900
    with pytest.raises(StoreError, match="max_buckets"):
        bucket_size(10, max_buckets=0)
