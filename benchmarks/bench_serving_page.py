"""Serving page benchmark: the prediction log aggregated in SQL, over a million logged rows.

Seeds a store with ``--rows`` logged predictions of one model (requests of 1 to 4 rows,
one every ``--every`` seconds, a version change two thirds in, 5% of the rows flagged)
through ``store.predictions.insert_predictions``, then times (median of ``--repeats``):

- ``store.predictions.serving_stats`` (what the serving page reads: totals, the
  ``GROUP BY`` time bucket and version, versions, flags by column and problem);
  From migration ``0013`` it reads the per-minute rollups; the same call over every
  row (``rollups=False``, the code before) is timed once and checked equal;
- the serving page itself through Starlette's ``TestClient`` (HTML and chart data);
- what a user would otherwise write: pandas reading the log's columns
  (``pandas.read_sql_query``: time, version, row, flags) and grouping them per bucket
  (``DataFrame.groupby`` on the floored time), the same counts.

Usage::

    python benchmarks/bench_serving_page.py [--rows 1000000] [--repeats 5]
                                            [--store-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FLAG = {"row": None, "column": "age", "problem": "missing value; imputed", "severity": "flag"}


def _records(n_rows: int, every: float) -> Iterator[dict[str, Any]]:
    i = done = 0
    swap = 2 * n_rows // 3
    while done < n_rows:
        rows = min(1 + i % 4, n_rows - done)
        time_ = (T0 + timedelta(seconds=i * every)).isoformat()
        for row in range(rows):
            yield {
                "request_id": f"r{i}", "row": row, "time": time_, "model": "churn",
                "version": 1 if done < swap else 2, "outputs": {"prediction": "0"},
                "flags": [FLAG] if (done + row) % 20 == 0 else [],
            }  # fmt: skip
        done += rows
        i += 1


def _median(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def _pandas(url: str, size: int) -> Any:
    import pandas as pd
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            df = pd.read_sql_query(
                sa.text("SELECT time, version, row, flags FROM predictions WHERE model = 'churn'"), conn
            )
    finally:
        engine.dispose()
    t = pd.to_datetime(df["time"], utc=True)
    df["bucket"] = t.dt.floor(f"{size}s")
    df["first"] = df["row"] == 0
    df["flagged"] = df["flags"].notna()
    return df.groupby(["bucket", "version"]).agg(requests=("first", "sum"), rows=("row", "size"),
                                                  flagged=("flagged", "sum"))  # fmt: skip


def seed(store: Any, n_rows: int, every: float) -> None:
    """Log ``n_rows`` predictions of a registered model ``churn`` through ``insert_predictions``."""
    from skloop.registry import Registry

    with store.runs.start_run("churn") as run:
        store.runs.log_artifact(run.id, "model.skops", b"not loaded by this benchmark")
    Registry(store).register(run.id, "churn")
    start = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for record in _records(n_rows, every):
        batch.append(record)
        if len(batch) == 20_000:
            store.predictions.insert_predictions(batch)
            batch = []
    store.predictions.insert_predictions(batch)
    print(f"{n_rows:,} logged rows on {store.db.dialect} seeded in {time.perf_counter() - start:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--every", type=float, default=2.0, help="seconds between requests")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--store-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument(
        "--seeded", action="store_true", help="--store-url already holds the rows (of an earlier run): upgrade, time"
    )
    args = parser.parse_args()

    from starlette.testclient import TestClient

    from skloop.store import Store
    from skloop.ui import create_app

    root = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    url = args.store_url or f"sqlite:///{root}/skloop.db"
    if args.seeded:
        from skloop.store import upgrade_database

        start = time.perf_counter()
        upgrade_database(url)  # e.g. 0012 -> 0013 counts the logged rows into the per-minute rollups
        print(f"upgraded in {time.perf_counter() - start:.0f} s")
    store = Store.open(url, root / "artifacts")
    try:
        if not args.seeded:
            seed(store, args.rows, args.every)
        sql_s, stats = _median(lambda: store.predictions.serving_stats("churn"), args.repeats)
        with TestClient(create_app(store)) as client:
            client.get("/models/churn/serving")
            page_s, response = _median(lambda: client.get("/models/churn/serving"), args.repeats)
        assert response.status_code == 200, response.text[:500]
        from skloop.store._serving_stats import serving_stats

        rows_s, from_rows = _median(lambda: serving_stats(store.db, "churn", rollups=False), 1)
        assert from_rows == stats, "the rollups' stats differ from the rows'"
        pandas_s, frame = _median(lambda: _pandas(url, stats.bucket_seconds), max(1, args.repeats // 2))
        assert int(frame["rows"].sum()) == stats.rows and int(frame["requests"].sum()) == stats.requests
        print(f"window {stats.start} – {stats.end}: {stats.requests:,} requests, {stats.rows:,} rows, "
              f"bucket {stats.bucket_seconds} s, {len(stats.buckets)} groups, swaps {len(stats.swaps)}")  # fmt: skip
        print()
        print("| what | seconds (median) | / serving_stats |")
        print("|---|---:|---:|")
        print(f"| store.predictions.serving_stats (SQL GROUP BY) | {sql_s:.3f} | 1.0× |")
        print(f"| the serving page (TestClient, HTML + chart data) | {page_s:.3f} | {page_s / sql_s:.1f}× |")
        print(f"| serving_stats over every row (rollups=False, once; equal) | {rows_s:.3f} | {rows_s / sql_s:.1f}× |")
        print(f"| pandas: read_sql_query + groupby | {pandas_s:.3f} | {pandas_s / sql_s:.1f}× |")
    finally:
        store.close()


if __name__ == "__main__":
    main()
