"""Tag facets: a project's tag keys with their most common values, counted in SQL.

One ``GROUP BY key, value`` over the ``tags`` table (the project's runs only), ranked
per key with window functions so that only the ``max_values`` most common values of
each key leave the database, with the number of runs that have the key and how many
distinct values it has. The keys most runs carry come first, ``max_keys`` of them.

Over every run (``max_runs=None``) the groups stream in ``(key, value)`` order from
``ix_tags_key_value`` (values up to 500 characters) and ``ix_tags_key_long`` (longer
ones), migration ``0013``, without sorting the tag rows; when the project is not the
only one with runs, each tag row's run is checked to be the project's, in the set of its
ids read from ``ix_runs_project_id`` (migration ``0015``; 0.19 s CPU at 100,000 runs beside
another project, where reading the wide ``runs`` rows for the ids cost up to 11 s). With
``max_runs`` the count covers the project's newest ``max_runs`` runs only: their ids
come from the ``(project, start_time)`` index and their tags from the ``tags`` primary
key. At 100,000 runs (300,000 tag rows, load average 13) the exact count took 0.37 s on
PostgreSQL (0.31 s for the newest 5,000) and 1.25 s on SQLite (0.78 s); without the
index SQLite sorted every tag row (0.75 s on an idle machine against 0.12 s).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, exists, func, or_, select, union_all
from sqlalchemy.sql import ColumnElement, Subquery
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from skloop.core import StoreError
from skloop.store._schema import TAG_INDEXED, TAG_LONG, SqlRun, SqlTag

__all__ = ["MAX_TAG_VALUES", "TagFacet", "tag_facets"]

RUNS = SqlRun
TAGS = SqlTag
MAX_TAG_VALUES = 50
"""The most values one facet may list (and the most keys a call may ask for, times ten)."""


@dataclass(frozen=True)
class TagFacet:
    """One tag key of a project: its most common values and how many runs have each.

    Parameters
    ----------
    key : str
        The tag key.
    values : list of (str, int)
        The most common values with their run counts, most common first (ties by value).
    n_runs : int
        How many of the project's runs have this tag (with any value).
    n_values : int
        How many distinct values the key has; more than ``len(values)`` when capped.
    """

    key: str
    values: list[tuple[str, int]] = field(default_factory=list)
    n_runs: int = 0
    n_values: int = 0


def _limit(value: int, name: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise StoreError(f"{name} is a number of tag facets from 0 to {high}, given {value!r}")
    return value


SHARE_FOR_INDEX_SCAN = 4
"""The project holds at least 1/this of the store's runs: its tags are counted from a scan of
the tag indexes (each row's run checked in the set of the project's ids), else from its
runs' tags read by primary key."""


def _project_filter(conn: Connection, project: str | None) -> list[ColumnElement[bool]]:
    """The condition keeping ``project``'s tag rows: none when it is the only project with runs.

    A store of one project (the common case) counts from the tag indexes alone, without
    probing each tag row's run; the check is two seeks in ``ix_runs_project_start_time``.
    Otherwise the project's ids come from ``ix_runs_project_id`` alone (migration ``0015``).
    When the project holds a large share of the runs, the tag indexes are still scanned in
    ``(key, value)`` order and each row's run looked up in the set of those ids (on SQLite the
    ``run_id`` is wrapped in a unary ``+`` so that the planner keeps that plan instead of one
    seek per run and a sort of every tag row: 0.14 against 0.23 s CPU at 100,000 runs);
    a small project's runs have their tags read by primary key.
    """
    if project is None:
        return []
    p = RUNS.c.project
    others = conn.execute(select(or_(exists().where(p < project), exists().where(p > project)))).scalar()
    if not others:
        return []
    ids = select(RUNS.c.id).where(p == project)
    mine = conn.execute(select(func.count()).select_from(ids.subquery())).scalar_one()
    every = conn.execute(select(func.count()).select_from(RUNS)).scalar_one()
    run_id: ColumnElement[str] = TAGS.c.run_id
    if mine * SHARE_FOR_INDEX_SCAN >= every and conn.dialect.name == "sqlite":
        run_id = UnaryExpression(run_id, operator=custom_op("+"), type_=run_id.type)
    return [run_id.in_(ids)]


def tag_facets(
    conn: Connection, project: str | None, *, max_keys: int, max_values: int, max_runs: int | None = None
) -> list[TagFacet]:
    """The ``max_keys`` tag keys most runs (of ``project``) carry, each with its ``max_values`` most common values.

    ``max_runs``: count over the newest ``max_runs`` runs only (None: every run).

    Raises
    ------
    StoreError
        For a ``max_keys`` outside 0..500, a ``max_values`` outside 1..:data:`MAX_TAG_VALUES`
        or a ``max_runs`` below 1.
    """
    _limit(max_keys, "max_keys", MAX_TAG_VALUES * 10)
    if max_runs is not None and (isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1):
        raise StoreError(f"max_runs is the number of newest runs the tag counts cover, 1 or more; given {max_runs!r}")
    if _limit(max_values, "max_values", MAX_TAG_VALUES) < 1:
        raise StoreError(f"max_values is at least 1 (the most common value of each key), given {max_values!r}")
    if max_keys == 0:
        return []
    t = TAGS.c
    n = func.count().label("n")
    grouped: Subquery
    if max_runs is None:
        # every run: the short values from ix_tags_key_value, the long ones from ix_tags_key_long
        # (disjoint, so their groups are summed as they are), each read in (key, value) order
        mine = _project_filter(conn, project)
        parts = [
            select(t.key, t.value, n).where(cond, *mine).group_by(t.key, t.value) for cond in (TAG_INDEXED, TAG_LONG)
        ]
        grouped = union_all(*parts).subquery("grouped")
    else:
        # the newest runs: their ids from the (project, start_time) index, their tags by primary key
        ids = select(RUNS.c.id)
        if project is not None:
            ids = ids.where(RUNS.c.project == project)
        ids = ids.order_by(RUNS.c.start_time.desc()).limit(max_runs)
        grouped = select(t.key, t.value, n).where(t.run_id.in_(ids)).group_by(t.key, t.value).subquery("grouped")
    g = grouped.c
    ranked = select(
        g.key, g.value, g.n,
        func.row_number().over(partition_by=g.key, order_by=(g.n.desc(), g.value)).label("rank"),
        func.sum(g.n).over(partition_by=g.key).label("n_runs"),
        func.count().over(partition_by=g.key).label("n_values"),
    ).subquery("ranked")  # fmt: skip
    r = ranked.c
    rows = conn.execute(
        select(r.key, r.value, r.n, r.n_runs, r.n_values).where(r.rank <= max_values).order_by(r.key, r.rank)
    ).all()
    facets: dict[str, TagFacet] = {}
    for key, value, count, n_runs, n_values in rows:
        if key not in facets:
            facets[key] = TagFacet(key=key, n_runs=int(n_runs), n_values=int(n_values))
        facets[key].values.append((value, int(count)))
    ordered = sorted(facets.values(), key=lambda f: (-f.n_runs, f.key))
    return ordered[:max_keys]
