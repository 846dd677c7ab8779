"""The MLflow mirror's outbox table (migration ``0014_mlflow_outbox``).

``mirror_outbox`` holds one row per thing to copy to a tracking server: a finished run,
a registered version, an alias move (``kind`` and ``key``), for one ``target`` (the
server's URI). The row is written in the same transaction as the thing itself, so
nothing is recorded without its row; a drainer copies it later and marks it ``done``,
or counts the attempt, keeps the error and waits ``next_attempt`` before the next try.
Rows are never given up: a server that is down gets them when it is back.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, Integer, String, Table, Text, UniqueConstraint

from skloop.store._schema import UTCDateTime, metadata

__all__ = ["MIRROR_KINDS", "MIRROR_STATUSES", "SqlMirrorOutbox"]

#: What a row mirrors: a run (its id), a model version (``name/version``), an alias
#: move (``name@alias#event``).
MIRROR_KINDS = ("run", "version", "alias")
MIRROR_STATUSES = ("pending", "done")

_AutoId = BigInteger().with_variant(Integer(), "sqlite")


SqlMirrorOutbox = Table(
    "mirror_outbox",
    metadata,
    Column("id", _AutoId, primary_key=True, autoincrement=True),
    Column("target", String(1000), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("key", String(400), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt", UTCDateTime(), nullable=False),
    Column("claimed_until", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("done_at", UTCDateTime(), nullable=True),
    Column("remote_id", String(400), nullable=True),
    UniqueConstraint("target", "kind", "key", name="uq_mirror_outbox_target_kind_key"),
    CheckConstraint("kind IN ('run', 'version', 'alias')", name="kind"),
    CheckConstraint("status IN ('pending', 'done')", name="status"),
    Index("ix_mirror_outbox_status_next_attempt", "status", "next_attempt"),
)
"""One record waiting to be (or already) copied to a tracking server."""
