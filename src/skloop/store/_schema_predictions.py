"""The prediction log's tables: served (and batch-scored) predictions and their labels.

Declared on the same :class:`~skloop.store._schema.Base` as the other tables (one
``metadata``, one Alembic history; migration ``0004``).

* ``predictions`` holds one row per scored row. ``(request_id, row)`` is unique, so
  ingesting the same log records twice inserts them once; the server generates a
  unique ``request_id`` per request, and keeps the client's own ``X-Request-ID`` in
  ``correlation_id`` (migration ``0006``), which clients may reuse and is no key.
  ``(model, id)`` is indexed (migration ``0011``): the keyset of the paged reader
  (:mod:`skloop.store._prediction_pages`). ``(model, time, version, row)`` and the
  flagged rows' ``(model, time, version)`` serve the serving page's counts from the
  indexes only (migration ``0012``, :mod:`skloop.store._serving_stats`).
* ``labels`` holds the ground truth that arrives later, keyed either by entity id
  (``model, entity_id``: the label applies to every prediction made for that entity)
  or by the prediction itself (``model, request_id, row``). Each key holds one label:
  a later label for the same key replaces the earlier one (a correction), and
  ``time`` says when it was last set.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from skloop.store._schema import Base, UTCDateTime

__all__ = ["NO_VERSION", "SqlFlagMinute", "SqlLabel", "SqlPrediction", "SqlPredictionMinute"]

_AutoId = BigInteger().with_variant(Integer(), "sqlite")
_Json = JSON(none_as_null=True)
_FLAGGED = text("flags IS NOT NULL")  # the rows of the partial index ix_predictions_model_flagged


class SqlPrediction(Base):
    """One scored row: its request, time, model version, inputs and outputs."""

    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint("request_id", "row", name="uq_predictions_request_id_row"),
        Index("ix_predictions_model_time", "model", "time"),
        Index("ix_predictions_model_entity_id", "model", "entity_id"),
        Index("ix_predictions_model_id", "model", "id"),  # the paged reader's keyset (migration 0011)
        # what the serving page's GROUP BY reads, index only (migration 0012; skloop.store._serving_stats)
        Index("ix_predictions_model_time_version_row", "model", "time", "version", "row"),
        Index("ix_predictions_model_flagged", "model", "time", "version",
              sqlite_where=_FLAGGED, postgresql_where=_FLAGGED),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(_AutoId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(100))
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    row: Mapped[int] = mapped_column(Integer)
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    model: Mapped[str] = mapped_column(String(200))
    version: Mapped[int | None] = mapped_column(Integer)
    entity_id: Mapped[str | None] = mapped_column(String(200))
    prediction: Mapped[str | None] = mapped_column(Text)
    inputs: Mapped[Any] = mapped_column(_Json, nullable=True)
    outputs: Mapped[Any] = mapped_column(_Json, nullable=True)
    flags: Mapped[Any] = mapped_column(_Json, nullable=True)


NO_VERSION = -1
"""``prediction_minutes.version`` of the rows logged without a version (a key column cannot be NULL)."""


class SqlPredictionMinute(Base):
    """The log's counts per model, minute and version (migration ``0013``), kept at ingestion.

    What the serving page reads for whole minutes instead of the rows
    (:mod:`skloop.store._serving_minutes`): ``minute`` is the minute's start in seconds
    since the epoch; ``requests`` counts rows ``0``; ``first`` / ``last`` are the
    minute's first and last prediction of the version.
    """

    __tablename__ = "prediction_minutes"

    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(BigInteger)
    flagged: Mapped[int] = mapped_column(BigInteger)
    first: Mapped[datetime] = mapped_column(UTCDateTime())
    last: Mapped[datetime] = mapped_column(UTCDateTime())


class SqlFlagMinute(Base):
    """How many flags of each (column, problem) the log's rows of a model carry per minute (migration ``0013``).

    ``flag`` is a digest of the pair (problems are free text, too long for a key).
    """

    __tablename__ = "prediction_flag_minutes"

    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    flag: Mapped[str] = mapped_column(String(32), primary_key=True)
    column: Mapped[str | None] = mapped_column(Text)
    problem: Mapped[str | None] = mapped_column(Text)
    count: Mapped[int] = mapped_column(BigInteger)


class SqlLabel(Base):
    """The true outcome for an entity, or for one prediction, of a model."""

    __tablename__ = "labels"
    __table_args__ = (
        UniqueConstraint("model", "entity_id", name="uq_labels_model_entity_id"),
        UniqueConstraint("model", "request_id", "row", name="uq_labels_model_request_id_row"),
        CheckConstraint(
            "(entity_id IS NOT NULL AND request_id IS NULL AND row IS NULL)"
            " OR (entity_id IS NULL AND request_id IS NOT NULL AND row IS NOT NULL)",
            name="one_key",
        ),
    )

    id: Mapped[int] = mapped_column(_AutoId, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String(200))
    entity_id: Mapped[str | None] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(String(100))
    row: Mapped[int | None] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(Text)
    time: Mapped[datetime] = mapped_column(UTCDateTime())
