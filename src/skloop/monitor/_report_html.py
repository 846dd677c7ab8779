"""One self-contained HTML file for a :class:`~skloop.monitor.MonitorReport`.

The page is the shared template ``skloop/templates/monitor_report.html`` (see
:mod:`skloop.core._html`): the one stylesheet inline and every chart an inline SVG
(bars of reference vs current distributions, lines per window with a band for the
bootstrap interval), so the file opens offline and can be mailed or attached to a
ticket as it is. This module only shapes the report into what the template shows;
the template escapes every value.

Order: the verdict first, then per-feature rows sorted by importance × drift (each
with its distribution plot), multivariate drift (when computed), the time series per
window (with the multivariate AUC and reconstruction error against their thresholds), the data-quality table, and
performance with intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from skloop.core import CHART_COLORS, CURRENT_COLOR, REFERENCE_COLOR, render_page
from skloop.monitor._drift import relative_drift

if TYPE_CHECKING:
    from skloop.monitor._drift import FeatureDrift
    from skloop.monitor._report import MonitorReport
    from skloop.monitor._windows import WindowSeries

__all__ = ["render_report_html"]

MAX_BARS = 24
MAX_CHECKS = 200
PERFORMANCE_METRICS = ("roc_auc", "accuracy", "r2", "rmse")


def _distribution(feature: FeatureDrift) -> dict[str, Any] | None:
    """Reference and current shares per bin or category, for the distribution chart."""
    ref, cur = list(feature.reference_counts), list(feature.current_counts)
    if not ref or not cur or len(ref) != len(cur):
        return None
    rs, cs = sum(ref) or 1, sum(cur) or 1
    if feature.categories is not None:
        labels = [str(c) for c in feature.categories]
    elif feature.bin_edges is not None:
        edges = list(feature.bin_edges)
        labels = [f"{edges[i]:.3g}–{edges[i + 1]:.3g}" for i in range(len(edges) - 1)]
    else:
        labels = [str(i) for i in range(len(ref))]
    return {
        "labels": labels[:MAX_BARS],
        "reference": [r / rs for r in ref[:MAX_BARS]],
        "current": [c / cs for c in cur[:MAX_BARS]],
    }


def _features(report: MonitorReport) -> list[dict[str, Any]]:
    ranking = report.ranking()
    top = max((r["importance"] for r in ranking), default=1.0) or 1.0
    rows = []
    for r in ranking:
        f = report.drift[r["name"]]
        rows.append(
            {"name": f.name, "kind": f.kind, "drifted": f.drifted, "method": f.method, "statistic": f.statistic,
             "p_value": f.p_value, "threshold": f.threshold, "importance": r["importance"],
             "share": r["importance"] / top, "distribution": _distribution(f)}
        )  # fmt: skip
    return rows


def _relative(test: dict[str, Any] | None) -> float | None:
    """A window's test on the one scale of :func:`~skloop.monitor._drift.relative_drift`."""
    if not test:
        return None
    return relative_drift(test.get("statistic"), test.get("p_value"), test.get("threshold"))


class _LineChart(TypedDict):
    """One per-window chart: the arguments of the template's ``line_chart`` (core's ``line_layout``)."""

    caption: str
    y_range: tuple[float, float] | None
    series: Sequence[tuple[str, Sequence[float | None], str]]
    bands: Sequence[tuple[Sequence[float | None], Sequence[float | None], str]]
    legend: Sequence[tuple[str, str]]


def _multivariate_charts(ws: WindowSeries) -> list[_LineChart]:
    """The domain classifier's AUC against its threshold, and the reconstruction error in its band, per window."""
    c = CHART_COLORS
    charts: list[_LineChart] = []
    mvs = [w.multivariate for w in ws.windows]
    clfs = [None if m is None else m.classifier for m in mvs]
    if any(x is not None for x in clfs):
        limit = [None if x is None else max(x.threshold, x.noise_floor) for x in clfs]
        charts.append(
            {"caption": "Multivariate drift: domain classifier AUC per window (line: the threshold)",
             "y_range": (0.4, 1.0), "bands": (),
             "series": [("AUC", [None if x is None else x.auc for x in clfs], c[3]), ("threshold", limit, c[1])],
             "legend": [("AUC (cross-validated)", c[3]), ("drifts at (threshold, noise floor)", c[1])]}
        )  # fmt: skip
    recs = [None if m is None else m.reconstruction for m in mvs]
    if any(x is not None for x in recs):
        charts.append(
            {"caption": "Multivariate drift: PCA reconstruction error per window (band: the reference's)",
             "y_range": None,
             "series": [("error", [None if x is None else x.error for x in recs], c[0]),
                        ("upper", [None if x is None else x.upper for x in recs], c[1])],
             "bands": [([None if x is None else x.lower for x in recs],
                        [None if x is None else x.upper for x in recs], c[1])],
             "legend": [("mean reconstruction error", c[0]), ("reference band (upper line)", c[1])]}
        )  # fmt: skip
    return charts


def _multivariate(report: MonitorReport) -> dict[str, Any] | None:
    """The overall multivariate result as table rows (one per method)."""
    mv = report.multivariate
    if mv is None:
        return None
    rows = []
    if mv.classifier is not None:
        k = mv.classifier
        rows.append({"method": "domain classifier (ROC AUC, cross-validated)", "value": k.auc,
                     "threshold": f"≥ {max(k.threshold, k.noise_floor):.3f} (threshold {k.threshold:g}, "
                     f"noise floor {k.noise_floor:.3f})", "drifted": k.drifted,
                     "detail": f"folds {', '.join(f'{a:.3f}' for a in k.fold_aucs)}; "
                     f"{k.n_reference:,} reference vs {k.n_current:,} current rows"})  # fmt: skip
    if mv.reconstruction is not None:
        r = mv.reconstruction
        rows.append({"method": "PCA reconstruction error", "value": r.error,
                     "threshold": f"outside {r.lower:.3f} – {r.upper:.3f}", "drifted": r.drifted,
                     "detail": f"{r.n_components} components ({100 * r.variance:.0f}% of the variance); band from "
                     + (f"{r.n_chunks} reference chunks of {r.chunk_size:,} rows" if r.n_chunks >= 3
                        else "the standard error at this size")})  # fmt: skip
    return {"drifted": mv.drifted, "columns": ", ".join(mv.columns), "rows": rows}


def _windows(report: MonitorReport) -> dict[str, Any] | None:
    """The per-window charts (drift, drift per feature, performance) and table."""
    ws = report.windows
    if ws is None or not ws.windows:
        return None
    labels = [w.name for w in ws.windows]  # a calendar period's name, else the start
    if len(set(labels)) < len(labels):  # row windows of fast traffic start within the same minute
        labels = [f"#{w.index + 1}" for w in ws.windows]
    c = CHART_COLORS
    charts: list[_LineChart] = [
        {"caption": "Drift per window", "y_range": (0.0, 1.0), "bands": (),
         "series": [("drift share", ws.series("drift_share"), c[0]),
                    ("weighted drift", ws.series("weighted_drift"), c[1])],
         "legend": [("drift share", c[0]), ("importance-weighted", c[1])]},
    ]  # fmt: skip
    ranked = [r["name"] for r in report.ranking()][: len(c)]
    stats = [(n, [_relative(w.features.get(n)) for w in ws.windows], c[i]) for i, n in enumerate(ranked)]
    charts.append(
        {"caption": "Drift per feature relative to its threshold (1 = threshold; most important first)",
         "series": stats, "bands": (), "y_range": None, "legend": [(n, color) for n, _, color in stats]}
    )  # fmt: skip

    charts.extend(_multivariate_charts(ws))

    def known(metric: str) -> bool:
        return any(v is not None for kind in ("performance", "estimate") for v in ws.series(f"{kind}:{metric}"))

    for metric in [m for m in PERFORMANCE_METRICS if known(m)][:2]:
        realised = [w.performance[metric] if w.performance and metric in w.performance else None for w in ws.windows]
        estimated = [w.estimate[metric] if w.estimate and metric in w.estimate else None for w in ws.windows]
        lines = [("realised", realised, c[2]), ("estimated", estimated, c[4])]
        charts.append(
            {"caption": f"{metric} per window (bands: intervals)", "y_range": None,
             "series": [(name, [m.value if m else None for m in ms], color) for name, ms, color in lines],
             "bands": [([m.lower if m else None for m in ms], [m.upper if m else None for m in ms], color)
                       for _, ms, color in lines],
             "legend": [("realised", c[2]), ("estimated (CBPE)", c[4])]}
        )  # fmt: skip
    rows = [
        {"label": labels[w.index], "n_rows": w.n_rows, "n_labeled": w.n_labeled, "drift_share": w.drift_share,
         "weighted_drift": w.weighted_drift, "drifted": w.drifted, "judged": w.judged,
         "span": " – ".join(_when(t) for t in (w.start, w.end) if t) or "–",
         "observed": f"{100 * w.coverage:.0f}%" + (" partial" if w.partial else ""), "partial": w.partial,
         "multivariate": None if w.multivariate is None else w.multivariate.drifted,
         "issues": ", ".join(f"{k}: {v}" for k, v in w.quality.items()) or "–"}
        for w in ws.windows
    ]  # fmt: skip
    has_mv = any(w.multivariate is not None for w in ws.windows)
    return {"count": len(ws), "window": ws.window, "labels": labels, "charts": charts, "rows": rows,
            "note": ws.describe(), "multivariate": has_mv}  # fmt: skip


def _when(iso: str) -> str:
    """An ISO time, short: ``2024-03-01`` at midnight, else ``2024-03-01 10:00``; another zone's offset kept.

    Examples
    --------
    >>> _when("2024-03-01T00:00:00+00:00"), _when("2024-03-31T00:00:00+02:00")
    ('2024-03-01', '2024-03-31 +02:00')
    """
    offset = iso[19:] if len(iso) > 19 and iso[19] in "+-" else ""
    short = iso[:16].replace("T", " ").removesuffix(" 00:00")
    return short if offset in ("", "+00:00") else f"{short} {offset}"


def shadow_tiles(s: Any) -> list[tuple[str, str]]:
    """A shadow section's headline numbers, as (label, value) tiles: the report's and the UI's panel."""
    tiles = [("pairs compared", f"{s.n_shadowed:,} / {s.n_rows:,}"), ("shadow failures", f"{s.n_failed:,}")]
    if s.agreement is not None:
        tiles.append(("agreement", f"{100 * s.agreement:.1f}%"))
    if s.mean_abs_difference is not None:
        tiles.append(("mean |shadow − served|", f"{s.mean_abs_difference:.4g}"))
    if s.correlation is not None:
        tiles.append(("correlation", f"{s.correlation:.3f}"))
    tiles.append(("output drift", "yes" if s.drifted else "no"))
    tiles.append(("labelled pairs", f"{s.n_labelled:,}"))
    return tiles


def shadow_metrics(s: Any) -> list[dict[str, Any]]:
    """Both models' realised metrics on the labelled pairs, with the shadow's difference."""
    metrics = []
    if s.served_performance is not None and s.shadow_performance is not None:
        for m in s.served_performance.metrics:
            other = s.shadow_performance[m.name].value if m.name in s.shadow_performance.names else None
            diff = None if m.value is None or other is None else other - m.value
            metrics.append({"name": m.name, "served": m.value, "shadow": other, "difference": diff})
    return metrics


def _shadow(report: MonitorReport) -> dict[str, Any] | None:
    """The shadow section: the conclusion, tiles, the confusion table, output drift, metrics side by side."""
    s = report.shadow
    if s is None:
        return None
    tiles, metrics = shadow_tiles(s), shadow_metrics(s)
    shown = s.classes[:MAX_BARS]
    confusion = [
        {"label": c, "counts": [f"{n:,}" for n in r[:MAX_BARS]]} for c, r in zip(shown, s.confusion, strict=False)
    ]
    return {
        "state": "ok" if s.better or not s.drifted else "drift",
        "headline": "Shadow better" if s.better else "Shadow output drift" if s.drifted else "Shadow compared",
        "conclusion": s.conclusion(), "tiles": tiles, "classes": shown, "confusion": confusion,
        "numeric": tuple(range(1, len(shown) + 1)), "drift": s.drift, "n_drift_rows": s.n_drift_rows,
        "n_labelled": s.n_labelled, "metrics": metrics,
        "comparison": None if s.comparison is None else s.comparison.summary(),
        "windows": _shadow_windows(s),
    }  # fmt: skip


def _shadow_windows(s: Any) -> dict[str, Any] | None:
    """The shadow per window: a chart of the agreement (or the mean difference) and a table."""
    ws = s.windows
    if ws is None or not ws.windows:
        return None
    labels = [w.name for w in ws.windows]
    if len(set(labels)) < len(labels):
        labels = [f"#{w.index + 1}" for w in ws.windows]
    regression = all(w.agreement is None for w in ws.windows)
    what = "mean_abs_difference" if regression else "agreement"
    c = CHART_COLORS
    chart: _LineChart = {
        "caption": "Mean |shadow − served| per window" if regression else "Agreement of the shadow per window",
        "y_range": None if regression else (0.0, 1.0), "bands": (),
        "series": [(what.replace("_", " "), ws.series(what), c[0])], "legend": [(what.replace("_", " "), c[0])],
    }  # fmt: skip
    rows = []
    for w, label in zip(ws.windows, labels, strict=True):
        value = w.mean_abs_difference if regression else w.agreement
        k = w.comparison
        rows.append({
            "label": label, "span": " – ".join(_when(t) for t in (w.start, w.end) if t) or "–",
            "observed": f"{100 * w.coverage:.0f}%" + (" partial" if w.partial else ""), "pairs": w.n_shadowed,
            "value": "–" if value is None else f"{value:.4g}" if regression else f"{100 * value:.1f}%",
            "drift": "; ".join(f"{d['name']}: {d['method']} {d['statistic']:.3g}" for d in w.drift) or "–",
            "drifted": w.drifted, "labelled": w.n_labelled,
            "served": "–" if k is None or k.champion is None else f"{k.metric} {k.champion:.4f}",
            "shadow": "–" if k is None or k.challenger is None else f"{k.metric} {k.challenger:.4f}",
            "verdict": "–" if k is None else "shadow better" if k.better else "not shown better",
        })  # fmt: skip
    return {"window": ws.window, "labels": labels, "chart": chart, "rows": rows,
            "value": "mean |diff|" if regression else "agreement", "note": ws.describe()}  # fmt: skip


def render_report_html(report: MonitorReport, *, title: str | None = None) -> str:
    """The report as one self-contained HTML document (inline CSS and SVG; nothing fetched).

    Parameters
    ----------
    report : MonitorReport
    title : str, optional
        Default: ``Monitor report — <model>``.

    Returns
    -------
    str
    """
    drift = report.drift
    tiles = [
        ("features drifted", f"{len(drift.drifted_features)} / {len(drift.features)}"),
        ("drift share", f"{100 * drift.share:.0f}% (verdict at {100 * drift.share_threshold:.0f}%)"),
        ("importance-weighted", f"{100 * report.weighted_drift:.0f}%"),
        ("quality issues", str(len(drift.quality.issues))),
        ("rows", f"{drift.n_current:,} vs {drift.n_reference:,}"),
    ]
    if report.multivariate is not None:
        tiles.append(("multivariate drift", "yes" if report.multivariate.drifted else "no"))
    if drift.predictions:
        tiles.append(("prediction drift", "yes" if drift.prediction_drifted else "no"))
    checks = sorted(drift.quality.checks, key=lambda c: (not c.flagged, c.check, c.column))[:MAX_CHECKS]
    performance = [
        (heading, perf)
        for heading, perf in (("Realised (labeled rows)", report.performance), ("Estimated", report.estimate))
        if perf is not None
    ]
    return render_page(
        "monitor_report.html",
        title=title or f"Monitor report — {report.model or report.current_name}",
        report=report,
        state="drift" if drift.drifted else "ok",
        headline="Drift detected" if drift.drifted else "No dataset drift",
        verdict=report.verdict(),
        tiles=tiles,
        features=_features(report) if drift.features else [],
        text=[f for f in drift.features if f.oov_rate is not None],
        legend=[(report.reference_name, REFERENCE_COLOR), (report.current_name, CURRENT_COLOR)],
        windows=_windows(report),
        multivariate=_multivariate(report),
        checks=checks,
        performance=performance,
        shadow=_shadow(report),
    )
