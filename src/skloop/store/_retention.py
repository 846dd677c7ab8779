"""Retention of the prediction log: delete old predictions and their labels, in batches.

At a server's ~1,000 requests a second the ``predictions`` table grows by billions of
rows a month; :func:`prune_predictions` deletes the rows made before a cutoff, one
model and one batch at a time (one short transaction per batch, so the server's
ingestion and the readers are never held up for long), with their labels:

- a label given for one prediction (``request_id, row``) goes with it;
- a label given for an entity goes once no prediction of that entity is left.

Each batch walks the ``(model, time)`` index from where the last one stopped (a
``(time, id)`` keyset: nothing deleted is read again, though a PostgreSQL index keeps
its dead entries until vacuumed), finds its labels by probes of their unique keys
(``(model, request_id, row)``, ``(model, entity_id)``) and asks ``(model, entity_id)``
whether an entity has rows left, so that no plan scans a model's rows or labels per
batch (which SQLite, without statistics, chose for the correlated ``EXISTS`` of the
first version: minutes for 200,000 rows). A batch is one :meth:`Database.transact`,
run again where the database asks (a deadlock with an ingestor, a restart). The
models are listed from the per-minute rollups, not the rows.

A loop decision that has not finished (``running``: its process may be between
steps, and its next run resumes it) reads the rows of its windows again; its model's
rows from ``evaluated_at - window`` on are kept, where ``window`` is what the caller
says the model's loop reads back (``protect``; see :func:`skloop.workflows.prune_log`).
A running decision of a model without such a length keeps every row of the model.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, any_, bindparam, delete, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY

from skloop.core import StoreError
from skloop.store._schema_loop import SqlLoopDecision
from skloop.store._schema_predictions import SqlLabel, SqlPrediction
from skloop.store._serving_minutes import MINUTES, minute_of, refresh_minutes

if TYPE_CHECKING:
    from skloop.store._database import Database

__all__ = ["PruneResult", "prune_predictions"]

PREDICTIONS = SqlPrediction
LABELS = SqlLabel
DECISIONS = SqlLoopDecision


@dataclass(frozen=True)
class PruneResult:
    """What a prune deleted (or, with ``dry_run``, would delete).

    Attributes
    ----------
    cutoff : datetime
        Predictions made before this were candidates.
    predictions, labels : int
        Rows deleted (or that would be).
    kept : int
        Predictions older than the cutoff kept for loop decisions still running.
    models : dict of str to int
        Predictions deleted per model.
    dry_run : bool
    """

    cutoff: datetime
    predictions: int
    labels: int
    kept: int
    models: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "cutoff": self.cutoff.isoformat(), "predictions": self.predictions, "labels": self.labels,
            "kept": self.kept, "models": dict(self.models), "dry_run": self.dry_run,
        }  # fmt: skip


def _bounds(db: Database, cutoff: datetime, protect: Mapping[str, timedelta]) -> dict[str, datetime | None]:
    """Per model with a running decision: the time from which its rows are kept (``None``: all)."""
    d = DECISIONS.c
    with db.session("reading the running loop decisions", read=True) as conn:
        running = conn.execute(select(d.name, d.evaluated_at).where(d.status == "running")).all()
    out: dict[str, datetime | None] = {}
    for name, evaluated_at in running:
        length = protect.get(name)
        keep_from = None if length is None else evaluated_at - length
        if name in out:
            earlier = out[name]
            keep_from = None if earlier is None or keep_from is None else min(earlier, keep_from)
        out[name] = keep_from
    return out


_IN = 500  # keys an IN list holds: under any SQLite's limit of bound parameters
Key = tuple[datetime, int]


def _among(column: Any, values: Sequence[Any], dialect: str) -> Any:
    """``column IN values``; on PostgreSQL ``column = ANY(:array)``, one parameter.

    psycopg prepares a statement run a few times, and PostgreSQL then plans it once for
    any parameters: with an ``IN`` list of 500 parameters, that generic plan filtered
    every label of the model against the list (1.6 s a batch at 20,000 labels) where
    one array parameter is probed on the index.
    """
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def _chunks(items: Sequence[Any], dialect: str) -> Iterator[Sequence[Any]]:
    step = len(items) or 1 if dialect == "postgresql" else _IN
    for i in range(0, len(items), step):
        yield items[i : i + step]


def _count_before(conn: Connection, model: str, bound: datetime) -> int:
    p = PREDICTIONS.c
    stmt = select(func.count()).select_from(PREDICTIONS).where(p.model == model, p.time < bound)
    return int(conn.execute(stmt).scalar_one())


def _batch(conn: Connection, model: str, bound: datetime, after: Key | None, size: int) -> list[Row[Any]]:
    """The next ``size`` rows of ``model`` before ``bound`` in ``(time, id)`` order, after the key ``after``.

    Walked on the ``(model, time)`` index from ``after`` on (the redundant ``time >=``
    lets it start there), so no batch reads what an earlier one deleted: a PostgreSQL
    index keeps dead entries until vacuumed.
    """
    p = PREDICTIONS.c
    where = [p.model == model, p.time < bound]
    if after is not None:
        where += [p.time >= after[0], or_(p.time > after[0], p.id > after[1])]
    stmt = select(p.id, p.request_id, p.row, p.entity_id, p.time).where(*where).order_by(p.time, p.id).limit(size)
    rows: list[Row[Any]] = list(conn.execute(stmt).all())  # type: ignore[arg-type]
    return rows


def _row_labels(conn: Connection, model: str, batch: Sequence[Row[Any]]) -> list[int]:
    """Ids of the labels given for the rows of ``batch`` (probes of ``(model, request_id, row)``)."""
    lab = LABELS.c
    keys = {(r.request_id, r.row) for r in batch}
    found: list[int] = []
    dialect = conn.dialect.name
    for part in _chunks(sorted({r.request_id for r in batch}), dialect):
        stmt = select(lab.id, lab.request_id, lab.row).where(lab.model == model, _among(lab.request_id, part, dialect))
        found += [r.id for r in conn.execute(stmt) if (r.request_id, r.row) in keys]
    return found


def _entity_labels(conn: Connection, model: str, entities: Sequence[str]) -> list[tuple[int, str]]:
    lab = LABELS.c
    out: list[tuple[int, str]] = []
    dialect = conn.dialect.name
    for part in _chunks(entities, dialect):
        stmt = select(lab.id, lab.entity_id).where(lab.model == model, _among(lab.entity_id, part, dialect))
        out += [(r.id, r.entity_id) for r in conn.execute(stmt)]
    return out


def _latest(conn: Connection, model: str, entities: Sequence[str]) -> dict[str, datetime]:
    """The newest prediction time of each entity that has any (on the ``(model, entity_id)`` index only)."""
    p = PREDICTIONS.c
    out: dict[str, datetime] = {}
    dialect = conn.dialect.name
    for part in _chunks(entities, dialect):
        stmt = select(p.entity_id, func.max(p.time)).where(p.model == model, _among(p.entity_id, part, dialect))
        out |= {e: t for e, t in conn.execute(stmt.group_by(p.entity_id))}
    return out


def _delete_batch(
    conn: Connection, model: str, bound: datetime, after: Key | None, size: int
) -> tuple[int, int, Key | None]:
    """Delete the next batch of ``model``'s predictions before ``bound`` with their labels; the next key."""
    p, lab = PREDICTIONS.c, LABELS.c
    batch = _batch(conn, model, bound, after, size)
    if not batch:
        return 0, 0, None
    doomed = _row_labels(conn, model, batch)
    entities = sorted({r.entity_id for r in batch if r.entity_id is not None})
    by_entity = _entity_labels(conn, model, entities) if entities else []
    n = 0
    dialect = conn.dialect.name
    for part in _chunks([r.id for r in batch], dialect):
        n += conn.execute(delete(PREDICTIONS).where(_among(p.id, part, dialect))).rowcount
    refresh_minutes(conn, model, [r.time for r in batch])  # the serving page's counts of those minutes
    if by_entity:  # an entity's label goes with its last prediction
        left = _latest(conn, model, [e for _, e in by_entity])
        doomed += [i for i, e in by_entity if e not in left]
    for part in _chunks(doomed, dialect):
        conn.execute(delete(LABELS).where(_among(lab.id, part, dialect)))
    return int(n), len(doomed), (batch[-1].time, batch[-1].id)


def _dry_run(db: Database, model: str, bound: datetime, size: int) -> tuple[int, int]:
    """What :func:`_delete_batch` would delete, batch by batch, deleting nothing."""
    labels: set[int] = set()
    after: Key | None = None
    with db.session(f"counting the old predictions of {model!r}", read=True) as conn:
        n = _count_before(conn, model, bound)
        while batch := _batch(conn, model, bound, after, size):
            labels.update(_row_labels(conn, model, batch))
            entities = sorted({r.entity_id for r in batch if r.entity_id is not None})
            if entities:
                latest = _latest(conn, model, entities)
                labels.update(i for i, e in _entity_labels(conn, model, entities) if latest[e] < bound)
            after = (batch[-1].time, batch[-1].id)
    return n, len(labels)


def prune_predictions(
    db: Database,
    cutoff: datetime,
    *,
    protect: Mapping[str, timedelta] | None = None,
    dry_run: bool = False,
    batch_size: int = 5_000,
) -> PruneResult:
    """Delete the predictions made before ``cutoff`` and their labels (see the module docstring).

    Parameters
    ----------
    db : Database
    cutoff : datetime
        Timezone-aware; predictions made strictly before it go.
    protect : mapping of str to timedelta, optional
        Per model, how far back from a running decision's ``evaluated_at`` its loop
        reads; those rows are kept. A running decision of a model not in it keeps
        all of that model's rows.
    dry_run : bool
        Count, delete nothing.
    batch_size : int
        Predictions per transaction.

    Returns
    -------
    PruneResult
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise StoreError(f"batch_size must be a positive integer, given {batch_size!r}")
    bounds = _bounds(db, cutoff, protect or {})
    m = MINUTES.c  # the rollups name every model and minute of the log: a small table to ask
    with db.session("listing the models with old predictions", read=True) as conn:
        found = select(m.model).where(m.minute <= minute_of(cutoff)).distinct().order_by(m.model)
        models = [r[0] for r in conn.execute(found)]
    deleted: dict[str, int] = {}
    total_labels = kept = 0
    for model in models:
        bound: datetime | None = cutoff
        if model in bounds:
            keep_from = bounds[model]
            bound = None if keep_from is None else min(cutoff, keep_from)
        if bound is None or bound < cutoff:
            with db.session(f"counting the old predictions of {model!r}", read=True) as conn:
                everything = _count_before(conn, model, cutoff)
                kept += everything - (_count_before(conn, model, bound) if bound is not None else 0)
        if bound is None:
            continue
        if dry_run:
            n, labels = _dry_run(db, model, bound, batch_size)
        else:
            n = labels = 0
            after: Key | None = None
            while True:
                rows, batch_labels, after = db.transact(
                    f"deleting old predictions of {model!r}",
                    partial(_delete_batch, model=model, bound=bound, after=after, size=batch_size),
                )
                n, labels = n + rows, labels + batch_labels
                if after is None or rows < batch_size:
                    break
        if n:
            deleted[model] = n
        total_labels += labels
    return PruneResult(
        cutoff=cutoff, predictions=sum(deleted.values()), labels=total_labels, kept=kept, models=deleted,
        dry_run=dry_run,
    )  # fmt: skip
