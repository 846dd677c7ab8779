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

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from skloop.store._schema import Base, UTCDateTime

__all__ = ["REPORT_SOURCES", "SqlMonitorReport"]

#: What a report monitored: a table (``file``; ``data`` for an in-memory frame), the
#: prediction log (``log``), or the traffic a loop decision judged (``loop``).
REPORT_SOURCES = ("file", "data", "log", "loop")

_Json = JSON(none_as_null=True)


class SqlMonitorReport(Base):
    """One stored monitoring report of a model version."""

    __tablename__ = "monitor_reports"
    __table_args__ = (
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

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    source_kind: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(1000))
    window: Mapped[str | None] = mapped_column(String(100))
    drifted: Mapped[bool] = mapped_column(Boolean)
    n_features: Mapped[int] = mapped_column(Integer)
    n_drifted: Mapped[int] = mapped_column(Integer)
    drift_share: Mapped[float] = mapped_column(Double)
    performance_alert: Mapped[bool] = mapped_column(Boolean)
    n_quality_issues: Mapped[int] = mapped_column(Integer)
    n_rows: Mapped[int] = mapped_column(BigInteger)
    summary: Mapped[Any] = mapped_column(_Json, nullable=True)
    report_sha256: Mapped[str] = mapped_column(String(64))
    report_size: Mapped[int] = mapped_column(BigInteger)
