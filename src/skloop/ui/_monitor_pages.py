"""A model's monitoring: the latest verdict, drift per feature over time, performance, reports.

Every report shown was stored by ``skloop monitor`` or by the loop's monitor step
(``store.reports``, read through :mod:`skloop.ui._queries`). The heatmap is drawn on
the server (a table of links, coloured by how far each test is past its threshold);
a cell opens that feature's reference and current distributions, swapped in beside
the table by htmx or as a page of its own without scripts. Performance is a uPlot
chart (``monitor.js``) over a table that carries the same numbers.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from skloop.core import CURRENT_COLOR, REFERENCE_COLOR, DataError, NotFoundError, UsageError
from skloop.monitor import render_report_html
from skloop.ui import _queries as q
from skloop.ui._context import context_of, render
from skloop.ui._model_pages import model_url
from skloop.ui._monitor_view import heatmap, performance_series, report_url, shadow_panel
from skloop.ui._runs_pages import when

__all__ = ["MAX_HISTORY", "MAX_LISTED", "feature_page", "monitoring_page", "report_page"]

MAX_HISTORY = 30
"""Stored reports a heatmap over reports spans (the newest)."""
MAX_LISTED = 200
"""Stored reports listed on the page (the newest)."""
MAX_BARS = 40
"""Bins or categories drawn in a distribution chart (the table lists them all)."""


def monitoring_url(name: str) -> str:
    """The monitoring page of model ``name``."""
    return f"{model_url(name)}/monitoring"


async def monitoring_page(request: Request) -> Response:
    """``/models/{name}/monitoring``: verdict, drift heatmap, performance, quality, stored reports.

    ``?report=ID`` shows that report instead of the newest; ``?metric=NAME`` another metric.
    """
    ctx = context_of(request)
    name = request.path_params["name"]
    versions = q.list_versions(ctx.store, name)  # ModelNotFoundError (a 404 page) for an unknown model
    reports = q.monitor_reports(ctx.store, name, limit=MAX_LISTED, summaries=False)
    common = {"name": name, "model_url": model_url, "report_url": report_url, "when": when, "project": ctx.project}
    if not reports:
        return render(request, "monitoring.html", title=f"Monitoring of {name}", reports=[], latest=None,
                      versions=versions, **common)  # fmt: skip
    wanted = request.query_params.get("report")
    record, report = q.monitor_report(ctx.store, name, wanted or reports[-1].id)
    # the heatmap over reports reads their summaries: the newest MAX_HISTORY only
    history = q.monitor_reports(ctx.store, name, limit=MAX_HISTORY)
    latest = history[-1] if history else reports[-1]
    heat = heatmap(name, record, report, history)
    perf = performance_series(report, history, heat, request.query_params.get("metric"))
    chart = {
        "metric": perf["metric"], "labels": perf["labels"],
        "series": {kind: {k: [(r[kind] or {}).get(k) for r in perf["rows"]] for k in ("value", "lower", "upper")}
                   for kind in ("realised", "estimate")},
        "reference": next((r[k]["reference"] for r in perf["rows"] for k in ("realised", "estimate")
                           if r[k] and r[k].get("reference") is not None), None),
    }  # fmt: skip
    return render(
        request, "monitoring.html", title=f"Monitoring of {name}", reports=list(reversed(reports)),
        latest=latest, record=record, report=report, heat=heat, perf=perf, chart=chart, shadow=shadow_panel(report),
        selected_query=f"report={record.id}&" if wanted else "", **common,
    )  # fmt: skip


def _window(request: Request) -> int | None:
    raw = request.query_params.get("window")
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"window must be a window's number (0, 1, ...), given {raw!r}") from None


async def feature_page(request: Request) -> Response:
    """``/models/{name}/monitoring/reports/{id}/features/{feature}``: one feature's two distributions.

    ``?window=I`` for a window of the report. An htmx request gets the fragment the
    monitoring page swaps in; any other a page of its own.
    """
    ctx = context_of(request)
    name, feature = request.path_params["name"], request.path_params["feature"]
    record, report = q.monitor_report(ctx.store, name, request.path_params["report_id"])
    window = _window(request)
    try:
        dist = report.distribution(feature, window)
    except DataError as exc:
        raise NotFoundError(str(exc)) from None
    if window is not None and report.windows is not None:
        w = report.windows.windows[window]
        span = f"{w.start} – {w.end}, " if w.start and w.end else ""
        where = f"window {window + 1} of {report.windows.window} ({span}{w.n_rows:,} rows)"
    else:
        where = f"{report.current_name} ({report.drift.n_current:,} rows)"
    partial = request.headers.get("HX-Request") == "true"
    return render(
        request, "monitor_feature.html" if not partial else "_distribution.html",
        title=f"{feature} in report {record.id[:8]}", name=name, record=record, report=report, dist=dist,
        max_bars=MAX_BARS, where=where, reference_color=REFERENCE_COLOR, current_color=CURRENT_COLOR,
        model_url=model_url, monitoring_url=monitoring_url, report_url=report_url, project=ctx.project,
    )  # fmt: skip


async def report_page(request: Request) -> Response:
    """``/models/{name}/monitoring/reports/{id}``: the stored report as ``skloop monitor --report`` writes it."""
    ctx = context_of(request)
    record, report = q.monitor_report(ctx.store, request.path_params["name"], request.path_params["report_id"])
    title = f"Monitor report {record.id[:8]} — {record.ref}, {when(record.created)}"
    return HTMLResponse(render_report_html(report, title=title))
