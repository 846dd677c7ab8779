"""Per-minute rollups of the prediction log, kept at ingestion, read by the serving page.

``prediction_minutes`` holds, per model, minute and version, the requests, rows and
flagged rows logged and the minute's first and last prediction;
``prediction_flag_minutes`` how many flags of each (column, problem) the minute's rows
carry (migration ``0013``). :func:`add_minutes` adds the rows an insert actually wrote
(in its transaction: a replayed batch adds nothing), :func:`refresh_minutes` recounts
minutes from the rows after a delete (retention). :mod:`skloop.store._serving_stats`
reads whole minutes of a window from here and only the window's partial minutes at
its edges from the rows, so the serving page costs the same at a million logged rows as
at a thousand (a ``GROUP BY`` over a million rows took 5 to 12 s on this machine).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, case, cast, delete, func, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from skloop.store._schema_predictions import NO_VERSION, SqlFlagMinute, SqlPrediction, SqlPredictionMinute

__all__ = [
    "FLAG_MINUTES",
    "MINUTES",
    "add_minutes",
    "count_new_rows",
    "epoch_seconds",
    "flag_digest",
    "minute_of",
    "refresh_minutes",
]

PREDICTIONS = SqlPrediction
MINUTES = SqlPredictionMinute
FLAG_MINUTES = SqlFlagMinute


def epoch_seconds(dialect: str) -> ColumnElement[Any]:
    """Whole seconds since the epoch of ``predictions.time``, in SQL, typed as an integer.

    Typed so that ``//`` is SQL's integer division (``FLOOR`` is no SQLite built-in).
    """
    if dialect == "sqlite":  # stored as naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'
        if sqlite3.sqlite_version_info >= (3, 38, 0):  # unixepoch() parses about 3 times faster than strftime()
            return cast(func.unixepoch(PREDICTIONS.c.time), BigInteger)
        return cast(func.strftime(literal_column("'%s'"), PREDICTIONS.c.time), BigInteger)
    return cast(func.floor(func.extract("epoch", PREDICTIONS.c.time)), BigInteger)


def minute_of(time: datetime) -> int:
    """The start of ``time``'s minute, in seconds since the epoch (as SQL's ``epoch_seconds // 60 * 60``)."""
    if time.tzinfo is None:
        time = time.replace(tzinfo=UTC)
    return int(time.timestamp()) // 60 * 60


def _text(value: Any) -> str | None:
    """A flag's field as SQL reads it out of the JSON (text; ``None`` when absent)."""
    return value if value is None or isinstance(value, str) else json.dumps(value)


def _fields(item: Any) -> tuple[str | None, str | None]:
    """A flag's (column, problem), as SQL reads them from a JSON element (``None`` from a non-object)."""
    if not isinstance(item, dict):
        return None, None
    return _text(item.get("column")), _text(item.get("problem"))


def flag_digest(column: str | None, problem: str | None) -> str:
    """The key of a (column, problem) pair in ``prediction_flag_minutes``."""
    return hashlib.blake2b(json.dumps([column, problem]).encode(), digest_size=16).hexdigest()


def _upsert(dialect: str, table: Any, keys: list[str], adds: list[str], rows: list[dict[str, Any]]) -> Any:
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    least, greatest = (func.least, func.greatest) if dialect == "postgresql" else (func.min, func.max)
    updates: dict[str, Any] = {c: table.c[c] + ins.excluded[c] for c in adds}
    if "first" in table.c:
        updates |= {"first": least(table.c.first, ins.excluded.first),
                    "last": greatest(table.c.last, ins.excluded.last)}  # fmt: skip
    return ins.on_conflict_do_update(index_elements=keys, set_=updates), rows


def add_minutes(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Count newly inserted ``predictions`` rows (as :func:`prediction_row` makes them) into the rollups."""
    minutes: dict[tuple[str, int, int], dict[str, Any]] = {}
    flagged: list[Mapping[str, Any]] = []
    for row in rows:
        model, time = row["model"], row["time"]
        minute = minute_of(time)
        version = NO_VERSION if row["version"] is None else row["version"]
        m = minutes.get((model, minute, version))
        if m is None:
            m = minutes[(model, minute, version)] = {
                "model": model, "minute": minute, "version": version, "requests": 0, "rows": 0, "flagged": 0,
                "first": time, "last": time,
            }  # fmt: skip
        m["requests"] += row["row"] == 0
        m["rows"] += 1
        m["first"], m["last"] = min(m["first"], time), max(m["last"], time)
        if row["flags"] is not None:
            m["flagged"] += 1
            flagged.append(row)
    dialect = conn.dialect.name
    if minutes:
        conn.execute(*_upsert(dialect, MINUTES, ["model", "minute", "version"], ["requests", "rows", "flagged"],
                              list(minutes.values())))  # fmt: skip
    _add_flags(conn, flagged)


def _minute_expr(dialect: str) -> ColumnElement[Any]:
    sixty = literal_column("60", BigInteger)
    return (epoch_seconds(dialect) // sixty) * sixty


def refresh_minutes(conn: Connection, model: str | None = None, times: Iterable[datetime] = ()) -> None:
    """Recount the rollups of ``model``'s minutes holding ``times`` from the rows (all of them: ``model=None``)."""
    dialect = conn.dialect.name
    p = PREDICTIONS.c
    where: list[ColumnElement[bool]] = []
    bounds: tuple[int, int] | None = None
    if model is not None:
        spans = [minute_of(t) for t in times]
        if not spans:
            return
        bounds = (min(spans), max(spans) + 60)
        lo, hi = (datetime.fromtimestamp(b, UTC) for b in bounds)
        where = [p.model == model, p.time >= lo, p.time < hi]
    for table in (MINUTES, FLAG_MINUTES):
        stmt = delete(table)
        if model is not None and bounds is not None:
            stmt = stmt.where(table.c.model == model, table.c.minute >= bounds[0], table.c.minute < bounds[1])
        conn.execute(stmt)
    minute = _minute_expr(dialect).label("minute")
    version = func.coalesce(p.version, NO_VERSION).label("version")
    counted = (
        select(p.model, minute, version, func.sum(case((p.row == 0, 1), else_=0)), func.count(),
               func.count(p.flags), func.min(p.time), func.max(p.time))
        .where(*where)
        .group_by(p.model, minute, version)
    )  # fmt: skip
    conn.execute(MINUTES.insert().from_select(
        ["model", "minute", "version", "requests", "rows", "flagged", "first", "last"], counted))  # fmt: skip
    # the flags: few rows carry any, so they are read and counted here, with the same rules as at ingestion
    flagged = select(p.model, p.time, p.flags).where(*where, p.flags.is_not(None))
    rows = ({"model": r.model, "time": r.time, "version": None, "row": 1, "flags": r.flags}
            for r in conn.execute(flagged))  # fmt: skip
    _add_flags(conn, rows)


def _add_flags(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Only the flag rollup of :func:`add_minutes` (the minutes were recounted in SQL)."""
    flags: dict[tuple[str, int, str], dict[str, Any]] = {}

    def write() -> None:
        conn.execute(*_upsert(conn.dialect.name, FLAG_MINUTES, ["model", "minute", "flag"], ["count"],
                              list(flags.values())))  # fmt: skip

    for row in rows:
        items = row["flags"]
        if isinstance(items, str):
            items = json.loads(items)
        for item in items or ():
            column, problem = _fields(item)
            digest = flag_digest(column, problem)
            key = (row["model"], minute_of(row["time"]), digest)
            f = flags.get(key)
            if f is None:
                f = flags[key] = {"model": key[0], "minute": key[1], "flag": digest, "column": column,
                                  "problem": problem, "count": 0}  # fmt: skip
            f["count"] += 1
        if len(flags) >= 5_000:  # bounded memory when recounting a whole log
            write()
            flags.clear()
    if flags:
        write()


def count_new_rows(conn: Connection, rows: Sequence[tuple[Any, ...]], inserted: int) -> None:
    """The serving page's per-minute counts of the rows just written (a replayed batch adds nothing).

    The bulk insert says how many rows were new, not which: when every distinct key was
    new (the usual case; a key twice in the batch is written the first time), they are
    counted here; when only some were, the minutes they fall in are recounted from the rows.
    """
    from skloop.store._prediction_bulk import ROW_COLUMNS

    if inserted <= 0:
        return
    firsts = {(r[0], r[2]): r for r in reversed(rows)}
    if inserted == len(firsts):
        add_minutes(conn, (dict(zip(ROW_COLUMNS, r, strict=True)) for r in firsts.values()))
        return
    by_model: dict[str, list[datetime]] = {}
    for r in firsts.values():
        by_model.setdefault(r[4], []).append(r[3])
    for model, times in by_model.items():
        refresh_minutes(conn, model, times)
