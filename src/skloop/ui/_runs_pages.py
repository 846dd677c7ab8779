"""The projects list and a project's runs table (status and tag facets, filter, sort, pages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from skloop.core import NotFoundError
from skloop.store import RUN_STATUSES, Run, SearchFilterError, TagFacet
from skloop.ui import _queries as q
from skloop.ui._context import context_of, render
from skloop.ui._runs_query import ATTRIBUTE_COLUMNS, RunsQuery, auto_columns, cell, tag_clause

__all__ = ["COUNT_CAP", "duration", "home", "runs_count", "runs_page", "tag_facet_links", "when"]

PANEL_ID = "runs-panel"
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


@dataclass(frozen=True)
class FacetLink:
    """One value of a tag facet: its count, the URL that applies (or removes) it, whether it is applied."""

    value: str
    count: int
    url: str | None
    active: bool


def tag_facet_links(facets: list[TagFacet], query: RunsQuery, project: str) -> list[tuple[TagFacet, list[FacetLink]]]:
    """Each tag facet with a link per value: ``tags.<key> = '<value>'`` and-ed to the box's filter.

    A value whose clause the filter already ends with links to the filter without it.
    """
    out = []
    for facet in facets:
        links = []
        for value, count in facet.values:
            clause = tag_clause(facet.key, value)
            if clause is None:  # a key the filter language cannot name: counted, not clickable
                links.append(FacetLink(value, count, None, False))
                continue
            removed = query.without_clause(clause)
            target = removed if removed is not None else query.with_clause(clause)
            links.append(FacetLink(value, count, query.url(project, filter=target, page=1), removed is not None))
        out.append((facet, links))
    return out


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
    facets = q.run_facets(ctx.store, project)
    counts = facets.statuses
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
        "tag_facets": tag_facet_links(facets.tags, query, project),
        "tag_runs": facets.tag_runs,
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
