"""Pages of runs: a planned search with an offset, a count, and the projects that have runs.

What a paginated table (the web UI's runs page) needs and :meth:`Store.search_runs`
does not give: ``OFFSET`` in SQL (a later page never reads the earlier ones), the
number of matching runs (counted in SQL without an ordering, and up to a cap when asked),
and the distinct projects (from the ``(project, start_time)`` index).

A page is planned before it is read, so that it costs about the same whatever the
filter. Each metric comparison and param equality of the filter's top-level ``and``
that a ``(key, value)`` index answers is probed: its matches are counted in the index, stopping at
:data:`DRIVE_BELOW`. A selective one (the fewest matches, under the cap) picks the
runs first, and the page sorts those few. Otherwise the runs drive the search in
the page's order (the ``(project, start_time)`` index for the default one), each run
probed on the primary keys of its params and metrics, and the search stops after the
page: a comparison true for half the runs no longer visits every match (see
:mod:`skloop.store._reads`). The count is what still visits every match, so a caller
that shows the page first may count later (``count_up_to=0``) or up to a cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, func, select

from skloop.core import StoreError
from skloop.store import _reads as reads
from skloop.store._entities import RUN_STATUSES, Run
from skloop.store._filter import BoolOp, Comparison, OrderKey, parse_filter, parse_order_by
from skloop.store._schema import SqlRun
from skloop.store._tag_facets import TagFacet, tag_facets

if TYPE_CHECKING:
    from skloop.store._database import Database

__all__ = [
    "DRIVE_BELOW",
    "MAX_PAGE_SIZE",
    "RunFacets",
    "RunsPage",
    "count_runs",
    "facets",
    "plan_driver",
    "search_runs_page",
]

RUNS = SqlRun
MAX_PAGE_SIZE = 500
"""The most runs one page may hold."""
DRIVE_BELOW = 5_000
"""Matches in a ``(key, value)`` index (a metric's or a param's) under which its comparison picks the runs first."""


@dataclass(frozen=True)
class RunsPage:
    """One page of a search: its runs, where it starts, whether runs follow, and how many match.

    ``total`` is exact when ``total_exact``; otherwise more than ``total`` runs match
    (the count stopped at a cap), or ``total`` is ``None`` (not counted: ask
    :meth:`~skloop.store.RunStore.count_runs`).
    """

    runs: list[Run]
    offset: int
    limit: int
    total: int | None
    has_next: bool
    total_exact: bool = True


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
def _parsed(filter_text: str | None, order_by: tuple[str, ...]) -> tuple[Comparison | BoolOp | None, list[OrderKey]]:
    return (parse_filter(filter_text) if filter_text else None), parse_order_by(list(order_by))


def _terms(node: Comparison | BoolOp | None) -> tuple[Comparison | BoolOp, ...]:
    """The terms of the filter's top-level ``and`` (the filter itself when it is not one)."""
    if node is None:
        return ()
    return node.terms if isinstance(node, BoolOp) and node.op == "and" else (node,)


def plan_driver(conn: Connection, filter_text: str | None) -> int | None:
    """Which term of the top-level ``and`` of ``filter_text`` picks a page's runs first.

    ``None``: the runs drive. A candidate is a metric compared with an operator its
    ``(key, value)`` index answers, or a param's equality (``=``, ``in``: the
    ``(key, value)`` index of ``params``, migration ``0012``); its matches are counted there up to
    :data:`DRIVE_BELOW` (over all projects: the cost of starting there), and the one
    with the fewest, if under the cap, is chosen.
    """
    best: tuple[int, int] | None = None
    for i, term in enumerate(_terms(_parsed(filter_text, ())[0])):
        if not (isinstance(term, Comparison) and reads.can_drive(term)):
            continue
        inner = reads.driving_rows(term)
        n = int(conn.execute(select(func.count()).select_from(inner.limit(DRIVE_BELOW).subquery())).scalar_one())
        if n < DRIVE_BELOW and (best is None or n < best[0]):
            best = (n, i)
    return best[1] if best is not None else None


@lru_cache(maxsize=512)
def _statements(
    project: str | None,
    filter_text: str | None,
    order_by: tuple[str, ...],
    statuses: tuple[str, ...],
    driver_at: int | None,
) -> tuple[Select[Any], Select[Any]]:
    """The page's rows and the matching runs' ids, planned (a driving term, or the runs drive)."""
    node, order = _parsed(filter_text, order_by)
    term = _terms(node)[driver_at] if driver_at is not None else None
    driver = term if isinstance(term, Comparison) else None
    rows = reads.build_search(
        project=project, node=node, order=order, statuses=list(statuses), limit=None, probes=True, driver=driver
    )
    # the count has no order: with a driver it starts there; otherwise the joins let the
    # database start where its statistics say (the (key, value) index, for a range)
    matching = reads.build_search(
        project=project, node=node, order=[], statuses=list(statuses), limit=None,
        probes=driver is not None, driver=driver,
    )  # fmt: skip
    return rows, matching.order_by(None).with_only_columns(RUNS.c.id)


@lru_cache(maxsize=256)
def _walk_statements(
    project: str | None, filter_text: str | None, order_by: tuple[str, ...], statuses: tuple[str, ...]
) -> tuple[Select[Any], Select[Any] | None]:
    node, order = _parsed(filter_text, order_by)
    return reads.build_walk(project=project, node=node, order=order, statuses=list(statuses))


def _walk_page(
    conn: Connection,
    statements: tuple[Select[Any], Select[Any] | None],
    descending: bool,
    limit: int,
    offset: int,
) -> list[str]:
    """Up to ``limit + 1`` ids from ``offset``: the walked runs (with the metric), then the rest.

    The walk is read in two steps, each in the index's own order, so that the database
    stops after the page whatever it guesses of the filter (PostgreSQL otherwise
    sorts every match by the whole ordering): the value at the page's end, then the
    runs up to that value (all its ties) in the whole ordering.
    """
    ranked, rest = statements
    value = ranked.selected_columns[1]
    by_value = ranked.with_only_columns(value).order_by(None).order_by(value.desc() if descending else value.asc())
    postgres = conn.dialect.name == "postgresql"
    if postgres:  # it guesses a filter of probes keeps one run, and would sort them all: walk the index
        conn.exec_driver_sql("SET LOCAL enable_sort = off")
    bound = conn.execute(by_value.limit(1).offset(offset + limit)).scalar()
    if postgres:
        conn.exec_driver_sql("SET LOCAL enable_sort = on")
    upto = ranked if bound is None else ranked.where(value >= bound if descending else value <= bound)
    ids = list(conn.execute(upto.limit(limit + 1).offset(offset)).scalars())
    if len(ids) > limit or rest is None:
        return ids
    # the walk ended on this page (the rest starts at its beginning) or before it (it holds fewer than offset)
    rest_offset = 0 if ids or offset == 0 else offset - _count(conn, ranked.order_by(None), None)
    return ids + list(conn.execute(rest.limit(limit + 1 - len(ids)).offset(rest_offset)).scalars())


def _fast_plans(conn: Connection) -> None:
    """No JIT compilation on PostgreSQL for this transaction: it took a second to plan a page."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")


def _count(conn: Connection, matching: Select[Any], up_to: int | None) -> int:
    inner = matching if up_to is None else matching.limit(up_to + 1)
    return int(conn.execute(select(func.count()).select_from(inner.subquery())).scalar_one())


def _checked(
    filter: str | None, order_by: Sequence[str] | str | None, status: str | Sequence[str] | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if filter is not None and not isinstance(filter, str):
        raise StoreError(f"a search filter is a string, given {type(filter).__name__}")
    order = (order_by,) if isinstance(order_by, str) else tuple(order_by or ())
    statuses = (status,) if isinstance(status, str) else tuple(status or ())
    for s in statuses:
        if s not in RUN_STATUSES:
            raise StoreError(f"unknown status {s!r}; use one of {', '.join(RUN_STATUSES)}")
    _parsed(filter or None, order)  # a bad filter or ordering raises before any SQL
    return order, statuses


def _check_cap(name: str, value: int | None) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise StoreError(f"{name} must be None or a non-negative integer, given {value!r}")


def search_runs_page(
    db: Database,
    project: str | None = None,
    *,
    filter: str | None = None,
    order_by: Sequence[str] | str | None = None,
    status: str | Sequence[str] | None = None,
    limit: int = 50,
    offset: int = 0,
    count_up_to: int | None = None,
) -> RunsPage:
    """One page of a search in ``db``; see :meth:`skloop.store.RunStore.search_runs_page`."""
    order, statuses = _checked(filter, order_by, status)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise StoreError(f"a page holds 1 to {MAX_PAGE_SIZE} runs, given limit={limit!r}")
    if not isinstance(offset, int) or offset < 0:
        raise StoreError(f"offset must be a non-negative integer, given {offset!r}")
    _check_cap("count_up_to", count_up_to)
    db.flush()
    with db.session("reading a page of runs", read=True) as conn:
        _fast_plans(conn)
        driver = plan_driver(conn, filter or None)
        rows_stmt, matching = _statements(project, filter or None, order, statuses, driver)
        keys = _parsed(filter or None, order)[1]
        if driver is None and keys and keys[0].entity == "metrics":  # walk that metric's index
            walk = _walk_statements(project, filter or None, order, statuses)
            ids = _walk_page(conn, walk, keys[0].descending, limit, offset)
            has_next = len(ids) > limit
            runs = reads.load_runs(conn, ids[:limit])
        else:
            rows = conn.execute(rows_stmt.limit(limit + 1).offset(offset)).all()  # one more: is a page next?
            has_next = len(rows) > limit
            runs = reads.runs_from_rows(conn, rows[:limit])
        total: int | None = offset + len(runs)
        exact = True
        if has_next or (not runs and offset > 0):  # a short, non-empty (or first) page is the last one
            if count_up_to == 0:
                total, exact = None, False
            else:
                cap = None if count_up_to is None else max(count_up_to, offset + len(runs))
                total = _count(conn, matching, cap)
                if cap is not None and total > cap:
                    total, exact = cap, False
    return RunsPage(runs=runs, offset=offset, limit=limit, total=total, has_next=has_next, total_exact=exact)


def count_runs(
    db: Database,
    project: str | None = None,
    *,
    filter: str | None = None,
    status: str | Sequence[str] | None = None,
    up_to: int | None = None,
) -> int:
    """How many runs match in ``db``; see :meth:`skloop.store.RunStore.count_runs`."""
    _, statuses = _checked(filter, None, status)
    _check_cap("up_to", up_to)
    db.flush()
    with db.session("counting runs", read=True) as conn:
        _fast_plans(conn)
        driver = plan_driver(conn, filter or None)
        _, matching = _statements(project, filter or None, (), statuses, driver)
        return _count(conn, matching, up_to)


def facets(
    db: Database,
    project: str | None = None,
    *,
    tags: int = 0,
    tag_values: int = 5,
    tag_runs: int | None = None,
    exact_alone: bool = False,
) -> RunFacets:
    """The projects with runs, how many runs (of ``project``) have each status, and ``tags`` tag facets.

    ``exact_alone``: count the tags of every run, ignoring ``tag_runs``, when ``project`` is
    the only project with runs (the tag indexes answer then, without reading the runs).
    """
    stmt = select(RUNS.c.status, func.count()).group_by(RUNS.c.status)
    if project is not None:
        stmt = stmt.where(RUNS.c.project == project)
    with db.session("counting runs by status", read=True) as conn:
        counts = {status: n for status, n in conn.execute(stmt).all()}
        projects = list(conn.execute(select(RUNS.c.project).distinct().order_by(RUNS.c.project)).scalars())
        if exact_alone and projects == [project]:
            tag_runs = None
        tag_counts = tag_facets(conn, project, max_keys=tags, max_values=tag_values, max_runs=tag_runs)
    statuses = {s: int(counts[s]) for s in RUN_STATUSES if s in counts}
    total = sum(statuses.values())
    covered = min(total, tag_runs) if tag_runs is not None else total
    return RunFacets(projects=projects, statuses=statuses, tags=tag_counts, tag_runs=covered if tags else 0)
