"""The predictions part of the store: logged predictions and their labels.

Predictions arrive from the prediction log (:mod:`skloop.serve._ingest`), possibly more
than once (a crash between inserting and moving the log's checkpoint replays a
batch): :meth:`PredictionStore.insert_predictions` skips rows whose
``(request_id, row)`` is already stored, so ingestion is idempotent.

Labels are keyed by entity id or by ``(request_id, row)``; a later label for the same
key replaces the earlier one. A prediction's label is the one given for the prediction
itself, else the one given for its entity. Entity ids, labels and predicted values are
compared as text; integral floats are written without their ``.0`` (an id read as
``42.0`` from a CSV with gaps is ``"42"``, like the served ``42``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Select, and_, func, select, type_coerce
from sqlalchemy.types import NullType

from skloop.core import StoreError, utcnow
from skloop.store._entities import Label, Prediction
from skloop.store._prediction_records import (
    _int_field,
    _text_field,
    as_text,
    parse_time,
    prediction_row,
    prediction_values,
)
from skloop.store._schema_predictions import SqlLabel, SqlPrediction
from skloop.store._serving_minutes import count_new_rows
from skloop.store._serving_stats import DEFAULT_MAX_BUCKETS, ServingStats, serving_stats

if TYPE_CHECKING:
    from skloop.store._database import Database
    from skloop.store._prediction_pages import PageOrder, PredictionPage
    from skloop.store._retention import PruneResult

__all__ = ["PredictionStore", "as_text", "labelled_query", "parse_time", "prediction_row", "prediction_values"]

PREDICTIONS = SqlPrediction
LABELS = SqlLabel
_CHUNK = 1_000
_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
ANALYZE_AFTER = 50_000
"""Predictions inserted at once from which SQLite's planner statistics are refreshed."""
_MAX_TEXT = {"request_id": 100, "correlation_id": 128, "model": 200, "entity_id": 200}


def _prediction_entity(row: Any) -> Prediction:
    return Prediction(
        id=row.id, request_id=row.request_id, row=row.row, time=row.time, model=row.model, version=row.version,
        entity_id=row.entity_id, prediction=row.prediction, inputs=dict(row.inputs or {}),
        outputs=dict(row.outputs or {}), flags=tuple(row.flags or ()), label=row.label, label_time=row.label_time,
        correlation_id=row.correlation_id,
    )  # fmt: skip


def labelled_query(model: str, *columns: Any, raw_times: bool = False) -> tuple[Select[Any], Any]:
    """``columns`` of ``model``'s predictions joined to their labels, and the label's expression.

    The statement adds ``label`` and ``label_time``: a prediction's label is the one
    given for the prediction itself, else the one given for its entity (see this module's docstring).
    ``raw_times``: ``label_time`` as the driver returns it (for a caller parsing a page at once).
    """
    p = PREDICTIONS.c
    by_entity, by_row = LABELS.alias("by_entity"), LABELS.alias("by_row")
    label = func.coalesce(by_row.c.label, by_entity.c.label)
    stmt = (
        select(
            *columns,
            label.label("label"),
            (
                type_coerce(func.coalesce(by_row.c.time, by_entity.c.time), NullType())
                if raw_times
                else func.coalesce(by_row.c.time, by_entity.c.time)
            ).label("label_time"),
        )
        .select_from(
            PREDICTIONS.outerjoin(
                by_entity, and_(by_entity.c.model == p.model, by_entity.c.entity_id == p.entity_id)
            ).outerjoin(
                by_row, and_(by_row.c.model == p.model, by_row.c.request_id == p.request_id, by_row.c.row == p.row)
            )
        )
        .where(p.model == model)
    )
    return stmt, label


class PredictionStore:
    """Logged predictions and their labels: ``store.predictions`` (see the module docstring).

    Parameters
    ----------
    db : Database
        The shared database.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- predictions -------------------------------------------------------------

    def insert_predictions(
        self,
        records: Iterable[Mapping[str, Any]],
        *,
        on_invalid: Callable[[int, Mapping[str, Any], str], None] | None = None,
    ) -> int:
        """Store prediction records, skipping those already stored; return how many were new.

        Parameters
        ----------
        records : iterable of mapping
            Log records: ``request_id`` (str), ``row`` (int), ``time`` (ISO 8601 string
            or datetime), ``model`` (str), and optionally ``correlation_id`` (the
            client's own request id, at most 128 characters), ``version`` (int),
            ``entity_id``, ``inputs`` and ``outputs`` (mappings; the predicted value is
            ``outputs["prediction"]`` unless ``prediction`` is given) and ``flags``;
            or blocks, a request's rows as columns (:func:`block_records` gives their records).
        on_invalid : callable, optional
            Called as ``on_invalid(index, record, message)`` for each invalid record,
            which is then skipped; without it, an invalid record raises.

        Raises
        ------
        StoreError
            When a record lacks a field or has a wrong type (the message names the
            record's position and the field); nothing is stored then.
        """
        from skloop.store._prediction_block import block_values, is_block
        from skloop.store._prediction_bulk import insert_values

        rows = []
        for i, record in enumerate(records):
            try:
                if is_block(record):  # a request's rows, columnar (see skloop.store._prediction_block)
                    rows.extend(block_values(record, i))
                else:
                    rows.append(prediction_values(record, i))
            except StoreError as exc:
                if on_invalid is None:
                    raise
                on_invalid(i, record, str(exc))
        if not rows:
            return 0

        def store(conn: Connection) -> int:
            inserted = insert_values(self._db, conn, rows)
            count_new_rows(conn, rows, inserted)
            return inserted

        # ON CONFLICT DO NOTHING on (request_id, row): a try after an unknown commit stores nothing twice
        inserted = self._db.transact(f"storing {len(rows)} predictions", store, idempotent=True)
        if len(rows) >= ANALYZE_AFTER and self._db.dialect == "sqlite":
            self._analyze()
        return inserted

    def _analyze(self) -> None:
        """Refresh SQLite's statistics of the predictions' indexes after a big insert.

        SQLite has no autovacuum-style ANALYZE: without ``sqlite_stat1`` its planner
        guesses every index equally selective (PostgreSQL's autovacuum analyses on its own).
        """

        def work(conn: Connection) -> Any:
            conn.exec_driver_sql("ANALYZE predictions")

        self._db.transact("refreshing the statistics of the predictions", work, idempotent=True)

    def _prediction_query(
        self,
        model: str,
        start: datetime | str | None,
        end: datetime | str | None,
        labeled: bool | None,
    ) -> Select[Any]:
        p = PREDICTIONS.c
        stmt, label = labelled_query(model, *PREDICTIONS.c)
        if start is not None:
            stmt = stmt.where(p.time >= parse_time(start, "start"))
        if end is not None:
            stmt = stmt.where(p.time < parse_time(end, "end"))
        if labeled is True:
            stmt = stmt.where(label.is_not(None))
        elif labeled is False:
            stmt = stmt.where(label.is_(None))
        return stmt

    def query_predictions(
        self,
        model: str,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        labeled: bool | None = None,
        limit: int | None = None,
    ) -> list[Prediction]:
        """Predictions of ``model`` made in ``[start, end)``, oldest first, with their labels.

        Parameters
        ----------
        model : str
            The model's name.
        start, end : datetime or ISO 8601 str, optional
            The window (``start`` included, ``end`` excluded; naive times are UTC).
        labeled : bool, optional
            ``True``: only labeled predictions; ``False``: only unlabeled ones.
        limit : int, optional
            At most this many (the oldest).
        """
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise StoreError(f"limit must be a positive integer or None, given {limit!r}")
        stmt = self._prediction_query(model, start, end, labeled).order_by(PREDICTIONS.c.time, PREDICTIONS.c.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._db.session(f"reading predictions of {model!r}", read=True) as conn:
            return [_prediction_entity(r) for r in conn.execute(stmt)]

    def iter_predictions(
        self,
        model: str,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        labeled: bool | None = None,
        batch_size: int = 5_000,
    ) -> Iterator[Prediction]:
        """Like :meth:`query_predictions`, in pages of ``batch_size`` (in ingestion order).

        Each page is read in its own short transaction, so a long iteration neither
        holds a connection nor blocks writers.
        """
        last = 0
        while True:
            stmt = (
                self._prediction_query(model, start, end, labeled)
                .where(PREDICTIONS.c.id > last)
                .order_by(PREDICTIONS.c.id)
                .limit(batch_size)
            )
            with self._db.session(f"reading predictions of {model!r}", read=True) as conn:
                page = [_prediction_entity(r) for r in conn.execute(stmt)]
            yield from page
            if len(page) < batch_size:
                return
            last = page[-1].id

    def iter_pages(
        self,
        model: str,
        *,
        version: int | None = None,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        labeled: bool | None = None,
        page_size: int | None = 10_000,
        order: PageOrder = "id",
        after: tuple[datetime, int] | None = None,
        with_json: bool = True,
    ) -> Iterator[PredictionPage]:
        """``model``'s predictions in ``[start, end)`` as columnar pages of at most ``page_size`` rows.

        What :meth:`query_predictions` returns, without holding it: each page is a
        :class:`~skloop.store.PredictionPage` (DataFrames indexed by the prediction id),
        read in its own short transaction by a keyset (see
        :mod:`skloop.store._prediction_pages`), so memory is one page whatever the
        history's length.

        Parameters
        ----------
        model : str
            The model's name.
        version : int, optional
            Only predictions made by this version.
        start, end : datetime or ISO 8601 str, optional
            The window (``start`` included, ``end`` excluded; naive times are UTC).
        labeled : bool, optional
            ``True``: only labeled predictions; ``False``: only unlabeled ones.
        page_size : int or None, default=10000
            Rows per page; ``None`` reads everything as one page.
        order : {"id", "time"}, default="id"
            ``"id"``: ingestion order, on the ``(model, id)`` index; ``"time"``: by
            ``(time, id)``, the order of :meth:`query_predictions`.
        after : (datetime, int), optional
            Only rows at or after this ``(time, id)`` (the first row of a window of the
            newest rows, say).
        with_json : bool, default=True
            ``False``: leave the inputs and outputs out (empty ``inputs`` and
            ``probabilities``; ``predicted`` is the stored text), for readers of keys
            and labels only.

        Raises
        ------
        StoreError
            A bad time, page size or order.
        """
        from skloop.store._prediction_pages import iter_prediction_pages

        return iter_prediction_pages(
            self._db, model, version=version, labeled=labeled, page_size=page_size, order=order, after=after,
            with_json=with_json, start=None if start is None else parse_time(start, "start"),
            end=None if end is None else parse_time(end, "end"),
        )  # fmt: skip

    def prune(
        self,
        older_than: datetime | str,
        *,
        protect: Mapping[str, timedelta] | None = None,
        dry_run: bool = False,
        batch_size: int = 5_000,
    ) -> PruneResult:
        """Delete the predictions made before ``older_than`` and their labels, in batches.

        Rows that a loop decision still running needs (``protect``: per model, how far
        back from the decision's time its loop reads) are kept; see
        :func:`skloop.store._retention.prune_predictions`. With ``dry_run`` nothing
        is deleted and the counts say what would be.
        """
        from skloop.store._retention import prune_predictions

        return prune_predictions(
            self._db, parse_time(older_than, "older_than"), protect=protect, dry_run=dry_run, batch_size=batch_size
        )

    def count_predictions(
        self,
        model: str | None = None,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        labeled: bool | None = None,
    ) -> int:
        """How many predictions are stored (of ``model``, in ``[start, end)``, labeled or not)."""
        p = PREDICTIONS.c
        if labeled is not None:
            if model is None:
                raise StoreError("counting labeled predictions needs a model name")
            inner = self._prediction_query(model, start, end, labeled).subquery()
            stmt = select(func.count()).select_from(inner)
        else:
            stmt = select(func.count()).select_from(PREDICTIONS)
            if model is not None:
                stmt = stmt.where(p.model == model)
            if start is not None:
                stmt = stmt.where(p.time >= parse_time(start, "start"))
            if end is not None:
                stmt = stmt.where(p.time < parse_time(end, "end"))
        with self._db.session("counting predictions", read=True) as conn:
            return int(conn.execute(stmt).scalar_one())

    def serving_stats(
        self,
        model: str,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        max_buckets: int = DEFAULT_MAX_BUCKETS,
    ) -> ServingStats:
        """Requests, rows, flags and versions served of ``model`` per time bucket, aggregated in SQL.

        The bucket size is chosen from the window's span so that there are at most
        ``max_buckets`` (see :mod:`skloop.store._serving_stats`); ``[start, end)`` as in
        :meth:`query_predictions`.
        """
        return serving_stats(
            self._db, model, max_buckets=max_buckets,
            start=None if start is None else parse_time(start, "start"),
            end=None if end is None else parse_time(end, "end"),
        )  # fmt: skip

    # -- labels ------------------------------------------------------------------

    def insert_labels(self, model: str, labels: Iterable[Mapping[str, Any]]) -> int:
        """Record true outcomes for ``model``; return how many keys were written.

        Parameters
        ----------
        model : str
            The model's name.
        labels : iterable of mapping
            Each with ``label`` and either ``entity_id`` (the label holds for every
            prediction of that entity) or ``request_id`` and ``row`` (one prediction);
            optionally ``time`` (default: now). A later label for a key replaces the
            earlier one; within one call, the last one for a key wins.

        Raises
        ------
        StoreError
            When a label has no key, both keys, or no label (naming its position).
        """
        if not isinstance(model, str) or not model or len(model) > 200:
            raise StoreError(f"a model name is a non-empty string of at most 200 characters, given {model!r}")
        now = utcnow()
        by_entity: dict[str, dict[str, Any]] = {}
        by_row: dict[tuple[str, int], dict[str, Any]] = {}
        for i, record in enumerate(labels):
            where = f"label record {i}"
            if not isinstance(record, Mapping):
                raise StoreError(f"{where}: expected a mapping, given {type(record).__name__}")
            label = as_text(record.get("label"))
            if label is None:
                raise StoreError(f"{where}: 'label' is missing or empty")
            time = now if record.get("time") is None else parse_time(record["time"], f"{where}, 'time'")
            entity = _text_field(record, "entity_id", where, required=False)
            request = _text_field(record, "request_id", where, required=False)
            if (entity is None) == (request is None):
                raise StoreError(
                    f"{where}: give either 'entity_id' or 'request_id' and 'row', "
                    f"given {'both' if entity is not None else 'neither'}"
                )
            row = {"model": model, "label": label, "time": time}
            if entity is not None:
                by_entity[entity] = {**row, "entity_id": entity, "request_id": None, "row": None}
            else:
                assert request is not None
                n = _int_field(record, "row", where, required=True)
                assert n is not None
                by_row[(request, n)] = {**row, "entity_id": None, "request_id": request, "row": n}
        if not by_entity and not by_row:
            return 0

        def work(conn: Connection) -> Any:
            ins = self._db.insert(LABELS)
            update = {"label": ins.excluded.label, "time": ins.excluded.time}
            for rows, keys in ((list(by_entity.values()), ["model", "entity_id"]),
                               (list(by_row.values()), ["model", "request_id", "row"])):  # fmt: skip
                stmt = ins.on_conflict_do_update(index_elements=keys, set_=update)
                for start in range(0, len(rows), _CHUNK):
                    conn.execute(stmt, rows[start : start + _CHUNK])

        self._db.transact(f"storing {len(by_entity) + len(by_row)} labels of {model!r}", work, idempotent=True)
        return len(by_entity) + len(by_row)

    def list_labels(self, model: str) -> list[Label]:
        """Every label recorded for ``model`` (entity labels first, then per-prediction ones)."""
        lab = LABELS.c
        stmt = select(LABELS).where(lab.model == model).order_by(lab.entity_id.is_(None), lab.id)
        with self._db.session(f"reading labels of {model!r}", read=True) as conn:
            return [
                Label(
                    model=r.model, label=r.label, time=r.time, entity_id=r.entity_id, request_id=r.request_id, row=r.row
                )
                for r in conn.execute(stmt)
            ]

    def count_labels(self, model: str | None = None) -> int:
        """How many label keys are stored (of ``model``)."""
        stmt = select(func.count()).select_from(LABELS)
        if model is not None:
            stmt = stmt.where(LABELS.c.model == model)
        with self._db.session("counting labels", read=True) as conn:
            return int(conn.execute(stmt).scalar_one())
