"""The bulk path of the prediction log: many rows a statement, no per-row SQLAlchemy work.

:meth:`~skloop.store.PredictionStore.insert_predictions` checks each record into a
tuple of values (:func:`~skloop.store._predictions.prediction_values`: the JSON
already text, by orjson) and hands them to the driver as they are:

- SQLite: one prepared ``INSERT ... ON CONFLICT (request_id, row) DO NOTHING`` run by
  ``executemany`` (times written as SQLAlchemy writes them, ``YYYY-MM-DD HH:MM:SS.ffffff``);
- PostgreSQL (psycopg): ``COPY`` into a temporary table, then one
  ``INSERT ... SELECT ... ORDER BY ... ON CONFLICT DO NOTHING``, so that ids follow the
  records' order and a replayed record is skipped, as on SQLite.

Either way the count of new rows is the driver's row count, and a re-ingested
segment inserts nothing (``(request_id, row)`` is unique). Other drivers take
SQLAlchemy Core's ``executemany``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from skloop.store._database import Database

__all__ = ["ROW_COLUMNS", "insert_values", "sqlite_time"]

ROW_COLUMNS = (
    "request_id", "correlation_id", "row", "time", "model", "version", "entity_id", "prediction", "inputs",
    "outputs", "flags",
)  # fmt: skip
"""The columns of :func:`~skloop.store._predictions.prediction_values`, in its order."""
_QUOTED = ", ".join(f'"{c}"' for c in ROW_COLUMNS)
_CONFLICT = 'ON CONFLICT (request_id, "row") DO NOTHING'
_SQLITE_INSERT = f"INSERT INTO predictions ({_QUOTED}) VALUES ({', '.join('?' * len(ROW_COLUMNS))}) {_CONFLICT}"
_STAGE = "skloop_prediction_stage"
_PG_STAGE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} (ord bigint, request_id text, correlation_id text, "
    '"row" integer, "time" timestamptz, model text, version integer, entity_id text, prediction text, '
    "inputs text, outputs text, flags text) ON COMMIT DELETE ROWS"
)
_PG_COPY = f"COPY {_STAGE} (ord, {_QUOTED}) FROM STDIN"
_PG_INSERT = (
    f'INSERT INTO predictions ({_QUOTED}) SELECT request_id, correlation_id, "row", "time", model, version, '
    f"entity_id, prediction, inputs::json, outputs::json, flags::json FROM {_STAGE} ORDER BY ord {_CONFLICT}"
)
_CHUNK = 1_000


@lru_cache(maxsize=256)  # a request's rows share their time
def sqlite_time(value: datetime) -> str:
    """A UTC datetime as SQLAlchemy's SQLite ``DateTime`` stores it (always with microseconds)."""
    return value.isoformat(" ", "microseconds")[:26]


def insert_values(db: Database, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> int:
    """Insert ``rows`` (values in :data:`ROW_COLUMNS`' order, UTC times) unless stored; return how many were new."""
    dialect = conn.dialect
    if dialect.name == "sqlite":
        result = conn.exec_driver_sql(_SQLITE_INSERT, [(*r[:3], sqlite_time(r[3]), *r[4:]) for r in rows])
        return max(result.rowcount, 0)
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        return _copy(conn, rows)
    return _core(db, conn, rows)


def _copy(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> int:
    import psycopg

    conn.exec_driver_sql(_PG_STAGE)
    raw: Any = conn.connection.dbapi_connection
    try:
        with raw.cursor() as cursor, cursor.copy(_PG_COPY) as copy:
            for i, row in enumerate(rows):
                copy.write_row((i, *row))
    except psycopg.Error as exc:  # as SQLAlchemy would have raised it
        raise DBAPIError.instance(_PG_COPY, None, exc, psycopg.Error) from exc
    inserted = conn.exec_driver_sql(_PG_INSERT).rowcount
    conn.exec_driver_sql(f"TRUNCATE {_STAGE}")  # a later batch in the same transaction starts empty
    return max(inserted, 0)


def _core(db: Database, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> int:
    import json

    from skloop.store._schema_predictions import SqlPrediction

    table = SqlPrediction
    stmt = db.insert(table).on_conflict_do_nothing(index_elements=["request_id", "row"]).returning(table.c.id)
    records = [
        {c: (json.loads(v) if c in ("inputs", "outputs", "flags") and v is not None else v)
         for c, v in zip(ROW_COLUMNS, row, strict=True)}
        for row in rows
    ]  # fmt: skip
    return sum(len(conn.execute(stmt, records[i : i + _CHUNK]).all()) for i in range(0, len(records), _CHUNK))
