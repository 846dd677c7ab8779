"""The datasets part of the store: recording which data a run read, and finding it again.

:func:`resolve_dataset` is public because the models part finds the versions trained on
a dataset by the same fingerprint-or-prefix rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select, update

from skloop.core import NotFoundError, StoreError, utcnow
from skloop.store import _reads as reads
from skloop.store import _summary as summary
from skloop.store._entities import DatasetRecord, DatasetSummary, Run
from skloop.store._schema import SqlDataset, SqlRun, SqlRunInput

if TYPE_CHECKING:
    from skloop.store._database import Database
    from skloop.store._runs import RunStore

__all__ = ["DatasetStore", "resolve_dataset"]

DATASETS = SqlDataset
INPUTS = SqlRunInput
RUNS = SqlRun
_HEX = frozenset("0123456789abcdef")


class DatasetStore:
    """Datasets and the runs that read them: ``store.datasets``.

    Parameters
    ----------
    db : Database
        The shared database.
    runs : RunStore
        The runs part, asked whether a run may still record what it read.
    """

    def __init__(self, db: Database, runs: RunStore) -> None:
        self._db = db
        self._runs = runs

    def log_dataset(self, run_id: str, dataset: DatasetRecord, role: str = "train") -> DatasetRecord:
        """Record that the run read ``dataset`` in ``role`` (``train``, ``holdout``, ...).

        A dataset is stored once per fingerprint; logging it again only links it to
        the run (and fills in a snapshot that was missing). Returns the stored record.
        """
        if not isinstance(dataset, DatasetRecord):
            raise StoreError(f"log_dataset needs a DatasetRecord, given {type(dataset).__name__}")
        if not isinstance(role, str) or not role or len(role) > 50:
            raise StoreError(f"a dataset role is a short name such as 'train', given {role!r}")
        _fingerprint(dataset.fingerprint)
        self._runs.require_running(run_id)
        now = utcnow()
        row = {
            "fingerprint": dataset.fingerprint, "source": dataset.source,
            "n_rows": int(dataset.n_rows), "n_columns": int(dataset.n_columns),
            "schema": dataset.schema, "profile": dataset.profile,
            "snapshot_sha256": dataset.snapshot_sha256, "created": dataset.created or now,
        }  # fmt: skip

        def work(conn: Connection) -> Any:
            if not conn.execute(self._db.sql.insert_dataset, row).all() and dataset.snapshot_sha256:
                conn.execute(
                    update(DATASETS)
                    .where(
                        DATASETS.c.fingerprint == dataset.fingerprint,
                        DATASETS.c.snapshot_sha256.is_(None),
                    )
                    .values(snapshot_sha256=dataset.snapshot_sha256)
                )
            conn.execute(
                self._db.sql.insert_input,
                {
                    "run_id": run_id,
                    "fingerprint": dataset.fingerprint,
                    "role": role,
                    "logged_at": now,
                },
            )
            summary.invalidate(conn, [run_id])
            stored = conn.execute(select(DATASETS).where(DATASETS.c.fingerprint == dataset.fingerprint)).one()
            return stored

        stored = self._db.transact(f"recording dataset {dataset.fingerprint[:12]} of run {run_id}", work)
        return reads.dataset_entity(stored)

    def get_dataset(self, fingerprint: str) -> DatasetRecord:
        """The dataset with this fingerprint or unique fingerprint prefix.

        Raises
        ------
        NotFoundError
            When no dataset matches.
        StoreError
            When a prefix matches several datasets (the message lists them).
        """
        with self._db.session(f"reading dataset {fingerprint}", read=True) as conn:
            return reads.dataset_entity(resolve_dataset(conn, fingerprint))

    def get_datasets(self, fingerprints: Iterable[str]) -> list[DatasetRecord]:
        """The datasets with these full fingerprints, in that order (unknown ones left out), in one query."""
        wanted = list(dict.fromkeys(_fingerprint(f) for f in fingerprints))
        if not wanted:
            return []
        with self._db.session(f"reading {len(wanted)} datasets", read=True) as conn:
            rows = {r.fingerprint: r for r in conn.execute(select(DATASETS).where(DATASETS.c.fingerprint.in_(wanted)))}
        return [reads.dataset_entity(rows[f]) for f in wanted if f in rows]

    def list_datasets(self) -> list[DatasetSummary]:
        """Every dataset with its first and last use and how many runs read it, newest first."""
        self._db.flush()
        d = DATASETS.c
        stmt = (
            select(
                d.fingerprint,
                d.source,
                d.n_rows,
                d.n_columns,
                d.created,
                func.min(INPUTS.c.logged_at).label("first_used"),
                func.max(INPUTS.c.logged_at).label("last_used"),
                func.count(func.distinct(INPUTS.c.run_id)).label("n_runs"),
            )
            .select_from(DATASETS.outerjoin(INPUTS, INPUTS.c.fingerprint == d.fingerprint))
            .group_by(d.fingerprint)
            .order_by(d.created.desc(), d.fingerprint)
        )
        with self._db.session("listing datasets", read=True) as conn:
            rows = conn.execute(stmt).all()
        return [
            DatasetSummary(
                fingerprint=r.fingerprint,
                source=r.source,
                n_rows=r.n_rows,
                n_columns=r.n_columns,
                created=r.created,
                first_used=r.first_used,
                last_used=r.last_used,
                n_runs=r.n_runs,
            )
            for r in rows
        ]

    def runs_for_dataset(self, fingerprint: str) -> list[Run]:
        """The runs that read this dataset (fingerprint or unique prefix), oldest first."""
        self._db.flush()
        with self._db.session(f"reading runs of dataset {fingerprint}", read=True) as conn:
            fp = resolve_dataset(conn, fingerprint).fingerprint
            ids = select(INPUTS.c.run_id).where(INPUTS.c.fingerprint == fp)
            rows = (
                conn.execute(select(RUNS.c.id).where(RUNS.c.id.in_(ids)).order_by(RUNS.c.start_time, RUNS.c.id))
                .scalars()
                .all()
            )
            return reads.load_runs(conn, rows)


def _fingerprint(value: object) -> str:
    text = str(value).strip().lower()
    if not text or len(text) > 64 or not set(text) <= _HEX:
        raise NotFoundError(f"dataset {value!r} does not exist: fingerprints are 64 hex digits")
    return text


def resolve_dataset(conn: Connection, fingerprint: str) -> Any:
    """The ``datasets`` row with this fingerprint or unique fingerprint prefix.

    Raises
    ------
    NotFoundError
        When no dataset matches.
    StoreError
        When a prefix matches several datasets (the message lists them).
    """
    text = _fingerprint(fingerprint)
    cond = DATASETS.c.fingerprint == text if len(text) == 64 else DATASETS.c.fingerprint.like(f"{text}%")
    rows = conn.execute(select(DATASETS).where(cond).limit(11)).all()
    if not rows:
        raise NotFoundError(f"dataset {fingerprint!r} does not exist; list datasets with 'skloop datasets'")
    if len(rows) > 1:
        shown = ", ".join(r.fingerprint[:16] for r in rows[:10])
        raise StoreError(f"dataset prefix {fingerprint!r} is ambiguous, it matches: {shown}; give more characters")
    return rows[0]
