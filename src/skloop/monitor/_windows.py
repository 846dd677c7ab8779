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

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
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
from skloop.monitor._reference import ReferenceSummary, reference_summary

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
_UNITS = {
    "s": "seconds", "sec": "seconds", "min": "minutes", "m": "minutes", "h": "hours", "d": "days", "w": "weeks",
}  # fmt: skip
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*")


def parse_window(window: str | int | timedelta) -> timedelta | int:
    """A window length: a duration (``"1d"``, ``"12h"``, ``"30min"``, ``"2w"``) or a row count.

    Examples
    --------
    >>> parse_window("1d"), parse_window("500"), parse_window("5000 rows"), parse_window(250)
    (datetime.timedelta(days=1), 500, 5000, 250)
    """
    if isinstance(window, timedelta):
        if window <= timedelta(0):
            raise DataError(f"a window must be positive; got {window}")
        return window
    if isinstance(window, int) and not isinstance(window, bool):
        if window < 1:
            raise DataError(f"a window of rows must hold at least 1 row; got {window}")
        return window
    text = str(window).strip().lower()
    rows = re.fullmatch(r"(\d+)\s*rows?", text)
    if rows is not None:
        text = rows.group(1)
    if text.isdigit():
        return parse_window(int(text))
    match = _DURATION.fullmatch(text)
    if match is None or match.group(2) not in _UNITS:
        raise DataError(
            f"window {window!r} is neither a duration such as 1d, 12h, 30min, 2w nor a number of rows such as 500 "
            "(or '500 rows')"
        )
    return parse_window(timedelta(**{_UNITS[match.group(2)]: float(match.group(1))}))


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


def split_windows(
    log: pd.DataFrame, window: str | int | timedelta, *, time_column: str = "time"
) -> list[tuple[pd.Timestamp | None, pd.Timestamp | None, pd.DataFrame]]:
    """Cut a log frame into windows: ``(start, end, rows)`` in time order, empty ones left out.

    Time windows are aligned on multiples of their length since the Unix epoch (a
    ``1d`` window runs from midnight to midnight UTC); ``start`` is included, ``end``
    excluded. Row windows hold ``window`` consecutive rows each (the last may hold fewer)
    and their ``start``/``end`` are the first and last times in them, when known.
    """
    length = parse_window(window)
    has_time = time_column in log.columns
    if has_time:
        times = pd.to_datetime(log[time_column], utc=True)
        if times.isna().any():
            raise DataError(f"{int(times.isna().sum())} rows of the log have no {time_column!r}; every row needs one")
        order = np.argsort(times.to_numpy(), kind="stable")
        log, times = log.iloc[order], times.iloc[order]
    elif isinstance(length, timedelta):
        raise DataError(
            f"time windows need a {time_column!r} column; the data has {[str(c) for c in log.columns]}; "
            "declare the table's time column as data.time in the spec, or cut by rows (a window such as 500)"
        )
    out: list[tuple[pd.Timestamp | None, pd.Timestamp | None, pd.DataFrame]] = []
    if isinstance(length, int):
        for start in range(0, len(log), length):
            part = log.iloc[start : start + length]
            first = times.iloc[start] if has_time else None
            last = times.iloc[min(start + length, len(log)) - 1] if has_time else None
            out.append((first, last, part))
        return out
    step = pd.Timedelta(length)
    epoch = pd.Timestamp(0, tz="UTC")
    slot = ((times - epoch) // step).to_numpy()
    for value in np.unique(slot):
        begin = epoch + int(value) * step
        out.append((begin, begin + step, log[slot == value]))
    return out


@dataclass(frozen=True)
class WindowResult:
    """The monitor's statistics over one window.

    Attributes
    ----------
    index : int
    start, end : str or None
        ISO 8601 bounds (``end`` excluded for time windows; the last time for row windows).
    n_rows, n_labeled : int
    drift_share : float
        Share of drifted features.
    drifted : bool
        The dataset-level verdict of this window.
    weighted_drift : float
        ``Σ importance·drifted / Σ importance``.
    features : dict
        Feature name to ``{"method", "statistic", "p_value", "threshold", "drifted",
        "current_counts"}`` (counts on the reference's bins; categorical features also
        keep ``categories`` and ``reference_counts``, aligned with the counts).
    quality : dict
        Quality check name to the number of columns it flagged.
    performance, estimate : PerformanceReport or None
        Realised (labeled rows) and estimated (CBPE or DLE) performance.
    multivariate : MultivariateDrift or None
        The window's PCA reconstruction error and domain-classifier AUC (when enabled).
    """

    index: int
    start: str | None
    end: str | None
    n_rows: int
    n_labeled: int
    drift_share: float
    drifted: bool
    weighted_drift: float
    features: dict[str, dict[str, Any]] = field(default_factory=dict)
    quality: dict[str, int] = field(default_factory=dict)
    performance: PerformanceReport | None = None
    estimate: PerformanceReport | None = None
    multivariate: MultivariateDrift | None = None

    def alerts(self) -> list[str]:
        """This window's performance alerts (:func:`performance_alerts`)."""
        return performance_alerts(self.performance, self.estimate)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it (``alerts`` is derived)."""
        return {
            "alerts": self.alerts(), "index": self.index, "start": self.start, "end": self.end, "n_rows": self.n_rows,
            "n_labeled": self.n_labeled, "drift_share": self.drift_share, "drifted": self.drifted,
            "weighted_drift": self.weighted_drift, "features": self.features, "quality": self.quality,
            "performance": None if self.performance is None else self.performance.to_dict(),
            "estimate": None if self.estimate is None else self.estimate.to_dict(),
            "multivariate": None if self.multivariate is None else self.multivariate.to_dict(),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowResult:
        """Rebuild from :meth:`to_dict` output (a window of an older report has no ``multivariate``)."""
        perf, est, mv = data.get("performance"), data.get("estimate"), data.get("multivariate")
        return cls(
            **{k: data[k] for k in cls.__dataclass_fields__ if k not in ("performance", "estimate", "multivariate")},
            performance=None if perf is None else PerformanceReport.from_dict(perf),
            estimate=None if est is None else PerformanceReport.from_dict(est),
            multivariate=None if mv is None else MultivariateDrift.from_dict(mv),
        )


@dataclass(frozen=True)
class WindowSeries:
    """The windows of a log, in time order, with the length that cut them."""

    window: str
    windows: tuple[WindowResult, ...] = ()

    def __len__(self) -> int:
        return len(self.windows)

    def series(self, what: str) -> list[float | None]:
        """One value per window: ``"drift_share"``, ``"weighted_drift"``, ``"n_rows"``,
        ``"feature:<name>"`` (its statistic), ``"performance:<metric>"``,
        ``"estimate:<metric>"``, ``"multivariate:auc"`` or ``"multivariate:error"``."""
        kind, _, name = what.partition(":")
        out: list[float | None] = []
        for w in self.windows:
            if not name:
                out.append(getattr(w, kind))
            elif kind == "feature":
                out.append(w.features.get(name, {}).get("statistic"))
            elif kind in ("performance", "estimate"):
                report = getattr(w, kind)
                out.append(report[name].value if report is not None and name in report else None)
            elif kind == "multivariate" and name in ("auc", "error"):
                mv = w.multivariate
                part = None if mv is None else mv.classifier if name == "auc" else mv.reconstruction
                out.append(None if part is None else getattr(part, name))
            else:
                raise DataError(f"unknown series {what!r}; use drift_share, feature:NAME, performance:METRIC, ...")
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it."""
        return {"window": self.window, "windows": [w.to_dict() for w in self.windows]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowSeries:
        """Rebuild from :meth:`to_dict` output."""
        return cls(window=str(data["window"]), windows=tuple(WindowResult.from_dict(w) for w in data["windows"]))


def performance_alerts(performance: PerformanceReport | None, estimate: PerformanceReport | None) -> list[str]:
    """Metrics that alert, realised then estimated: ``"realised roc_auc"``, ``"estimated mae"``, ...

    A metric with a learned band (``monitoring.performance.threshold: learned``) alerts
    when its value lies outside the band; otherwise when its whole interval lies on the
    worse side of the version's training holdout score (a metric without an interval or
    a reference never does).
    """
    out = []
    for label, report in (("realised", performance), ("estimated", estimate)):
        for m in report.metrics if report is not None else ():
            if m.band is not None:
                if m.outside_band:
                    out.append(f"{label} {m.name}")
                continue
            if m.reference is None or m.lower is None or m.upper is None:
                continue
            if (m.upper < m.reference) if m.greater_is_better else (m.lower > m.reference):
                out.append(f"{label} {m.name}")
    return out


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


def monitor_windows(
    log: pd.DataFrame,
    reference: pd.DataFrame | ReferenceSummary | DatasetProfile,
    *,
    window: str | int | timedelta,
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
    multivariate: MultivariateReference | None = None,
    multivariate_config: MultivariateSpec | None = None,
) -> WindowSeries:
    """Every monitor statistic per window of a prediction log.

    Parameters
    ----------
    log : DataFrame
        A log frame (see the module docstring).
    reference : DataFrame, ReferenceSummary or DatasetProfile
        The training reference; summarised once, then compared with each window.
    window : str, int or timedelta
        ``"1d"``-style duration or a row count (see :func:`parse_window`).
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
        column (the spec's ``data.time``).
    positive : scalar, optional
        Binary classification: the positive class recorded with the version.
    multivariate : MultivariateReference, optional
        Fitted on the reference rows: each window then gets its multivariate drift,
        with ``multivariate_config``'s settings (``monitoring.multivariate``).

    Returns
    -------
    WindowSeries
    """
    length = parse_window(window)
    if isinstance(reference, pd.DataFrame):
        reference = reference_summary(reference, schema, max_points=None)
    if isinstance(reference, DatasetProfile):
        reference = ReferenceSummary.from_profile(reference, schema)
    inputs = [c for c in log.columns if c not in LOG_COLUMNS and not str(c).startswith("proba_")]
    if columns is not None:
        inputs = [c for c in inputs if c in set(columns)]
    results = []
    bands = learned_bands(config)
    for i, (start, end, rows) in enumerate(split_windows(log, length, time_column=time_column)):
        drift = compare_data(reference, rows[inputs], schema, config=config, columns=columns)
        flags: dict[str, int] = {}
        for check in drift.quality.issues:
            flags[check.check] = flags.get(check.check, 0) + 1
        n_labeled, realised, estimate = window_performance(
            rows, task=task, classes=classes, reference_metrics=reference_metrics, estimator=estimator,
            n_boot=n_boot, seed=seed, positive=positive, bands=bands,
        )  # fmt: skip
        features = {f.name: _window_feature(f) for f in drift.features}
        result = WindowResult(
            index=i, start=None if start is None else start.isoformat(),
            end=None if end is None else end.isoformat(), n_rows=len(rows), n_labeled=n_labeled,
            drift_share=drift.share, drifted=drift.drifted,
            weighted_drift=weighted_drift({f.name: f.drifted for f in drift.features}, importance),
            features=features, quality=flags, performance=realised, estimate=estimate,
            multivariate=None if multivariate is None
            else compare_window(multivariate, rows, multivariate_config or MultivariateSpec()),
        )  # fmt: skip
        results.append(result)
    label = f"{length} rows" if isinstance(length, int) else str(window)
    return WindowSeries(window=label, windows=tuple(results))
