"""Retention of the prediction log: delete old predictions and their labels, in batches.

At a server's ~1,000 requests a second the ``predictions`` table grows by billions of
rows a month; :func:`prune_predictions` deletes the rows made before a cutoff, one
model and one batch at a time (one short transaction per batch, so the server's
ingestion and the readers are never held up for long), with their labels:

- a label given for one prediction (``request_id, row``) goes with it;
- a label given for an entity goes once no prediction of that entity is left.

A loop decision that has not finished (``running``: its process may be between
steps, and its next run resumes it) reads the rows of its windows again; its model's
rows from ``evaluated_at - window`` on are kept, where ``window`` is what the caller
says the model's loop reads back (``protect``; see :func:`skloop.workflows.prune_log`).
A running decision of a model without such a length keeps every row of the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, exists, func, select

from skloop.core import StoreError
from skloop.store._schema import table_of
from skloop.store._schema_loop import SqlLoopDecision
from skloop.store._schema_predictions import SqlLabel, SqlPrediction
from skloop.store._serving_minutes import refresh_minutes

if TYPE_CHECKING:
    from skloop.store._database import Database

__all__ = ["PruneResult", "prune_predictions"]

PREDICTIONS = table_of(SqlPrediction)
LABELS = table_of(SqlLabel)
DECISIONS = table_of(SqlLoopDecision)


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


def _old(model: str, bound: datetime) -> Any:
    p = PREDICTIONS.c
    return and_(p.model == model, p.time < bound)


def _count(db: Database, model: str, bound: datetime) -> tuple[int, int]:
    """Predictions of ``model`` before ``bound``, and the labels that would go with them."""
    p, lab = PREDICTIONS.c, LABELS.c
    newer = PREDICTIONS.alias("newer")
    by_row = exists().where(_old(model, bound), p.request_id == lab.request_id, p.row == lab.row)
    by_entity = and_(
        exists().where(_old(model, bound), p.entity_id == lab.entity_id),
        ~exists().where(newer.c.model == model, newer.c.entity_id == lab.entity_id, newer.c.time >= bound),
    )
    with db.session(f"counting the old predictions of {model!r}", read=True) as conn:
        n = int(conn.execute(select(func.count()).select_from(PREDICTIONS).where(_old(model, bound))).scalar_one())
        rows = select(func.count()).select_from(LABELS).where(lab.model == model, lab.request_id.is_not(None), by_row)
        entities = select(func.count()).select_from(LABELS).where(lab.model == model, lab.entity_id.is_not(None),
                                                                  by_entity)  # fmt: skip
        labels = int(conn.execute(rows).scalar_one()) + int(conn.execute(entities).scalar_one())
    return n, labels


def _delete_batch(db: Database, model: str, bound: datetime, batch_size: int) -> tuple[int, int]:
    """Delete one batch of ``model``'s predictions before ``bound`` with their labels."""
    p, lab = PREDICTIONS.c, LABELS.c
    with db.session(f"deleting old predictions of {model!r}") as conn:
        batch = conn.execute(
            select(p.id, p.entity_id, p.time).where(_old(model, bound)).order_by(p.id).limit(batch_size)
        ).all()
        if not batch:
            return 0, 0
        ids = [r.id for r in batch]
        entities = sorted({r.entity_id for r in batch if r.entity_id is not None})
        mine = exists().where(p.id.in_(ids), p.request_id == lab.request_id, p.row == lab.row)
        labels = conn.execute(delete(LABELS).where(lab.model == model, lab.request_id.is_not(None), mine)).rowcount
        n = conn.execute(delete(PREDICTIONS).where(p.id.in_(ids))).rowcount
        refresh_minutes(conn, model, [r.time for r in batch])  # the serving page's counts of those minutes
        if entities:
            left = exists().where(p.model == model, p.entity_id == lab.entity_id)
            labels += conn.execute(
                delete(LABELS).where(lab.model == model, lab.entity_id.in_(entities), ~left)
            ).rowcount
    return int(n), int(labels)


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
    p = PREDICTIONS.c
    bounds = _bounds(db, cutoff, protect or {})
    with db.session("listing the models with old predictions", read=True) as conn:
        models = [r[0] for r in conn.execute(select(p.model).where(p.time < cutoff).distinct().order_by(p.model))]
    deleted: dict[str, int] = {}
    total_labels = kept = 0
    for model in models:
        bound: datetime | None = cutoff
        if model in bounds:
            keep_from = bounds[model]
            bound = None if keep_from is None else min(cutoff, keep_from)
        if bound is None or bound < cutoff:
            everything = _count(db, model, cutoff)[0]
            kept += everything - (_count(db, model, bound)[0] if bound is not None else 0)
        if bound is None:
            continue
        if dry_run:
            n, labels = _count(db, model, bound)
        else:
            n = labels = 0
            while True:
                rows, batch_labels = _delete_batch(db, model, bound, batch_size)
                n, labels = n + rows, labels + batch_labels
                if rows < batch_size:
                    break
        if n:
            deleted[model] = n
        total_labels += labels
    return PruneResult(
        cutoff=cutoff, predictions=sum(deleted.values()), labels=total_labels, kept=kept, models=deleted,
        dry_run=dry_run,
    )  # fmt: skip
