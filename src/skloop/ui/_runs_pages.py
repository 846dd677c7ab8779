"""The projects list, a project's runs table, and the comparison of selected runs."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from skloop.core import NotFoundError, UsageError
from skloop.store import RUN_STATUSES, Run, SearchFilterError
from skloop.ui import _queries as q
from skloop.ui._context import context_of, render
from skloop.ui._runs_query import ATTRIBUTE_COLUMNS, RunsQuery, auto_columns, cell

__all__ = ["COUNT_CAP", "compare_page", "home", "runs_count", "runs_page"]

PANEL_ID = "runs-panel"
MAX_COMPARED = 10
COUNT_CAP = 10_000
"""Matching runs counted for the table's summary; beyond, "more than 10,000" and a link that counts all."""


def duration(run: Run) -> str:
    """How long the run took (``–`` while it runs)."""
    if run.end_time is None:
        return "–"
    seconds = (run.end_time - run.start_time).total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def when(ts: datetime | None) -> str:
    """A time as UTC text, to the second."""
    return ts.strftime("%Y-%m-%d %H:%M:%S") if ts else "–"


async def home(request: Request) -> Response:
    """``/``: the spec's project's runs, or the list of projects."""
    ctx = context_of(request)
    projects = q.list_projects(ctx.store)
    if (ctx.project is not None and ctx.project in projects) or len(projects) == 1:
        target = ctx.project if ctx.project in projects else projects[0]
        return RedirectResponse(RunsQuery().url(target), status_code=302)
    return render(request, "projects.html", title="Projects", projects=projects, project=ctx.project)


def _is_partial(request: Request) -> bool:
    """Whether htmx asked for the runs panel only (not a full page, not a history restore)."""
    headers = request.headers
    return (
        headers.get("hx-request") == "true"
        and PANEL_ID in headers.get("hx-target", "")
        and "hx-history-restore-request" not in headers
    )


async def runs_page(request: Request) -> Response:
    """A project's runs: one page from SQL, sorted, filtered; the panel alone for htmx.

    The page is not held up by the count of the matching runs, which can visit every
    match: unless this is the last page (whose end is the total) or ``count=all`` asks
    for it here, the summary fetches it (``hx-trigger="load"``) from :func:`runs_count`.
    """
    ctx = context_of(request)
    project = request.path_params["project"]
    query = RunsQuery.from_params(request.query_params, request.query_params.getlist("status"))
    error = None
    try:
        page = q.runs_page(
            ctx.store, project, filter=query.filter or None, order_by=query.order_by,
            statuses=query.statuses, limit=query.per_page, offset=query.offset,
            count_up_to=None if query.count_all else 0,
        )  # fmt: skip
    except SearchFilterError as exc:  # the user's text: shown beside the box, never a 500
        error, page = str(exc), None
    counts = q.status_counts(ctx.store, project)
    if not counts and project not in q.list_projects(ctx.store):
        raise NotFoundError(f"project {project!r} has no runs; the projects with runs are listed at /")
    runs = page.runs if page is not None else []
    columns = auto_columns(runs, query)
    context = {
        "project": project,
        "query": query,
        "page": page,
        "runs": runs,
        "error": error,
        "counts": counts,
        "statuses": RUN_STATUSES,
        "attribute_columns": ATTRIBUTE_COLUMNS,
        "columns": columns,
        "cell": cell,
        "duration": duration,
        "when": when,
        "panel_id": PANEL_ID,
    }
    template = "_runs_panel.html" if _is_partial(request) else "runs.html"
    return render(request, template, title=f"Runs of {project}", **context)


async def runs_count(request: Request) -> Response:
    """``/projects/{project}/runs/count``: the summary's total, up to :data:`COUNT_CAP` unless ``count=all``.

    A fragment for the runs page's summary (``#runs-total``), with the pager's ``page
    N of M`` out of band. A filter that does not parse counts nothing (the page shows
    the error).
    """
    ctx = context_of(request)
    project = request.path_params["project"]
    query = RunsQuery.from_params(request.query_params, request.query_params.getlist("status"))
    try:
        n = q.count_runs(
            ctx.store, project, filter=query.filter or None, statuses=query.statuses,
            up_to=None if query.count_all else COUNT_CAP,
        )  # fmt: skip
    except SearchFilterError:
        return Response("", media_type="text/html")
    exact = query.count_all or n <= COUNT_CAP
    return render(
        request, "_runs_count.html", title=f"Runs of {project}", project=project, query=query,
        total=n if exact else COUNT_CAP, total_exact=exact, oob=True,
    )  # fmt: skip


def _differs(values: list[object]) -> bool:
    return len({repr(v) for v in values}) > 1


async def compare_page(request: Request) -> Response:
    """Selected runs side by side: params (differences highlighted), metrics, per-fold scores."""
    ctx = context_of(request)
    ids = list(dict.fromkeys(i.strip() for i in request.query_params.getlist("run") if i.strip()))
    if len(ids) < 1:
        raise UsageError("select at least one run to compare (tick the boxes in the runs table)")
    if len(ids) > MAX_COMPARED:
        raise UsageError(f"{len(ids)} runs were selected; compare at most {MAX_COMPARED} at a time")
    runs = [q.get_run(ctx.store, i) for i in ids]  # a prefix works too; unknown → 404
    param_keys = sorted({k for r in runs for k in r.params})
    params = [(k, [r.params.get(k) for r in runs]) for k in param_keys]
    metric_keys = sorted({k for r in runs for k in r.metrics if not k.endswith("_fold")})
    metrics = [(k, [r.metrics.get(k) for r in runs]) for k in metric_keys]
    folds = [q.fold_scores(ctx.store, r) for r in runs]
    scorers = sorted({s for f in folds for s in f})
    fold_tables = []
    for scorer in scorers:
        n = max(len(f.get(scorer, [])) for f in folds)
        rows = [(i, [f[scorer][i] if i < len(f.get(scorer, [])) else None for f in folds]) for i in range(n)]
        fold_tables.append((scorer, rows))
    chart = {
        "labels": [r.name or r.id[:8] for r in runs],
        "scorers": {s: [f.get(s, []) for f in folds] for s in scorers},
    }
    return render(
        request, "compare.html", title="Compare runs", runs=runs, params=params, metrics=metrics,
        fold_tables=fold_tables, chart=chart, differs=_differs, when=when, duration=duration,
        project=runs[0].project,
    )  # fmt: skip
