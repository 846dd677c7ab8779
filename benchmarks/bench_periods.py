"""Windows by calendar period: ``monitor_frame(..., period="month")`` on a 1,000,000-row table.

A reference of 100,000 rows and a current table (default 1,000,000 rows; 8 numeric and
2 categorical columns, 3 of them shifted from the seventh month on; seeded) whose
``event_ts`` column holds random times over 14 months, from 10 January, so the first
and the last month are partial. It times, in one process after the imports:

- **cut**: the windows alone (:func:`skloop.monitor.split_windows` ``period="month"``),
  beside pandas' own ``groupby(dt.to_period("M"))`` — the cut NannyML's
  ``chunk_period="M"`` makes — whose row counts it checks against;
- **report**: :func:`skloop.monitor.monitor_frame` over the whole table, then with
  ``period="month"`` (every statistic per month), and with ``window="30d"``.

Usage::

    python benchmarks/bench_periods.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd

NUMERIC = [f"n{i}" for i in range(8)]
CATEGORICAL = ["c0", "c1"]


def tables(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def block(n: int, shift: np.ndarray | float) -> dict[str, Any]:
        out: dict[str, Any] = {c: rng.normal(size=n) for c in NUMERIC}
        for c in ("n0", "n1"):
            out[c] = out[c] + shift
        out["c0"] = rng.choice(["a", "b", "c", "d"], n)
        out["c1"] = np.where(rng.random(n) < 0.3 * np.asarray(shift) + 0.1, "x", "y")
        return out

    reference = pd.DataFrame(block(100_000, 0.0))
    seconds = np.sort(rng.integers(0, 14 * 30 * 86400, rows))
    times = pd.Timestamp("2024-01-10", tz="UTC") + pd.to_timedelta(seconds, unit="s")
    later = np.asarray(times >= pd.Timestamp("2024-07-01", tz="UTC"), dtype=float)
    current = pd.DataFrame({"event_ts": times, **block(rows, 0.5 * later)})
    return reference, current


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    from skloop.monitor import monitor_frame, reference_summary, split_windows

    reference, current = tables(args.rows)
    summary = reference_summary(reference, max_points=None)
    t_pandas, counts = timed(lambda: current.groupby(current["event_ts"].dt.tz_localize(None).dt.to_period("M")).size())
    t_cut, cut = timed(lambda: split_windows(current, period="month", time_column="event_ts"))
    assert [len(r) for _, _, r in cut] == counts.tolist()
    t_whole, whole = timed(lambda: monitor_frame(current, summary, n_boot=0))
    t_month, by_month = timed(lambda: monitor_frame(current, summary, period="month", time_column="event_ts", n_boot=0))
    t_30d, _ = timed(lambda: monitor_frame(current, summary, window="30d", time_column="event_ts", n_boot=0))
    ws = by_month.windows
    partial = ", ".join(f"{w.name} {100 * w.coverage:.0f}%" for w in ws.partial)
    print(f"{args.rows:,} rows, {len(ws)} months (partial: {partial}); drifted months: "
          f"{[w.name for w in ws.windows if w.drifted]}")  # fmt: skip
    print(f"{'step':<44} {'seconds':>8}")
    for name, t in (("pandas groupby(dt.to_period('M')).size()", t_pandas),
                    ("skloop split_windows(period='month')", t_cut),
                    ("skloop monitor_frame, whole table", t_whole),
                    ("skloop monitor_frame(period='month')", t_month),
                    ("skloop monitor_frame(window='30d')", t_30d)):  # fmt: skip
        print(f"{name:<44} {t:>8.2f}")
    print(f"per-month report / whole-table report: {t_month / t_whole:.1f}x; whole drifted: {whole.drifted}")


if __name__ == "__main__":
    main()
