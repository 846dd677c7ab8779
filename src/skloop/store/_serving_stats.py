"""Served traffic from the prediction log, aggregated in SQL: ``store.predictions.serving_stats``.

The log may hold millions of rows, so nothing here reads rows one by one: one query
finds the window's span (its first and last time, from the ends of
``ix_predictions_model_time``), one ``GROUP BY`` a time bucket and a version counts
each bucket (the totals and the versions' spans are summed from its groups), one the
flagged rows of each bucket, and, when rows were flagged, one counts the flags by
column and problem (the JSON array of each flagged row unnested: ``json_each`` on
SQLite, ``json_array_elements`` on PostgreSQL).

Each reads an index only (migration ``0012``): the buckets
``ix_predictions_model_time_version_row``, which covers what they read of a row, in
time order; the flagged rows ``ix_predictions_model_flagged``, partial on the rows
with flags (a few percent of the log), which the flags' count starts from too.

A request is counted once, by its row ``0``: the server numbers a request's rows from
``0`` and gives them one time, so a request lies in one bucket and counting its first
row counts it, without a ``COUNT(DISTINCT ...)``. A bucket's size is chosen from the
span (:func:`bucket_size`); buckets start at multiples of their size since the epoch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, case, func, literal_column, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from skloop.core import StoreError
from skloop.store._schema_predictions import NO_VERSION, SqlPrediction
from skloop.store._serving_minutes import FLAG_MINUTES, MINUTES, epoch_seconds

if TYPE_CHECKING:
    from skloop.store._database import Database

__all__ = [
    "BUCKET_SIZES",
    "DEFAULT_MAX_BUCKETS",
    "FlagCount",
    "ServingStats",
    "TrafficBucket",
    "VersionSpan",
    "VersionSwap",
    "bucket_size",
    "serving_stats",
]

PREDICTIONS = SqlPrediction

BUCKET_SIZES = (1, 5, 10, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)
"""The bucket sizes to choose from, in seconds (1 s to a week)."""
DEFAULT_MAX_BUCKETS = 120
"""At most this many buckets over a window (the smallest size that fits is chosen)."""
MAX_FLAG_GROUPS = 50
"""The flag table keeps the most frequent (column, problem) pairs."""


@dataclass(frozen=True)
class TrafficBucket:
    """One time bucket of one version: ``[start, start + size)``.

    Attributes
    ----------
    start : datetime
        The bucket's start (UTC).
    version : int or None
        The model version that answered (``None`` when the log has none).
    requests, rows, flagged_rows : int
        Requests, scored rows, and rows with at least one validation flag.
    first, last : datetime
        The first and last prediction of this version in this bucket.
    """

    start: datetime
    version: int | None
    requests: int
    rows: int
    flagged_rows: int
    first: datetime
    last: datetime


@dataclass(frozen=True)
class VersionSpan:
    """When a version answered: its first and last logged prediction, and its totals."""

    version: int | None
    first: datetime
    last: datetime
    requests: int
    rows: int


@dataclass(frozen=True)
class VersionSwap:
    """Where the version answering most rows of a bucket changed (a hot swap or a rollback).

    ``time`` is the first prediction of ``to_version`` in the bucket where it took over.
    """

    time: datetime
    from_version: int | None
    to_version: int | None


@dataclass(frozen=True)
class FlagCount:
    """How many flags of one column and problem the window's rows carry."""

    column: str
    problem: str
    count: int


@dataclass(frozen=True)
class ServingStats:
    """The prediction log of one model over a window, aggregated (see the module docstring).

    Attributes
    ----------
    model : str
    start, end : datetime or None
        The first and last logged prediction in the window (``None`` when it is empty).
    bucket_seconds : int
        The size of the buckets.
    requests, rows, flagged_rows : int
        Totals over the window.
    buckets : tuple of TrafficBucket
        Non-empty (bucket, version) groups, oldest first, then by version.
    versions : tuple of VersionSpan
        Every version seen, by first prediction.
    swaps : tuple of VersionSwap
        Changes of the bucket's main version, oldest first.
    flags : tuple of FlagCount
        The most frequent flags, most frequent first.
    """

    model: str
    start: datetime | None
    end: datetime | None
    bucket_seconds: int
    requests: int
    rows: int
    flagged_rows: int
    buckets: tuple[TrafficBucket, ...]
    versions: tuple[VersionSpan, ...]
    swaps: tuple[VersionSwap, ...]
    flags: tuple[FlagCount, ...]

    @property
    def empty(self) -> bool:
        """Whether the window holds no logged prediction."""
        return self.rows == 0


def bucket_size(span_seconds: float, max_buckets: int = DEFAULT_MAX_BUCKETS) -> int:
    """The smallest of :data:`BUCKET_SIZES` that covers ``span_seconds`` in ``max_buckets`` buckets.

    Examples
    --------
    >>> bucket_size(0), bucket_size(90), bucket_size(3600), bucket_size(86400), bucket_size(10**9)
    (1, 1, 60, 900, 604800)
    """
    if max_buckets < 1:
        raise StoreError(f"max_buckets must be at least 1, given {max_buckets!r}")
    for size in BUCKET_SIZES:
        if span_seconds / size < max_buckets:
            return size
    return BUCKET_SIZES[-1]


def _from_epoch(seconds: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=int(seconds))


def _as_utc(value: Any) -> datetime:
    """A datetime read from an aggregate (SQLite returns ``MIN(time)`` as text, no zone)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise StoreError(f"expected a time from the predictions table, read {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _swaps(buckets: Sequence[TrafficBucket]) -> tuple[VersionSwap, ...]:
    """Where the version answering most rows of a bucket changes from the previous bucket's."""
    main: dict[datetime, TrafficBucket] = {}
    for b in buckets:
        best = main.get(b.start)
        if best is None or b.rows > best.rows:
            main[b.start] = b
    swaps, previous = [], None
    for start in sorted(main):
        b = main[start]
        if previous is not None and b.version != previous:
            swaps.append(VersionSwap(time=b.first, from_version=previous, to_version=b.version))
        previous = b.version
    return tuple(swaps)


def _versions(buckets: Sequence[TrafficBucket]) -> tuple[VersionSpan, ...]:
    """Each version's first and last prediction and totals, summed from its buckets."""
    spans: dict[int | None, VersionSpan] = {}
    for b in buckets:
        s = spans.get(b.version)
        spans[b.version] = (
            VersionSpan(b.version, b.first, b.last, b.requests, b.rows)
            if s is None
            else VersionSpan(b.version, min(s.first, b.first), max(s.last, b.last), s.requests + b.requests,
                             s.rows + b.rows)
        )  # fmt: skip
    return tuple(sorted(spans.values(), key=lambda v: (v.first, v.version or 0)))


def _raw_flags(db: Database, where: list[ColumnElement[bool]], limit: int | None) -> list[tuple[Any, Any, int]]:
    """(column, problem, count) of the flags of the rows in ``where``, the most frequent first."""
    p = PREDICTIONS.c
    column: ColumnElement[Any]
    problem: ColumnElement[Any]
    if db.dialect == "sqlite":
        items = func.json_each(p.flags).table_valued("value").alias("f")
        column = func.json_extract(items.c.value, literal_column("'$.column'"))
        problem = func.json_extract(items.c.value, literal_column("'$.problem'"))
    else:
        items = func.json_array_elements(p.flags).table_valued("value").alias("f")
        column = items.c.value.op("->>")(literal_column("'column'"))
        problem = items.c.value.op("->>")(literal_column("'problem'"))
    n = func.count().label("n")
    stmt = (
        select(column.label("column"), problem.label("problem"), n)
        .select_from(PREDICTIONS)
        .join(items, true())
        .where(*where, p.flags.is_not(None))
        .group_by(column, problem)
        .order_by(n.desc(), column, problem)
        .limit(limit)
    )
    with db.session("counting the flags of logged predictions", read=True) as conn:
        return [(r.column, r.problem, int(r.n)) for r in conn.execute(stmt)]


def _flag_counts(db: Database, where: list[ColumnElement[bool]], minutes: _Minutes | None) -> tuple[FlagCount, ...]:
    """The most frequent flags: of the rows in ``where`` (and, with ``minutes``, its whole minutes' rollups)."""
    if minutes is None:
        return tuple(FlagCount(str(c), str(pr), n) for c, pr, n in _raw_flags(db, where, MAX_FLAG_GROUPS))
    counts: dict[tuple[Any, Any], int] = {}
    if minutes.edges is not None:
        for c, pr, n in _raw_flags(db, [*where, minutes.edges], None):
            counts[(c, pr)] = counts.get((c, pr), 0) + n
    f = FLAG_MINUTES.c
    total = func.sum(f.count).label("n")
    stmt = select(f.column, f.problem, total).where(*minutes.where(FLAG_MINUTES)).group_by(f.flag, f.column, f.problem)
    with db.session("counting the flags of logged predictions by minute", read=True) as conn:
        for c, pr, n in conn.execute(stmt):
            counts[(c, pr)] = counts.get((c, pr), 0) + int(n)
    top = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0][0]), str(kv[0][1])))[:MAX_FLAG_GROUPS]
    return tuple(FlagCount(str(c), str(pr), n) for (c, pr), n in top)


@dataclass(frozen=True)
class _Minutes:
    """The whole minutes of a window, read from the rollups: ``[lo, hi)`` in epoch seconds (None: open)."""

    model: str
    lo: int | None
    hi: int | None
    edges: ColumnElement[bool] | None  # the window's rows outside them (None: there are none)

    def where(self, table: Any) -> list[ColumnElement[bool]]:
        out = [table.c.model == self.model]
        if self.lo is not None:
            out.append(table.c.minute >= self.lo)
        if self.hi is not None:
            out.append(table.c.minute < self.hi)
        return out


def _whole_minutes(model: str, start: datetime | None, end: datetime | None) -> _Minutes | None:
    """The window's whole minutes, or None when it has none (read the rows then)."""
    p = PREDICTIONS.c
    lo = None if start is None else math.ceil((start - _EPOCH).total_seconds() / 60) * 60
    hi = None if end is None else math.floor((end - _EPOCH).total_seconds() / 60) * 60
    if lo is not None and hi is not None and lo >= hi:
        return None
    edges = [c for c in (None if lo is None else p.time < _from_epoch(lo),
                         None if hi is None else p.time >= _from_epoch(hi)) if c is not None]  # fmt: skip
    return _Minutes(model, lo, hi, or_(*edges) if edges else None)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def serving_stats(
    db: Database,
    model: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    max_buckets: int = DEFAULT_MAX_BUCKETS,
    rollups: bool = True,
) -> ServingStats:
    """Requests, rows, flags and versions of ``model``'s logged predictions in ``[start, end)``.

    See :meth:`skloop.store.PredictionStore.serving_stats`. ``rollups=False`` reads every
    row (what the tests compare the rollups with).
    """
    p = PREDICTIONS.c
    where: list[ColumnElement[bool]] = [p.model == model]
    if start is not None:
        where.append(p.time >= start)
    if end is not None:
        where.append(p.time < end)
    is_first = case((p.row == 0, 1), else_=0)
    # two scalar subqueries, each answered from the end of ix_predictions_model_time
    span = select(
        select(func.min(p.time)).where(*where).scalar_subquery(),
        select(func.max(p.time)).where(*where).scalar_subquery(),
    )
    with db.session(f"reading the span of the prediction log of {model!r}", read=True) as conn:
        first, last = conn.execute(span).one()
    if first is None or last is None:
        return ServingStats(model, None, None, BUCKET_SIZES[0], 0, 0, 0, (), (), (), ())
    first, last = _as_utc(first), _as_utc(last)
    size = bucket_size((last - first).total_seconds(), max_buckets)
    # the size inlined, not bound: PostgreSQL matches the GROUP BY expression to the selected one by its text
    width: ColumnElement[Any] = literal_column(str(int(size)), BigInteger)
    bucket = ((epoch_seconds(db.dialect) // width) * width).label("bucket")
    grouped = (
        select(bucket, p.version, func.sum(is_first).label("n_requests"), func.count().label("n_rows"),
               func.min(p.time).label("first"), func.max(p.time).label("last"))
        .where(*where)
        .group_by(bucket, p.version)
    )  # fmt: skip
    flagged_rows = (
        select(bucket, p.version, func.count().label("n_flagged"))
        .where(*where, p.flags.is_not(None))
        .group_by(bucket, p.version)
    )
    # buckets of whole minutes (every size from a minute up) come from the per-minute rollups,
    # and only the window's partial minutes at its ends from the rows
    minutes = _whole_minutes(model, start, end) if size % 60 == 0 and rollups else None
    groups: dict[tuple[int, int | None], list[Any]] = {}

    def add(key: tuple[int, int | None], n_requests: int, n_rows: int, n_flagged: int, first: Any, last: Any) -> None:
        g = groups.get(key)
        first, last = _as_utc(first), _as_utc(last)
        if g is None:
            groups[key] = [n_requests, n_rows, n_flagged, first, last]
        else:
            g[0] += n_requests
            g[1] += n_rows
            g[2] += n_flagged
            g[3], g[4] = min(g[3], first), max(g[4], last)

    raw = None if minutes is None else minutes.edges
    with db.session(f"aggregating the prediction log of {model!r}", read=True) as conn:
        if minutes is None or raw is not None:
            extra = [] if raw is None else [raw]
            n_flagged = {(int(r.bucket), r.version): int(r.n_flagged)
                         for r in conn.execute(flagged_rows.where(*extra))}  # fmt: skip
            for r in conn.execute(grouped.where(*extra)):
                key = (int(r.bucket), r.version)
                add(key, int(r.n_requests), int(r.n_rows), n_flagged.get(key, 0), r.first, r.last)
        if minutes is not None:
            m = MINUTES.c
            mb = ((m.minute // width) * width).label("bucket")
            rolled = (
                select(mb, m.version, func.sum(m.requests).label("n_requests"), func.sum(m.rows).label("n_rows"),
                       func.sum(m.flagged).label("n_flagged"), func.min(m.first).label("first"),
                       func.max(m.last).label("last"))
                .where(*minutes.where(MINUTES))
                .group_by(mb, m.version)
            )  # fmt: skip
            for r in conn.execute(rolled):
                version = None if r.version == NO_VERSION else r.version
                add((int(r.bucket), version), int(r.n_requests), int(r.n_rows), int(r.n_flagged), r.first, r.last)
    nulls_last = db.dialect == "postgresql"  # the order of SQL's ORDER BY bucket, version on each backend
    order = sorted(groups, key=lambda k: (k[0], (k[1] is None) == nulls_last, k[1] or 0))
    buckets = tuple(TrafficBucket(_from_epoch(k[0]), k[1], *groups[k]) for k in order)
    versions = _versions(buckets)
    requests, rows, flagged = (sum(getattr(b, k) for b in buckets) for k in ("requests", "rows", "flagged_rows"))
    flags = _flag_counts(db, where, minutes) if flagged else ()
    return ServingStats(
        model=model, start=first, end=last, bucket_seconds=size, requests=requests, rows=rows,
        flagged_rows=flagged, buckets=buckets, versions=versions, swaps=_swaps(buckets), flags=flags,
    )  # fmt: skip
