"""The latest monitoring report of the served version, as Prometheus gauges on ``/metrics``.

The server keeps the newest stored report (``store.reports``) of the version it serves
and exposes its figures; the poller that follows the alias looks for a newer report
every ``poll_seconds`` (one indexed row read; the report's summary is read only when
its id changed), and a hot swap moves the gauges to the new version's latest report.
Every series carries ``model`` and ``version``:

==========================================  =======================================================
``skloop_feature_drift_score``              the drift statistic of each feature (``feature``,
                                            ``test``: ks, psi, wasserstein, jensenshannon, chisquare)
``skloop_feature_drift_p_value``            its p-value (ks and chisquare only)
``skloop_feature_drift_threshold``          the threshold the test is judged by
``skloop_feature_drifted``                  1 when the feature drifted
``skloop_drift_share``                      the share of features that drifted
``skloop_dataset_drifted``                  1 when the report's verdict is drift
``skloop_estimated_performance``            the estimate before labels (CBPE), per ``metric``
``skloop_realised_performance``             the metric on labelled rows, per ``metric``
``skloop_reference_performance``            the version's training holdout score, per ``metric``
``skloop_performance_alert``                1 when some metric is significantly worse than the holdout
``skloop_monitor_report_rows``              rows the report monitored
``skloop_monitor_report_timestamp_seconds`` when the report was stored (Unix time)
==========================================  =======================================================

The gauges are a collector read at scrape time, not stored values: with worker processes
each worker answers its own copy of the same report, and a report replaced by a newer
one leaves no stale series behind.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from datetime import UTC
from typing import TYPE_CHECKING, Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from prometheus_client import Metric

    from skloop.store import Store, StoredReport

logger = logging.getLogger(__name__)

__all__ = ["REPORT_GAUGES", "ReportGauges"]

REPORT_GAUGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "skloop_feature_drift_score": ("Drift statistic of each feature in the latest monitor report", ("feature", "test")),
    "skloop_feature_drift_p_value": ("p-value of each feature's drift test (ks, chisquare)", ("feature", "test")),
    "skloop_feature_drift_threshold": ("Threshold each feature's drift test is judged by", ("feature", "test")),
    "skloop_feature_drifted": ("1 when the feature drifted in the latest monitor report", ("feature",)),
    "skloop_drift_share": ("Share of features that drifted in the latest monitor report", ()),
    "skloop_dataset_drifted": ("1 when the latest monitor report's verdict is drift", ()),
    "skloop_estimated_performance": ("Estimated performance before labels (CBPE) by metric", ("metric",)),
    "skloop_realised_performance": ("Performance on labelled rows of the latest monitor report by metric", ("metric",)),
    "skloop_reference_performance": ("The served version's training holdout score by metric", ("metric",)),
    "skloop_performance_alert": ("1 when a metric is significantly worse than on the training holdout", ()),
    "skloop_monitor_report_rows": ("Rows the latest monitor report monitored", ()),
    "skloop_monitor_report_timestamp_seconds": ("When the latest monitor report was stored (Unix time)", ()),
}
"""Name -> (help, labels after ``model`` and ``version``) of every report gauge."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


class ReportGauges(Collector):
    """A prometheus_client collector of the latest stored report of one version.

    Examples
    --------
    >>> gauges = ReportGauges()
    >>> gauges.refresh(store, "churn", 3)  # doctest: +SKIP
    True
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._report: StoredReport | None = None
        self._target: tuple[str, int] | None = None

    @property
    def report(self) -> StoredReport | None:
        """The report exposed (``None``: the served version has none yet)."""
        return self._report

    def refresh(self, store: Store, name: str, version: int) -> bool:
        """Look for a newer report of ``name/version``; ``True`` when the gauges changed."""
        newest = store.reports.list_reports(name, version=version, limit=1, summaries=False)
        held = self._report
        if newest and held is not None and held.id == newest[0].id and self._target == (name, version):
            return False
        report = store.reports.get_report(newest[0].id, name=name) if newest else None
        with self._lock:
            changed = (held.id if held else None) != (report.id if report else None) or self._target != (name, version)
            self._report, self._target = report, (name, version)
        if changed and report is not None:
            logger.info("metrics: the monitor report %s of %s/%s", report.id[:8], name, version)
        return changed

    def describe(self) -> Iterator[Metric]:
        for metric, (text, labels) in REPORT_GAUGES.items():
            yield GaugeMetricFamily(metric, text, labels=["model", "version", *labels])

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            report = self._report
        families = {
            metric: GaugeMetricFamily(metric, text, labels=["model", "version", *labels])
            for metric, (text, labels) in REPORT_GAUGES.items()
        }
        if report is not None:
            self._fill(families, report)
        yield from families.values()

    @staticmethod
    def _fill(families: dict[str, GaugeMetricFamily], report: StoredReport) -> None:
        base = [report.name, str(report.version)]

        def add(metric: str, value: Any, *labels: str) -> None:
            number = _number(value)
            if number is not None:
                families[metric].add_metric([*base, *labels], number)

        summary = report.summary
        for feature, test in (summary.get("features") or {}).items():
            method = str(test.get("method", ""))
            add("skloop_feature_drift_score", test.get("statistic"), feature, method)
            add("skloop_feature_drift_p_value", test.get("p_value"), feature, method)
            add("skloop_feature_drift_threshold", test.get("threshold"), feature, method)
            add("skloop_feature_drifted", bool(test.get("drifted")), feature)
        add("skloop_drift_share", report.drift_share)
        add("skloop_dataset_drifted", report.drifted)
        add("skloop_performance_alert", report.performance_alert)
        add("skloop_monitor_report_rows", report.n_rows)
        created = report.created if report.created.tzinfo else report.created.replace(tzinfo=UTC)
        add("skloop_monitor_report_timestamp_seconds", created.timestamp())
        references: dict[str, Any] = {}
        kinds = (("estimate", "skloop_estimated_performance"), ("performance", "skloop_realised_performance"))
        for key, metric in kinds:
            for name, figure in ((summary.get(key) or {}).get("metrics") or {}).items():
                add(metric, figure.get("value"), name)
                if figure.get("reference") is not None:
                    references.setdefault(name, figure["reference"])
        for name, value in references.items():
            add("skloop_reference_performance", value, name)
