"""The model registry's tables: model versions, aliases and the alias event log.

Core tables on the same :data:`~skloop.store._schema.metadata` as the tracking tables, so
one Alembic history covers both. ``alias_events`` is append-only:
the store only ever inserts into it, in the same transaction that moves the alias, so
the log and the current holder cannot disagree.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from skloop.store._schema import UTCDateTime, metadata

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


SqlModelVersion = Table(
    "model_versions",
    metadata,
    Column("id", _AutoId, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="RESTRICT"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("rejection_reason", Text),
    Column("artifact_sha256", String(64), nullable=False),
    Column("artifact_format", String(20), nullable=False),
    Column("signature", _Json, nullable=True),
    Column("metrics", _Json, nullable=True),
    Column("importance", _Json, nullable=True),
    Column("card", Text),
    Column("dataset_fingerprint", String(64)),
    Column("created", UTCDateTime(), nullable=False),
    Column("description", Text),
    #: the version of the same model this one was retrained from (the loop's champion) or
    #: derived from; ``NULL`` for a first version or one trained from scratch (migration 0010)
    Column("parent_version", Integer),
    UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
    CheckConstraint("status IN ('registered', 'rejected')", name="status"),
    CheckConstraint("artifact_format IN ('skops', 'joblib')", name="artifact_format"),
    CheckConstraint("version >= 1", name="version_positive"),
    Index("ix_model_versions_run_id", "run_id"),
    Index("ix_model_versions_dataset_fingerprint", "dataset_fingerprint"),
)
"""One registered (or rejected) version of a named model."""


SqlAlias = Table(
    "aliases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("alias", String(100), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated", UTCDateTime(), nullable=False),
    ForeignKeyConstraint(
        ["name", "version"],
        ["model_versions.name", "model_versions.version"],
        name="fk_aliases_name_model_versions",
        ondelete="RESTRICT",
    ),
)
"""The version an alias of a model points at now."""


SqlAliasEvent = Table(
    "alias_events",
    metadata,
    Column("id", _AutoId, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("alias", String(100), nullable=False),
    Column("from_version", Integer),
    Column("to_version", Integer),
    Column("action", String(20), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("reason", Text),
    Column("time", UTCDateTime(), nullable=False),
    CheckConstraint("action IN ('set', 'rollback', 'delete')", name="action"),
    Index("ix_alias_events_name_alias_time", "name", "alias", "time"),
)
"""One move of an alias: who moved it, from which version to which, and why."""


SqlVersionArtifact = Table(
    "version_artifacts",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("kind", String(200), primary_key=True),
    Column("sha256", String(64)),
    Column("size", BigInteger),
    Column("meta", _Json, nullable=True),
    Column("created", UTCDateTime(), nullable=False),
    ForeignKeyConstraint(
        ["name", "version"],
        ["model_versions.name", "model_versions.version"],
        name="fk_version_artifacts_name_model_versions",
        ondelete="RESTRICT",
    ),
)
"""An artifact derived from a model version once and kept (e.g. its ONNX export).

``kind`` names what was derived and with what (``onnx:opset=21;skl2onnx=1.20;...``),
so a new converter derives again instead of reusing a stale result. ``sha256`` is
the content address of the bytes in the artifact store, ``NULL`` when the
derivation was refused; ``meta`` says how it went (a parity report, a refusal).
"""
