"""The model registry's tables: model versions, aliases and the alias event log.

Declared on the same :class:`~skloop.store._schema.Base` as the tracking tables, so one
``metadata`` (and one Alembic history) covers both. ``alias_events`` is append-only:
the store only ever inserts into it, in the same transaction that moves the alias, so
the log and the current holder cannot disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from skloop.store._schema import Base, UTCDateTime

__all__ = [
    "ALIAS_ACTIONS",
    "ARTIFACT_FORMATS",
    "VERSION_STATUSES",
    "SqlAlias",
    "SqlAliasEvent",
    "SqlModelVersion",
    "SqlVersionArtifact",
]

#: Statuses of a model version: gates passed (``registered``) or not (``rejected``).
VERSION_STATUSES = ("registered", "rejected")
#: Serialisation formats of a model artifact.
ARTIFACT_FORMATS = ("skops", "joblib")
#: What an alias event did.
ALIAS_ACTIONS = ("set", "rollback", "delete")

_AutoId = BigInteger().with_variant(Integer(), "sqlite")
_Json = JSON(none_as_null=True)


class SqlModelVersion(Base):
    """One registered (or rejected) version of a named model."""

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
        CheckConstraint("status IN ('registered', 'rejected')", name="status"),
        CheckConstraint("artifact_format IN ('skops', 'joblib')", name="artifact_format"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_model_versions_run_id", "run_id"),
        Index("ix_model_versions_dataset_fingerprint", "dataset_fingerprint"),
    )

    id: Mapped[int] = mapped_column(_AutoId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(20))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    artifact_format: Mapped[str] = mapped_column(String(20))
    signature: Mapped[Any] = mapped_column(_Json, nullable=True)
    metrics: Mapped[Any] = mapped_column(_Json, nullable=True)
    importance: Mapped[Any] = mapped_column(_Json, nullable=True)
    card: Mapped[str | None] = mapped_column(Text)
    dataset_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    description: Mapped[str | None] = mapped_column(Text)
    #: the version of the same model this one was retrained from (the loop's champion) or
    #: derived from; ``NULL`` for a first version or one trained from scratch (migration 0010)
    parent_version: Mapped[int | None] = mapped_column(Integer)


class SqlAlias(Base):
    """The version an alias of a model points at now."""

    __tablename__ = "aliases"
    __table_args__ = (
        ForeignKeyConstraint(
            ["name", "version"],
            ["model_versions.name", "model_versions.version"],
            name="fk_aliases_name_model_versions",
            ondelete="RESTRICT",
        ),
    )

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    alias: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    updated: Mapped[datetime] = mapped_column(UTCDateTime())


class SqlAliasEvent(Base):
    """One move of an alias: who moved it, from which version to which, and why."""

    __tablename__ = "alias_events"
    __table_args__ = (
        CheckConstraint("action IN ('set', 'rollback', 'delete')", name="action"),
        Index("ix_alias_events_name_alias_time", "name", "alias", "time"),
    )

    id: Mapped[int] = mapped_column(_AutoId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    alias: Mapped[str] = mapped_column(String(100))
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(Text)
    time: Mapped[datetime] = mapped_column(UTCDateTime())


class SqlVersionArtifact(Base):
    """An artifact derived from a model version once and kept (e.g. its ONNX export).

    ``kind`` names what was derived and with what (``onnx:opset=21;skl2onnx=1.20;...``),
    so a new converter derives again instead of reusing a stale result. ``sha256`` is
    the content address of the bytes in the artifact store, ``NULL`` when the
    derivation was refused; ``meta`` says how it went (a parity report, a refusal).
    """

    __tablename__ = "version_artifacts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["name", "version"],
            ["model_versions.name", "model_versions.version"],
            name="fk_version_artifacts_name_model_versions",
            ondelete="RESTRICT",
        ),
    )

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(200), primary_key=True)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    meta: Mapped[Any] = mapped_column(_Json, nullable=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime())
