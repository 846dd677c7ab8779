"""The store: metadata (SQLAlchemy, SQLite or PostgreSQL) and artifacts (fsspec).

The only code in skloop that opens the database or writes an artifact. Open it with
:meth:`Store.open`; upgrade a server database with :func:`upgrade_database`
(``skloop db upgrade``). A store is one :class:`Database` (engines, the transaction
scope) carrying its parts: ``store.runs`` (:class:`RunStore`), ``store.datasets``
(:class:`DatasetStore`), ``store.histories`` (:class:`MetricHistories`),
``store.models`` (:class:`ModelStore`), ``store.predictions`` (:class:`PredictionStore`),
``store.loop`` (:class:`LoopStore`) and ``store.reports`` (:class:`ReportStore`).
"""

from skloop.store._artifacts import ArtifactStore, StoredFile
from skloop.store._check import STALE_AFTER, CheckReport, LeftoverUpload, check_store
from skloop.store._database import Database
from skloop.store._datasets import DatasetStore
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
from skloop.store._entities_reports import StoredReport
from skloop.store._filter import MAX_FILTER_DEPTH, SearchFilterError
from skloop.store._histories import MetricHistories
from skloop.store._loop import LoopLockedError, LoopStore
from skloop.store._mirror import MirrorItem, MirrorOutbox, MirrorStatus
from skloop.store._models import ModelStore
from skloop.store._pages import RunFacets, RunsPage
from skloop.store._prediction_block import BLOCK_KEY, block_records, is_block
from skloop.store._prediction_pages import DEFAULT_PAGE_SIZE, PredictionPage
from skloop.store._predictions import PredictionStore
from skloop.store._reports import ReportStore
from skloop.store._retention import PruneResult
from skloop.store._retry import RetryPolicy, reset_retry_counts, retry_counts
from skloop.store._runs import RunStore
from skloop.store._serving_stats import FlagCount, ServingStats, TrafficBucket, VersionSpan, VersionSwap
from skloop.store._store import Store
from skloop.store._tag_facets import TagFacet

__all__ = [
    "BLOCK_KEY",
    "DEFAULT_PAGE_SIZE",
    "MAX_FILTER_DEPTH",
    "RUN_KINDS",
    "RUN_STATUSES",
    "STALE_AFTER",
    "AliasEvent",
    "ArtifactRef",
    "ArtifactStore",
    "CheckReport",
    "Database",
    "DatasetRecord",
    "DatasetStore",
    "DatasetSummary",
    "Decision",
    "FlagCount",
    "Label",
    "LeftoverUpload",
    "LoopLock",
    "LoopLockedError",
    "LoopStore",
    "Metric",
    "MetricHistories",
    "MirrorItem",
    "MirrorOutbox",
    "MirrorStatus",
    "ModelStore",
    "ModelSummary",
    "ModelVersion",
    "Prediction",
    "PredictionPage",
    "PredictionStore",
    "PruneResult",
    "ReportStore",
    "RetryPolicy",
    "Run",
    "RunFacets",
    "RunInput",
    "RunStore",
    "RunsPage",
    "SearchFilterError",
    "ServingStats",
    "StepRecord",
    "Store",
    "StoredFile",
    "StoredReport",
    "TagFacet",
    "TrafficBucket",
    "VersionArtifact",
    "VersionSpan",
    "VersionSwap",
    "block_records",
    "check_store",
    "current_revision",
    "head_revision",
    "is_block",
    "reset_retry_counts",
    "retry_counts",
    "upgrade_database",
]
