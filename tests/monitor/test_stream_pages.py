"""monitor_pages: a log fed page by page gives the whole frame's report, and past max_rows one independent of pages."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from skloop.core import DataError
from skloop.monitor import CBPE, monitor_frame, monitor_pages

N = 3000


def _log(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.3, size=N)
    p1 = 1 / (1 + np.exp(-x))
    labels = (rng.random(N) < p1).astype(int).astype(str).astype(object)
    labels[rng.random(N) < 0.5] = None
    frame = pd.DataFrame({
        "time": pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 6 * 3600, N)), "s"),
        "x": x, "c": rng.choice(["a", "b", "c"], N, p=[0.5, 0.3, 0.2]),
        "prediction": (p1 > 0.5).astype(int), "proba_0": 1 - p1, "proba_1": p1, "label": labels,
    })  # fmt: skip
    frame.index = pd.Index(rng.permutation(N) + 1, name="id")  # ids need not follow time
    return frame


def _reference() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    x = rng.normal(size=2000)
    p1 = 1 / (1 + np.exp(-x))
    return pd.DataFrame({"x": x, "c": rng.choice(["a", "b", "c"], 2000), "prediction": (p1 > 0.5).astype(int),
                         "proba_0": 1 - p1, "proba_1": p1})  # fmt: skip


def _cbpe() -> CBPE:
    rng = np.random.default_rng(2)
    q = rng.random(1000)
    return CBPE(classes=[0, 1]).fit(np.column_stack([1 - q, q]), (rng.random(1000) < q).astype(int))


ARGS: dict[str, Any] = {"task": "classification", "classes": [0, 1], "n_boot": 30, "seed": 3}


def _pages(log: pd.DataFrame, size: int | None) -> list[pd.DataFrame]:
    if size is None:
        return [log]
    return [log.iloc[i : i + size] for i in range(0, len(log), size)]


def _json(report: Any) -> str:
    data = report.to_dict()
    data.pop("created")
    return json.dumps(data, sort_keys=True)


@pytest.mark.parametrize("window", [None, "1h", 400])
def test_pages_give_the_whole_frames_report(window: Any) -> None:
    log, ref, est = _log(), _reference(), _cbpe()
    whole = monitor_frame(log, ref, window=window, estimator=est, **ARGS)
    for size in (100, 999, None):
        paged = monitor_pages(_pages(log, size), ref, window=window, estimator=est, **ARGS)
        assert _json(paged) == _json(whole), size


def test_past_max_rows_the_report_does_not_depend_on_the_pages() -> None:
    log, ref, est = _log(), _reference(), _cbpe()
    reports = {size: _json(monitor_pages(_pages(log, size), ref, window="2h", estimator=est, max_rows=500, **ARGS))
               for size in (100, 700, None)}  # fmt: skip
    assert len(set(reports.values())) == 1
    capped = json.loads(reports[None])
    assert capped["estimate"]["n_rows"] == 500 and capped["performance"]["n_rows"] == 500  # a sample of each
    assert capped["n_current"] == N and sum(w["n_rows"] for w in capped["windows"]["windows"]) == N
    assert reports[None] != _json(monitor_frame(log, ref, window="2h", estimator=est, **ARGS))


def test_a_column_some_pages_lack_counts_as_missing_there() -> None:
    log, ref = _log(), _reference()
    pages = _pages(log, 1000)
    pages[1] = pages[1].drop(columns=["c"])
    whole = pd.concat(pages)
    assert _json(monitor_pages(pages, ref, **ARGS)) == _json(monitor_frame(whole, ref, **ARGS))


def test_no_rows_and_a_bad_max_rows_are_refused() -> None:
    with pytest.raises(DataError, match="no rows"):
        monitor_pages([_log().iloc[:0]], _reference())
    with pytest.raises(DataError, match="max_rows"):
        monitor_pages([_log()], _reference(), max_rows=0)
