"""Pages of runs: a search with an offset and a count, and the projects that have runs.

What a paginated table (the web UI's runs page) needs and :meth:`Store.search_runs`
does not give: ``OFFSET`` in SQL (a later page never reads the earlier ones), the
number of matching runs (counted in SQL, without an ordering, so without the outer
joins a sort adds), and the distinct projects (from the ``(project, start_time)``
index).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select

from skloop.core import StoreError
from skloop.store import _reads as reads
from skloop.store._entities import RUN_STATUSES, Run
from skloop.store._filter import parse_filter, parse_order_by
from skloop.store._schema import SqlRun
from skloop.store._tag_facets import TagFacet, tag_facets

if TYPE_CHECKING:
    from skloop.store._database import Database

__all__ = ["MAX_PAGE_SIZE", "RunFacets", "RunsPage", "facets", "search_runs_page"]

RUNS = SqlRun.__table__
MAX_PAGE_SIZE = 500
"""The most runs one page may hold."""


@dataclass(frozen=True)
class RunsPage:
    """One page of a search: its runs, where it starts, and how many runs match in all."""

    runs: list[Run]
    offset: int
    limit: int
    total: int

    @property
    def has_next(self) -> bool:
        """Whether runs follow this page."""
        return self.offset + len(self.runs) < self.total


@dataclass(frozen=True)
class RunFacets:
    """What a runs table filters by: the projects that have runs, runs per status, and tag facets.

    ``tags`` holds the most common tag keys and values when they were asked for
    (``facets(project, tags=N)``), else nothing; ``tag_runs`` is how many runs (the
    newest) their counts cover.
    """

    projects: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    tags: list[TagFacet] = field(default_factory=list)
    tag_runs: int = 0


@lru_cache(maxsize=256)
def _statements(
    project: str | None, filter_text: str | None, order_by: tuple[str, ...], statuses: tuple[str, ...]
) -> tuple[Select[Any], Select[Any]]:
    node = parse_filter(filter_text) if filter_text else None
    order = parse_order_by(list(order_by))
    rows = reads.build_search(project=project, node=node, order=order, statuses=list(statuses), limit=None)
    matching = reads.build_search(project=project, node=node, order=[], statuses=list(statuses), limit=None)
    count = select(func.count()).select_from(matching.order_by(None).with_only_columns(RUNS.c.id).subquery())
    return rows, count


def search_runs_page(
    db: Database,
    project: str | None = None,
    *,
    filter: str | None = None,
    order_by: Sequence[str] | str | None = None,
    status: str | Sequence[str] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> RunsPage:
    """One page of a search in ``db``; see :meth:`skloop.store.RunStore.search_runs_page`."""
    if filter is not None and not isinstance(filter, str):
        raise StoreError(f"a search filter is a string, given {type(filter).__name__}")
    order = (order_by,) if isinstance(order_by, str) else tuple(order_by or ())
    statuses = (status,) if isinstance(status, str) else tuple(status or ())
    for s in statuses:
        if s not in RUN_STATUSES:
            raise StoreError(f"unknown status {s!r}; use one of {', '.join(RUN_STATUSES)}")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise StoreError(f"a page holds 1 to {MAX_PAGE_SIZE} runs, given limit={limit!r}")
    if not isinstance(offset, int) or offset < 0:
        raise StoreError(f"offset must be a non-negative integer, given {offset!r}")
    rows_stmt, count_stmt = _statements(project, filter or None, order, statuses)
    db.flush()
    with db.session("reading a page of runs", read=True) as conn:
        rows = conn.execute(rows_stmt.limit(limit).offset(offset)).all()
        runs = reads.runs_from_rows(conn, rows)
        # a short, non-empty (or first) page is the last one: its end is the total, uncounted
        last = len(runs) < limit and (bool(runs) or offset == 0)
        total = offset + len(runs) if last else int(conn.execute(count_stmt).scalar_one())
    return RunsPage(runs=runs, offset=offset, limit=limit, total=total)


def facets(
    db: Database, project: str | None = None, *, tags: int = 0, tag_values: int = 5, tag_runs: int | None = None
) -> RunFacets:
    """The projects with runs, how many runs (of ``project``) have each status, and ``tags`` tag facets."""
    stmt = select(RUNS.c.status, func.count()).group_by(RUNS.c.status)
    if project is not None:
        stmt = stmt.where(RUNS.c.project == project)
    with db.session("counting runs by status", read=True) as conn:
        counts = {status: n for status, n in conn.execute(stmt).all()}
        projects = list(conn.execute(select(RUNS.c.project).distinct().order_by(RUNS.c.project)).scalars())
        tag_counts = tag_facets(conn, project, max_keys=tags, max_values=tag_values, max_runs=tag_runs)
    statuses = {s: int(counts[s]) for s in RUN_STATUSES if s in counts}
    total = sum(statuses.values())
    covered = min(total, tag_runs) if tag_runs is not None else total
    return RunFacets(projects=projects, statuses=statuses, tags=tag_counts, tag_runs=covered if tags else 0)
