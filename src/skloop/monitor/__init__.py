"""Monitor: drift, data quality, performance and reports of a window against a reference.

Imports :mod:`skloop.core`, :mod:`skloop.data`, :mod:`skloop.store`,
:mod:`skloop.pipelines` and :mod:`skloop.registry`; never serve, workflows or cli.
"""

from __future__ import annotations

from skloop.data import class_name
from skloop.monitor._compare import EXACT_ROWS, DriftReport, compare_data, compare_data_files
from skloop.monitor._compare_models import ModelComparison, compare_models
from skloop.monitor._drift import DEFAULT_THRESHOLDS, FeatureDrift, choose_method, relative_drift
from skloop.monitor._estimate import CBPE
from skloop.monitor._explain import Explanation, explain_rows, importance_weights, weighted_drift
from skloop.monitor._loss import DLE
from skloop.monitor._metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS
from skloop.monitor._multivariate import (
    ClassifierDrift,
    MultivariateDrift,
    MultivariateReference,
    MultivariateWindow,
    ReconstructionDrift,
    multivariate_drift,
    multivariate_text,
)
from skloop.monitor._performance import MetricResult, PerformanceReport, performance
from skloop.monitor._periods import FULL_COVERAGE, PERIOD_NAMES, parse_period, parse_tz, window_cut
from skloop.monitor._quality import QUALITY_CHECKS, QualityCheck, QualityReport
from skloop.monitor._reference import ColumnReference, ReferenceSummary, reference_summary
from skloop.monitor._report import REPORT_FORMAT, MonitorReport, build_report, monitor_frame
from skloop.monitor._report_html import render_report_html, shadow_metrics, shadow_tiles
from skloop.monitor._shadow import ShadowAccumulator, compare_shadow, shadow_page
from skloop.monitor._shadow_report import ShadowReport
from skloop.monitor._shadow_series import ShadowWindow, ShadowWindowSeries
from skloop.monitor._shadow_windows import ShadowWindows
from skloop.monitor._stream import log_page, monitor_pages
from skloop.monitor._windows import WindowResult, WindowSeries, log_frame, monitor_windows, parse_window, split_windows

#: The former name of :func:`skloop.data.class_name` (the same function), kept for callers.
label_text = class_name

__all__ = [
    "CBPE",
    "CLASSIFICATION_METRICS",
    "DEFAULT_THRESHOLDS",
    "DLE",
    "EXACT_ROWS",
    "FULL_COVERAGE",
    "PERIOD_NAMES",
    "QUALITY_CHECKS",
    "REGRESSION_METRICS",
    "REPORT_FORMAT",
    "ClassifierDrift",
    "ColumnReference",
    "DriftReport",
    "Explanation",
    "FeatureDrift",
    "MetricResult",
    "ModelComparison",
    "MonitorReport",
    "MultivariateDrift",
    "MultivariateReference",
    "MultivariateWindow",
    "PerformanceReport",
    "QualityCheck",
    "QualityReport",
    "ReconstructionDrift",
    "ReferenceSummary",
    "ShadowAccumulator",
    "ShadowReport",
    "ShadowWindow",
    "ShadowWindowSeries",
    "ShadowWindows",
    "WindowResult",
    "WindowSeries",
    "build_report",
    "choose_method",
    "compare_data",
    "compare_data_files",
    "compare_models",
    "compare_shadow",
    "explain_rows",
    "importance_weights",
    "label_text",
    "log_frame",
    "log_page",
    "monitor_frame",
    "monitor_pages",
    "monitor_windows",
    "multivariate_drift",
    "multivariate_text",
    "parse_period",
    "parse_tz",
    "parse_window",
    "performance",
    "reference_summary",
    "relative_drift",
    "render_report_html",
    "shadow_metrics",
    "shadow_page",
    "shadow_tiles",
    "split_windows",
    "weighted_drift",
    "window_cut",
]
