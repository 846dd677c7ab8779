"""What the monitoring page shows, shaped from stored reports: no Starlette, no store.

The page is about one report, the *selected* one (the newest unless asked). Its
heatmap and its performance series run over *columns*: the report's windows when it
was cut into windows (``skloop monitor --window 1d``), else the stored reports of the
model themselves, oldest first (what the loop stores: one report per decision), so
that either way the page shows drift and performance over time. A cell links to that
feature's two distributions in that column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from skloop.monitor import MonitorReport, relative_drift, shadow_metrics, shadow_tiles
from skloop.store import StoredReport

__all__ = [
    "HEADLINE_METRICS",
    "Cell",
    "Column",
    "Heatmap",
    "heat_level",
    "heatmap",
    "performance_series",
    "report_url",
    "shadow_panel",
]

HEADLINE_METRICS = ("roc_auc", "accuracy", "r2", "rmse", "f1", "log_loss", "mae")
"""The metric shown first when a report has it (the others are one click away)."""
HEAT_LEVELS = (0.25, 0.5, 1.0, 2.0, 3.5)
"""Where the colour of a cell steps up, on :func:`skloop.monitor.relative_drift`'s
scale (1 is the threshold: levels 0–2 are below it, 3–5 above)."""


def report_url(name: str, report_id: str) -> str:
    """The full HTML of a stored report."""
    return f"/models/{quote(name, safe='')}/monitoring/reports/{report_id}"


def heat_level(relative: float | None) -> int | None:
    """The colour step (0–5) of a relative drift value; ``None`` when untested."""
    if relative is None:
        return None
    return sum(relative >= level for level in HEAT_LEVELS)


@dataclass(frozen=True)
class Column:
    """One column of the heatmap and of the performance series: a window or a report."""

    label: str
    title: str
    report_id: str
    window: int | None
    n_rows: int
    selected: bool = False


@dataclass(frozen=True)
class Cell:
    """One feature in one column: its test, how far past its threshold, and where it links."""

    feature: str
    method: str | None
    statistic: float | None
    p_value: float | None
    threshold: float | None
    drifted: bool
    level: int | None
    href: str

    @property
    def text(self) -> str:
        """The number the cell shows: the p-value of a test, else the distance."""
        value = self.p_value if self.p_value is not None else self.statistic
        if value is None:
            return "–"
        return f"{value:.1e}" if value != 0 and abs(value) < 1e-3 else f"{value:.3f}"

    @property
    def label(self) -> str:
        """What a screen reader says of the cell."""
        if self.method is None:
            return f"{self.feature}: not tested"
        shown = f"p={self.p_value:.3g}" if self.p_value is not None else f"{self.method}={self.statistic or 0:.3g}"
        return f"{self.feature}: {shown} (threshold {self.threshold:g}){', drifted' if self.drifted else ''}"


@dataclass(frozen=True)
class Heatmap:
    """Features (rows, most important drifted first) × columns (time order)."""

    mode: str  # "windows" or "reports"
    columns: list[Column]
    features: list[str]
    cells: dict[str, list[Cell]] = field(default_factory=dict)


def _short(text: str | None) -> str:
    return (text or "")[:16].replace("T", " ").removesuffix(" 00:00")


def _cell(name: str, feature: str, test: dict[str, Any] | None, report_id: str, window: int | None) -> Cell:
    href = f"{report_url(name, report_id)}/features/{quote(feature, safe='')}"
    if window is not None:
        href += f"?window={window}"
    test = test or {}
    p, stat, threshold = test.get("p_value"), test.get("statistic"), test.get("threshold")
    level = heat_level(relative_drift(stat, p, threshold)) if test else None
    return Cell(feature, test.get("method"), stat, p, threshold, bool(test.get("drifted")), level, href)


def heatmap(name: str, selected: StoredReport, report: MonitorReport, history: Sequence[StoredReport]) -> Heatmap:
    """The heatmap of the selected report: over its windows, else over the stored reports.

    Parameters
    ----------
    name : str
        The model.
    selected : StoredReport
        The record of ``report``.
    report : MonitorReport
        The selected report, whole.
    history : sequence of StoredReport
        The model's stored reports, oldest first (their summaries are read).
    """
    order = [r["name"] for r in report.ranking()]
    windows = report.windows.windows if report.windows is not None else ()
    columns: list[Column] = []
    tests: list[dict[str, Any]] = []
    if windows:
        labels = [w.label or _short(w.start) or f"#{w.index + 1}" for w in windows]
        if len(set(labels)) < len(labels):  # row windows of fast traffic start within the same minute
            labels = [f"#{w.index + 1}" for w in windows]
        for w, label in zip(windows, labels, strict=True):
            span = f"{w.start} – {w.end}, " if w.start and w.end else ""
            title = f"window {w.index + 1}: {span}{w.n_rows:,} rows"
            if w.partial:
                title += f"; partial ({100 * w.coverage:.0f}% observed{'' if w.judged else ', not judged'})"
            columns.append(Column(label, title, selected.id, w.index, w.n_rows))
            tests.append(w.features)
        mode = "windows"
    else:
        for r in history:
            title = f"report {r.id[:8]} of v{r.version}, {r.source}, {r.n_rows:,} rows"
            columns.append(Column(r.created.strftime("%m-%d %H:%M"), title, r.id, None, r.n_rows,
                                  selected=r.id == selected.id))  # fmt: skip
            tests.append(dict(r.summary.get("features") or {}))
        mode = "reports"
    seen = dict.fromkeys(order)
    for t in tests:
        seen.update(dict.fromkeys(t))
    features = list(seen)
    cells = {
        f: [_cell(name, f, t.get(f), c.report_id, c.window) for c, t in zip(columns, tests, strict=True)]
        for f in features
    }
    return Heatmap(mode=mode, columns=columns, features=features, cells=cells)


def _metric(perf: Any, metric: str) -> dict[str, Any] | None:
    """``{"value", "lower", "upper", "reference"}`` of a metric in a PerformanceReport or a summary."""
    if perf is None:
        return None
    if isinstance(perf, dict):
        m = (perf.get("metrics") or {}).get(metric)
        return dict(m) if m else None
    if metric not in perf:
        return None
    m = perf[metric]
    return {"value": m.value, "lower": m.lower, "upper": m.upper, "reference": m.reference}


def performance_series(
    report: MonitorReport, history: Sequence[StoredReport], heat: Heatmap, metric: str | None = None
) -> dict[str, Any]:
    """Realised performance (with intervals) and the CBPE estimate per column of ``heat``.

    Returns
    -------
    dict
        ``metrics`` (every metric seen), ``metric`` (the one shown), ``labels``, and
        ``rows``: per column ``label``, ``n_rows``, ``realised`` and ``estimate`` (each
        ``{"value", "lower", "upper", "reference"}`` or ``None``).
    """
    if heat.mode == "windows":
        assert report.windows is not None
        sources = [(w.performance, w.estimate) for w in report.windows.windows]
    else:
        sources = [(r.summary.get("performance"), r.summary.get("estimate")) for r in history]
    seen: dict[str, None] = {}
    for pair in sources:
        for perf in pair:
            if isinstance(perf, dict):
                seen.update(dict.fromkeys(perf.get("metrics") or {}))
            elif perf is not None:
                seen.update(dict.fromkeys(perf.names))
    metrics = [m for m in HEADLINE_METRICS if m in seen] + [m for m in seen if m not in HEADLINE_METRICS]
    chosen = metric if metric in seen else (metrics[0] if metrics else None)
    rows = []
    for column, (perf, est) in zip(heat.columns, sources, strict=True):
        rows.append({
            "label": column.label, "title": column.title, "n_rows": column.n_rows,
            "realised": _metric(perf, chosen) if chosen else None,
            "estimate": _metric(est, chosen) if chosen else None,
        })  # fmt: skip
    return {"metrics": metrics, "metric": chosen, "labels": [c.label for c in heat.columns], "rows": rows}


def shadow_panel(report: MonitorReport) -> dict[str, Any] | None:
    """The shadow section of a report, for its panel: coverage, agreement, output drift, metrics, windows.

    ``None`` when the report has no shadow section (``skloop monitor`` without ``--shadow``).
    """
    s = report.shadow
    if s is None:
        return None
    tiles, metrics = shadow_tiles(s), shadow_metrics(s)
    windows = []
    for w in s.windows.windows if s.windows is not None else ():
        k = w.comparison
        value = w.agreement if w.agreement is not None else w.mean_abs_difference
        windows.append({
            "name": w.name, "title": f"{w.start} – {w.end}" if w.start and w.end else w.name,
            "observed": f"{100 * w.coverage:.0f}%" + (" partial" if w.partial else ""), "pairs": w.n_shadowed,
            "value": "–" if value is None else f"{100 * value:.1f}%" if w.agreement is not None else f"{value:.4g}",
            "drifted": w.drifted, "labelled": w.n_labelled,
            "served": "–" if k is None or k.champion is None else f"{k.champion:.4f}",
            "shadow": "–" if k is None or k.challenger is None else f"{k.challenger:.4f}",
            "verdict": "–" if k is None else "better" if k.better else "not shown better",
        })  # fmt: skip
    return {
        "conclusion": s.conclusion(), "tiles": tiles, "drift": s.drift, "metrics": metrics, "better": s.better,
        "drifted": s.drifted, "comparison": None if s.comparison is None else s.comparison.summary(),
        "windows": windows, "window": None if s.windows is None else s.windows.window,
        "value": "agreement" if s.task == "classification" else "mean |diff|",
        "metric": next((w.comparison.metric for w in (s.windows.windows if s.windows else ()) if w.comparison), None),
    }  # fmt: skip
