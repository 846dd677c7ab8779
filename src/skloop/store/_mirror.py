"""The MLflow mirror's outbox: ``store.mirror``.

With a target (``tracking.mlflow_uri`` / ``SKLOOP_MLFLOW_URI``), every run that ends,
every version registered and every alias move writes a row here *in its own
transaction* (:meth:`Database.recorded`), so a crash can lose neither the record nor
the duty to mirror it. A drainer (:mod:`skloop.workflows._mirror`) claims due rows
with a lease (two drainers never copy the same row at once), copies them and marks them
done, or counts the attempt, keeps the error and sets the next try further away. Rows
are never given up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, func, or_, select, type_coerce, update

from skloop.core import StoreError, utcnow
from skloop.store._schema import UTCDateTime
from skloop.store._schema_mirror import MIRROR_KINDS, SqlMirrorOutbox

if TYPE_CHECKING:
    from skloop.store._database import Database

__all__ = ["DEFAULT_LEASE", "MirrorItem", "MirrorOutbox", "MirrorStatus"]

OUTBOX = SqlMirrorOutbox
DEFAULT_LEASE = timedelta(minutes=5)
"""How long a claimed row is left to its drainer before another may take it."""
_MAX_ERROR = 4000


@dataclass(frozen=True)
class MirrorItem:
    """One outbox row: what to mirror, where, and how it went."""

    id: int
    target: str
    kind: str
    key: str
    status: str
    created: datetime
    attempts: int
    next_attempt: datetime
    last_error: str | None
    done_at: datetime | None
    remote_id: str | None

    @property
    def failing(self) -> bool:
        """Pending after at least one failed attempt."""
        return self.status == "pending" and self.attempts > 0


@dataclass(frozen=True)
class MirrorStatus:
    """Counts of the outbox (of one target, or all)."""

    pending: int
    failing: int
    done: int
    next_attempt: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "pending": self.pending,
            "failing": self.failing,
            "done": self.done,
            "next_attempt": None if self.next_attempt is None else self.next_attempt.isoformat(),
        }


def _item(row: Any) -> MirrorItem:
    return MirrorItem(
        id=row.id, target=row.target, kind=row.kind, key=row.key, status=row.status, created=row.created,
        attempts=row.attempts, next_attempt=row.next_attempt, last_error=row.last_error, done_at=row.done_at,
        remote_id=row.remote_id,
    )  # fmt: skip


class MirrorOutbox:
    """What is to be copied to MLflow tracking servers, and how it went: ``store.mirror``.

    Parameters
    ----------
    db : Database
        The store's database.
    target : str, optional
        The tracking server runs, versions and alias moves of this store are mirrored
        to; ``None`` records nothing.
    """

    def __init__(self, db: Database, target: str | None = None) -> None:
        self._db = db
        self.target = target or None
        #: rows this object queued (so a caller knows a drainer has work)
        self.recorded = 0
        if self.target is not None:
            db.on_record(self._record)

    def _record(self, conn: Connection, kind: str, key: str) -> None:
        assert self.target is not None  # registered only with a target
        self.insert(conn, self.target, kind, key)
        self.recorded += 1

    def insert(self, conn: Connection, target: str, kind: str, key: str) -> None:
        """Add a pending row in ``conn``'s transaction (nothing if it is already there)."""
        if kind not in MIRROR_KINDS:
            raise StoreError(f"a mirrored record is one of {', '.join(MIRROR_KINDS)}, given {kind!r}")
        now = utcnow()
        row = {
            "target": target, "kind": kind, "key": key, "status": "pending", "created": now, "attempts": 0,
            "next_attempt": now,
        }  # fmt: skip
        stmt = self._db.insert(OUTBOX).on_conflict_do_nothing(index_elements=["target", "kind", "key"])
        conn.execute(stmt, row)

    def enqueue(self, kind: str, key: str, target: str | None = None) -> None:
        """Add a pending row for ``kind`` ``key`` (to ``target``, default this store's)."""
        where = target or self.target
        if where is None:
            raise StoreError("no MLflow tracking server to mirror to; set tracking.mlflow_uri or SKLOOP_MLFLOW_URI")
        self._db.transact(f"queueing {kind} {key} for {where}", lambda conn: self.insert(conn, where, kind, key))
        self.recorded += 1

    def claim(
        self,
        target: str | None = None,
        *,
        limit: int = 50,
        lease: timedelta = DEFAULT_LEASE,
        now: datetime | None = None,
    ) -> list[MirrorItem]:
        """Take up to ``limit`` due rows (oldest first) for ``lease``; no other drainer gets them meanwhile."""
        now = now or utcnow()
        c = OUTBOX.c
        due = and_(c.status == "pending", c.next_attempt <= now, or_(c.claimed_until.is_(None), c.claimed_until < now))

        def take(conn: Connection) -> list[MirrorItem]:
            stmt = select(OUTBOX).where(due).order_by(c.id).limit(limit)
            if target is not None:
                stmt = stmt.where(c.target == target)
            taken = []
            for row in conn.execute(stmt).all():
                # the same condition again: a row another drainer took since the select stays theirs
                won = conn.execute(update(OUTBOX).where(c.id == row.id, due).values(claimed_until=now + lease))
                if won.rowcount:
                    taken.append(_item(row))
            return taken

        return self._db.transact("claiming rows of the mirror outbox", take)

    def mark_done(self, item_id: int, remote_id: str | None = None) -> None:
        """Row ``item_id`` is mirrored (as ``remote_id`` on the server)."""
        values = {
            "status": "done",
            "done_at": utcnow(),
            "claimed_until": None,
            "last_error": None,
            "remote_id": remote_id,
        }
        self._update(item_id, values, "marking a mirrored row done")

    def mark_failed(self, item_id: int, error: str, next_attempt: datetime) -> None:
        """One more failed attempt of row ``item_id``: keep ``error``, try again at ``next_attempt``."""
        values = {
            "attempts": OUTBOX.c.attempts + 1, "last_error": error[:_MAX_ERROR], "next_attempt": next_attempt,
            "claimed_until": None,
        }  # fmt: skip
        self._update(item_id, values, "recording a failed mirror attempt")

    def _update(self, item_id: int, values: dict[str, Any], what: str) -> None:
        stmt = update(OUTBOX).where(OUTBOX.c.id == item_id).values(**values)
        self._db.transact(what, lambda conn: conn.execute(stmt), idempotent=True)

    def retry_now(self, target: str | None = None) -> int:
        """Make every pending row due now (after a fixed server); returns how many."""
        stmt = update(OUTBOX).where(OUTBOX.c.status == "pending").values(next_attempt=utcnow())
        if target is not None:
            stmt = stmt.where(OUTBOX.c.target == target)
        return int(self._db.transact("retrying the mirror outbox", lambda conn: conn.execute(stmt).rowcount))

    def items(
        self, target: str | None = None, *, status: str | Sequence[str] | None = None, limit: int = 100
    ) -> list[MirrorItem]:
        """Rows of the outbox, newest first."""
        stmt = select(OUTBOX).order_by(OUTBOX.c.id.desc()).limit(limit)
        if target is not None:
            stmt = stmt.where(OUTBOX.c.target == target)
        if status is not None:
            stmt = stmt.where(OUTBOX.c.status.in_([status] if isinstance(status, str) else list(status)))
        return self._db.transact(
            "reading the mirror outbox", lambda conn: [_item(r) for r in conn.execute(stmt)], read=True
        )

    def find(self, kind: str, key: str, target: str) -> MirrorItem | None:
        """The row of ``kind`` ``key`` for ``target``, if any."""
        c = OUTBOX.c
        stmt = select(OUTBOX).where(c.target == target, c.kind == kind, c.key == key)
        row = self._db.transact("reading the mirror outbox", lambda conn: conn.execute(stmt).first(), read=True)
        return None if row is None else _item(row)

    def status(self, target: str | None = None) -> MirrorStatus:
        """How many rows are pending (and failing) and done, and when the next try is due."""
        c = OUTBOX.c
        stmt = select(
            func.count().filter(c.status == "pending"),
            func.count().filter(and_(c.status == "pending", c.attempts > 0)),
            func.count().filter(c.status == "done"),
            type_coerce(func.min(c.next_attempt).filter(c.status == "pending"), UTCDateTime()),
        )
        if target is not None:
            stmt = stmt.where(c.target == target)
        row = self._db.transact("counting the mirror outbox", lambda conn: conn.execute(stmt).one(), read=True)
        return MirrorStatus(pending=int(row[0]), failing=int(row[1]), done=int(row[2]), next_attempt=row[3])
