"""The metadata schema: SQLAlchemy 2 declarative classes, the same on SQLite and PostgreSQL.

These ``Sql*`` classes never leave the store. Tables keyed by (run, key) are SQLite
``WITHOUT ROWID`` tables, so a run's rows sit together and loading them is one range
scan (about twice as fast as going through a separate index). Every constraint and index is named, so
that Alembic migrations can refer to them on every back end. A change here needs a new
migration in ``migrations/versions`` (``tests/store/test_migrations.py`` checks that the
migrations and these classes agree).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    func,
    literal_column,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "PARAM_INDEXED",
    "PARAM_INDEXED_CHARS",
    "SCHEMA_MODULES",
    "TAG_INDEXED",
    "TAG_LONG",
    "Base",
    "SqlArtifact",
    "SqlDataset",
    "SqlLatestMetric",
    "SqlMetric",
    "SqlParam",
    "SqlRun",
    "SqlRunInput",
    "SqlTag",
    "UTCDateTime",
    "full_metadata",
    "metadata",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)
"""The tables of the modules imported so far; :func:`full_metadata` for all of them."""

# the other schema modules: the store imports each with its part (issue 14, part 5)
SCHEMA_MODULES = ("_schema_loop", "_schema_mirror", "_schema_predictions", "_schema_registry", "_schema_reports")


def full_metadata() -> MetaData:
    """:data:`metadata` with every table of the schema (migrations compare against it).

    Examples
    --------
    >>> "mirror_outbox" in full_metadata().tables
    True
    """
    import importlib

    for name in SCHEMA_MODULES:
        importlib.import_module(f"skloop.store.{name}")
    return metadata


# SQLite stores BIGINT primary keys without auto-increment; INTEGER is its rowid alias
_AutoId = BigInteger().with_variant(Integer(), "sqlite")
# None is SQL NULL, not the JSON text 'null', so absent values cost nothing to read
_Json = JSON(none_as_null=True)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every back end (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


class Base(DeclarativeBase):
    """Declarative base bound to the named-constraint metadata."""

    metadata = metadata


def table_of(model: type[Base]) -> Table:
    """The :class:`~sqlalchemy.Table` of a mapped class.

    SQLAlchemy types ``Model.__table__`` as a ``FromClause`` (a mapping may be to a
    join or a select); every skloop model maps one table, which this checks once.
    """
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - all skloop models map a Table
        raise TypeError(f"{model.__name__} maps {type(table).__name__}, not a Table")
    return table


class SqlRun(Base):
    """One execution of a step."""

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'finished', 'failed', 'killed')", name="status"),
        Index("ix_runs_project_start_time", "project", "start_time"),
        Index("ix_runs_project_id", "project", "id"),  # a project's ids, index only (migration 0015)
        Index("ix_runs_start_time", "start_time"),
        Index("ix_runs_status", "status"),
        Index("ix_runs_parent_run_id", "parent_run_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(50))
    name: Mapped[str | None] = mapped_column(String(250))
    status: Mapped[str] = mapped_column(String(20))
    start_time: Mapped[datetime] = mapped_column(UTCDateTime())
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    spec: Mapped[Any] = mapped_column(_Json, nullable=True)
    code_commit: Mapped[str | None] = mapped_column(String(64))
    code_dirty: Mapped[bool | None] = mapped_column(Boolean(create_constraint=False))
    environment: Mapped[Any] = mapped_column(_Json, nullable=True)
    seed: Mapped[int | None] = mapped_column(BigInteger)
    parent_run_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("runs.id", ondelete="SET NULL"))
    pid: Mapped[int | None] = mapped_column(Integer)
    hostname: Mapped[str | None] = mapped_column(String(255))
    # params, tags, latest metrics, inputs and artifacts as JSON text, written when the
    # run ends so that reads take one row (see skloop.store._summary)
    summary: Mapped[str | None] = mapped_column(Text)


class SqlParam(Base):
    """A parameter of a run; immutable once logged."""

    __tablename__ = "params"
    __table_args__ = ({"sqlite_with_rowid": False},)

    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


PARAM_INDEXED_CHARS = 500
"""Param values up to this many characters are in ``ix_params_key_value`` (migration ``0012``).

A partial index: a PostgreSQL B-tree entry holds at most about 2,700 bytes, so a longer
value (params are free text) would make its insert fail. A search that equates a param
with values this short adds :data:`PARAM_INDEXED` to its condition (implied by the
equality, so the rows are the same) to use the index.
"""
PARAM_INDEXED = func.length(table_of(SqlParam).c.value) <= literal_column(str(PARAM_INDEXED_CHARS))
"""The condition of ``ix_params_key_value``: the value is at most :data:`PARAM_INDEXED_CHARS` long."""
Index("ix_params_key_value", table_of(SqlParam).c.key, table_of(SqlParam).c.value,
      sqlite_where=PARAM_INDEXED, postgresql_where=PARAM_INDEXED)  # fmt: skip


class SqlTag(Base):
    """A tag of a run; may be overwritten."""

    __tablename__ = "tags"
    __table_args__ = ({"sqlite_with_rowid": False},)

    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


TAG_INDEXED = func.length(table_of(SqlTag).c.value) <= literal_column(str(PARAM_INDEXED_CHARS))
"""The condition of ``ix_tags_key_value`` (migration ``0013``): the value is at most 500 characters.

Tag values are free text, as params are (see :data:`PARAM_INDEXED_CHARS`); the longer
ones are in ``ix_tags_key_long``, partial on :data:`TAG_LONG`, so that the tag facets
(:mod:`skloop.store._tag_facets`) count every tag row from the two indexes alone.
"""
TAG_LONG = func.length(table_of(SqlTag).c.value) > literal_column(str(PARAM_INDEXED_CHARS))
"""The condition of ``ix_tags_key_long``: the values :data:`TAG_INDEXED` leaves out."""
Index("ix_tags_key_value", table_of(SqlTag).c.key, table_of(SqlTag).c.value, table_of(SqlTag).c.run_id,
      sqlite_where=TAG_INDEXED, postgresql_where=TAG_INDEXED)  # fmt: skip
Index("ix_tags_key_long", table_of(SqlTag).c.key, table_of(SqlTag).c.run_id,
      sqlite_where=TAG_LONG, postgresql_where=TAG_LONG)  # fmt: skip


class SqlMetric(Base):
    """Every logged value of every metric (the history)."""

    __tablename__ = "metrics"
    __table_args__ = (Index("ix_metrics_run_id_key_step", "run_id", "key", "step"),)

    id: Mapped[int] = mapped_column(_AutoId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(250))
    # NaN is stored as NULL plus is_nan, because SQLite turns NaN into NULL anyway
    value: Mapped[float | None] = mapped_column(Double)
    is_nan: Mapped[bool] = mapped_column(Boolean(create_constraint=False), default=False)
    step: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[int] = mapped_column(BigInteger)  # milliseconds since the epoch


class SqlLatestMetric(Base):
    """The latest value of each metric of each run, maintained on write, for search."""

    __tablename__ = "latest_metrics"
    __table_args__ = (
        Index("ix_latest_metrics_key_value", "key", "value"),
        {"sqlite_with_rowid": False},
    )

    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[float | None] = mapped_column(Double)
    is_nan: Mapped[bool] = mapped_column(Boolean(create_constraint=False), default=False)
    step: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class SqlDataset(Base):
    """A dataset snapshot, identified by its content fingerprint."""

    __tablename__ = "datasets"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    n_rows: Mapped[int] = mapped_column(BigInteger)
    n_columns: Mapped[int] = mapped_column(Integer)
    schema_: Mapped[Any] = mapped_column("schema", _Json, nullable=True)
    profile: Mapped[Any] = mapped_column(_Json, nullable=True)
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(UTCDateTime())


class SqlRunInput(Base):
    """A dataset read by a run, in a role such as ``train`` or ``holdout``."""

    __tablename__ = "run_inputs"
    __table_args__ = (
        Index("ix_run_inputs_fingerprint", "fingerprint"),
        {"sqlite_with_rowid": False},
    )

    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(
        String(64), ForeignKey("datasets.fingerprint", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(50), primary_key=True)
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SqlArtifact(Base):
    """A named artifact of a run, pointing at content in the artifact store."""

    __tablename__ = "artifacts"
    __table_args__ = (Index("ix_artifacts_sha256", "sha256"), {"sqlite_with_rowid": False})

    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(500), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str | None] = mapped_column(String(100))
    created: Mapped[datetime] = mapped_column(UTCDateTime())
