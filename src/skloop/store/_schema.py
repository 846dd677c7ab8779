"""The metadata schema: SQLAlchemy Core tables, the same on SQLite and PostgreSQL.

These ``Sql*`` tables never leave the store. They are Core :class:`~sqlalchemy.Table`
objects, not ORM classes: the store reads and writes with Core statements only, so no
command pays for importing ``sqlalchemy.orm`` and configuring mappers (~75 ms of
``skloop runs``, issue 14). Tables keyed by (run, key) are SQLite
``WITHOUT ROWID`` tables, so a run's rows sit together and loading them is one range
scan (about twice as fast as going through a separate index). Every constraint and index is named, so
that Alembic migrations can refer to them on every back end. A change here needs a new
migration in ``migrations/versions`` (``tests/store/test_migrations.py`` checks that the
migrations and these tables agree).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ColumnElement,
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
    TextClause,
    TypeDecorator,
    func,
    literal_column,
)

__all__ = [
    "PARAM_INDEXED",
    "PARAM_INDEXED_CHARS",
    "SCHEMA_MODULES",
    "TAG_INDEXED",
    "TAG_LONG",
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
    "partial_index",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)
"""The tables of the modules imported so far; :func:`full_metadata` for all of them (and for DDL)."""

# the other schema modules: the store imports each with its part (issue 14, part 5)
SCHEMA_MODULES = ("_schema_loop", "_schema_mirror", "_schema_predictions", "_schema_registry", "_schema_reports")


def full_metadata() -> MetaData:
    """:data:`metadata` with every table of the schema (migrations compare against it).

    Also gives the partial indexes their PostgreSQL condition (see :func:`partial_index`):
    read this, not :data:`metadata`, for DDL.

    Examples
    --------
    >>> "mirror_outbox" in full_metadata().tables
    True
    """
    import importlib

    for name in SCHEMA_MODULES:
        importlib.import_module(f"skloop.store.{name}")
    for index, where in _POSTGRESQL_WHERE:
        index.dialect_kwargs["postgresql_where"] = where
    return metadata


_POSTGRESQL_WHERE: list[tuple[Index, ColumnElement[bool] | TextClause]] = []


def partial_index(name: str, *columns: Column[Any], where: ColumnElement[bool] | TextClause) -> Index:
    """An index of the rows matching ``where``, on SQLite and PostgreSQL alike.

    The PostgreSQL condition (``postgresql_where``) is set by :func:`full_metadata`, not
    here: naming a ``postgresql_*`` option makes SQLAlchemy import its PostgreSQL dialect
    package (~19 ms with its async drivers' modules) in every command that loads the
    schema, a SQLite store's included, when only DDL (Alembic's migrations and their
    check) reads it; the queries repeat the condition themselves.
    """
    index = Index(name, *columns, sqlite_where=where)
    _POSTGRESQL_WHERE.append((index, where))
    return index


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


SqlRun = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project", String(200), nullable=False),
    Column("kind", String(50), nullable=False),
    Column("name", String(250)),
    Column("status", String(20), nullable=False),
    Column("start_time", UTCDateTime(), nullable=False),
    Column("end_time", UTCDateTime()),
    Column("error", Text),
    Column("spec", _Json, nullable=True),
    Column("code_commit", String(64)),
    Column("code_dirty", Boolean(create_constraint=False)),
    Column("environment", _Json, nullable=True),
    Column("seed", BigInteger),
    Column("parent_run_id", String(32), ForeignKey("runs.id", ondelete="SET NULL")),
    Column("pid", Integer),
    Column("hostname", String(255)),
    # params, tags, latest metrics, inputs and artifacts as JSON text, written when the
    # run ends so that reads take one row (see skloop.store._summary)
    Column("summary", Text),
    CheckConstraint("status IN ('running', 'finished', 'failed', 'killed')", name="status"),
    Index("ix_runs_project_start_time", "project", "start_time"),
    Index("ix_runs_project_id", "project", "id"),  # a project's ids, index only (migration 0015)
    Index("ix_runs_start_time", "start_time"),
    Index("ix_runs_status", "status"),
    Index("ix_runs_parent_run_id", "parent_run_id"),
)
"""One execution of a step."""


SqlParam = Table(
    "params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    sqlite_with_rowid=False,
)
"""A parameter of a run; immutable once logged."""


PARAM_INDEXED_CHARS = 500
"""Param values up to this many characters are in ``ix_params_key_value`` (migration ``0012``).

A partial index: a PostgreSQL B-tree entry holds at most about 2,700 bytes, so a longer
value (params are free text) would make its insert fail. A search that equates a param
with values this short adds :data:`PARAM_INDEXED` to its condition (implied by the
equality, so the rows are the same) to use the index.
"""
PARAM_INDEXED = func.length(SqlParam.c.value) <= literal_column(str(PARAM_INDEXED_CHARS))
"""The condition of ``ix_params_key_value``: the value is at most :data:`PARAM_INDEXED_CHARS` long."""
partial_index("ix_params_key_value", SqlParam.c.key, SqlParam.c.value, where=PARAM_INDEXED)


SqlTag = Table(
    "tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    sqlite_with_rowid=False,
)
"""A tag of a run; may be overwritten."""


TAG_INDEXED = func.length(SqlTag.c.value) <= literal_column(str(PARAM_INDEXED_CHARS))
"""The condition of ``ix_tags_key_value`` (migration ``0013``): the value is at most 500 characters.

Tag values are free text, as params are (see :data:`PARAM_INDEXED_CHARS`); the longer
ones are in ``ix_tags_key_long``, partial on :data:`TAG_LONG`, so that the tag facets
(:mod:`skloop.store._tag_facets`) count every tag row from the two indexes alone.
"""
TAG_LONG = func.length(SqlTag.c.value) > literal_column(str(PARAM_INDEXED_CHARS))
"""The condition of ``ix_tags_key_long``: the values :data:`TAG_INDEXED` leaves out."""
partial_index("ix_tags_key_value", SqlTag.c.key, SqlTag.c.value, SqlTag.c.run_id, where=TAG_INDEXED)
partial_index("ix_tags_key_long", SqlTag.c.key, SqlTag.c.run_id, where=TAG_LONG)


SqlMetric = Table(
    "metrics",
    metadata,
    Column("id", _AutoId, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    # NaN is stored as NULL plus is_nan, because SQLite turns NaN into NULL anyway
    Column("value", Double),
    Column("is_nan", Boolean(create_constraint=False), default=False, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),  # milliseconds since the epoch
    Index("ix_metrics_run_id_key_step", "run_id", "key", "step"),
)
"""Every logged value of every metric (the history)."""


SqlLatestMetric = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Double),
    Column("is_nan", Boolean(create_constraint=False), default=False, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_latest_metrics_key_value", "key", "value"),
    sqlite_with_rowid=False,
)
"""The latest value of each metric of each run, maintained on write, for search."""


SqlDataset = Table(
    "datasets",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("source", Text, nullable=False),
    Column("n_rows", BigInteger, nullable=False),
    Column("n_columns", Integer, nullable=False),
    Column("schema", _Json, nullable=True),
    Column("profile", _Json, nullable=True),
    Column("snapshot_sha256", String(64)),
    Column("created", UTCDateTime(), nullable=False),
)
"""A dataset snapshot, identified by its content fingerprint."""


SqlRunInput = Table(
    "run_inputs",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("fingerprint", String(64), ForeignKey("datasets.fingerprint", ondelete="CASCADE"), primary_key=True),
    Column("role", String(50), primary_key=True),
    Column("logged_at", UTCDateTime(), nullable=False),
    Index("ix_run_inputs_fingerprint", "fingerprint"),
    sqlite_with_rowid=False,
)
"""A dataset read by a run, in a role such as ``train`` or ``holdout``."""


SqlArtifact = Table(
    "artifacts",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(500), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(100)),
    Column("created", UTCDateTime(), nullable=False),
    Index("ix_artifacts_sha256", "sha256"),
    sqlite_with_rowid=False,
)
"""A named artifact of a run, pointing at content in the artifact store."""
