"""The monitoring reports part of the store: ``store.reports``.

A report is kept as a row (its verdict in columns, a small summary as JSON) and its
whole JSON, gzipped, in the content-addressed artifact store: listing the reports of a
model reads rows only, and one report is read whole when it is opened. The loop stores
one report per decision; storing again for the same source (``replace=True``) replaces
it in the same transaction, so a resumed decision does not keep two.
"""

from __future__ import annotations

import gzip
import logging
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, insert, select

from skloop.core import ModelNotFoundError, NotFoundError, StoreError, utcnow
from skloop.store._entities_reports import StoredReport
from skloop.store._schema_registry import SqlModelVersion
from skloop.store._schema_reports import REPORT_SOURCES, SqlMonitorReport

if TYPE_CHECKING:
    from skloop.store._artifacts import ArtifactStore
    from skloop.store._database import Database

__all__ = ["ReportStore"]

logger = logging.getLogger(__name__)

REPORTS = SqlMonitorReport
_VERSIONS = SqlModelVersion
_GZIP_LEVEL = 6
_MAX_SOURCE = 1000
_MAX_WINDOW = 100


def _report(row: Any) -> StoredReport:
    return StoredReport(
        id=row.id, name=row.name, version=row.version, created=row.created, source_kind=row.source_kind,
        source=row.source, window=row.window, drifted=bool(row.drifted), n_features=row.n_features,
        n_drifted=row.n_drifted, drift_share=row.drift_share, performance_alert=bool(row.performance_alert),
        n_quality_issues=row.n_quality_issues, n_rows=row.n_rows, report_sha256=row.report_sha256,
        report_size=row.report_size, summary=dict(getattr(row, "summary", None) or {}),
    )  # fmt: skip


def _count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StoreError(f"a report's {field} is a count (an integer >= 0), given {value!r}")
    return value


class ReportStore:
    """Stored monitoring reports of model versions: ``store.reports``.

    See the module docstring.

    Parameters
    ----------
    db : Database
        The shared database.
    artifacts : ArtifactStore
        Where each report's JSON is kept.
    """

    def __init__(self, db: Database, artifacts: ArtifactStore) -> None:
        self._db = db
        self._artifacts = artifacts

    def add_report(
        self,
        name: str,
        version: int,
        report_json: str | bytes,
        *,
        source_kind: str,
        source: str,
        window: str | None = None,
        drifted: bool,
        n_features: int,
        n_drifted: int,
        drift_share: float,
        performance_alert: bool = False,
        n_quality_issues: int = 0,
        n_rows: int = 0,
        summary: Mapping[str, Any] | None = None,
        replace: bool = False,
    ) -> StoredReport:
        """Keep a report of ``name`` version ``version``; return its record.

        Parameters
        ----------
        name, version
            The version monitored (it must be registered).
        report_json : str or bytes
            The whole report (``MonitorReport.to_json()``), kept gzipped in the artifact store.
        source_kind : {"file", "data", "log", "loop"}
        source : str
            A file name, ``log``, or a loop decision id.
        window : str, optional
            The window setting, when the report was cut into windows.
        drifted, n_features, n_drifted, drift_share, performance_alert, n_quality_issues, n_rows
            The verdict, in columns.
        summary : mapping, optional
            ``MonitorReport.summary()``.
        replace : bool
            Delete this model's earlier reports of the same ``source`` first (one report
            per loop decision).

        Raises
        ------
        ModelNotFoundError
            The version is not registered.
        StoreError
            A field is out of range.
        """
        if source_kind not in REPORT_SOURCES:
            raise StoreError(f"a report's source_kind is one of {REPORT_SOURCES}, given {source_kind!r}")
        if not isinstance(source, str) or not source or len(source) > _MAX_SOURCE:
            raise StoreError(f"a report's source is a non-empty string of at most {_MAX_SOURCE} characters")
        if window is not None and len(window) > _MAX_WINDOW:
            raise StoreError(f"a report's window is at most {_MAX_WINDOW} characters, given {len(window)}")
        n_features, n_drifted = _count(n_features, "n_features"), _count(n_drifted, "n_drifted")
        if n_drifted > n_features:
            raise StoreError(f"a report cannot have {n_drifted} drifted features out of {n_features}")
        if not 0.0 <= float(drift_share) <= 1.0:
            raise StoreError(f"a report's drift_share is between 0 and 1, given {drift_share!r}")
        data = report_json.encode() if isinstance(report_json, str) else bytes(report_json)
        ref = self._artifacts.put_bytes(gzip.compress(data, compresslevel=_GZIP_LEVEL, mtime=0))
        report_id = uuid.uuid4().hex
        row = {
            "id": report_id, "name": name, "version": int(version), "created": utcnow(), "source_kind": source_kind,
            "source": source, "window": window, "drifted": bool(drifted), "n_features": n_features,
            "n_drifted": n_drifted, "drift_share": float(drift_share), "performance_alert": bool(performance_alert),
            "n_quality_issues": _count(n_quality_issues, "n_quality_issues"), "n_rows": _count(n_rows, "n_rows"),
            "summary": dict(summary or {}), "report_sha256": ref.sha256, "report_size": ref.size,
        }  # fmt: skip
        v = _VERSIONS.c

        def work(conn: Connection) -> Any:
            known = conn.execute(select(v.version).where(v.name == name, v.version == int(version))).first()
            if known is None:
                raise ModelNotFoundError(
                    f"{name}/{version} is not a registered model version; a report is kept only for one "
                    "(see 'skloop models')"
                )
            if replace:
                conn.execute(delete(REPORTS).where(REPORTS.c.name == name, REPORTS.c.source == source))
            conn.execute(insert(REPORTS), row)
            stored = conn.execute(select(REPORTS).where(REPORTS.c.id == report_id)).one()
            return stored

        stored = self._db.transact(f"storing a monitoring report of {name}/{version}", work)
        return _report(stored)

    def get_report(self, report_id: str, *, name: str | None = None) -> StoredReport:
        """The report with this id (or a unique prefix of at least 4 characters), of ``name`` if given.

        Raises
        ------
        NotFoundError
        """
        r = REPORTS.c
        text = str(report_id).strip().lower()
        if len(text) < 4 or len(text) > 32 or any(ch not in "0123456789abcdef" for ch in text):
            raise NotFoundError(f"{report_id!r} is not a report id (4 to 32 hex characters)")
        stmt = select(REPORTS).where(r.id.startswith(text))
        if name is not None:
            stmt = stmt.where(r.name == name)
        with self._db.session(f"reading monitoring report {text}", read=True) as conn:
            rows = conn.execute(stmt.limit(2)).all()
        if len(rows) != 1:
            of = f" of {name!r}" if name is not None else ""
            what = "matches several reports" if rows else f"is not a stored monitoring report{of}"
            raise NotFoundError(f"{report_id!r} {what}; list them on the model's monitoring page")
        return _report(rows[0])

    def list_reports(
        self,
        name: str,
        *,
        version: int | None = None,
        source: str | None = None,
        limit: int | None = None,
        summaries: bool = True,
    ) -> list[StoredReport]:
        """Reports of model ``name``, oldest first (the newest ``limit`` when given).

        ``summaries=False`` leaves each record's ``summary`` empty, unread: a long list
        of verdicts then parses no JSON at all.
        """
        r = REPORTS.c
        columns = [c for c in REPORTS.c if summaries or c.name != "summary"]
        stmt = select(*columns).where(r.name == name)
        if version is not None:
            stmt = stmt.where(r.version == version)
        if source is not None:
            stmt = stmt.where(r.source == source)
        stmt = stmt.order_by(r.created.desc(), r.id.desc())
        if limit is not None:
            stmt = stmt.limit(max(int(limit), 0))
        with self._db.session(f"reading the monitoring reports of {name!r}", read=True) as conn:
            rows = conn.execute(stmt).all()
        return [_report(row) for row in reversed(rows)]

    def count_reports(self, name: str) -> int:
        """How many reports of model ``name`` are stored."""
        with self._db.session(f"counting the monitoring reports of {name!r}", read=True) as conn:
            return int(conn.execute(select(func.count()).where(REPORTS.c.name == name)).scalar_one())

    def load_report(self, report: StoredReport | str) -> str:
        """The whole JSON of a report (a record, or its id), verified against its SHA-256."""
        record = report if isinstance(report, StoredReport) else self.get_report(report)
        data = self._artifacts.get_bytes(record.report_sha256, name=f"monitoring report {record.id[:8]}")
        try:
            return gzip.decompress(data).decode("utf-8")
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise StoreError(f"monitoring report {record.id} cannot be read ({exc}); its artifact is damaged") from exc
