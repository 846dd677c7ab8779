"""Windows by calendar period and partial windows, checked against pandas' own ``dt.to_period`` grouping."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skloop.core import DataError, MonitoringSpec
from skloop.data import read_table
from skloop.monitor import (
    FULL_COVERAGE,
    MonitorReport,
    WindowResult,
    WindowSeries,
    monitor_frame,
    monitor_pages,
    monitor_windows,
    parse_period,
    render_report_html,
    split_windows,
    window_cut,
)


def _reference(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b", "c"], n)})


def _table(n: int, start: str, days: float, seed: int = 1, column: str = "event_ts") -> pd.DataFrame:
    """``n`` rows at random times over ``days`` from ``start`` (UTC), in no particular order."""
    rng = np.random.default_rng(seed)
    seconds = rng.integers(0, int(days * 86400), n)
    times = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(seconds, unit="s")
    return pd.DataFrame({column: times, "x": rng.normal(size=n), "c": rng.choice(["a", "b", "c"], n)})


def _expected(times: pd.Series, freq: str) -> pd.Series:
    """Rows per period, the independent way: pandas groups the UTC wall times by ``to_period``."""
    periods = times.dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period(freq)
    return periods.value_counts().sort_index()


def test_parse_period_names_aliases_and_errors() -> None:
    assert [parse_period(p) for p in ("day", "WEEK", "month", "quarter", "year", "hour")] == [
        "D", "W-SUN", "M", "Q-DEC", "Y-DEC", "h",
    ]  # fmt: skip
    assert [parse_period(p) for p in ("D", "W", "W-MON", "M", "Q", "Q-JUN", "Y", "y-mar")] == [
        "D", "W-SUN", "W-MON", "M", "Q-DEC", "Q-JUN", "Y-DEC", "Y-MAR",
    ]  # fmt: skip
    for bad in ("fortnight", "2M", "ME", "m", "7d", "", "W-XYZ"):
        with pytest.raises(DataError, match=r"--period .* is not a calendar period; use one of hour, day, week"):
            parse_period(bad, option="--period")
    with pytest.raises(DataError, match="not both"):
        window_cut("1d", "month")
    with pytest.raises(DataError, match="calendar periods: --period month"):
        window_cut("month")


@pytest.mark.parametrize(("period", "freq"), [("day", "D"), ("week", "W-SUN"), ("month", "M"), ("quarter", "Q"),
                                              ("year", "Y"), ("W-WED", "W-WED")])  # fmt: skip
def test_period_windows_match_pandas_to_period(period: str, freq: str) -> None:
    days = {"day": 9, "week": 60, "month": 400, "quarter": 800, "year": 1500, "W-WED": 60}[period]
    log = _table(3000, "2023-11-17 05:00", days)
    cut = split_windows(log, period=period, time_column="event_ts")
    expected = _expected(log["event_ts"], freq)
    assert [len(rows) for _, _, rows in cut] == expected.tolist()
    assert [s for s, _, _ in cut] == [p.start_time.tz_localize("UTC") for p in expected.index]
    assert [e for _, e, _ in cut] == [(p + 1).start_time.tz_localize("UTC") for p in expected.index]
    for start, end, rows in cut:
        assert ((rows["event_ts"] >= start) & (rows["event_ts"] < end)).all()
        assert rows["event_ts"].is_monotonic_increasing
    series = monitor_windows(log, _reference(), period=period, time_column="event_ts", n_boot=0)
    assert [w.label for w in series.windows] == [str(p) for p in expected.index]
    assert series.window == (period if period != "W-WED" else "W-WED")
    if period == "week":  # Monday to Sunday
        assert all(pd.Timestamp(w.start).day_name() == "Monday" for w in series.windows)


def test_durations_are_aligned_on_the_epoch() -> None:
    log = _table(2000, "2024-01-03 07:00", 40)
    cut = split_windows(log, "7d", time_column="event_ts")
    epoch = pd.Timestamp(0, tz="UTC")
    assert all((start - epoch) % pd.Timedelta(days=7) == pd.Timedelta(0) for start, _, _ in cut)
    assert {start.day_name() for start, _, _ in cut} == {"Thursday"}  # 1 January 1970 was a Thursday
    slots = (log["event_ts"] - epoch) // pd.Timedelta(days=7)
    assert [len(r) for _, _, r in cut] == slots.value_counts().sort_index().tolist()
    six = split_windows(log, "6h", time_column="event_ts")
    assert {s.hour for s, _, _ in six} <= {0, 6, 12, 18}


def test_partial_first_and_last_windows_with_their_coverage() -> None:
    # from 10 January 12:00 to 20 March (last row 19 March 23:30 at most), rows every 30 minutes
    times = pd.date_range("2024-01-10 12:00", "2024-03-19 23:30", freq="30min", tz="UTC")
    rng = np.random.default_rng(3)
    log = pd.DataFrame({"time": times, "x": rng.normal(size=len(times)), "c": rng.choice(["a", "b"], len(times))})
    series = monitor_windows(log, _reference(), period="month", n_boot=0)
    jan, feb, mar = series.windows
    assert [w.label for w in series.windows] == ["2024-01", "2024-02", "2024-03"]
    # January observed from its first row, 10 Jan 12:00, to its end: 21.5 of 31 days
    assert jan.partial and jan.coverage == pytest.approx(21.5 / 31, abs=1e-6)
    assert not feb.partial and feb.coverage == 1.0
    # March observed to the last row plus one gap between its rows (30 min): 20 Mar 00:00, 19 of 31 days
    assert mar.partial and mar.coverage == pytest.approx(19 / 31, abs=1e-6)
    assert [w.judged for w in series.windows] == [False, True, False]
    assert [w.n_rows for w in series.windows] == [len(times[times.month == m]) for m in (1, 2, 3)]
    # asked to, partial windows are judged
    judged = monitor_windows(log, _reference(), period="month", n_boot=0, judge_partial=True)
    assert [w.judged for w in judged.windows] == [True, True, True] and judged.windows[0].partial
    # a span given (a log read --since): January observed from 1 January, March until 1 April
    span = {"observed_from": datetime(2024, 1, 1, tzinfo=UTC), "observed_until": datetime(2024, 4, 1)}
    given = monitor_windows(log, _reference(), period="month", n_boot=0, **span)
    assert [w.partial for w in given.windows] == [False, False, False]


def test_a_full_window_of_random_times_is_not_partial() -> None:
    log = _table(5000, "2024-02-01", 29)  # all of February 2024 (29 days), random seconds
    (feb,) = monitor_windows(log, _reference(), period="month", time_column="event_ts", n_boot=0).windows
    assert not feb.partial and FULL_COVERAGE <= feb.coverage <= 1.0


def test_a_short_last_row_window_is_partial() -> None:
    log = _table(1100, "2024-02-01", 3)
    series = monitor_windows(log, _reference(), window=500, time_column="event_ts", n_boot=0)
    assert [w.n_rows for w in series.windows] == [500, 500, 100]
    assert [w.partial for w in series.windows] == [False, False, True] and series.windows[-1].coverage == 0.2


def test_rows_without_a_time_are_counted_not_dropped() -> None:
    log = _table(2000, "2024-01-20", 30).astype({"event_ts": object})
    log.loc[[3, 50, 700], "event_ts"] = None
    report = monitor_frame(log, _reference(), period="month", time_column="event_ts", n_boot=0)
    assert report.windows is not None and report.windows.n_without_time == 3
    assert sum(w.n_rows for w in report.windows.windows) == 1997
    assert report.drift.n_current == 2000  # the whole report keeps them
    assert "3 rows have no time and are in no window." in report.verdict()
    assert report.to_dict()["windows"]["n_without_time"] == 3
    with pytest.raises(DataError, match="3 rows of the log have no 'event_ts'"):
        split_windows(log, period="month", time_column="event_ts")


def test_a_table_without_its_time_column_or_with_numbers_there() -> None:
    log = _table(300, "2024-01-01", 3).rename(columns={"event_ts": "when"})
    with pytest.raises(DataError, match=r"need a 'event_ts' column; the data has \['when', 'x', 'c'\]; .*data\.time"):
        monitor_frame(log, _reference(), period="day", time_column="event_ts")
    log["when"] = np.arange(300)
    with pytest.raises(DataError, match="the time column 'when' holds numbers"):
        monitor_frame(log, _reference(), period="day", time_column="when")
    log["when"] = ["2024-01-01"] * 299 + ["01/02/2024"]
    with pytest.raises(DataError, match=r"not ISO 8601 times, e\.g\. '01/02/2024'"):
        monitor_frame(log, _reference(), period="day", time_column="when")


def _three_tables(tmp_path: Path) -> dict[str, pd.DataFrame]:
    """One table three ways: timezone-aware strings in a CSV, naive datetimes, Parquet datetime64[ns]."""
    base = _table(2400, "2024-05-03 09:00", 95, seed=4)
    aware = base.copy()  # +02:00 wall times, written as text
    aware["event_ts"] = base["event_ts"].dt.tz_convert("Europe/Paris").map(lambda t: t.isoformat())
    aware.to_csv(tmp_path / "aware.csv", index=False)
    naive = base.copy()
    naive["event_ts"] = base["event_ts"].dt.tz_localize(None)  # UTC wall times, no zone
    parquet = base.copy()
    parquet["event_ts"] = base["event_ts"].dt.tz_localize(None).astype("datetime64[ns]")
    parquet.to_parquet(tmp_path / "ns.parquet")
    read = pd.read_parquet(tmp_path / "ns.parquet")
    assert str(read["event_ts"].dtype) == "datetime64[ns]"
    return {"aware": read_table(tmp_path / "aware.csv"), "naive": naive, "parquet": read, "base": base}


def test_aware_strings_naive_datetimes_and_parquet_ns_cut_alike(tmp_path: Path) -> None:
    tables = _three_tables(tmp_path)
    expected = _expected(tables["base"]["event_ts"], "M")
    got = {}
    for kind in ("aware", "naive", "parquet"):
        report = monitor_frame(tables[kind], _reference(), period="month", time_column="event_ts", n_boot=0)
        assert report.windows is not None
        got[kind] = [(w.label, w.start, w.end, w.n_rows, w.partial, w.coverage) for w in report.windows.windows]
        assert [w[3] for w in got[kind]] == expected.tolist(), kind
        assert [w[0] for w in got[kind]] == [str(p) for p in expected.index], kind
    assert got["aware"] == got["naive"] == got["parquet"]
    assert got["aware"][0][4] and got["aware"][-1][4]  # starts 3 May, ends early August: both partial


def _pages(log: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    return [log.iloc[i : i + size] for i in range(0, len(log), size)]


def _json(report: MonitorReport) -> str:
    data = report.to_dict()
    data.pop("created")
    return json.dumps(data, sort_keys=True)


@pytest.mark.parametrize("period", ["day", "week"])
def test_pages_cut_periods_as_the_whole_frame_does(period: str) -> None:
    log = _table(3000, "2024-03-02 10:00", 20, column="time").sort_values("time", kind="stable")
    log.index = pd.Index(np.arange(len(log)) + 1, name="id")
    log = log.astype({"time": object})
    log.loc[[5, 17], "time"] = None  # counted alike on both paths
    until = datetime(2024, 3, 22, 12, tzinfo=UTC)
    whole = monitor_frame(log, _reference(), period=period, n_boot=0, observed_until=until)
    assert whole.windows is not None and whole.windows.n_without_time == 2
    for size in (97, 1000, 3000):
        paged = monitor_pages(_pages(log, size), _reference(), period=period, n_boot=0, observed_until=until)
        assert _json(paged) == _json(whole), size


def test_learned_thresholds_use_the_time_windows_row_count() -> None:
    config = MonitoringSpec.model_validate({"drift": {"threshold": "learned"}})
    log = _table(1500, "2024-01-01", 3, column="time").sort_values("time", kind="stable").reset_index(drop=True)
    by_day = monitor_windows(log, _reference(), period="day", config=config, n_boot=0)
    sizes = [w.n_rows for w in by_day.windows]
    assert len(set(sizes)) == 3  # three days of different sizes
    offset = 0
    for w in by_day.windows:  # the same rows as one row window: the same band, drawn at that size
        (alone,) = monitor_windows(log.iloc[offset : offset + w.n_rows], _reference(), window=w.n_rows,
                                   config=config, n_boot=0).windows  # fmt: skip
        offset += w.n_rows
        for name in ("x", "c"):
            assert w.features[name]["band"] == alone.features[name]["band"]
            assert w.features[name]["threshold"] == alone.features[name]["threshold"]
    assert by_day.windows[0].features["x"]["band"] != by_day.windows[1].features["x"]["band"]


def test_the_report_marks_partial_windows_and_old_reports_still_read() -> None:
    short = monitor_frame(_table(800, "2024-01-20", 40), _reference(), period="month", time_column="event_ts",
                          n_boot=0)  # fmt: skip
    assert "None of the 2 windows (month) is judged." in short.verdict()  # 20 Jan to 28 Feb: both partial
    log = _table(1500, "2024-01-20", 100)
    report = monitor_frame(log, _reference(), period="month", time_column="event_ts", n_boot=0)
    data = report.to_dict()
    first = data["windows"]["windows"][0]
    assert first["partial"] is True and 0 < first["coverage"] < 1 and first["judged"] is False
    assert first["label"] == "2024-01" and data["windows"]["window"] == "month"
    assert "Partial windows (share of their month observed), not judged: 2024-01 (" in report.verdict()
    assert "0 of 2 judged windows (month) drifted." in report.verdict()  # February and March
    html = render_report_html(report)
    assert "2024-01" in html and "partial" in html and "(not judged)" in html and "windows-note" in html
    again = MonitorReport.from_json(report.to_json())
    assert again.windows == report.windows
    # a report of an older skloop: windows without label, coverage, partial, judged
    old = dict(first)
    for key in ("label", "coverage", "partial", "judged"):
        old.pop(key)
    w = WindowResult.from_dict(old)
    assert (w.label, w.coverage, w.partial, w.judged) == (None, 1.0, False, True)
    assert WindowSeries.from_dict({"window": "1d", "windows": [old]}).n_without_time == 0


def test_observed_bounds_may_be_naive_or_aware() -> None:
    log = _table(800, "2024-06-10", 5)
    a = monitor_windows(log, _reference(), period="day", time_column="event_ts", n_boot=0,
                        observed_until=datetime(2024, 6, 16))  # fmt: skip
    b = monitor_windows(log, _reference(), period="day", time_column="event_ts", n_boot=0,
                        observed_until=datetime(2024, 6, 16, 2, tzinfo=UTC) - timedelta(hours=2))  # fmt: skip
    assert a == b and not a.windows[-1].partial
