"""Prepared write statements and row shaping for the hot paths of the store.

The statements are built once per dialect and reused, so a per-call write costs one
round trip and no SQL compilation. Upserts use ``INSERT ... ON CONFLICT``, which both
SQLite (3.24+) and PostgreSQL understand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Insert, Table, or_

from skloop.core import StoreError
from skloop.store._schema import (
    SqlArtifact,
    SqlDataset,
    SqlLatestMetric,
    SqlMetric,
    SqlParam,
    SqlRunInput,
    SqlTag,
)

__all__ = [
    "MAX_KEY",
    "METRIC_COLUMNS",
    "MetricRow",
    "Statements",
    "check_key",
    "check_value",
    "dialect_insert",
    "driver_sql",
    "latest_rows",
    "metric_rows",
    "param_rows",
    "tag_rows",
    "to_millis",
]

MAX_KEY = 250
#: ``(run_id, key, value, step, timestamp_ms)``
MetricRow = tuple[str, str, float, int, int]


def to_millis(when: datetime | float | int) -> int:
    """Milliseconds since the epoch for a datetime (naive means UTC) or a number of ms."""
    if isinstance(when, datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return int(when.timestamp() * 1000)
    return int(when)


def check_key(key: object, what: str) -> str:
    """``key`` if it is a usable name, else a StoreError naming it."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        raise StoreError(f"{what} names must be non-empty strings of at most {MAX_KEY} characters, given {key!r}")
    return key


def check_value(key: str, value: object) -> float:
    """``value`` as a float, else a StoreError naming the metric."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise StoreError(
            f"metric {key!r} must be a number, given {value!r} ({type(value).__name__}); "
            "log text as a tag or a param instead"
        ) from None


def metric_rows(rows: Iterable[MetricRow]) -> list[tuple[Any, ...]]:
    """``(run_id, key, value, is_nan, step, timestamp)`` tuples; NaN becomes NULL + is_nan."""
    out = []
    for run_id, key, value, step, ts in rows:
        nan = value != value  # NaN is the only float unequal to itself
        out.append((run_id, key, None if nan else value, nan, step, ts))
    return out


def latest_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The latest row of each (run, key): highest step, then latest time, then last logged."""
    latest: dict[tuple[str, str], tuple[Any, ...]] = {}
    for row in rows:
        ident = (row[0], row[1])
        old = latest.get(ident)
        if old is None or (row[4], row[5]) >= (old[4], old[5]):
            latest[ident] = row
    return list(latest.values())


_METRIC_COLUMNS = 'run_id, key, value, is_nan, step, "timestamp"'
METRIC_COLUMNS = _METRIC_COLUMNS
"""The columns of a metric row, in the order of :func:`metric_rows` (for ``COPY`` too)."""
_METRIC_SQL = f"INSERT INTO metrics ({_METRIC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
_LATEST_SQL = (
    f"INSERT INTO latest_metrics ({_METRIC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, "
    'is_nan = excluded.is_nan, step = excluded.step, "timestamp" = excluded."timestamp" '
    "WHERE excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step "
    'AND excluded."timestamp" >= latest_metrics."timestamp")'
)
_PARAM_SQL = "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO NOTHING"


def driver_sql(sql: str, dialect: str) -> str:
    """``sql`` written with ``?`` placeholders, in the driver's placeholder style."""
    return sql if dialect == "sqlite" else sql.replace("?", "%s")


def dialect_insert(dialect: str, table: Any) -> Any:
    """``INSERT`` for ``table`` in ``dialect``, with ``ON CONFLICT`` clauses (SQLite or PostgreSQL).

    Each dialect's module is imported here, when a store on it first writes: PostgreSQL's
    (with its async drivers' modules, ~19 ms) is not for a SQLite store.
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)
    raise StoreError(f"the {dialect!r} database is not supported; use SQLite or PostgreSQL")


@dataclass(frozen=True)
class Statements:
    """Write statements for one SQL dialect.

    Inserts that may be no-ops return what they inserted, because a driver's
    ``rowcount`` is not reliable for ``ON CONFLICT DO NOTHING`` (psycopg through
    SQLAlchemy reports -1).
    """

    insert_param: Insert
    upsert_tag: Insert
    insert_metric: Insert
    upsert_latest: Insert
    # the hot paths, as driver-level SQL: executemany with no per-row processing
    metric_sql: str
    latest_sql: str
    param_sql: str
    insert_dataset: Insert
    insert_input: Insert
    insert_artifact: Insert

    @classmethod
    def for_dialect(cls, dialect: str) -> Statements:
        """Build the statements for ``dialect`` (``sqlite`` or ``postgresql``)."""

        def ins(table: Table) -> Any:
            return dialect_insert(dialect, table)

        tag = ins(SqlTag)
        latest = ins(SqlLatestMetric)
        current = SqlLatestMetric.c
        new = latest.excluded
        return cls(
            insert_param=ins(SqlParam)
            .on_conflict_do_nothing(index_elements=["run_id", "key"])
            .returning(SqlParam.c.key),
            upsert_tag=tag.on_conflict_do_update(index_elements=["run_id", "key"], set_={"value": tag.excluded.value}),
            insert_metric=SqlMetric.insert(),
            upsert_latest=latest.on_conflict_do_update(
                index_elements=["run_id", "key"],
                set_={
                    "value": new.value,
                    "is_nan": new.is_nan,
                    "step": new.step,
                    "timestamp": new.timestamp,
                },
                where=or_(
                    new.step > current.step,
                    (new.step == current.step) & (new.timestamp >= current.timestamp),
                ),
            ),
            metric_sql=driver_sql(_METRIC_SQL, dialect),
            latest_sql=driver_sql(_LATEST_SQL, dialect),
            param_sql=driver_sql(_PARAM_SQL, dialect),
            insert_dataset=ins(SqlDataset)
            .on_conflict_do_nothing(index_elements=["fingerprint"])
            .returning(SqlDataset.c.fingerprint),
            insert_input=ins(SqlRunInput).on_conflict_do_nothing(index_elements=["run_id", "fingerprint", "role"]),
            insert_artifact=ins(SqlArtifact)
            .on_conflict_do_nothing(index_elements=["run_id", "name"])
            .returning(SqlArtifact.c.name),
        )


def param_rows(run_id: str, params: Mapping[str, object]) -> list[tuple[str, str, str]]:
    """``(run_id, key, value)`` rows for the ``params`` table; values are stored as text."""
    return [(run_id, check_key(k, "param"), str(v)) for k, v in params.items()]


def tag_rows(run_id: str, tags: Mapping[str, object]) -> list[dict[str, Any]]:
    """Rows for the ``tags`` table; values are stored as text."""
    return [{"run_id": run_id, "key": check_key(k, "tag"), "value": str(v)} for k, v in tags.items()]
