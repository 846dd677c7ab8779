"""One self-contained HTML file for a :class:`~skloop.monitor.MonitorReport`.

No script, no font, no image and no stylesheet is fetched: the CSS is inline and every
chart is an inline SVG drawn here (bars of reference vs current distributions, lines
per window with a band for the bootstrap interval), so the file opens offline and can
be mailed or attached to a ticket as it is.

Order: the verdict first, then per-feature rows sorted by importance × drift (each
with its distribution plot), the time series per window, the data-quality table, and
performance with intervals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skloop.monitor._performance import PerformanceReport
    from skloop.monitor._report import MonitorReport

__all__ = ["render_report_html"]

REF_COLOR = "#7f8c9a"
CUR_COLOR = "#d9822b"
LINE_COLORS = ("#2b6cb0", "#d9822b", "#2f855a", "#9b2c2c", "#6b46c1", "#718096")
MAX_BARS = 24

CSS = """
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a202c;
margin:0;background:#f7f8fa}main{max-width:1100px;margin:0 auto;padding:24px}h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde1e6;padding-bottom:4px}.meta{color:#5a6470}
.verdict{border-radius:8px;padding:14px 18px;margin:16px 0;font-size:15px;border:1px solid}
.verdict.drift{background:#fff4e5;border-color:#f0b46a}.verdict.ok{background:#eaf7ee;border-color:#8fd1a4}
.verdict strong{font-size:18px;display:block;margin-bottom:4px}.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:8px 12px;min-width:130px}
.card b{display:block;font-size:18px}table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e6e9ee;vertical-align:middle}
th{background:#eef1f5;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.yes{color:#b7410e;font-weight:600}.no{color:#2f855a}.bar{display:inline-block;height:8px;background:#2b6cb0;
border-radius:2px}.legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:10px;
height:10px;margin-right:4px;border-radius:2px}.charts{display:flex;flex-wrap:wrap;gap:14px}
figure{margin:0;background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:8px}
figcaption{font-size:13px;color:#3c4650;margin-bottom:4px}.est{font-style:italic;color:#5a6470}
svg text{font:10px system-ui,sans-serif;fill:#5a6470}
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _f(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if value != 0 and abs(value) < 10**-digits:
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


def _yes(flag: bool) -> str:
    return '<span class="yes">yes</span>' if flag else '<span class="no">no</span>'


def bars_svg(labels: Sequence[str], ref: Sequence[float], cur: Sequence[float], *, width: int = 300) -> str:
    """Paired bars of two share vectors (reference grey, current orange)."""
    n = len(labels)
    if n == 0:
        return ""
    height, pad = 110, 18
    top = max(max(ref, default=0.0), max(cur, default=0.0)) or 1.0
    slot = (width - 8) / n
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for i in range(n):
        x = 4 + i * slot
        for j, (values, color) in enumerate(((ref, REF_COLOR), (cur, CUR_COLOR))):
            h = (height - pad - 4) * values[i] / top
            parts.append(
                f'<rect x="{x + j * slot * 0.45:.1f}" y="{height - pad - h:.1f}" width="{max(slot * 0.42, 1):.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{_e(labels[i])}: {values[i]:.3f}</title></rect>'
            )
    parts.append(f'<text x="4" y="{height - 4}">{_e(labels[0])[:14]}</text>')
    parts.append(f'<text x="{width - 4}" y="{height - 4}" text-anchor="end">{_e(labels[-1])[:14]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line_svg(
    series: Sequence[tuple[str, Sequence[float | None], str]],
    labels: Sequence[str],
    *,
    bands: Sequence[tuple[Sequence[float | None], Sequence[float | None], str]] = (),
    width: int = 500,
    height: int = 170,
    y_range: tuple[float, float] | None = None,
) -> str:
    """Lines (name, values, color) over windows, with optional interval bands (lower, upper, color)."""
    n = len(labels)
    values = [v for _, vs, _ in series for v in vs if v is not None]
    values += [v for lo, hi, _ in bands for v in (*lo, *hi) if v is not None]
    if n == 0 or not values:
        return '<p class="meta">no values to plot</p>'
    lo_v, hi_v = y_range or (min(values), max(values))
    if hi_v - lo_v < 1e-9:
        lo_v, hi_v = lo_v - 0.5, hi_v + 0.5
    left, right, top, bottom = 40, 10, 10, 24

    def x(i: int) -> float:
        return left + (width - left - right) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - (v - lo_v) / (hi_v - lo_v))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for v in (lo_v, (lo_v + hi_v) / 2, hi_v):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e2e6ea"/>')
        parts.append(f'<text x="{left - 4}" y="{y(v) + 3:.1f}" text-anchor="end">{v:.2f}</text>')
    for lower, upper, color in bands:
        pts = [(i, lo, hi) for i, (lo, hi) in enumerate(zip(lower, upper, strict=True)) if lo is not None and hi]
        if pts:
            poly = [f"{x(i):.1f},{y(hi):.1f}" for i, _, hi in pts] + [
                f"{x(i):.1f},{y(lo):.1f}" for i, lo, _ in pts[::-1]
            ]
            parts.append(f'<polygon points="{" ".join(poly)}" fill="{color}" fill-opacity="0.15" stroke="none"/>')
    for name, vs, color in series:
        pts = [(i, v) for i, v in enumerate(vs) if v is not None]
        if not pts:
            continue
        path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in pts)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for i, v in pts:
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{color}">'
                f"<title>{_e(name)} {_e(labels[i])}: {v:.3f}</title></circle>"
            )
    step = max(1, n // 6)
    for i in range(0, n, step):
        parts.append(f'<text x="{x(i):.1f}" y="{height - 6}" text-anchor="middle">{_e(labels[i])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _legend(items: Sequence[tuple[str, str]]) -> str:
    spans = "".join(f'<span><i class="sw" style="background:{c}"></i>{_e(n)}</span>' for n, c in items)
    return f'<div class="legend">{spans}</div>'


def _distribution(feature: Any) -> str:
    ref, cur = list(feature.reference_counts), list(feature.current_counts)
    if not ref or not cur or len(ref) != len(cur):
        return ""
    rs, cs = sum(ref) or 1, sum(cur) or 1
    if feature.categories is not None:
        labels = [str(c) for c in feature.categories]
    elif feature.bin_edges is not None:
        edges = list(feature.bin_edges)
        labels = [f"{edges[i]:.3g}–{edges[i + 1]:.3g}" for i in range(len(edges) - 1)]
    else:
        labels = [str(i) for i in range(len(ref))]
    labels, ref, cur = labels[:MAX_BARS], ref[:MAX_BARS], cur[:MAX_BARS]
    return bars_svg(labels, [r / rs for r in ref], [c / cs for c in cur])


def _features(report: MonitorReport) -> str:
    drift = report.drift
    if not drift.features:
        return "<p>No feature could be tested.</p>"
    top = max((r["importance"] for r in report.ranking()), default=1.0) or 1.0
    rows = []
    for r in report.ranking():
        f = drift[r["name"]]
        rows.append(
            f"<tr><td><b>{_e(f.name)}</b><br><span class='meta'>{_e(f.kind)}</span></td>"
            f"<td>{_yes(f.drifted)}</td><td>{_e(f.method)}</td><td class='num'>{_f(f.statistic)}</td>"
            f"<td class='num'>{_f(f.p_value, 4)}</td><td class='num'>{_f(f.threshold)}</td>"
            f"<td><span class='bar' style='width:{60 * r['importance'] / top:.0f}px'></span> "
            f"{_f(r['importance'], 4)}</td><td>{_distribution(f)}</td></tr>"
        )
    head = "<tr><th>feature</th><th>drifted</th><th>test</th><th>statistic</th><th>p-value</th><th>threshold</th>"
    legend = _legend([(report.reference_name, REF_COLOR), (report.current_name, CUR_COLOR)])
    return f"{legend}<table>{head}<th>importance</th><th>distribution</th></tr>{''.join(rows)}</table>"


def _performance_table(report: PerformanceReport, title: str) -> str:
    rows = "".join(
        f"<tr><td>{_e(m.name)}</td><td class='num'>{_f(m.value)}</td>"
        f"<td class='num'>{_f(m.lower)} – {_f(m.upper)}</td><td class='num'>{_f(m.reference)}</td>"
        f"<td class='num'>{'–' if m.change is None else f'{m.change:+.3f}'}</td></tr>"
        for m in report.metrics
    )
    note = " <span class='est'>(estimated from calibrated probabilities, no labels)</span>" if report.estimated else ""
    if report.positive is not None:
        note += f" <span class='est'>(f1, precision, recall of class {_e(report.positive)})</span>"
    return (
        f"<h3>{_e(title)} — {report.n_rows:,} rows{note}</h3><table><tr><th>metric</th><th>value</th>"
        f"<th>{100 * report.confidence:.0f}% interval</th><th>training holdout</th><th>change</th></tr>{rows}</table>"
    )


def _relative(test: dict[str, Any] | None) -> float | None:
    """A test's distance from its threshold on one scale: 1 at the threshold, higher is more drift.

    ``statistic / threshold`` for distances, ``log p / log threshold`` for p-values;
    capped at 5 so that one huge value does not flatten the others.
    """
    if not test or test.get("statistic") is None:
        return None
    threshold, p = test.get("threshold") or 0.0, test.get("p_value")
    if p is not None:
        if not 0 < threshold < 1:
            return None
        value = math.log(max(p, 1e-300)) / math.log(threshold)
    else:
        value = test["statistic"] / threshold if threshold > 0 else 0.0
    return min(max(value, 0.0), 5.0)


def _windows(report: MonitorReport) -> str:
    ws = report.windows
    if ws is None or not ws.windows:
        return ""
    labels = [(w.start or str(w.index))[:16].replace("T", " ").removesuffix(" 00:00") for w in ws.windows]
    if len(set(labels)) < len(labels):  # row windows of fast traffic start within the same minute
        labels = [f"#{w.index + 1}" for w in ws.windows]
    out = [f"<h2>Over time ({len(ws)} windows of {_e(ws.window)})</h2><div class='charts'>"]
    drift = line_svg(
        [("drift share", ws.series("drift_share"), LINE_COLORS[0]),
         ("weighted drift", ws.series("weighted_drift"), LINE_COLORS[1])],
        labels, y_range=(0.0, 1.0),
    )  # fmt: skip
    out.append(f"<figure><figcaption>Drift per window</figcaption>{drift}")
    out.append(_legend([("drift share", LINE_COLORS[0]), ("importance-weighted", LINE_COLORS[1])]) + "</figure>")
    ranked = [r["name"] for r in report.ranking()][: len(LINE_COLORS)]
    stats = [(n, [_relative(w.features.get(n)) for w in ws.windows], LINE_COLORS[i]) for i, n in enumerate(ranked)]
    caption = "Drift per feature relative to its threshold (1 = threshold; most important first)"
    out.append(f"<figure><figcaption>{caption}</figcaption>{line_svg(stats, labels)}")
    out.append(_legend([(n, c) for n, _, c in stats]) + "</figure>")

    def known(metric: str) -> bool:
        return any(v is not None for kind in ("performance", "estimate") for v in ws.series(f"{kind}:{metric}"))

    metrics = [m for m in ("roc_auc", "accuracy", "r2", "rmse") if known(m)][:2]
    for metric in metrics:
        realised = [w.performance[metric] if w.performance and metric in w.performance else None for w in ws.windows]
        estimated = [w.estimate[metric] if w.estimate and metric in w.estimate else None for w in ws.windows]
        chart = line_svg(
            [("realised", [m.value if m else None for m in realised], LINE_COLORS[2]),
             ("estimated", [m.value if m else None for m in estimated], LINE_COLORS[4])],
            labels,
            bands=[([m.lower if m else None for m in realised], [m.upper if m else None for m in realised],
                    LINE_COLORS[2]),
                   ([m.lower if m else None for m in estimated], [m.upper if m else None for m in estimated],
                    LINE_COLORS[4])],
        )  # fmt: skip
        out.append(f"<figure><figcaption>{_e(metric)} per window (bands: intervals)</figcaption>{chart}")
        out.append(_legend([("realised", LINE_COLORS[2]), ("estimated (CBPE)", LINE_COLORS[4])]) + "</figure>")
    out.append("</div>")
    rows = "".join(
        f"<tr><td>{_e(labels[w.index])}</td><td class='num'>{w.n_rows:,}</td><td class='num'>{w.n_labeled:,}</td>"
        f"<td class='num'>{_f(w.drift_share, 2)}</td><td class='num'>{_f(w.weighted_drift, 2)}</td>"
        f"<td>{_yes(w.drifted)}</td><td>{_e(', '.join(f'{k}: {v}' for k, v in w.quality.items()) or '–')}</td></tr>"
        for w in ws.windows
    )
    out.append(
        "<table><tr><th>window</th><th>rows</th><th>labeled</th><th>drift share</th><th>weighted</th>"
        f"<th>drifted</th><th>quality issues</th></tr>{rows}</table>"
    )
    return "".join(out)


def _quality(report: MonitorReport) -> str:
    checks = sorted(report.drift.quality.checks, key=lambda c: (not c.flagged, c.check, c.column))
    if not checks:
        return "<p>No quality check ran.</p>"
    rows = "".join(
        f"<tr><td>{_e(c.check)}</td><td>{_e(c.column)}</td><td>{_yes(c.flagged)}</td>"
        f"<td class='num'>{_f(c.value, 4)}</td><td class='num'>{_f(c.threshold, 4)}</td>"
        f"<td class='num'>{c.count:,}</td><td>{_e(c.detail)}</td></tr>"
        for c in checks[:200]
    )
    return (
        "<table><tr><th>check</th><th>column</th><th>flagged</th><th>value</th><th>threshold</th><th>count</th>"
        f"<th>detail</th></tr>{rows}</table>"
    )


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
    title = title or f"Monitor report — {report.model or report.current_name}"
    state = "drift" if drift.drifted else "ok"
    head = "Drift detected" if drift.drifted else "No dataset drift"
    cards = [
        ("features drifted", f"{len(drift.drifted_features)} / {len(drift.features)}"),
        ("drift share", f"{100 * drift.share:.0f}% (verdict at {100 * drift.share_threshold:.0f}%)"),
        ("importance-weighted", f"{100 * report.weighted_drift:.0f}%"),
        ("quality issues", str(len(drift.quality.issues))),
        ("rows", f"{drift.n_current:,} vs {drift.n_reference:,}"),
    ]
    if drift.predictions:
        cards.append(("prediction drift", "yes" if drift.prediction_drifted else "no"))
    body = [
        f"<h1>{_e(title)}</h1><div class='meta'>{_e(report.current_name)} against {_e(report.reference_name)}"
        f" · made {_e(report.created)}</div>",
        f"<section class='verdict {state}' id='verdict'><strong>{head}</strong>{_e(report.verdict())}</section>",
        "<div class='cards'>" + "".join(f"<div class='card'>{_e(k)}<b>{_e(v)}</b></div>" for k, v in cards) + "</div>",
        "<h2>Features, by importance × drift</h2>",
        _features(report),
        _windows(report),
        "<h2>Data quality</h2>",
        _quality(report),
    ]
    if report.performance is not None or report.estimate is not None:
        body.append("<h2>Performance</h2>")
        if report.performance is not None:
            body.append(_performance_table(report.performance, "Realised (labeled rows)"))
        if report.estimate is not None:
            body.append(_performance_table(report.estimate, "Estimated"))
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'><link rel='icon' href='data:,'>"
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>{''.join(body)}</main></body></html>\n"
    )
