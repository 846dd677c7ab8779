"""``skloop db check``: is the store whole? The database, its schema, and the artifacts it names.

:func:`check_store` looks, without changing anything (unless ``fix``):

- **the database file** (SQLite): ``PRAGMA quick_check`` (``PRAGMA integrity_check``
  with ``deep``), the journal mode and the write-ahead log (its size, the commits not
  yet checkpointed, a ``-wal`` deleted before its commits reached the file); on
  PostgreSQL, that the server answers (page checksums and ``amcheck`` are the
  server administrator's tools);
- **the schema**: its Alembic revision against this skloop's head;
- **the artifacts**: every address the records name (run artifacts, model versions,
  derived artifacts, dataset snapshots, monitoring reports) is stored, at the size
  recorded where one is; with ``deep``, each one's content is read and hashed again;
  stored content no record names (orphaned: a process killed between storing and
  recording, or records deleted) is listed, not an error;
- **leftover uploads**: ``.tmp-*`` files or objects of writes cut short. With ``fix``
  those older than ``stale_after`` are removed; a younger one may be an upload still
  running (a local write keeps touching its file; an object appears only once its
  upload is complete and is renamed within seconds), so it is left alone.

Errors (the report's ``problems``; ``skloop db check`` exits non-zero): an integrity
check that fails, a lost write-ahead log, a schema not at head, a named artifact
missing, of the wrong size or (``deep``) not matching its hash. Orphans and leftovers
are warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, union_all
from sqlalchemy.engine import make_url

from skloop.core import StoreError, redact_url, utcnow
from skloop.store._artifacts import ArtifactStore, StoredFile
from skloop.store._engine import VERSION_TABLE, head_revision, make_engine, transact
from skloop.store._schema import SqlArtifact, SqlDataset
from skloop.store._schema_registry import SqlModelVersion, SqlVersionArtifact
from skloop.store._schema_reports import SqlMonitorReport
from skloop.store._sqlite_wal import wal_state

__all__ = ["STALE_AFTER", "CheckReport", "LeftoverUpload", "check_store"]

STALE_AFTER = timedelta(hours=1)
"""A ``.tmp-*`` upload younger than this may still be running: ``fix`` leaves it."""


@dataclass(frozen=True)
class LeftoverUpload:
    """A ``.tmp-*`` file or object of a write cut short."""

    path: str
    size: int
    age_seconds: float | None
    removed: bool = False


@dataclass(frozen=True)
class CheckReport:
    """What :func:`check_store` found.

    Attributes
    ----------
    database, artifact_root : str
        Where (passwords redacted).
    dialect : str
    integrity : str
        ``"ok"``, what SQLite's check said, or what was not checked.
    journal : dict
        SQLite: ``mode``, ``wal_bytes``, ``wal_frames_pending``; empty on PostgreSQL.
    revision, head : str or None
        The database's schema revision and this skloop's.
    referenced, stored : int
        Artifact addresses the records name, and content objects stored.
    missing, corrupt : list of str
        Named addresses absent, or of the wrong size / hash (with what was found).
    orphaned : list of str
        Stored addresses no record names.
    leftovers : list of LeftoverUpload
    deep : bool
        Whether hashes were checked and ``integrity_check`` ran.
    problems, warnings : list of str
        One sentence each; ``ok`` is ``not problems``.
    """

    database: str
    artifact_root: str
    dialect: str
    integrity: str
    journal: dict[str, Any]
    revision: str | None
    head: str
    referenced: int
    stored: int
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    leftovers: list[LeftoverUpload] = field(default_factory=list)
    deep: bool = False
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "leftovers"}
        out["leftovers"] = [vars(x) | {} for x in self.leftovers]
        out["ok"] = self.ok
        return out


def _references(conn: Connection) -> dict[str, int | None]:
    """Every artifact address a record names, with its recorded size where the record has one."""
    a, v, va = SqlArtifact.c, SqlModelVersion.c, SqlVersionArtifact.c
    d, r = SqlDataset.c, SqlMonitorReport.c
    sized = union_all(select(a.sha256, a.size), select(va.sha256, va.size).where(va.sha256.is_not(None)))
    out: dict[str, int | None] = {}
    for sha, size in conn.execute(sized):
        out[sha] = size if out.get(sha) is None else out[sha]
    unsized = union_all(
        select(v.artifact_sha256), select(d.snapshot_sha256).where(d.snapshot_sha256.is_not(None)),
        select(r.report_sha256),
    )  # fmt: skip
    for (sha,) in conn.execute(unsized):
        out.setdefault(sha, None)
    return out


def _sqlite_integrity(conn: Connection, deep: bool) -> str:
    pragma = "integrity_check" if deep else "quick_check"
    lines = [str(r[0]) for r in conn.exec_driver_sql(f"PRAGMA {pragma}(20)")]
    return "ok" if lines == ["ok"] else "; ".join(lines)


def _age(modified: float | datetime | None, now: datetime) -> float | None:
    """Seconds since a listed file or object last changed (``None``: the file system does not say)."""
    if isinstance(modified, float):
        return now.timestamp() - modified
    if isinstance(modified, datetime):
        return (now - (modified if modified.tzinfo else modified.replace(tzinfo=UTC))).total_seconds()
    return None


def _check_artifacts(
    artifacts: ArtifactStore, refs: dict[str, int | None], report: dict[str, Any], *, deep: bool,
    fix: bool, stale_after: timedelta, now: datetime,
) -> None:  # fmt: skip
    stored: dict[str, StoredFile] = {}
    for item in artifacts.scan():
        if item.sha256 is not None:
            stored[item.sha256] = item
            continue
        age = _age(item.modified, now)
        removed = fix and age is not None and age >= stale_after.total_seconds()
        if removed:
            artifacts.remove_leftover(item.path)
        report["leftovers"].append(LeftoverUpload(item.where, item.size, age, removed))
    report["stored"] = len(stored)
    for sha, size in sorted(refs.items()):
        if sha not in stored:
            report["missing"].append(sha)
            continue
        found = stored[sha]
        if size is not None and found.size != size:
            report["corrupt"].append(f"{found.where}: {found.size} bytes stored, {size} recorded")
        elif deep and (actual := artifacts.hash_path(found.path)) != sha:
            report["corrupt"].append(f"{found.where}: the content hashes to {actual}")
    report["orphaned"] = sorted(set(stored) - set(refs))


def _summarise(report: dict[str, Any], stale_after: timedelta) -> None:
    problems, warnings = report["problems"], report["warnings"]
    if report["integrity"] not in ("ok", "not checked on PostgreSQL"):
        problems.append(f"the database failed its integrity check: {report['integrity']}")
    if report["revision"] != report["head"]:
        problems.append(
            f"the schema is at revision {report['revision'] or 'none'}, this skloop needs {report['head']}: "
            "run `skloop db upgrade`"
        )
    root = report["artifact_root"]
    if report["missing"]:
        problems.append(
            f"{len(report['missing'])} artifact(s) the records name are not in {root} (e.g. {report['missing'][0]}); "
            "restore them from a backup"
        )
    if report["corrupt"]:
        problems.append(
            f"{len(report['corrupt'])} artifact(s) do not match their record ({report['corrupt'][0]}); restore them "
            "from a backup or re-run the runs that produced them"
        )
    if report["orphaned"]:
        warnings.append(f"{len(report['orphaned'])} stored artifact(s) no record names (orphaned; harmless)")
    stale = [x for x in report["leftovers"] if not x.removed and x.age_seconds is not None
             and x.age_seconds >= stale_after.total_seconds()]  # fmt: skip
    removed = [x for x in report["leftovers"] if x.removed]
    if stale:
        warnings.append(
            f"{len(stale)} leftover upload(s) older than {stale_after}: `skloop db check --fix` removes them"
        )
    if removed:
        warnings.append(f"removed {len(removed)} leftover upload(s) older than {stale_after}")
    if len(report["leftovers"]) > len(stale) + len(removed):
        warnings.append(
            f"{len(report['leftovers']) - len(stale) - len(removed)} upload(s) younger than {stale_after} "
            "left alone (they may still be running)"
        )


def check_store(
    url: str,
    artifacts: ArtifactStore,
    *,
    deep: bool = False,
    fix: bool = False,
    stale_after: timedelta = STALE_AFTER,
    now: datetime | None = None,
) -> CheckReport:
    """Check the database at ``url`` and the artifacts in ``artifacts`` (see the module docstring).

    Parameters
    ----------
    url : str
        The metadata database (not upgraded, not created: a missing SQLite file is an error).
    artifacts : ArtifactStore
    deep : bool
        Hash every named artifact again; SQLite's full ``integrity_check``.
    fix : bool
        Remove ``.tmp-*`` leftovers older than ``stale_after``. Nothing else is changed.
    stale_after : timedelta
        How old a leftover must be to count as stale.
    now : datetime, optional
        The time ages are counted from (default: now).

    Returns
    -------
    CheckReport

    Raises
    ------
    StoreError
        The database cannot be reached or opened at all (the message says why).
    """
    if stale_after < timedelta(0):
        raise StoreError(f"stale_after must not be negative, given {stale_after}")
    parsed = make_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite and parsed.database and not _exists(parsed.database):
        raise StoreError(f"there is no database file at {parsed.database}; check SKLOOP_STORE_URL or the --spec folder")
    report: dict[str, Any] = {
        "database": redact_url(url), "artifact_root": redact_url(artifacts.root), "journal": {}, "missing": [],
        "corrupt": [], "orphaned": [], "leftovers": [], "deep": deep, "problems": [], "warnings": [],
        "head": head_revision(),
    }  # fmt: skip
    if sqlite and parsed.database:
        report["journal"] = wal_state(parsed.database)  # before connecting: SQLite may checkpoint on open
    try:
        engine = make_engine(url, immediate=False)
    except StoreError as exc:  # the lost write-ahead log, named
        raise StoreError(f"the database check failed: {exc}") from exc
    try:
        report["dialect"] = engine.dialect.name

        def read(conn: Connection) -> tuple[str, str | None, dict[str, int | None], str | None]:
            from alembic.runtime.migration import MigrationContext  # Alembic only when a check runs

            integrity = _sqlite_integrity(conn, deep) if sqlite else "not checked on PostgreSQL"
            mode = str(conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()) if sqlite else None
            revision = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()
            return integrity, revision, _references(conn) if revision is not None else {}, mode

        integrity, revision, refs, mode = transact(engine, "checking the database", read, idempotent=True)
    finally:
        engine.dispose()
    report.update(integrity=integrity, revision=revision, referenced=len(refs))
    if mode is not None:
        report["journal"]["mode"] = mode
    _check_artifacts(artifacts, refs, report, deep=deep, fix=fix, stale_after=stale_after, now=now or utcnow())
    _summarise(report, stale_after)
    return CheckReport(**report)


def _exists(path: str) -> bool:
    return Path(path).is_file()
