"""Monitoring a model watches the columns it reads, and cuts a table's time windows by the spec's time column."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pandas as pd
import pytest
from loop_helpers import train_champion
from plain_project import FEATURES, log_plain_traffic, plain_table, write_plain_project

from skloop.core._clock import utcnow
from skloop.monitor import MonitorReport
from skloop.workflows import Project, model_input_columns, monitor_model

NOT_READ = ("leak", "row_id", "timestamp", "y")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = Project.load(write_plain_project(tmp_path_factory.mktemp("plain") / "p"))
    train_champion(project)
    yield project
    project.close()


def _unread_changed(frame: pd.DataFrame) -> pd.DataFrame:
    """The same features, but the columns the model does not read changed beyond recognition."""
    out = frame.copy()
    out["leak"] = out["leak"] * 10 + 5
    out.loc[::3, "leak"] = None
    out["row_id"] = "same"  # duplicate ids
    return out


def _assert_only_inputs(report: MonitorReport) -> None:
    assert [f.name for f in report.drift.features] == list(FEATURES)
    checked = {q.column for q in report.drift.quality.checks}
    assert checked == set(FEATURES), checked
    assert not report.drift.drifted and not set(NOT_READ) & set(report.drift.drifted_features)
    assert not any(name in report.verdict() for name in ("leak", "row_id"))
    assert {r["name"] for r in report.ranking()} == set(FEATURES)


def test_the_model_input_columns_are_the_signature_inputs(project: Project) -> None:
    version = project.store.models.get_model_version("plain", 1)
    assert model_input_columns(project.store, version) == FEATURES


def test_monitor_current_data_tests_only_the_model_inputs(project: Project) -> None:
    current = _unread_changed(plain_table(2000, seed=7, start="2024-06-01"))
    report = monitor_model(project.store, "plain", project.settings, current=current, n_boot=0)
    _assert_only_inputs(report)


def test_monitor_from_the_log_tests_only_the_model_inputs(project: Project) -> None:
    # the server logs every column a client sent, the ones the model does not read too
    log_plain_traffic(project.store, _unread_changed(plain_table(2000, seed=8)), time=utcnow() - timedelta(hours=1))
    report = monitor_model(project.store, "plain", project.settings, from_log=True, n_boot=0)
    _assert_only_inputs(report)
    assert {p.name for p in report.drift.predictions} == {"proba_0", "proba_1"}  # prediction drift stays


def test_time_windows_of_a_table_cut_by_the_specs_time_column(project: Project) -> None:
    current = plain_table(24 * 90, seed=9, start="2024-03-01")  # 90 days, one row an hour, in 'timestamp'
    report = monitor_model(project.store, "plain", project.settings, current=current, window="30d", n_boot=0)
    assert report.windows is not None and report.windows.window == "30d"
    windows = report.windows.windows
    assert sum(w.n_rows for w in windows) == len(current) and len(windows) in (3, 4)
    first = pd.Timestamp(windows[0].start)
    assert first <= pd.Timestamp("2024-03-01", tz="UTC") < first + pd.Timedelta(days=30)
    assert all(set(w.features) == set(FEATURES) for w in windows)
