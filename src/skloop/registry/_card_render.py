"""Model cards as Markdown and as one self-contained HTML page.

The row builders below feed both: the Markdown is written here, the HTML page comes
from the shared Jinja2 templates (:func:`skloop.core.render_page`), which load
nothing (inline CSS and SVG, no scripts, no ``src`` or ``href`` attributes) and
escape every string that came from a user (names, columns, categories, parameters).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from skloop.core import render_page

if TYPE_CHECKING:
    from skloop.registry._card import ModelCard

__all__ = ["render_html", "render_markdown"]


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
    parent = lin.get("parent_version")
    rows = [
        *([("Parent version", f"{card.name}/{parent}" if card.name else f"v{parent}")] if parent is not None else []),
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
    rows: list[tuple[str, ...]] = []
    for col in (card.signature or {}).get("inputs", []):
        if col.get("categories") is not None:
            values = col["categories"]
            extra = f"{', '.join(str(v) for v in values[:8])}" + (" …" if len(values) > 8 else "")
        elif col.get("min") is not None:
            extra = f"{_num(col['min'])} to {_num(col['max'])}"
        else:
            extra = ""
        # "filled in": none missing in training, but the pipeline scores a missing value
        nullable = "yes" if col.get("nullable") else "filled in" if col.get("accepts_missing") else "no"
        rows.append((str(col["name"]), str(col["dtype"]), str(col["kind"]), nullable, extra))
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


def _search_rows(card: ModelCard) -> list[tuple[str, Any]]:
    s = card.search
    return [
        ("Strategy", s.get("strategy")),
        ("Refit metric", s.get("refit")),
        ("Candidates evaluated", s.get("n_candidates", "—")),
        ("Space", json.dumps(s.get("space") or {}, sort_keys=True)),
        ("Best parameters", json.dumps(s.get("best_params") or {}, sort_keys=True)),
    ]


def render_html(card: ModelCard) -> str:
    """The card as one self-contained HTML page.

    Drawn by the shared templates (``skloop/templates/model_card.html``): the one
    stylesheet inline and an inline SVG chart of the importance; no scripts, fonts,
    images or links, so the page opens offline and can be attached to a review as it
    is. Every value is escaped by the template engine.

    Parameters
    ----------
    card : ModelCard

    Returns
    -------
    str
    """
    title = _title(card)
    return render_page(
        "model_card.html",
        title=f"Model card: {title}",
        card_title=title,
        card=card,
        data_rows=_data_rows(card),
        metric_rows=_metric_rows(card),
        importance_rows=[(c, _num(v["mean"]), _num(v["std"])) for c, v in card.importance.items()],
        search_rows=_search_rows(card) if card.search else [],
        signature_rows=_signature_rows(card),
        lineage_rows=_lineage_rows(card) if card.lineage else [],
    )
