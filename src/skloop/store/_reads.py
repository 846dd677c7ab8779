"""Read paths: runs as entities, and searches compiled from the filter language to SQL.

A search joins ``latest_metrics`` (and ``params``/``tags``) once per key it names. Keys
compared in the top-level ``and`` of a filter are inner joins, so the database can
start from the ``(key, value)`` index and stop after ``limit`` rows; other keys are
outer joins, and runs without them sort last.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    and_,
    bindparam,
    not_,
    or_,
    select,
    true,
)

from skloop.store._entities import ArtifactRef, DatasetRecord, Metric, Run, RunInput
from skloop.store._filter import BoolOp, Comparison, OrderKey, parse_filter, parse_order_by
from skloop.store._schema import (
    SqlArtifact,
    SqlDataset,
    SqlLatestMetric,
    SqlMetric,
    SqlParam,
    SqlRun,
    SqlRunInput,
    SqlTag,
)

__all__ = [
    "build_search",
    "cached_search",
    "dataset_entity",
    "history_query",
    "load_runs",
    "metric_entity",
]

RUNS = SqlRun.__table__
_KEYED = {
    "metrics": SqlLatestMetric.__table__,
    "params": SqlParam.__table__,
    "tags": SqlTag.__table__,
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


_IDS = bindparam("ids", expanding=True)
_P, _T, _M = SqlParam.__table__.c, SqlTag.__table__.c, SqlLatestMetric.__table__.c
_I, _A = SqlRunInput.__table__.c, SqlArtifact.__table__.c
# params, tags and latest metrics in one round trip: (kind, run_id, key, text, number, nan).
# Driver-level SQL: thousands of small rows are read without per-value processing.
_NUM, _FLAG, _TEXT = "CAST(NULL AS DOUBLE PRECISION)", "CAST(NULL AS BOOLEAN)", "CAST(NULL AS TEXT)"
_KEYED_SQL = (
    f"SELECT 0, run_id, key, value, {_NUM}, {_FLAG} FROM params WHERE run_id IN ({{ids}}) "
    f"UNION ALL SELECT 1, run_id, key, value, {_NUM}, {_FLAG} FROM tags WHERE run_id IN ({{ids}}) "
    f"UNION ALL SELECT 2, run_id, key, {_TEXT}, value, is_nan FROM latest_metrics "
    "WHERE run_id IN ({ids})"
)
_INPUTS_SQL = "SELECT run_id, fingerprint, role FROM run_inputs WHERE run_id IN ({ids}) ORDER BY logged_at, role"
_ARTIFACTS_SQL = "SELECT run_id, name, sha256, size, media_type FROM artifacts WHERE run_id IN ({ids}) ORDER BY name"


def _fetch(conn: Connection, sql: str, marks: str, params: list[str]) -> list[Any]:
    # the DB-API cursor of the scope's own connection (same transaction): plain tuples
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql.format(ids=marks), tuple(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()


_RUN_SQL = (
    "SELECT id, project, kind, name, status, start_time, end_time, error, spec, code_commit, "
    "code_dirty, environment, seed, parent_run_id, pid, hostname FROM runs WHERE id IN ({ids})"
)


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite keeps ISO text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def load_runs(conn: Connection, run_ids: Sequence[str]) -> list[Run]:
    """Entities for the runs ``run_ids`` (in that order, unknown ids skipped), with their
    params, tags, metrics, inputs and artifacts."""
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    rows: list[Any] = []
    for start in range(0, len(run_ids), _CHUNK):
        chunk = list(run_ids[start : start + _CHUNK])
        rows += _fetch(conn, _RUN_SQL, ", ".join([mark] * len(chunk)), chunk)
    position = {run_id: i for i, run_id in enumerate(run_ids)}
    rows.sort(key=lambda r: position[r[0]])
    ids = [r[0] for r in rows]
    keyed: tuple[dict[str, dict[str, Any]], ...] = tuple({i: {} for i in ids} for _ in range(3))
    params, tags, metrics = keyed
    inputs: dict[str, list[RunInput]] = {i: [] for i in ids}
    artifacts: dict[str, dict[str, ArtifactRef]] = {i: {} for i in ids}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ", ".join([mark] * len(chunk))
        for kind, run_id, key, text, num, nan in _fetch(conn, _KEYED_SQL, marks, chunk * 3):
            keyed[kind][run_id][key] = text if kind < 2 else (math.nan if nan else float(num))
        for run_id, fp, role in _fetch(conn, _INPUTS_SQL, marks, chunk):
            inputs[run_id].append(RunInput(fingerprint=fp, role=role))
        for run_id, name, sha, size, media in _fetch(conn, _ARTIFACTS_SQL, marks, chunk):
            artifacts[run_id][name] = ArtifactRef(sha256=sha, size=size, name=name, media_type=media)
    runs = []
    for (run_id, project, kind, name, status, start_time, end_time, error, spec, code_commit,
         code_dirty, environment, seed, parent_run_id, pid, hostname) in rows:  # fmt: skip
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
                params[run_id],
                tags[run_id],
                metrics[run_id],
                tuple(inputs[run_id]),
                artifacts[run_id],
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
        self.aliases: dict[tuple[str, str], Any] = {}

    def column(self, entity: str, key: str) -> Any:
        if entity == "attributes":
            return RUNS.c[key]
        ident = (entity, key)
        if ident not in self.aliases:
            self.aliases[ident] = _KEYED[entity].alias(f"j{len(self.aliases)}")
        return self.aliases[ident].c.value

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        source: Any = RUNS
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
        return col.is_(None)  # type: ignore[no-any-return]
    if op == "is not null":
        return col.is_not(None)  # type: ignore[no-any-return]
    if op == "in":
        return col.in_(value)  # type: ignore[no-any-return]
    if op == "not in":
        return and_(col.is_not(None), not_(col.in_(value)))
    if op == "like":
        return col.like(value)  # type: ignore[no-any-return]
    if op == "ilike":
        return col.ilike(value)  # type: ignore[no-any-return]
    return {
        "=": col.__eq__, "!=": col.__ne__, "<": col.__lt__, "<=": col.__le__,
        ">": col.__gt__, ">=": col.__ge__,
    }[op](value)  # type: ignore[no-any-return]  # fmt: skip


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
    """The ``SELECT`` of run ids for a search, in order (the runs are loaded after)."""
    joins = _Joins(_required(node))
    stmt = select(RUNS.c.id)
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
    c = SqlMetric.__table__.c
    return (
        select(c.key, c.value, c.is_nan, c.step, c.timestamp)
        .where(c.run_id == run_id, c.key == key)
        .order_by(c.step, c.timestamp, c.id)
    )


def dataset_query() -> Select[Any]:
    """All dataset columns."""
    return select(SqlDataset.__table__)
