"""The store: metadata (SQLAlchemy, SQLite or PostgreSQL) and artifacts (fsspec).

The only code in skloop that opens the database or writes an artifact. Open it with
:meth:`Store.open`; upgrade a server database with :func:`upgrade_database`
(``skloop db upgrade``).
"""

from skloop.store._artifacts import ArtifactStore
from skloop.store._engine import current_revision, head_revision, upgrade_database
from skloop.store._entities import (
    RUN_KINDS,
    RUN_STATUSES,
    AliasEvent,
    ArtifactRef,
    DatasetRecord,
    DatasetSummary,
    Label,
    Metric,
    ModelSummary,
    ModelVersion,
    Prediction,
    Run,
    RunInput,
    VersionArtifact,
)
from skloop.store._entities_loop import Decision, LoopLock, StepRecord
from skloop.store._filter import MAX_FILTER_DEPTH, SearchFilterError
from skloop.store._loop import LoopLockedError
from skloop.store._pages import RunsPage
from skloop.store._store import Store

__all__ = [
    "MAX_FILTER_DEPTH",
    "RUN_KINDS",
    "RUN_STATUSES",
    "AliasEvent",
    "ArtifactRef",
    "ArtifactStore",
    "DatasetRecord",
    "DatasetSummary",
    "Decision",
    "Label",
    "LoopLock",
    "LoopLockedError",
    "Metric",
    "ModelSummary",
    "ModelVersion",
    "Prediction",
    "Run",
    "RunInput",
    "RunsPage",
    "SearchFilterError",
    "StepRecord",
    "Store",
    "VersionArtifact",
    "current_revision",
    "head_revision",
    "upgrade_database",
]
