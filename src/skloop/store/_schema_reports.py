"""The stored monitoring reports' table (migration ``0009``).

``monitor_reports`` holds one row per report that ``skloop monitor`` or the loop's
monitor step made: which version, when, from what (a file, the prediction log, a loop
decision), with which windows, and the verdict in columns a list can show and filter
without reading the report (drift, how many features drifted, a performance alert,
quality issues). ``summary`` keeps the per-feature tests and the metrics, small enough
to chart many reports at once; the whole report is gzipped JSON in the artifact store,
named by ``report_sha256``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Double,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
)

from skloop.store._schema import UTCDateTime, metadata

__all__ = ["REPORT_SOURCES", "SqlMonitorReport"]

#: What a report monitored: a table (``file``; ``data`` for an in-memory frame), the
#: prediction log (``log``), or the traffic a loop decision judged (``loop``).
REPORT_SOURCES = ("file", "data", "log", "loop")

_Json = JSON(none_as_null=True)


SqlMonitorReport = Table(
    "monitor_reports",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created", UTCDateTime(), nullable=False),
    Column("source_kind", String(20), nullable=False),
    Column("source", String(1000), nullable=False),
    Column("window", String(100)),
    Column("drifted", Boolean, nullable=False),
    Column("n_features", Integer, nullable=False),
    Column("n_drifted", Integer, nullable=False),
    Column("drift_share", Double, nullable=False),
    Column("performance_alert", Boolean, nullable=False),
    Column("n_quality_issues", Integer, nullable=False),
    Column("n_rows", BigInteger, nullable=False),
    Column("summary", _Json, nullable=True),
    Column("report_sha256", String(64), nullable=False),
    Column("report_size", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["name", "version"],
        ["model_versions.name", "model_versions.version"],
        name="fk_monitor_reports_name_model_versions",
        ondelete="RESTRICT",
    ),
    CheckConstraint("source_kind IN ('file', 'data', 'log', 'loop')", name="source_kind"),
    Index("ix_monitor_reports_name_created", "name", "created"),
    Index("ix_monitor_reports_name_source", "name", "source"),
)
"""One stored monitoring report of a model version."""
