"""The monitor's statistics per window: :class:`WindowResult` and the :class:`WindowSeries` of a log.

Each window keeps where it lies (``start``/``end``, a calendar period's ``label``), how
much of it the data observe (``coverage``, ``partial``) and whether its verdict and
alerts count (``judged``: a partial window's do not, unless asked); see
:mod:`skloop.monitor._periods` for how windows are cut.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from skloop.core import DataError
from skloop.monitor._multivariate import MultivariateDrift
from skloop.monitor._performance import PerformanceReport

__all__ = ["WindowResult", "WindowSeries", "performance_alerts"]


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
    label : str or None
        A calendar period's name (``"2024-03"``, ``"2024Q1"``); ``None`` for other windows.
    coverage : float
        The share of the window the data observe (a row window: its rows over its
        length); see :mod:`skloop.monitor._periods`.
    partial : bool
        Whether the window is observed over less than :data:`~skloop.monitor._periods.FULL_COVERAGE`
        of its length (only the first and the last can be).
    judged : bool
        Whether its verdict and alerts count (``False`` for a partial window unless the
        monitor was asked to judge partial windows).
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
    label: str | None = None
    coverage: float = 1.0
    partial: bool = False
    judged: bool = True
    multivariate: MultivariateDrift | None = None

    @property
    def name(self) -> str:
        """What a report calls the window: its period, else its start, else its number."""
        if self.label is not None:
            return self.label
        return (self.start or f"#{self.index + 1}")[:16].replace("T", " ").removesuffix(" 00:00")

    def alerts(self) -> list[str]:
        """This window's performance alerts (:func:`performance_alerts`), judged or not."""
        return performance_alerts(self.performance, self.estimate)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it (``alerts`` is derived)."""
        return {
            "alerts": self.alerts(), "index": self.index, "start": self.start, "end": self.end, "label": self.label,
            "coverage": self.coverage, "partial": self.partial, "judged": self.judged, "n_rows": self.n_rows,
            "n_labeled": self.n_labeled, "drift_share": self.drift_share, "drifted": self.drifted,
            "weighted_drift": self.weighted_drift, "features": self.features, "quality": self.quality,
            "performance": None if self.performance is None else self.performance.to_dict(),
            "estimate": None if self.estimate is None else self.estimate.to_dict(),
            "multivariate": None if self.multivariate is None else self.multivariate.to_dict(),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowResult:
        """Rebuild from :meth:`to_dict` output (a report of an older skloop: full, judged windows)."""
        perf, est, mv = data.get("performance"), data.get("estimate"), data.get("multivariate")
        later = {"label": None, "coverage": 1.0, "partial": False, "judged": True}
        objects = ("performance", "estimate", "multivariate", *later)
        return cls(
            **{k: data[k] for k in cls.__dataclass_fields__ if k not in objects},
            **{k: data.get(k, default) for k, default in later.items()},
            performance=None if perf is None else PerformanceReport.from_dict(perf),
            estimate=None if est is None else PerformanceReport.from_dict(est),
            multivariate=None if mv is None else MultivariateDrift.from_dict(mv),
        )


@dataclass(frozen=True)
class WindowSeries:
    """The windows of a log, in time order, with the length that cut them.

    Attributes
    ----------
    window : str
        What cut them: ``"500 rows"``, ``"1d"``, ``"month"``.
    windows : tuple of WindowResult
    n_without_time : int
        Rows left out of every window because their time is missing (they count in
        the report over the whole data).
    judge_partial : bool
        Whether partial windows are judged like full ones.
    """

    window: str
    windows: tuple[WindowResult, ...] = ()
    n_without_time: int = 0
    judge_partial: bool = False

    def __len__(self) -> int:
        return len(self.windows)

    @property
    def partial(self) -> tuple[WindowResult, ...]:
        """The partial windows (the first and the last, when their period is not observed whole)."""
        return tuple(w for w in self.windows if w.partial)

    @property
    def judged(self) -> tuple[WindowResult, ...]:
        """The windows whose verdict and alerts count."""
        return tuple(w for w in self.windows if w.judged)

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
        return {"window": self.window, "n_without_time": self.n_without_time, "judge_partial": self.judge_partial,
                "windows": [w.to_dict() for w in self.windows]}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowSeries:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            window=str(data["window"]), windows=tuple(WindowResult.from_dict(w) for w in data["windows"]),
            n_without_time=int(data.get("n_without_time", 0)), judge_partial=bool(data.get("judge_partial", False)),
        )  # fmt: skip

    def describe(self) -> str | None:
        """A sentence on the partial windows and the rows in none, for the verdict (``None``: nothing to say).

        Examples
        --------
        >>> w = WindowResult(index=0, start=None, end=None, n_rows=9, n_labeled=0, drift_share=0.0, drifted=False,
        ...                  weighted_drift=0.0, label="2024-03", coverage=0.42, partial=True, judged=False)
        >>> WindowSeries("month", (w,), n_without_time=3).describe()  # doctest: +NORMALIZE_WHITESPACE
        'Partial window (share of its month observed), not judged: 2024-03 (42%).
        3 rows have no time and are in no window.'
        """
        parts = []
        if self.partial:
            many = len(self.partial) > 1
            whose = "their" if many else "its"
            verb = "held" if self.window.endswith(" rows") else "observed"
            what = f"share of {whose} {self.window} {verb}"
            judged = "judged like full ones" if self.judge_partial else "not judged"
            shown = ", ".join(f"{w.name} ({100 * w.coverage:.0f}%)" for w in self.partial)
            parts.append(f"Partial window{'s' if many else ''} ({what}), {judged}: {shown}.")
        if self.n_without_time:
            n = self.n_without_time
            parts.append("1 row has no time and is in no window." if n == 1 else
                         f"{n:,} rows have no time and are in no window.")  # fmt: skip
        return " ".join(parts) or None


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
