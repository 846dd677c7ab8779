"""Read paths: runs as entities, and searches compiled from the filter language to SQL.

A search joins ``latest_metrics`` (and ``params``/``tags``) once per key it names. Keys
compared in the top-level ``and`` of a filter are inner joins, so the database can
start from the ``(key, value)`` index and stop after ``limit`` rows; other keys are
outer joins, and runs without them sort last.

A page of the UI's runs table is planned instead (:func:`build_search` with
``probes=True``): each keyed value is a correlated subquery on the ``(run_id, key)``
primary key, so the runs drive the search in the order of the page and it stops after
the page, unless a selective metric comparison or param equality (``driver``) picks
the runs first, as ``runs.id IN (SELECT run_id FROM latest_metrics WHERE key = ? AND
value ...)`` (or ``FROM params``) from the ``(key, value)`` index. Both give the rows
the joins give: a key has at most one value per run, and a missing one is ``NULL``
either way.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Row,
    Select,
    Text,
    and_,
    not_,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.sql.selectable import NamedFromClause

from skloop.store import _summary as summary
from skloop.store._entities import DatasetRecord, Metric, Run
from skloop.store._filter import BoolOp, Comparison, OrderKey, parse_filter, parse_order_by
from skloop.store._schema import (
    PARAM_INDEXED,
    PARAM_INDEXED_CHARS,
    SqlDataset,
    SqlLatestMetric,
    SqlMetric,
    SqlParam,
    SqlRun,
    SqlTag,
)

__all__ = [
    "INDEXED_OPS",
    "PARAM_INDEXED_OPS",
    "build_search",
    "build_walk",
    "cached_search",
    "can_drive",
    "compare",
    "dataset_entity",
    "driving_rows",
    "history_query",
    "load_runs",
    "metric_entity",
    "runs_from_rows",
]

RUNS = SqlRun
_KEYED = {
    "metrics": SqlLatestMetric,
    "params": SqlParam,
    "tags": SqlTag,
}
_NOT_NULL_ATTRS = {"id", "project", "kind", "status", "start_time"}
INDEXED_OPS = frozenset({"=", "<", "<=", ">", ">=", "in"})
"""Operators on a metric's value that the ``(key, value)`` index answers as a range."""
PARAM_INDEXED_OPS = frozenset({"=", "in"})
"""The comparisons of a param that its ``(key, value)`` index answers (migration ``0012``): equality."""


def can_drive(cmp: Comparison) -> bool:
    """Whether comparison ``cmp`` can pick the runs first from a ``(key, value)`` index.

    A metric compared with an operator of :data:`INDEXED_OPS`, or a param equated
    (:data:`PARAM_INDEXED_OPS`) with strings of at most ``PARAM_INDEXED_CHARS``
    characters: longer values are not in the params' partial index.
    """
    if cmp.entity == "metrics":
        return cmp.op in INDEXED_OPS
    if cmp.entity != "params" or cmp.op not in PARAM_INDEXED_OPS:
        return False
    values = cmp.value if cmp.op == "in" else (cmp.value,)
    return all(isinstance(v, str) and len(v) <= PARAM_INDEXED_CHARS for v in values)


def driving_rows(cmp: Comparison) -> Select[Any]:
    """``SELECT run_id`` of the runs whose metric or param matches ``cmp``, from its ``(key, value)`` index."""
    table = _KEYED[cmp.entity]
    stmt = select(table.c.run_id).where(table.c.key == cmp.key, compare(cmp, table.c.value))
    return stmt.where(PARAM_INDEXED) if cmp.entity == "params" else stmt  # the partial index's condition


_CHUNK = 500


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def metric_entity(row: Row[Any]) -> Metric:
    """A :class:`Metric` from a ``metrics`` row."""
    value = math.nan if row.is_nan else row.value
    return Metric(key=row.key, value=value, step=row.step, timestamp=_from_ms(row.timestamp))


def dataset_entity(row: Row[Any]) -> DatasetRecord:
    """A :class:`DatasetRecord` from a ``datasets`` row."""
    return DatasetRecord(
        fingerprint=row.fingerprint,
        source=row.source,
        n_rows=row.n_rows,
        n_columns=row.n_columns,
        schema=row.schema or {},
        profile=row.profile or {},
        snapshot_sha256=row.snapshot_sha256,
        created=row.created,
    )


_RUN_NAMES = ("id", "project", "kind", "name", "status", "start_time", "end_time", "error", "spec",
              "code_commit", "code_dirty", "environment", "seed", "parent_run_id", "pid", "hostname",
              "summary")  # fmt: skip
_RUN_SQL = f"SELECT {', '.join(_RUN_NAMES)} FROM runs WHERE id IN ({{ids}})"
# the same columns for a search; dates and JSON as the driver returns them (see _utc, _json)
_RAW = {"start_time", "end_time", "spec", "environment"}
_RUN_COLUMNS = [type_coerce(RUNS.c[n], Text()) if n in _RAW else RUNS.c[n] for n in _RUN_NAMES]


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite keeps naive ISO text, in UTC
        if len(value) in (19, 26):  # parsing with the offset is 6x faster than replace()
            return datetime.fromisoformat(value + "+00:00")
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"a run time read from the database is {type(value).__name__}, not a datetime")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def load_runs(conn: Connection, run_ids: Sequence[str]) -> list[Run]:
    """Entities for the runs ``run_ids`` (in that order, unknown ids skipped), with their
    params, tags, metrics, inputs and artifacts.

    An ended run's records come from its summary (one row); a running run's, or one
    without a summary, from their tables (see :mod:`skloop.store._summary`).
    """
    rows: list[Any] = []
    for start in range(0, len(run_ids), _CHUNK):
        rows += summary.fetch(conn, _RUN_SQL, run_ids[start : start + _CHUNK])
    position = {run_id: i for i, run_id in enumerate(run_ids)}
    rows.sort(key=lambda r: position[r[0]])
    return runs_from_rows(conn, rows)


def runs_from_rows(conn: Connection, rows: Sequence[Any]) -> list[Run]:
    """Entities for rows of the run columns a search selects, in order."""
    records = dict(zip([r[0] for r in rows], summary.decode([r[16] for r in rows]), strict=True))
    missing = [run_id for run_id, rec in records.items() if rec is None]
    if missing:
        records.update(summary.read_records(conn, missing))
    runs = []
    for (run_id, project, kind, name, status, start_time, end_time, error, spec, code_commit,
         code_dirty, environment, seed, parent_run_id, pid, hostname, _) in rows:  # fmt: skip
        params, tags, metrics, inputs, artifacts = records[run_id]
        runs.append(
            Run(
                run_id,
                project,
                kind,
                status,
                _utc(start_time),  # type: ignore[arg-type]
                name,
                _utc(end_time),
                error,
                _json(spec),
                code_commit,
                None if code_dirty is None else bool(code_dirty),
                _json(environment),
                seed,
                parent_run_id,
                pid,
                hostname,
                params,
                tags,
                metrics,
                inputs,
                artifacts,
            )
        )
    return runs


def _required(node: Comparison | BoolOp | None) -> set[tuple[str, str]]:
    """Keys every matching run must have: compared in the filter's top-level ``and``."""
    if node is None:
        return set()
    terms = node.terms if isinstance(node, BoolOp) and node.op == "and" else (node,)
    return {
        (t.entity, t.key) for t in terms if isinstance(t, Comparison) and t.entity != "attributes" and t.op != "is null"
    }


class _Joins:
    def __init__(self, required: set[tuple[str, str]]) -> None:
        self.required = required
        self.aliases: dict[tuple[str, str], NamedFromClause] = {}

    def column(self, entity: str, key: str) -> ColumnElement[Any]:
        if entity == "attributes":
            return RUNS.c[key]
        ident = (entity, key)
        if ident not in self.aliases:
            self.aliases[ident] = _KEYED[entity].alias(f"j{len(self.aliases)}")
        return self.aliases[ident].c.value

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        source: FromClause = RUNS
        for (entity, key), alias in self.aliases.items():
            on = and_(alias.c.run_id == RUNS.c.id, alias.c.key == key)
            source = source.join(alias, on, isouter=(entity, key) not in self.required)
        return stmt.select_from(source)


class _Probes(_Joins):
    """Keyed values as correlated subqueries on the primary key of the run ``run_id``.

    On ``runs`` itself (the default) the runs drive the search; on another table's
    ``run_id`` (the ``(key, value)`` index walked in order) that table drives, and a run
    attribute is a subquery on ``runs`` too. ``bound`` maps fields to columns already
    at hand (the walked index's value).
    """

    def __init__(
        self,
        required: set[tuple[str, str]],
        run_id: ColumnElement[Any] | None = None,
        bound: dict[tuple[str, str], ColumnElement[Any]] | None = None,
    ) -> None:
        super().__init__(required)
        self.run_id = RUNS.c.id if run_id is None else run_id
        self.bound = bound or {}

    def column(self, entity: str, key: str) -> ColumnElement[Any]:
        if (entity, key) in self.bound:
            return self.bound[(entity, key)]
        if entity == "attributes":
            if self.run_id is RUNS.c.id or key == "id":
                return RUNS.c[key] if self.run_id is RUNS.c.id else self.run_id
            return select(RUNS.c[key]).where(RUNS.c.id == self.run_id).scalar_subquery()
        table = _KEYED[entity]
        return select(table.c.value).where(table.c.run_id == self.run_id, table.c.key == key).scalar_subquery()

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        return stmt.select_from(RUNS)


def _driven_by(cmp: Comparison) -> ColumnElement[bool]:
    """``runs.id IN (the runs whose metric or param matches, from the (key, value) index)``."""
    return RUNS.c.id.in_(driving_rows(cmp))


def _condition(node: Comparison | BoolOp, joins: _Joins) -> ColumnElement[bool]:
    if isinstance(node, BoolOp):
        parts = [_condition(t, joins) for t in node.terms]
        return and_(*parts) if node.op == "and" else or_(*parts)
    return compare(node, joins.column(node.entity, node.key))


def compare(node: Comparison, col: ColumnElement[Any]) -> ColumnElement[bool]:
    """The SQL of comparison ``node`` on the value ``col``."""
    op, value = node.op, node.value
    if op == "is null":
        return col.is_(None)
    if op == "is not null":
        return col.is_not(None)
    if op == "in":
        return col.in_(value)
    if op == "not in":
        return and_(col.is_not(None), not_(col.in_(value)))
    if op == "like":
        return col.like(value)
    if op == "ilike":
        return col.ilike(value)
    ops: dict[str, Callable[[ColumnElement[Any], Any], ColumnElement[bool]]] = {
        "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    }  # fmt: skip
    return ops[op](col, value)


@lru_cache(maxsize=256)
def cached_search(
    project: str | None,
    filter_text: str | None,
    order_by: tuple[str, ...],
    statuses: tuple[str, ...] | None,
    limit: int | None,
) -> Select[Any]:
    """:func:`build_search` from the user's text, cached: a repeated search skips parsing."""
    node = parse_filter(filter_text) if filter_text is not None else None
    order = parse_order_by(list(order_by))
    return build_search(project=project, node=node, order=order, statuses=list(statuses or ()), limit=limit)


def build_search(
    *,
    project: str | None,
    node: Comparison | BoolOp | None,
    order: list[OrderKey],
    statuses: list[str] | None,
    limit: int | None,
    probes: bool = False,
    driver: Comparison | None = None,
) -> Select[Any]:
    """The ``SELECT`` of the matching runs' rows, in order (see :func:`runs_from_rows`).

    With ``probes``, keyed values are correlated subqueries rather than joins, and
    ``driver`` (a comparison of the filter's top-level ``and`` that :func:`can_drive`:
    a metric with an operator of :data:`INDEXED_OPS`, a param with one of
    :data:`PARAM_INDEXED_OPS`) becomes ``runs.id IN (...)`` from the ``(key, value)``
    index; see the module's docstring.
    """
    joins = _Probes(_required(node)) if probes else _Joins(_required(node))
    where: list[ColumnElement[bool]] = []
    if driver is not None:
        if not probes or not can_drive(driver):
            raise ValueError(
                f"{driver} cannot drive a search: a metric compared with {sorted(INDEXED_OPS)}"
                f" or a param with {sorted(PARAM_INDEXED_OPS)}"
            )
        terms: tuple[Comparison | BoolOp, ...] = ()
        if node is not None:
            terms = node.terms if isinstance(node, BoolOp) and node.op == "and" else (node,)
        if driver not in terms:
            raise ValueError(f"{driver} is not a term of the filter's top-level 'and'")
        where.append(_driven_by(driver))
        rest = list(terms)
        del rest[rest.index(driver)]
        node = None if not rest else rest[0] if len(rest) == 1 else BoolOp("and", tuple(rest))
    where += _where(joins, project, node, statuses)
    clauses = _order(joins, order)  # before apply(): it joins every key named so far
    stmt = joins.apply(select(*_RUN_COLUMNS)).where(and_(true(), *where)).order_by(*clauses)
    return stmt.limit(limit) if limit is not None else stmt


def _where(
    joins: _Joins, project: str | None, node: Comparison | BoolOp | None, statuses: list[str] | None
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if project is not None:
        where.append(joins.column("attributes", "project") == project)
    if statuses:
        where.append(joins.column("attributes", "status").in_(statuses))
    if node is not None:
        where.append(_condition(node, joins))
    return where


def _order(joins: _Joins, order: list[OrderKey]) -> list[ColumnElement[Any]]:
    clauses: list[ColumnElement[Any]] = []
    named = set()
    for key in order:
        col = joins.column(key.entity, key.key)
        named.add((key.entity, key.key))
        clause = col.desc() if key.descending else col.asc()
        nullable = (key.entity, key.key) not in joins.required and key.key not in _NOT_NULL_ATTRS
        clauses.append(clause.nulls_last() if nullable else clause)
    if ("attributes", "start_time") not in named:
        clauses.append(joins.column("attributes", "start_time").desc())
    clauses.append(joins.column("attributes", "id").asc())
    return clauses


def build_walk(
    *,
    project: str | None,
    node: Comparison | BoolOp | None,
    order: list[OrderKey],
    statuses: list[str] | None,
) -> tuple[Select[Any], Select[Any] | None]:
    """The ids of the matching runs in order, walking the ``(key, value)`` index of ``order[0]``.

    For an ordering by a metric first: the ids and values of the runs with a value of
    that metric come first, in the index's order (ties sorted by the rest of the
    ordering), each probed for the filter (see ``_pages._walk_page`` for how the walk
    stops after the page); then (``None`` when the filter
    requires the metric) the ids of the matching runs without a value, which an
    ordering by that metric puts last (``NULLS LAST``), in the rest of the ordering.
    The two, one after the other, are the ids :func:`build_search` orders.
    """
    first = order[0]
    if first.entity != "metrics":
        raise ValueError(f"only an ordering by a metric walks an index, not {first}")
    walked = _KEYED["metrics"].alias("walk")
    required = _required(node)
    joins = _Probes(required, run_id=walked.c.run_id, bound={("metrics", first.key): walked.c.value})
    value = walked.c.value
    clauses = [value.desc() if first.descending else value.asc(), *_order(joins, order[1:])]
    where = [walked.c.key == first.key, value.is_not(None), *_where(joins, project, node, statuses)]
    ranked = select(walked.c.run_id, value).where(*where).order_by(*clauses)
    if ("metrics", first.key) in required:
        return ranked, None
    probes = _Probes(required)
    where = [probes.column("metrics", first.key).is_(None), *_where(probes, project, node, statuses)]
    rest = select(RUNS.c.id).where(*where).order_by(*_order(probes, order[1:]))
    return ranked, rest


def history_query(run_id: str, key: str) -> Select[Any]:
    """Every value of metric ``key`` of ``run_id``, by step then time."""
    c = SqlMetric.c
    return (
        select(c.key, c.value, c.is_nan, c.step, c.timestamp)
        .where(c.run_id == run_id, c.key == key)
        .order_by(c.step, c.timestamp, c.id)
    )


def dataset_query() -> Select[Any]:
    """All dataset columns."""
    return select(SqlDataset)
