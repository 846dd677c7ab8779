"""Monitoring from the log streams the store's pages: the same report whatever the page size, and as before."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from loop_helpers import train_champion
from plain_project import log_plain_traffic, plain_table, write_plain_project

from skloop.core._clock import utcnow
from skloop.monitor import log_frame, monitor_frame
from skloop.workflows import Project, monitor_model
from skloop.workflows._monitor import _report_args, load_monitor_inputs


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = Project.load(write_plain_project(tmp_path_factory.mktemp("pages") / "p"))
    train_champion(project)
    now = utcnow()
    # 3,000 rows in six requests over six hours, the later ones drifting; labels for half of them
    for i in range(6):
        frame = plain_table(500, seed=20 + i, shift=0.4 * i)
        log_plain_traffic(project.store, frame, time=now - timedelta(hours=6 - i, minutes=7), labels=i % 2 == 0)
    yield project
    project.close()


def _report(project: Project, **kwargs: Any) -> dict[str, Any]:
    report = monitor_model(project.store, "plain", project.settings, from_log=True, n_boot=40, **kwargs)
    out = report.to_dict()
    out.pop("created")
    return out


def _legacy(project: Project, window: Any, now: datetime, period: str | None = None) -> dict[str, Any]:
    """What monitoring from the log computed before it streamed: every row loaded, one frame (observed until now)."""
    inputs = load_monitor_inputs(project.store, "plain", project.settings)
    log = log_frame(project.store.predictions.query_predictions("plain"))
    report = monitor_frame(
        log, inputs.reference, **_report_args(inputs), window=window, period=period, n_boot=40, seed=0,
        current_name="prediction log of plain", observed_until=now,
    )  # fmt: skip
    out = report.to_dict()
    out.pop("created")
    return out


@pytest.mark.parametrize("window", [None, "1h", 700])
def test_paged_report_equals_the_whole_log_report(project: Project, window: Any) -> None:
    now = utcnow()
    paged = _report(project, page_size=100, window=window, now=now)
    assert json.dumps(paged, sort_keys=True) == json.dumps(_report(project, page_size=None, window=window, now=now),
                                                           sort_keys=True)  # fmt: skip
    assert json.dumps(paged, sort_keys=True) == json.dumps(_legacy(project, window, now), sort_keys=True)
    assert paged["n_current"] == 3000
    assert paged["performance"] is not None and paged["performance"]["n_rows"] == 1500
    assert paged["estimate"] is not None and paged["estimate"]["n_rows"] == 3000
    if window is not None:
        assert sum(w["n_rows"] for w in paged["windows"]["windows"]) == 3000
        assert len(paged["windows"]["windows"]) == (6 if window == "1h" else 5)
    assert paged["drifted"]  # the later hours drift


def test_a_bad_page_size_names_it(project: Project) -> None:
    from skloop.core import StoreError

    with pytest.raises(StoreError, match="page_size"):
        _report(project, page_size=0)


@pytest.mark.parametrize(("period", "since"), [("hour", None), ("day", None), ("hour", "3h")])
def test_the_log_by_period_streams_and_is_observed_until_now(project: Project, period: str, since: Any) -> None:
    now = utcnow()
    paged = _report(project, page_size=100, period=period, since=since, now=now)
    assert json.dumps(paged, sort_keys=True) == json.dumps(_report(project, page_size=None, period=period,
                                                                   since=since, now=now), sort_keys=True)  # fmt: skip
    if since is None:
        assert json.dumps(paged, sort_keys=True) == json.dumps(_legacy(project, None, now, period), sort_keys=True)
    times = log_frame(project.store.predictions.query_predictions("plain"))["time"]
    start = pd.Timestamp(now) - pd.Timedelta(since) if since else None
    if start is not None:
        times = times[times >= start]
    # the independent cut: pandas' periods of the logged times
    periods = times.dt.tz_localize(None).dt.to_period("h" if period == "hour" else "D").value_counts().sort_index()
    windows = paged["windows"]["windows"]
    assert [w["n_rows"] for w in windows] == periods.tolist() and paged["windows"]["window"] == period
    assert [w["label"] for w in windows] == [str(p) for p in periods.index]
    # observed from the first row (or --since) until now: only the first and the last can be partial
    lo = start if start is not None else times.min()
    for i, w in enumerate(windows):
        begin, end = pd.Timestamp(w["start"]), pd.Timestamp(w["end"])
        seen = min(end, pd.Timestamp(now)) - (max(begin, lo) if i == 0 else begin)
        assert w["coverage"] == pytest.approx(min(1.0, seen / (end - begin)), abs=1e-6)
        assert w["partial"] == (w["coverage"] < 0.99) and w["judged"] == (not w["partial"])
