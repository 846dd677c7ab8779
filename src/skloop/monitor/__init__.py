"""Monitor: drift, data quality, performance and reports of a window against a reference.

Imports :mod:`skloop.core`, :mod:`skloop.data`, :mod:`skloop.store`,
:mod:`skloop.pipelines` and :mod:`skloop.registry`; never serve, workflows or cli.
"""

from __future__ import annotations

from skloop.monitor._compare import EXACT_ROWS, DriftReport, compare, compare_files
from skloop.monitor._drift import DEFAULT_THRESHOLDS, FeatureDrift, choose_method
from skloop.monitor._quality import QUALITY_CHECKS, QualityCheck, QualityReport
from skloop.monitor._reference import ColumnReference, ReferenceSummary, reference_summary

__all__ = [
    "DEFAULT_THRESHOLDS",
    "EXACT_ROWS",
    "QUALITY_CHECKS",
    "ColumnReference",
    "DriftReport",
    "FeatureDrift",
    "QualityCheck",
    "QualityReport",
    "ReferenceSummary",
    "choose_method",
    "compare",
    "compare_files",
    "reference_summary",
]
