"""The prediction log's tables: served (and batch-scored) predictions and their labels.

Core tables on the same :data:`~skloop.store._schema.metadata` as the other tables (one
Alembic history; migration ``0004``).

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

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from skloop.store._schema import UTCDateTime, metadata, partial_index

__all__ = ["NO_VERSION", "SqlFlagMinute", "SqlLabel", "SqlPrediction", "SqlPredictionMinute"]

_AutoId = BigInteger().with_variant(Integer(), "sqlite")
_Json = JSON(none_as_null=True)
_FLAGGED = text("flags IS NOT NULL")  # the rows of the partial index ix_predictions_model_flagged


SqlPrediction = Table(
    "predictions",
    metadata,
    Column("id", _AutoId, primary_key=True, autoincrement=True),
    Column("request_id", String(100), nullable=False),
    Column("correlation_id", String(128)),
    Column("row", Integer, nullable=False),
    Column("time", UTCDateTime(), nullable=False),
    Column("model", String(200), nullable=False),
    Column("version", Integer),
    Column("entity_id", String(200)),
    Column("prediction", Text),
    Column("inputs", _Json, nullable=True),
    Column("outputs", _Json, nullable=True),
    Column("flags", _Json, nullable=True),
    UniqueConstraint("request_id", "row", name="uq_predictions_request_id_row"),
    Index("ix_predictions_model_time", "model", "time"),
    Index("ix_predictions_model_entity_id", "model", "entity_id"),
    Index("ix_predictions_model_id", "model", "id"),  # the paged reader's keyset (migration 0011)
    # what the serving page's GROUP BY reads, index only (migration 0012; skloop.store._serving_stats)
    Index("ix_predictions_model_time_version_row", "model", "time", "version", "row"),
)  # fmt: skip
"""One scored row: its request, time, model version, inputs and outputs."""
partial_index("ix_predictions_model_flagged", SqlPrediction.c.model, SqlPrediction.c.time, SqlPrediction.c.version,
              where=_FLAGGED)  # fmt: skip


NO_VERSION = -1
"""``prediction_minutes.version`` of the rows logged without a version (a key column cannot be NULL)."""


SqlPredictionMinute = Table(
    "prediction_minutes",
    metadata,
    Column("model", String(200), primary_key=True),
    Column("minute", BigInteger, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("requests", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("flagged", BigInteger, nullable=False),
    Column("first", UTCDateTime(), nullable=False),
    Column("last", UTCDateTime(), nullable=False),
)
"""The log's counts per model, minute and version (migration ``0013``), kept at ingestion.

What the serving page reads for whole minutes instead of the rows
(:mod:`skloop.store._serving_minutes`): ``minute`` is the minute's start in seconds
since the epoch; ``requests`` counts rows ``0``; ``first`` / ``last`` are the
minute's first and last prediction of the version.
"""


SqlFlagMinute = Table(
    "prediction_flag_minutes",
    metadata,
    Column("model", String(200), primary_key=True),
    Column("minute", BigInteger, primary_key=True),
    Column("flag", String(32), primary_key=True),
    Column("column", Text),
    Column("problem", Text),
    Column("count", BigInteger, nullable=False),
)
"""How many flags of each (column, problem) the log's rows of a model carry per minute (migration ``0013``).

``flag`` is a digest of the pair (problems are free text, too long for a key).
"""


SqlLabel = Table(
    "labels",
    metadata,
    Column("id", _AutoId, primary_key=True, autoincrement=True),
    Column("model", String(200), nullable=False),
    Column("entity_id", String(200)),
    Column("request_id", String(100)),
    Column("row", Integer),
    Column("label", Text, nullable=False),
    Column("time", UTCDateTime(), nullable=False),
    UniqueConstraint("model", "entity_id", name="uq_labels_model_entity_id"),
    UniqueConstraint("model", "request_id", "row", name="uq_labels_model_request_id_row"),
    CheckConstraint(
        "(entity_id IS NOT NULL AND request_id IS NULL AND row IS NULL)"
        " OR (entity_id IS NULL AND request_id IS NOT NULL AND row IS NOT NULL)",
        name="one_key",
    ),
)
"""The true outcome for an entity, or for one prediction, of a model."""
