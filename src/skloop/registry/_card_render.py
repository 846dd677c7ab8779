"""Model cards as Markdown and as one self-contained HTML page.

The HTML page loads nothing: inline CSS, an inline SVG bar chart of the importance,
no scripts, no ``src`` or ``href`` attributes; every string that came from a user
(names, columns, categories, parameters) is escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skloop.registry._card import ModelCard

__all__ = ["render_html", "render_markdown"]

MAX_CHART_BARS = 20


def _num(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _title(card: ModelCard) -> str:
    name = card.name or "model"
    return f"{name} v{card.version}" if card.version is not None else name


def _metric_rows(card: ModelCard) -> list[tuple[str, str, str]]:
    rows = []
    for metric in sorted(set(card.cv_metrics) | set(card.holdout_metrics)):
        cv = card.cv_metrics.get(metric)
        cv_text = "—" if not cv else f"{_num(cv.get('mean'))} ± {_num(cv.get('std'))}"
        rows.append((metric, cv_text, _num(card.holdout_metrics.get(metric))))
    return rows


def _data_rows(card: ModelCard) -> list[tuple[str, str]]:
    d = card.data
    rows = [
        (label, str(d[key]))
        for label, key in (
            ("Source", "source"),
            ("Fingerprint", "fingerprint"),
            ("Rows", "rows"),
            ("Columns", "columns"),
            ("Target", "target"),
        )
        if d.get(key) is not None
    ]
    if d.get("time_range"):
        rows.append((f"Time range ({d.get('time_column')})", " to ".join(str(v) for v in d["time_range"])))
    if d.get("class_balance"):
        total = sum(d["class_balance"].values()) or 1
        rows.append(("Class balance", ", ".join(f"{k}: {n} ({n / total:.1%})" for k, n in d["class_balance"].items())))
    if d.get("target_range"):
        rows.append(("Target range", " to ".join(_num(v) for v in d["target_range"])))
    return rows


def _lineage_rows(card: ModelCard) -> list[tuple[str, str]]:
    lin = card.lineage
    commit = lin.get("code_commit") or "unknown"
    if lin.get("code_dirty"):
        commit += " (uncommitted changes)"
    rows = [
        ("Run", str(lin.get("run_id"))),
        ("Dataset fingerprint", str(lin.get("dataset_fingerprint"))),
        ("Code commit", commit),
        ("Seed", str(lin.get("seed"))),
        ("Python", str(lin.get("python"))),
    ]
    packages = lin.get("packages") or {}
    if packages:
        rows.append(("Packages", ", ".join(f"{k} {v}" for k, v in sorted(packages.items()))))
    return rows


def _signature_rows(card: ModelCard) -> list[tuple[str, ...]]:
    rows = []
    for col in (card.signature or {}).get("inputs", []):
        if col.get("categories") is not None:
            values = col["categories"]
            extra = f"{', '.join(str(v) for v in values[:8])}" + (" …" if len(values) > 8 else "")
        elif col.get("min") is not None:
            extra = f"{_num(col['min'])} to {_num(col['max'])}"
        else:
            extra = ""
        rows.append(
            (str(col["name"]), str(col["dtype"]), str(col["kind"]), "yes" if col.get("nullable") else "no", extra)
        )
    return rows


# --------------------------------------------------------------------- markdown


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def render_markdown(card: ModelCard) -> str:
    """The card as a Markdown document (GitHub-flavoured tables).

    Parameters
    ----------
    card : ModelCard

    Returns
    -------
    str
    """
    out = [f"# Model card: {_md(_title(card))}", "", f"**Task:** {card.task}", ""]
    if card.data:
        out += ["## Data", "", *_md_table(["", ""], _data_rows(card))]
    if card.features:
        out += ["## Features", ""]
        out += [
            f"- **{kind}** ({len(cols)}): {', '.join(_md(c) for c in cols)}" for kind, cols in card.features.items()
        ]
        out.append("")
    if card.cv_metrics or card.holdout_metrics:
        out += [
            "## Metrics",
            "",
            *_md_table(["metric", "cross-validation (mean ± std)", "holdout"], _metric_rows(card)),
        ]
    if card.importance:
        rows = [(c, _num(v["mean"]), _num(v["std"])) for c, v in card.importance.items()]
        out += ["## Feature importance", "", "Permutation importance per input column.", ""]
        out += _md_table(["column", "mean", "std"], rows)
    if card.limits:
        out += ["## Known limits", "", *[f"- {_md(s)}" for s in card.limits], ""]
    if card.search:
        s = card.search
        out += ["## Search", ""]
        out.append(f"- **Strategy:** {s.get('strategy')}; **refit metric:** {s.get('refit')}")
        if s.get("n_candidates") is not None:
            out.append(f"- **Candidates evaluated:** {s['n_candidates']}")
        out.append(f"- **Space:** `{_md(json.dumps(s.get('space') or {}, sort_keys=True))}`")
        out.append(f"- **Best parameters:** `{_md(json.dumps(s.get('best_params') or {}, sort_keys=True))}`")
        out.append("")
    if card.pipeline:
        out += ["## Pipeline", "", "```text", card.pipeline.get("repr", ""), "```", ""]
    if card.signature:
        out += [
            "## Signature",
            "",
            *_md_table(["column", "dtype", "kind", "nullable", "values"], _signature_rows(card)),
        ]
    if card.lineage:
        out += ["## Lineage", "", *_md_table(["", ""], _lineage_rows(card))]
    return "\n".join(out).rstrip() + "\n"


# ------------------------------------------------------------------------- html

_CSS = " ".join(
    [
        'body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2330;',
        "max-width:960px;margin:2em auto;padding:0 1em}",
        "h1{font-size:1.6em;margin-bottom:.2em}",
        "h2{font-size:1.2em;border-bottom:1px solid #dde1e8;padding-bottom:.2em;margin-top:1.6em}",
        "table{border-collapse:collapse;margin:.5em 0;width:100%}",
        "th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #eef0f4;vertical-align:top}",
        "th{background:#f5f6f9;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}",
        ".task{color:#5a6272}.limits li{margin:.3em 0}",
        "pre{background:#f5f6f9;padding:.8em;overflow-x:auto;font-size:13px}",
        "code{background:#f5f6f9;padding:0 .2em}svg text{font:12px system-ui,sans-serif;fill:#1d2330}",
        ".bar{fill:#4c72b0}.err{stroke:#1d2330}",
    ]
)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(header: list[str] | None, rows: Iterable[Iterable[Any]], numeric: Iterable[int] = ()) -> str:
    nums = set(numeric)
    parts = ["<table>"]
    if header:
        parts.append("<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = "".join(
            f'<td class="num">{_e(c)}</td>' if i in nums else f"<td>{_e(c)}</td>" for i, c in enumerate(row)
        )
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</table>")
    return "".join(parts)


def importance_svg(importance: Mapping[str, Mapping[str, float]], max_bars: int = MAX_CHART_BARS) -> str:
    """A horizontal bar chart of the importance means (with ±std whiskers), as inline SVG."""
    items = list(importance.items())[:max_bars]
    if not items:
        return ""
    label_w, bar_w, row_h, pad = 180, 420, 22, 8
    top = max(max(float(v["mean"]) + float(v.get("std", 0.0)) for _, v in items), 1e-12)
    height = pad * 2 + row_h * len(items)
    width = label_w + bar_w + 90
    parts = [
        f'<svg role="img" aria-label="permutation importance per column" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
    ]
    for i, (name, v) in enumerate(items):
        mean, std = float(v["mean"]), float(v.get("std", 0.0))
        y = pad + i * row_h
        w = max(mean, 0.0) / top * bar_w
        label = name if len(name) <= 26 else name[:25] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{_e(label)}<title>{_e(name)}</title></text>'
        )
        parts.append(f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}"/>')
        if std > 0:
            lo = label_w + max(mean - std, 0.0) / top * bar_w
            hi = label_w + (mean + std) / top * bar_w
            parts.append(f'<line class="err" x1="{lo:.1f}" x2="{hi:.1f}" y1="{y + 11}" y2="{y + 11}"/>')
        parts.append(f'<text x="{label_w + w + 8:.1f}" y="{y + 15}">{mean:.4f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(card: ModelCard) -> str:
    """The card as one self-contained HTML page.

    Inline CSS and an inline SVG chart of the importance; no scripts, fonts, images
    or links, so the page opens offline and can be attached to a review as it is.

    Parameters
    ----------
    card : ModelCard

    Returns
    -------
    str
    """
    title = _title(card)
    body = [f"<h1>Model card: {_e(title)}</h1>", f'<p class="task">Task: {_e(card.task)}</p>']
    if card.data:
        body += ["<h2>Data</h2>", _table(None, _data_rows(card))]
    if card.features:
        body.append("<h2>Features</h2><ul>")
        body += [
            f"<li><strong>{_e(kind)}</strong> ({len(cols)}): {_e(', '.join(cols))}</li>"
            for kind, cols in card.features.items()
        ]
        body.append("</ul>")
    if card.cv_metrics or card.holdout_metrics:
        body += [
            "<h2>Metrics</h2>",
            _table(["metric", "cross-validation (mean ± std)", "holdout"], _metric_rows(card), numeric=(1, 2)),
        ]
    if card.importance:
        rows = [(c, _num(v["mean"]), _num(v["std"])) for c, v in card.importance.items()]
        body += [
            "<h2>Feature importance</h2>",
            "<p>Permutation importance per input column: how much the score drops when the column is shuffled.</p>",
            importance_svg(card.importance),
            _table(["column", "mean", "std"], rows, numeric=(1, 2)),
        ]
    if card.limits:
        body.append('<h2>Known limits</h2><ul class="limits">')
        body += [f"<li>{_e(s)}</li>" for s in card.limits]
        body.append("</ul>")
    if card.search:
        s = card.search
        rows = [
            ("Strategy", s.get("strategy")),
            ("Refit metric", s.get("refit")),
            ("Candidates evaluated", s.get("n_candidates", "—")),
            ("Space", json.dumps(s.get("space") or {}, sort_keys=True)),
            ("Best parameters", json.dumps(s.get("best_params") or {}, sort_keys=True)),
        ]
        body += ["<h2>Search</h2>", _table(None, rows)]
    if card.pipeline:
        body += ["<h2>Pipeline</h2>", f"<pre>{_e(card.pipeline.get('repr', ''))}</pre>"]
    if card.signature:
        body += [
            "<h2>Signature</h2>",
            _table(["column", "dtype", "kind", "nullable", "values"], _signature_rows(card)),
        ]
    if card.lineage:
        body += ["<h2>Lineage</h2>", _table(None, _lineage_rows(card))]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Model card: {_e(title)}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
