"""Read paths: runs as entities, and searches compiled from the filter language to SQL.

A search joins ``latest_metrics`` (and ``params``/``tags``) once per key it names. Keys
compared in the top-level ``and`` of a filter are inner joins, so the database can
start from the ``(key, value)`` index and stop after ``limit`` rows; other keys are
outer joins, and runs without them sort last.
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
    SqlDataset,
    SqlLatestMetric,
    SqlMetric,
    SqlParam,
    SqlRun,
    SqlTag,
    table_of,
)

__all__ = [
    "build_search",
    "cached_search",
    "dataset_entity",
    "history_query",
    "load_runs",
    "metric_entity",
    "runs_from_rows",
]

RUNS = table_of(SqlRun)
_KEYED = {
    "metrics": table_of(SqlLatestMetric),
    "params": table_of(SqlParam),
    "tags": table_of(SqlTag),
}
_NOT_NULL_ATTRS = {"id", "project", "kind", "status", "start_time"}
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


def _condition(node: Comparison | BoolOp, joins: _Joins) -> ColumnElement[bool]:
    if isinstance(node, BoolOp):
        parts = [_condition(t, joins) for t in node.terms]
        return and_(*parts) if node.op == "and" else or_(*parts)
    col = joins.column(node.entity, node.key)
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
    compare: dict[str, Callable[[ColumnElement[Any], Any], ColumnElement[bool]]] = {
        "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    }
    return compare[op](col, value)


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
) -> Select[Any]:
    """The ``SELECT`` of the matching runs' rows, in order (see :func:`runs_from_rows`)."""
    joins = _Joins(_required(node))
    stmt = select(*_RUN_COLUMNS)
    where: list[ColumnElement[bool]] = []
    if project is not None:
        where.append(RUNS.c.project == project)
    if statuses:
        where.append(RUNS.c.status.in_(statuses))
    if node is not None:
        where.append(_condition(node, joins))
    clauses = []
    named = set()
    for key in order:
        col = joins.column(key.entity, key.key)
        named.add((key.entity, key.key))
        clause = col.desc() if key.descending else col.asc()
        nullable = (key.entity, key.key) not in joins.required and key.key not in _NOT_NULL_ATTRS
        clauses.append(clause.nulls_last() if nullable else clause)
    if ("attributes", "start_time") not in named:
        clauses.append(RUNS.c.start_time.desc())
    clauses.append(RUNS.c.id.asc())
    stmt = joins.apply(stmt).where(and_(true(), *where)).order_by(*clauses)
    return stmt.limit(limit) if limit is not None else stmt


def history_query(run_id: str, key: str) -> Select[Any]:
    """Every value of metric ``key`` of ``run_id``, by step then time."""
    c = table_of(SqlMetric).c
    return (
        select(c.key, c.value, c.is_nan, c.step, c.timestamp)
        .where(c.run_id == run_id, c.key == key)
        .order_by(c.step, c.timestamp, c.id)
    )


def dataset_query() -> Select[Any]:
    """All dataset columns."""
    return select(table_of(SqlDataset))
