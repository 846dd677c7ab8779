"""The shadow against the served model per window, checked against pandas' own grouping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from skloop.core import DataError
from skloop.monitor import (
    ShadowAccumulator,
    ShadowReport,
    ShadowWindows,
    ShadowWindowSeries,
    monitor_windows,
    window_cut,
)

T0 = pd.Timestamp("2026-03-01T15:00:00Z")  # the first day is observed from 15:00: a partial window


def _pairs(n: int = 480, seed: int = 0) -> pd.DataFrame:
    """Pairs logged every 15 minutes over 5 days: the shadow agrees on the first two days, then often not."""
    rng = np.random.default_rng(seed)
    served = rng.choice(["a", "b"], size=n)
    times = T0 + pd.to_timedelta(np.arange(n) * 15, unit="min")
    late = np.asarray(times >= pd.Timestamp("2026-03-03T00:00:00Z"))
    flip = late & (rng.random(n) < 0.6)
    shadow = np.where(flip, np.where(served == "a", "b", "a"), served)
    label = np.where(rng.random(n) < 0.5, served.astype(object), np.array(None, dtype=object))
    return pd.DataFrame({
        "time": times, "served_version": 1, "served": served, "shadow_version": 2, "shadow": shadow.astype(object),
        "error": None, "label": label, "x": rng.normal(size=n),
    }, index=pd.RangeIndex(1, n + 1, name="id"))  # fmt: skip


def _series(frame: pd.DataFrame, cut_args: dict[str, object], page: int = 37) -> ShadowWindowSeries:
    cut = window_cut(**cut_args)  # type: ignore[arg-type]
    assert cut is not None
    acc = ShadowWindows(cut, lambda: ShadowAccumulator("classification", classes=["a", "b"]),
                        {"n_boot": 0, "compare": {"metric": "accuracy", "method": "mcnemar"}})  # fmt: skip
    for i in range(0, len(frame), page):
        acc.add(frame.iloc[i : i + page])
    return acc.series()


def test_agreement_per_day_is_the_hand_count_and_partial_days_match_the_monitor() -> None:
    frame = _pairs()
    ws = _series(frame, {"period": "day"})
    day = frame["time"].dt.tz_convert("UTC").dt.floor("D")
    expected = (frame["served"] == frame["shadow"]).groupby(day).mean()
    assert [w.label for w in ws.windows] == [d.strftime("%Y-%m-%d") for d in expected.index]
    assert [w.agreement for w in ws.windows] == pytest.approx(expected.tolist(), abs=1e-15)
    assert [w.n_shadowed for w in ws.windows] == frame.groupby(day).size().tolist()
    agreement = [a for a in ws.series("agreement") if a is not None]
    assert len(agreement) == len(ws) and min(agreement[:2]) == 1.0 and max(agreement[2:]) < 0.6
    # each day tests the output drift, with the monitor's own test of the labels
    assert all(w.drift and w.drift[0]["name"] == "prediction" for w in ws.windows)
    # realised metrics and the paired test of each labelled day: the served model is the label, by construction
    last = ws.windows[-1]
    labelled = frame[(day == day.iloc[-1]) & frame["label"].notna()]
    assert last.n_labelled == len(labelled)
    assert last.served_metrics["accuracy"] == 1.0
    assert last.shadow_metrics["accuracy"] == pytest.approx((labelled["shadow"] == labelled["label"]).mean())
    assert last.comparison is not None and last.comparison.method == "mcnemar" and last.better is False
    # partial windows, bounds and coverage: exactly the monitor's own windows of the same rows
    log = frame.rename(columns={"served": "prediction"})[["time", "x", "prediction"]]
    normal = monitor_windows(log, pd.DataFrame({"x": np.random.default_rng(1).normal(size=300)}), period="day")
    assert [(w.start, w.end, w.coverage, w.partial) for w in ws.windows] == [
        (w.start, w.end, w.coverage, w.partial) for w in normal.windows
    ]
    assert ws.windows[0].partial and not ws.windows[1].partial and ws.windows[-1].partial
    assert "agreement from" in ws.describe() and "partial: 2026-03-01" in ws.describe()
    # the pages do not change the windows; the series survives JSON
    assert _series(frame, {"period": "day"}, page=len(frame)).to_dict() == ws.to_dict()
    report = ShadowReport(task="classification", n_rows=len(frame), n_shadowed=len(frame), windows=ws)
    assert ShadowReport.from_dict(report.to_dict()).windows == ws


def test_row_windows_count_like_the_monitor_and_bad_series_are_named() -> None:
    frame = _pairs(n=250)
    ws = _series(frame, {"window": 100}, page=33)
    assert [w.n_rows for w in ws.windows] == [100, 100, 50] and [w.partial for w in ws.windows] == [0, 0, 1]
    block = np.arange(len(frame)) // 100
    expected = (frame["served"] == frame["shadow"]).groupby(block).mean().tolist()
    assert ws.series("agreement") == pytest.approx(expected, abs=1e-15)
    with pytest.raises(DataError, match="unknown shadow series"):
        ws.series("auc")


def test_time_zone_days_cross_the_dst_change_like_pandas_tz_convert_and_floor() -> None:
    # Europe/Paris moves to summer time on 2026-03-29 at 02:00: that day lasts 23 hours
    times = pd.Series(pd.date_range("2026-03-27T20:00:00Z", "2026-03-31T03:00:00Z", freq="20min"))
    cut = window_cut(period="day", tz="Europe/Paris")
    assert cut is not None and cut.label == "day (Europe/Paris)"
    keys = cut.keys(times, 0, len(times))
    local = times.dt.tz_convert("Europe/Paris").dt.floor("D")
    # same grouping as pandas' local days
    ours = pd.Series(keys).groupby(keys).size().tolist()
    assert ours == local.groupby(local).size().tolist()
    starts = [cut.bounds(int(k))[0] for k in sorted(set(keys))]
    assert starts == sorted(set(local))
    start, end, label = cut.bounds(int(keys[times.searchsorted(pd.Timestamp("2026-03-29T12:00:00Z"))]))
    assert label == "2026-03-29" and end - start == pd.Timedelta(hours=23)
    assert start.isoformat() == "2026-03-29T00:00:00+01:00" and end.isoformat() == "2026-03-30T00:00:00+02:00"
    log = pd.DataFrame({"time": times, "x": np.arange(len(times), dtype=float)})
    ws = monitor_windows(log, pd.DataFrame({"x": np.arange(100.0)}), period="day", tz="Europe/Paris")
    assert [w.n_rows for w in ws.windows] == local.groupby(local).size().tolist()
    assert ws.windows[1].start == "2026-03-28T00:00:00+01:00" and ws.windows[-1].end == "2026-04-01T00:00:00+02:00"
    for bad, match in (("Mars/Olympus", "Europe/Paris"), ("../etc", "not a time zone")):
        with pytest.raises(DataError, match=match):
            window_cut(period="day", tz=bad)
    with pytest.raises(DataError, match="calendar periods"):
        window_cut("1d", tz="Europe/Paris")
    with pytest.raises(DataError, match="a day or longer"):
        window_cut(period="hour", tz="Europe/Paris")


def test_a_regressors_mean_absolute_difference_per_window_is_the_hand_count() -> None:
    rng = np.random.default_rng(4)
    n = 300
    times = pd.Timestamp("2026-05-01T00:00:00Z") + pd.to_timedelta(np.arange(n) * 20, unit="min")
    served = rng.normal(size=n)
    gap = np.where(np.arange(n) < 150, 0.01, 0.5)  # the shadow drifts away in the second half
    frame = pd.DataFrame({"time": times, "served_version": 1, "served": served, "shadow_version": 2,
                          "shadow": served + gap * rng.normal(size=n), "error": None, "label": None},
                         index=pd.RangeIndex(1, n + 1, name="id"))  # fmt: skip
    cut = window_cut("12h")
    assert cut is not None
    acc = ShadowWindows(cut, lambda: ShadowAccumulator("regression"), {"n_boot": 0})
    for i in range(0, n, 64):
        acc.add(frame.iloc[i : i + 64])
    ws = acc.series()
    half = frame["time"].dt.floor("12h")
    expected = (frame["shadow"] - frame["served"]).abs().groupby(half).mean()
    assert ws.series("mean_abs_difference") == pytest.approx(expected.tolist(), rel=1e-12)
    assert all(w.agreement is None and w.comparison is None and "label" in (w.comparison_reason or "")
               for w in ws.windows)  # fmt: skip
    assert "mean |shadow - served| from" in ws.describe()
