"""Windows over a prediction log: every monitor statistic as a time series.

A *log frame* is one row per logged prediction: ``time``, the input columns,
``prediction``, the class probabilities as ``proba_<class>`` columns, and ``label``
(missing until known). :func:`log_frame` builds one from the store's
:class:`~skloop.store.Prediction` records; any DataFrame of that shape works too.

:func:`monitor_windows` cuts it by time (``"1d"``, ``"6h"``, ``"30min"``) or by row
count (``500``), and computes per window: drift against the reference (share,
importance-weighted score, each feature's statistic), data-quality counts, realised
performance with intervals where labels are known, and the CBPE estimate where a
fitted :class:`~skloop.monitor.CBPE` is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import DataError, LearnedSpec, MonitoringSpec, MultivariateSpec
from skloop.data import DatasetProfile, Schema, class_name
from skloop.monitor._compare import compare_data
from skloop.monitor._drift import FeatureDrift
from skloop.monitor._estimate import CBPE
from skloop.monitor._explain import weighted_drift
from skloop.monitor._loss import DLE
from skloop.monitor._multivariate import MultivariateDrift, MultivariateReference, compare_window
from skloop.monitor._performance import PerformanceReport, performance
from skloop.monitor._periods import Cut, WindowSpan, parse_window, span_of, window_cut, window_times
from skloop.monitor._reference import ReferenceSummary, reference_summary
from skloop.monitor._window_series import WindowResult, WindowSeries, performance_alerts

__all__ = [
    "LOG_COLUMNS",
    "WindowResult",
    "WindowSeries",
    "learned_bands",
    "log_frame",
    "monitor_windows",
    "parse_window",
    "performance_alerts",
    "split_windows",
    "with_bands",
]

LOG_COLUMNS = ("time", "prediction", "label")
"""Columns of a log frame besides the inputs and the ``proba_<class>`` columns."""
MIN_LABELED = 20
"""A window's realised performance needs at least this many labeled rows."""


def log_frame(predictions: Iterable[Any]) -> pd.DataFrame:
    """A log frame from the store's :class:`~skloop.store.Prediction` records.

    Columns: ``time`` (UTC), ``version``, ``entity_id``, the inputs, ``prediction``,
    ``proba_<class>`` for each class seen in the outputs' ``probabilities``, ``label``.
    """
    rows = []
    for p in predictions:
        row: dict[str, Any] = {"time": p.time, "version": p.version, "entity_id": p.entity_id}
        row.update(p.inputs)
        row["prediction"] = p.outputs.get("prediction", p.prediction)
        probs = p.outputs.get("probabilities")
        if isinstance(probs, Mapping):
            row.update({f"proba_{class_name(k)}": v for k, v in probs.items()})
        row["label"] = p.label
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["time", "prediction", "label"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame


def cut_windows(
    log: pd.DataFrame,
    cut: Cut,
    *,
    time_column: str = "time",
    observed_from: pd.Timestamp | None = None,
    observed_until: pd.Timestamp | None = None,
) -> tuple[list[tuple[WindowSpan, pd.DataFrame]], int]:
    """Cut a log frame by ``cut``: its windows in time order (empty ones left out), and the rows without a time.

    Rows whose ``time_column`` is missing belong to no window (of time or of rows);
    they are counted, not dropped silently. Rows are sorted by time (stably) when the
    log has the column; row windows of a log without one keep its order.

    Raises
    ------
    DataError
        Time windows of a log without ``time_column`` (the message lists its columns).
    """
    has_time = time_column in log.columns
    if not has_time and cut.by_time:
        raise DataError(
            f"time windows ({cut.label}) need a {time_column!r} column; the data has {[str(c) for c in log.columns]}; "
            "declare the table's time column as data.time in the spec, or cut by rows (a window such as 500)"
        )
    times: pd.Series | None = None
    untimed = 0
    if has_time:
        times = window_times(log[time_column], time_column)
        timed = times.notna().to_numpy()
        untimed = int((~timed).sum())
        if untimed:
            log, times = log[timed], times[timed]
        if not times.is_monotonic_increasing:  # int64 nanoseconds: sorting Timestamps as objects is slow
            order = np.argsort(times.array.asi8, kind="stable")
            log, times = log.iloc[order], times.iloc[order]
    keys = cut.keys(times, 0, len(log))
    cuts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.array([], dtype=np.int64)
    out: list[tuple[WindowSpan, pd.DataFrame]] = []
    for i, at in enumerate(cuts):
        upto = int(cuts[i + 1]) if i + 1 < len(cuts) else len(log)
        first = times.iloc[at] if times is not None else None
        last = times.iloc[upto - 1] if times is not None else None
        span = span_of(cut, int(keys[at]), upto - int(at), first, last, observed_from=observed_from,
                       observed_until=observed_until, is_first=i == 0, is_last=i == len(cuts) - 1)  # fmt: skip
        out.append((span, log.iloc[at:upto]))
    return out, untimed


def split_windows(
    log: pd.DataFrame,
    window: str | int | timedelta | None = None,
    *,
    period: str | None = None,
    time_column: str = "time",
) -> list[tuple[pd.Timestamp | None, pd.Timestamp | None, pd.DataFrame]]:
    """Cut a log frame into windows: ``(start, end, rows)`` in time order, empty ones left out.

    Time windows (``window="1d"``) are aligned on multiples of their length since the
    Unix epoch (a ``1d`` window runs from midnight to midnight UTC); calendar periods
    (``period="month"``) are UTC periods; ``start`` is included, ``end`` excluded. Row
    windows hold ``window`` consecutive rows each (the last may hold fewer) and their
    ``start``/``end`` are the first and last times in them, when known. See
    :mod:`skloop.monitor._periods`; :func:`monitor_windows` also marks partial windows.

    Raises
    ------
    DataError
        A row has no time (:func:`monitor_windows` reports them instead), or time
        windows of a log without ``time_column``.
    """
    cut = window_cut(window, period)
    if cut is None:
        raise DataError("give a window (1d, 500) or a calendar period (month) to cut by")
    windows, untimed = cut_windows(log, cut, time_column=time_column)
    if untimed:
        raise DataError(f"{untimed} rows of the log have no {time_column!r}; every row needs one")
    return [(span.start, span.end, rows) for span, rows in windows]


def learned_bands(config: MonitoringSpec | None) -> LearnedSpec | None:
    """The learned-band settings when ``monitoring.performance.threshold`` is ``learned``."""
    if config is None or config.performance.threshold != "learned":
        return None
    return config.learned


def proba_columns(log: pd.DataFrame, classes: Sequence[str] | None) -> list[str] | None:
    """The ``proba_<class>`` columns in class order, or ``None`` when the log has none."""
    found = [c for c in log.columns if isinstance(c, str) and c.startswith("proba_")]
    if not found:
        return None
    if classes is None:
        return found
    wanted = [f"proba_{class_name(c)}" for c in classes]
    missing = [c for c in wanted if c not in log.columns]
    if missing:
        raise DataError(f"the log has no probability columns {missing}; it has {found}")
    return wanted


def window_performance(
    rows: pd.DataFrame,
    *,
    task: str | None,
    classes: Sequence[Any] | None,
    reference_metrics: Mapping[str, float] | None,
    estimator: CBPE | DLE | None,
    n_boot: int,
    seed: int,
    min_labeled: int = MIN_LABELED,
    positive: Any = None,
    bands: LearnedSpec | None = None,
) -> tuple[int, PerformanceReport | None, PerformanceReport | None]:
    """Labeled rows, realised performance (if enough labels) and estimate of a log frame.

    The estimate is CBPE's (a classifier's probabilities) or DLE's (a regressor's inputs
    and prediction). With ``bands``, each metric of both gets the estimator's learned
    band at its row count (``mean ± k·std`` over reference chunks).
    """
    probs = proba_columns(rows, classes)
    labeled = rows["label"].map(class_name).notna() if "label" in rows.columns else pd.Series(False, index=rows.index)
    n_labeled = int(labeled.sum())
    realised = None
    if n_labeled >= min_labeled and "prediction" in rows.columns:
        part = rows[labeled.to_numpy()]
        realised = performance(
            part["label"].to_numpy(), part["prediction"].to_numpy(),
            proba=None if probs is None else part[probs].to_numpy(dtype=np.float64),
            classes=classes, task=task, reference=reference_metrics, n_boot=n_boot, seed=seed, positive=positive,
        )  # fmt: skip
    estimate = None
    if isinstance(estimator, DLE):
        if "prediction" in rows.columns and len(rows) and set(estimator.columns_) <= set(rows.columns):
            estimate = estimator.estimate(
                rows[estimator.columns_], rows["prediction"].to_numpy(), reference=reference_metrics
            )
    elif estimator is not None and probs is not None and len(rows):
        pred = rows["prediction"].to_numpy() if "prediction" in rows.columns else None
        estimate = estimator.estimate(
            rows[probs].to_numpy(dtype=np.float64), pred, reference=reference_metrics, n_boot=n_boot, seed=seed
        )
    if bands is not None and estimator is not None:
        realised, estimate = (with_bands(r, estimator, bands) for r in (realised, estimate))
    return n_labeled, realised, estimate


def with_bands(report: PerformanceReport | None, estimator: CBPE | DLE, bands: LearnedSpec) -> PerformanceReport | None:
    """``report`` with each metric's learned band at its row count (metrics without one keep none)."""
    if report is None:
        return None
    found = estimator.band(report.n_rows, bands.k, chunks=bands.chunks, seed=bands.seed)
    metrics = tuple(replace(m, band=found.get(m.name)) for m in report.metrics)
    return replace(report, metrics=metrics)


def _window_feature(f: FeatureDrift) -> dict[str, Any]:
    """One feature's test in a window, with its current counts (a distribution chart's bars).

    Numeric columns are counted on the reference's bins, which every window shares (the
    report's overall :class:`FeatureDrift` keeps the edges and the reference counts);
    a categorical column's categories can differ by window (new values), so they and
    the reference counts are kept with it.
    """
    out: dict[str, Any] = {"method": f.method, "statistic": f.statistic, "p_value": f.p_value,
                           "threshold": f.threshold, "drifted": f.drifted,
                           "current_counts": list(f.current_counts)}  # fmt: skip
    if f.band is not None:
        out["band"] = list(f.band)
    if f.categories is not None:
        out["categories"] = list(f.categories)
        out["reference_counts"] = list(f.reference_counts)
    return out


def window_result(
    index: int,
    span: WindowSpan,
    drift: Any,
    *,
    n_rows: int,
    n_labeled: int,
    realised: PerformanceReport | None,
    estimate: PerformanceReport | None,
    importance: Mapping[str, Any] | None,
    judge_partial: bool,
    multivariate: MultivariateDrift | None = None,
) -> WindowResult:
    """One window's :class:`WindowResult` from its span, its drift report and its performance."""
    flags: dict[str, int] = {}
    for check in drift.quality.issues:
        flags[check.check] = flags.get(check.check, 0) + 1
    where = span.to_dict()
    return WindowResult(
        index=index, start=where["start"], end=where["end"], n_rows=n_rows, n_labeled=n_labeled,
        drift_share=drift.share, drifted=drift.drifted,
        weighted_drift=weighted_drift({f.name: f.drifted for f in drift.features}, importance),
        features={f.name: _window_feature(f) for f in drift.features}, quality=flags, performance=realised,
        estimate=estimate, label=span.label, coverage=span.coverage, partial=span.partial,
        judged=judge_partial or not span.partial, multivariate=multivariate,
    )  # fmt: skip


def monitor_windows(
    log: pd.DataFrame,
    reference: pd.DataFrame | ReferenceSummary | DatasetProfile,
    *,
    window: str | int | timedelta | None = None,
    period: str | None = None,
    schema: Schema | None = None,
    config: MonitoringSpec | None = None,
    task: str | None = None,
    classes: Sequence[Any] | None = None,
    reference_metrics: Mapping[str, float] | None = None,
    importance: Mapping[str, Any] | None = None,
    estimator: CBPE | DLE | None = None,
    n_boot: int = 200,
    seed: int = 0,
    columns: Sequence[str] | None = None,
    time_column: str = "time",
    positive: Any = None,
    observed_from: datetime | None = None,
    observed_until: datetime | None = None,
    judge_partial: bool = False,
    multivariate: MultivariateReference | None = None,
    multivariate_config: MultivariateSpec | None = None,
    tz: str | None = None,
) -> WindowSeries:
    """Every monitor statistic per window of a prediction log.

    Parameters
    ----------
    log : DataFrame
        A log frame (see the module docstring).
    reference : DataFrame, ReferenceSummary or DatasetProfile
        The training reference; summarised once, then compared with each window.
    window : str, int or timedelta, optional
        ``"1d"``-style duration (aligned on the Unix epoch, UTC) or a row count (see
        :func:`parse_window`).
    period : str, optional
        Instead of ``window``: a calendar period, ``"day"``, ``"week"``, ``"month"``,
        ``"quarter"``, ``"year"`` or a pandas period alias (UTC; see
        :func:`~skloop.monitor._periods.parse_period`).
    schema : Schema, optional
        The training schema (decides the features tested).
    config : MonitoringSpec, optional
        Drift and quality settings.
    task, classes : optional
        The model's task and classes (``classes_``) for performance.
    reference_metrics : mapping, optional
        The version's metrics (``holdout_*``), for the change of each metric.
    importance : mapping, optional
        The version's permutation importance, for the weighted drift.
    estimator : CBPE or DLE, optional
        A fitted estimator: each window then gets an estimated performance.
    n_boot, seed : int
        Bootstrap resamples and seed of the intervals.
    columns : sequence of str, optional
        The model's input columns, the only ones monitored (default: the schema's features).
    time_column : str, default="time"
        The column time windows cut by: a log frame's ``time``, or a table's own time
        column (the spec's ``data.time``). Timezone-aware values are converted to UTC,
        naive ones taken as UTC; rows without a time are in no window and counted
        (``n_without_time``).
    positive : scalar, optional
        Binary classification: the positive class recorded with the version.
    observed_from, observed_until : datetime, optional
        The span the rows observe whole (a log read ``--since``: from then until now);
        by default from the first row's time to the last one's (see
        :mod:`skloop.monitor._periods`). Decides which windows are partial.
    judge_partial : bool, default=False
        Judge partial windows like full ones (their ``judged``).
    multivariate : MultivariateReference, optional
        Fitted on the reference rows: each window then gets its multivariate drift,
        with ``multivariate_config``'s settings (``monitoring.multivariate``).
    tz : str, optional
        With ``period``: cut the calendar periods in this IANA time zone
        (``"Europe/Paris"``) instead of UTC; the bounds carry its offset.

    Returns
    -------
    WindowSeries
    """
    cut = window_cut(window, period, tz=tz)
    if cut is None:
        raise DataError("give a window (1d, 500) or a calendar period (month) to cut by")
    if isinstance(reference, pd.DataFrame):
        reference = reference_summary(reference, schema, max_points=None)
    if isinstance(reference, DatasetProfile):
        reference = ReferenceSummary.from_profile(reference, schema)
    inputs = [c for c in log.columns if c not in LOG_COLUMNS and not str(c).startswith("proba_")]
    if columns is not None:
        inputs = [c for c in inputs if c in set(columns)]
    results = []
    bands = learned_bands(config)
    windows, untimed = cut_windows(
        log, cut, time_column=time_column, observed_from=_utc(observed_from), observed_until=_utc(observed_until)
    )
    for i, (span, rows) in enumerate(windows):
        drift = compare_data(reference, rows[inputs], schema, config=config, columns=columns)
        n_labeled, realised, estimate = window_performance(
            rows, task=task, classes=classes, reference_metrics=reference_metrics, estimator=estimator,
            n_boot=n_boot, seed=seed, positive=positive, bands=bands,
        )  # fmt: skip
        results.append(window_result(
            i, span, drift, n_rows=len(rows), n_labeled=n_labeled, realised=realised, estimate=estimate,
            importance=importance, judge_partial=judge_partial,
            multivariate=None if multivariate is None
            else compare_window(multivariate, rows, multivariate_config or MultivariateSpec()),
        ))  # fmt: skip
    return WindowSeries(window=cut.label, windows=tuple(results), n_without_time=untimed, judge_partial=judge_partial)


def _utc(when: datetime | None) -> pd.Timestamp | None:
    """``when`` as a UTC timestamp (naive: taken as UTC)."""
    if when is None:
        return None
    stamp = pd.Timestamp(when)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
