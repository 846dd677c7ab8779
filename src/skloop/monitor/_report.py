"""The monitor's report: drift, quality, performance and windows in one envelope.

:class:`MonitorReport` wraps the :class:`~skloop.monitor.DriftReport` (whose
``to_dict`` gives, per feature, its name, the test, the statistic, the threshold and
``drifted``, plus the dataset-level verdict) with the importance-weighted drift, the
realised and estimated performance, and the per-window series. Its JSON keeps the
drift report's keys at the top level, so a reader of the plain drift JSON reads this
one too. :func:`render_report_html` (in :mod:`skloop.monitor._report_html`) draws it
as one self-contained HTML file.

:func:`monitor_frame` computes everything from a log frame (see
:mod:`skloop.monitor._windows`) and a reference.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from skloop.core import DataError, MonitoringSpec, MultivariateSpec
from skloop.data import DatasetProfile, Schema
from skloop.monitor._compare import DriftReport, compare_data, verdict_head
from skloop.monitor._estimate import CBPE
from skloop.monitor._explain import importance_weights, weighted_drift
from skloop.monitor._loss import DLE
from skloop.monitor._multivariate import MultivariateDrift, compare_window, multivariate_reference
from skloop.monitor._performance import PerformanceReport
from skloop.monitor._periods import window_cut
from skloop.monitor._reference import ReferenceSummary, reference_summary
from skloop.monitor._shadow_report import ShadowReport
from skloop.monitor._windows import (
    LOG_COLUMNS,
    WindowSeries,
    learned_bands,
    monitor_windows,
    performance_alerts,
    window_performance,
)

__all__ = ["REPORT_FORMAT", "MonitorReport", "build_report", "monitor_frame"]

REPORT_FORMAT = "skloop.monitor.report/1"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


@dataclass(frozen=True)
class MonitorReport:
    """A monitor report: drift against a reference, plus performance and windows.

    Attributes
    ----------
    drift : DriftReport
        Over the whole current data.
    importance : dict of str to float
        Non-negative weight per tested feature (the version's permutation importance).
    performance : PerformanceReport or None
        Realised, on the labeled rows.
    estimate : PerformanceReport or None
        Estimated on every row: from calibrated probabilities (CBPE, a classifier) or
        by the loss models (DLE, a regressor).
    estimate_reason : str or None
        Why there is no estimate, when there is none (e.g. the version predates loss
        models, or it was trained without a holdout).
    windows : WindowSeries or None
        The same statistics per window.
    multivariate : MultivariateDrift or None
        PCA reconstruction error and domain-classifier AUC over the whole current data.
    shadow : ShadowReport or None
        The shadow model's logged outputs against the served model's on the same
        requests (``skloop monitor --shadow``).
    model : str or None
        ``name/version`` of the model monitored.
    reference_name, current_name : str
        What was compared (file names, ``training data``, ``prediction log``...).
    created : str
        ISO 8601 time the report was made.
    """

    drift: DriftReport
    importance: dict[str, float] = field(default_factory=dict)
    performance: PerformanceReport | None = None
    estimate: PerformanceReport | None = None
    windows: WindowSeries | None = None
    model: str | None = None
    reference_name: str = "reference"
    current_name: str = "current"
    created: str = ""
    estimate_reason: str | None = None
    multivariate: MultivariateDrift | None = None
    shadow: ShadowReport | None = None

    @property
    def drifted(self) -> bool:
        """The dataset-level verdict (the drift report's)."""
        return self.drift.drifted

    @property
    def weighted_drift(self) -> float:
        """``Σ importance·drifted / Σ importance`` over the tested features."""
        return weighted_drift({f.name: f.drifted for f in self.drift.features}, self.importance or None)

    def ranking(self) -> list[dict[str, Any]]:
        """Features ordered by importance × drift: drifted important ones first.

        Each entry: ``name``, ``importance`` (weight), ``drifted``, ``score``
        (``importance`` if drifted, else 0), ``statistic``, ``method``.
        """
        weights = importance_weights(self.importance or None, [f.name for f in self.drift.features])
        rows = [
            {"name": f.name, "importance": weights[f.name], "drifted": f.drifted,
             "score": weights[f.name] if f.drifted else 0.0, "method": f.method, "statistic": f.statistic}
            for f in self.drift.features
        ]  # fmt: skip
        return sorted(rows, key=lambda r: (-r["score"], -r["importance"], r["name"]))

    def verdict(self) -> str:
        """One paragraph for people: the verdict, why, and what matters most."""
        d = self.drift
        text = verdict_head(d)
        if d.drifted_features:
            top = [r for r in self.ranking() if r["drifted"]][:3]
            names = ", ".join(r["name"] for r in top)
            text += f" Importance-weighted drift {_pct(self.weighted_drift)}; the most important drifted: {names}."
        if self.multivariate is not None and self.multivariate.drifted:
            fired = [n for n, m in (("reconstruction error", self.multivariate.reconstruction),
                                    ("domain classifier", self.multivariate.classifier))
                     if m is not None and m.drifted]  # fmt: skip
            text += f" Multivariate drift ({', '.join(fired)})."
        if d.quality.issues:
            text += f" {len(d.quality.issues)} data-quality issue(s)."
        for label, report in (("realised", self.performance), ("estimated", self.estimate)):
            if report is not None and report.metrics:
                m = next((m for m in report.metrics if m.reference is not None), report.metrics[0])
                if m.value is not None:
                    text += f" {label.capitalize()} {m.name} {m.value:.3f}"
                    if m.reference is not None and m.change is not None:
                        text += f" (training holdout {m.reference:.3f}, {m.change:+.3f})"
                    text += "."
        if self.estimate is None and self.estimate_reason:
            text += f" No performance estimate: {self.estimate_reason}."
        if self.windows is not None and self.windows.windows:
            ws = self.windows
            judged = ws.judged
            if not judged:
                text += f" None of the {len(ws)} windows ({ws.window}) is judged."
            else:
                which = "windows" if len(judged) == len(ws) else "judged windows"
                text += f" {sum(w.drifted for w in judged)} of {len(judged)} {which} ({ws.window}) drifted."
            about = ws.describe()
            text += f" {about}" if about else ""
        return text

    def performance_alerts(self) -> list[str]:
        """Metrics that alert: ``"realised roc_auc"``, ``"estimated mae"``, ...

        See :func:`performance_alerts`.
        """
        return performance_alerts(self.performance, self.estimate)

    def distribution(self, feature: str, window: int | None = None) -> dict[str, Any]:
        """Reference and current distributions of ``feature``: the bars of its drift chart.

        Parameters
        ----------
        feature : str
            A tested feature.
        window : int, optional
            The index of a window (:attr:`windows`); default: the whole current data.

        Returns
        -------
        dict
            ``kind``, ``labels`` (bins ``a–b`` or categories), ``reference`` and
            ``current`` (counts), ``reference_share`` and ``current_share``, and the
            test: ``method``, ``statistic``, ``p_value``, ``threshold``, ``drifted``.

        Raises
        ------
        DataError
            When the feature was not tested, the window does not exist, or the report
            was made before windows kept their counts.
        """
        if feature not in self.drift or self.drift[feature].role != "feature":
            raise DataError(
                f"feature {feature!r} was not tested in this report; tested: {[f.name for f in self.drift.features]}"
            )
        overall = self.drift[feature]
        test: dict[str, Any] = {k: getattr(overall, k) for k in ("method", "statistic", "p_value", "threshold",
                                                                "drifted")}  # fmt: skip
        ref, cur, cats = list(overall.reference_counts), list(overall.current_counts), overall.categories
        if window is not None:
            windows = self.windows.windows if self.windows is not None else ()
            if not 0 <= window < len(windows):
                raise DataError(f"window {window} does not exist; this report has {len(windows)} window(s)")
            test = dict(windows[window].features.get(feature) or {})
            if "current_counts" not in test:
                raise DataError(f"window {window} kept no counts of {feature!r} (a report made by an older skloop)")
            cur = list(test.pop("current_counts"))
            if "categories" in test:
                cats, ref = tuple(test.pop("categories")), list(test.pop("reference_counts"))
        if cats is not None:
            labels = [str(c) for c in cats]
        elif overall.bin_edges is not None:
            e = overall.bin_edges
            labels = [f"{e[i]:.3g}–{e[i + 1]:.3g}" for i in range(len(e) - 1)]
        else:
            labels = [str(i) for i in range(len(ref))]
        if not (len(labels) == len(ref) == len(cur)):
            raise DataError(f"the counts of {feature!r} do not align with its bins; the report is inconsistent")
        rs, cs = sum(ref) or 1, sum(cur) or 1
        return {
            "feature": feature, "kind": overall.kind, "window": window, "labels": labels, "reference": ref,
            "current": cur, "reference_share": [r / rs for r in ref], "current_share": [c / cs for c in cur],
            **{k: test.get(k) for k in ("method", "statistic", "p_value", "threshold", "drifted")},
        }  # fmt: skip

    def summary(self) -> dict[str, Any]:
        """What a list of reports shows without reading each whole: the verdict, per-feature
        tests, quality flags and the metrics (a small JSON-able dict)."""

        def metrics(report: PerformanceReport | None) -> dict[str, Any] | None:
            if report is None:
                return None
            return {"n_rows": report.n_rows,
                    "metrics": {m.name: {"value": m.value, "lower": m.lower, "upper": m.upper,
                                         "reference": m.reference} for m in report.metrics}}  # fmt: skip

        d = self.drift
        return {
            "n_current": d.n_current, "n_reference": d.n_reference, "share": d.share,
            "weighted_drift": self.weighted_drift,
            "features": {f.name: {"method": f.method, "statistic": f.statistic, "p_value": f.p_value,
                                  "threshold": f.threshold, "drifted": f.drifted} for f in d.features},
            "quality": [{"check": q.check, "column": q.column, "detail": q.detail} for q in d.quality.issues],
            "performance": metrics(self.performance), "estimate": metrics(self.estimate),
            "alerts": self.performance_alerts(), "n_windows": 0 if self.windows is None else len(self.windows),
            "estimate_reason": self.estimate_reason,
            "window_alerts": sum(bool(w.alerts()) for w in self.windows.judged) if self.windows is not None else 0,
            **({} if self.shadow is None else {"shadow": {
                "n_shadowed": self.shadow.n_shadowed, "agreement": self.shadow.agreement,
                "mean_abs_difference": self.shadow.mean_abs_difference, "drifted": self.shadow.drifted,
                "better": self.shadow.better}}),
        }  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: the drift report's keys, then the envelope's."""
        return {
            **self.drift.to_dict(),
            "format": REPORT_FORMAT, "model": self.model, "created": self.created,
            "reference_name": self.reference_name, "current_name": self.current_name,
            "verdict": {"drifted": self.drifted, "share": self.drift.share,
                        "weighted_drift": self.weighted_drift, "text": self.verdict()},
            "importance": dict(self.importance), "ranking": self.ranking(),
            "performance": None if self.performance is None else self.performance.to_dict(),
            "estimate": None if self.estimate is None else self.estimate.to_dict(),
            "estimate_reason": self.estimate_reason, "alerts": self.performance_alerts(),
            "windows": None if self.windows is None else self.windows.to_dict(),
            "multivariate": None if self.multivariate is None else self.multivariate.to_dict(),
            **({} if self.shadow is None else {"shadow": self.shadow.to_dict()}),
        }  # fmt: skip

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as JSON (keyword arguments go to :func:`json.dumps`)."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MonitorReport:
        """Rebuild from :meth:`to_dict` output."""
        try:
            perf, est, win = data.get("performance"), data.get("estimate"), data.get("windows")
            mv, sh = data.get("multivariate"), data.get("shadow")
            return cls(
                drift=DriftReport.from_dict(data),
                importance={str(k): float(v) for k, v in (data.get("importance") or {}).items()},
                performance=None if perf is None else PerformanceReport.from_dict(perf),
                estimate=None if est is None else PerformanceReport.from_dict(est),
                windows=None if win is None else WindowSeries.from_dict(win),
                model=data.get("model"), reference_name=data.get("reference_name", "reference"),
                current_name=data.get("current_name", "current"), created=data.get("created", ""),
                estimate_reason=data.get("estimate_reason"),
                multivariate=None if mv is None else MultivariateDrift.from_dict(mv),
                shadow=None if sh is None else ShadowReport.from_dict(sh),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"not a monitor report ({exc}); expected MonitorReport.to_dict() output") from exc

    @classmethod
    def from_json(cls, text: str) -> MonitorReport:
        """Rebuild from :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))


def build_report(
    drift: DriftReport,
    *,
    importance: Mapping[str, Any] | None = None,
    performance: PerformanceReport | None = None,
    estimate: PerformanceReport | None = None,
    windows: WindowSeries | None = None,
    model: str | None = None,
    reference_name: str = "reference",
    current_name: str = "current",
    estimate_reason: str | None = None,
    estimator: Any = None,
    multivariate: MultivariateDrift | None = None,
) -> MonitorReport:
    """Wrap a drift report with importance, performance and windows.

    Parameters
    ----------
    drift : DriftReport
        From :func:`~skloop.monitor.compare_data`.
    importance : mapping, optional
        A version's ``importance`` (column → ``{"mean", "std"}``) or column → weight.
    performance, estimate : PerformanceReport, optional
    windows : WindowSeries, optional
    model, reference_name, current_name : str, optional
        Labels shown in the report.
    estimate_reason : str, optional
        Why there is no estimate; when ``estimate`` is ``None`` and no reason is given,
        one is derived from ``estimator`` (none given, or no output it reads).
    estimator : CBPE or DLE, optional
        The estimator the estimate came from (for the derived reason).
    multivariate : MultivariateDrift, optional
        From :func:`~skloop.monitor.multivariate_drift`.

    Returns
    -------
    MonitorReport

    Examples
    --------
    >>> import pandas as pd
    >>> from skloop.monitor import compare_data
    >>> ref = pd.DataFrame({"x": range(100)})
    >>> report = build_report(compare_data(ref, ref), model="demo/1")
    >>> report.drifted, report.verdict()  # doctest: +NORMALIZE_WHITESPACE
    (False, 'No dataset drift: 0 of 1 features drifted (0%; the verdict needs 50%).
    No performance estimate: no estimator was given (a fitted CBPE for a classifier, DLE for a regressor).')
    """
    weights = importance_weights(importance, [f.name for f in drift.features]) if importance else {}
    created = datetime.now(UTC).replace(microsecond=0).isoformat()
    if estimate is not None:
        estimate_reason = None
    elif estimate_reason is None and estimator is None:
        estimate_reason = "no estimator was given (a fitted CBPE for a classifier, DLE for a regressor)"
    elif estimate_reason is None:
        reads = "proba_<class> columns" if isinstance(estimator, CBPE) else "the prediction and the model's inputs"
        estimate_reason = f"the rows hold none of what the {type(estimator).__name__} estimator reads ({reads})"
    return MonitorReport(
        drift=drift, importance=weights, performance=performance, estimate=estimate, windows=windows, model=model,
        reference_name=reference_name, current_name=current_name, created=created, estimate_reason=estimate_reason,
        multivariate=multivariate,
    )  # fmt: skip


def monitor_frame(
    log: pd.DataFrame,
    reference: pd.DataFrame | ReferenceSummary | DatasetProfile,
    *,
    schema: Schema | None = None,
    config: MonitoringSpec | None = None,
    window: str | int | timedelta | None = None,
    period: str | None = None,
    task: str | None = None,
    classes: Sequence[Any] | None = None,
    reference_metrics: Mapping[str, float] | None = None,
    importance: Mapping[str, Any] | None = None,
    estimator: CBPE | DLE | None = None,
    model: str | None = None,
    n_boot: int = 200,
    seed: int = 0,
    reference_name: str = "reference",
    current_name: str = "current",
    columns: Sequence[str] | None = None,
    time_column: str = "time",
    positive: Any = None,
    estimate_reason: str | None = None,
    observed_from: datetime | None = None,
    observed_until: datetime | None = None,
    judge_partial: bool = False,
    multivariate: bool | MultivariateSpec = False,
    reference_rows: pd.DataFrame | None = None,
    tz: str | None = None,
) -> MonitorReport:
    """Monitor a log of predictions against a reference: drift, quality, performance, windows.

    Parameters
    ----------
    log : DataFrame
        One row per prediction: ``time`` (needed for time windows), the input
        columns, and optionally ``prediction``, ``proba_<class>`` columns and ``label``.
        A plain table of inputs works too (drift and quality only).
    reference : DataFrame, ReferenceSummary or DatasetProfile
        The training data (or its stored summary or profile).
    schema, config
        As in :func:`~skloop.monitor.compare_data`.
    window : str, int or timedelta, optional
        Also compute everything per window (``"1d"``, ``500`` rows...).
    period : str, optional
        Instead of ``window``: per calendar period (``"day"``, ``"week"``, ``"month"``,
        ``"quarter"``, ``"year"``, or a pandas period alias), in UTC unless ``tz``.
    tz : str, optional
        With ``period``: the IANA time zone whose calendar cuts the periods
        (``"Europe/Paris"``); the windows' bounds carry its offset.
    task, classes, reference_metrics, importance, estimator, n_boot, seed, positive
        As in :func:`~skloop.monitor.monitor_windows`.
    observed_from, observed_until, judge_partial
        Which windows are partial, and whether they are judged (see
        :func:`~skloop.monitor.monitor_windows`).
    model, reference_name, current_name : str, optional
        Labels shown in the report.
    columns : sequence of str, optional
        The model's input columns: only these are tested for drift and checked for
        quality (with the model outputs for prediction drift). Default: the schema's
        features.
    time_column : str, default="time"
        The column time windows cut by (a log frame's ``time``; a table's own time
        column, e.g. the spec's ``data.time``).
    estimate_reason : str, optional
        Why there is no estimator (see :func:`build_report`).
    multivariate : bool or MultivariateSpec, default=False
        Also compute multivariate drift (:func:`~skloop.monitor.multivariate_drift`) of
        the tested inputs over the whole current data and per window; ``True`` takes
        ``config.multivariate``'s settings. Needs the reference rows (a stored summary
        keeps no joint distribution): ``reference`` as a DataFrame, or ``reference_rows``.
    reference_rows : DataFrame, optional
        The reference rows for multivariate drift when ``reference`` is a summary or profile.

    Returns
    -------
    MonitorReport

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"x": rng.normal(size=400)})
    >>> log = pd.DataFrame({"x": rng.normal(2.0, size=400), "prediction": 0, "label": None})
    >>> monitor_frame(log, ref).drifted
    True
    """
    if not isinstance(log, pd.DataFrame) or log.empty:
        raise DataError("nothing to monitor: the log (or current data) has no rows")
    window_cut(window, period, tz=tz)  # a bad window, period or zone fails before any test runs
    outputs = [c for c in log.columns if c == "prediction" or str(c).startswith("proba_")]
    reference_frame = reference if isinstance(reference, pd.DataFrame) else None
    if isinstance(reference, pd.DataFrame):
        reference = reference_summary(
            reference, schema, prediction_columns=[c for c in outputs if c in reference.columns], max_points=None
        )
    # prediction drift: the model outputs the reference recorded (training keeps the holdout's)
    known = set(getattr(reference, "names", ()))
    predicted = [c for c in outputs if c in known]
    inputs = [c for c in log.columns if c not in LOG_COLUMNS and not str(c).startswith("proba_")]
    if columns is not None:
        inputs = [c for c in inputs if c in set(columns)]
    drift = compare_data(
        reference, log[inputs + predicted], schema, config=config, prediction_columns=predicted, columns=columns
    )
    bands = learned_bands(config)
    _, realised, estimate = window_performance(
        log, task=task, classes=classes, reference_metrics=reference_metrics, estimator=estimator,
        n_boot=n_boot, seed=seed, positive=positive, bands=bands,
    )  # fmt: skip
    reference_frame = reference_frame if reference_frame is not None else reference_rows
    mv_config = multivariate if isinstance(multivariate, MultivariateSpec) else None
    if multivariate is True:
        mv_config = (config or MonitoringSpec()).multivariate
    if mv_config is not None and reference_frame is None:
        raise DataError(
            "multivariate drift needs the reference rows (a DataFrame), not a stored summary or profile; "
            "pass reference_rows= (skloop monitor: --reference FILE, or a version trained with a data snapshot)"
        )
    mv_ref = None
    if mv_config is not None and reference_frame is not None:
        tested = [f.name for f in drift.features if f.name in reference_frame.columns and f.name in log.columns]
        mv_ref = multivariate_reference(reference_frame, tested, mv_config)
    windows = None
    if window is not None or period is not None:
        windows = monitor_windows(
            log, reference, window=window, period=period, schema=schema, config=config, task=task, classes=classes,
            reference_metrics=reference_metrics, importance=importance, estimator=estimator, n_boot=n_boot, seed=seed,
            columns=columns, time_column=time_column, positive=positive, observed_from=observed_from,
            observed_until=observed_until, judge_partial=judge_partial,
            multivariate=mv_ref, multivariate_config=mv_config, tz=tz,
        )  # fmt: skip
    mv = None if mv_ref is None or mv_config is None else compare_window(mv_ref, log, mv_config)
    return build_report(
        drift, importance=importance, performance=realised, estimate=estimate, windows=windows, model=model,
        reference_name=reference_name, current_name=current_name, estimate_reason=estimate_reason, estimator=estimator,
        multivariate=mv,
    )  # fmt: skip
