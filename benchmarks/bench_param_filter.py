"""Runs page filters on params at the store: ``store.runs.search_runs_page`` over 100,000 runs.

Seeds a store with the runs of ``bench_ui.py`` (``Store.import_runs``: 10 params drawn
from ``0``..``20`` and 5 latest metrics per run, no metric history), then times the
median of ``--repeats`` calls (after one warm-up) of the page (50 runs, counted later:
``count_up_to=0``, as the UI asks) and of the summary's capped count (``count_runs``,
``up_to=10,000``) for filters on params: one that matches no run, one that matches
about 1 run in 21, and bench_ui's filter with a metric.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_param_filter.py --runs 100000 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ui import FILTER, PROJECT, _rng_runs

FILTERS = ["params.p0 = 'x'", "params.p0 = '7'", "params.p0 = 'x' and params.p1 = '3'", FILTER]


def _median(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--store-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()

    from skloop.store import Store, upgrade_database

    root = Path(tempfile.mkdtemp(prefix="bench-params-"))
    url = args.store_url or f"sqlite:///{root}/skloop.db"
    upgrade_database(url)  # a PostgreSQL database is not upgraded by opening it
    with Store.open(url, root / "artifacts") as store:
        start = time.perf_counter()
        store.runs.import_runs(_rng_runs(args.runs), chunk_size=5_000)
        print(f"{args.runs:,} runs on {store.db.dialect} seeded in {time.perf_counter() - start:.0f} s")
        print()
        print("| filter | matches | page (s, median) | count up to 10,000 (s, median) |")
        print("|---|---:|---:|---:|")
        for where in FILTERS:
            page_s = _median(lambda w=where: store.runs.search_runs_page(PROJECT, filter=w, count_up_to=0),
                             args.repeats)  # fmt: skip
            count_s = _median(lambda w=where: store.runs.count_runs(PROJECT, filter=w, up_to=10_000), args.repeats)
            n = store.runs.count_runs(PROJECT, filter=where, up_to=10_000)
            print(f"| `{where}` | {n:,}{'+' if n > 10_000 else ''} | {page_s:.3f} | {count_s:.3f} |")


if __name__ == "__main__":
    main()
