"""The MLflow mirror's outbox table (migration ``0014_mlflow_outbox``).

``mirror_outbox`` holds one row per thing to copy to a tracking server: a finished run,
a registered version, an alias move (``kind`` and ``key``), for one ``target`` (the
server's URI). The row is written in the same transaction as the thing itself, so
nothing is recorded without its row; a drainer copies it later and marks it ``done``,
or counts the attempt, keeps the error and waits ``next_attempt`` before the next try.
Rows are never given up: a server that is down gets them when it is back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from skloop.store._schema import Base, UTCDateTime

__all__ = ["MIRROR_KINDS", "MIRROR_STATUSES", "SqlMirrorOutbox"]

#: What a row mirrors: a run (its id), a model version (``name/version``), an alias
#: move (``name@alias#event``).
MIRROR_KINDS = ("run", "version", "alias")
MIRROR_STATUSES = ("pending", "done")

_AutoId = BigInteger().with_variant(Integer(), "sqlite")


class SqlMirrorOutbox(Base):
    """One record waiting to be (or already) copied to a tracking server."""

    __tablename__ = "mirror_outbox"
    __table_args__ = (
        UniqueConstraint("target", "kind", "key", name="uq_mirror_outbox_target_kind_key"),
        CheckConstraint("kind IN ('run', 'version', 'alias')", name="kind"),
        CheckConstraint("status IN ('pending', 'done')", name="status"),
        Index("ix_mirror_outbox_status_next_attempt", "status", "next_attempt"),
    )

    id: Mapped[int] = mapped_column(_AutoId, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(1000))
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(20))
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    remote_id: Mapped[str | None] = mapped_column(String(400), nullable=True)
