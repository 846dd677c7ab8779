"""The store: metadata (SQLAlchemy, SQLite or PostgreSQL) and artifacts (fsspec).

The only code in skloop that opens the database or writes an artifact. Open it with
:meth:`Store.open`; upgrade a server database with :func:`upgrade_database`
(``skloop db upgrade``). A store is one :class:`Database` (engines, the transaction
scope) carrying its parts: ``store.runs`` (:class:`RunStore`), ``store.datasets``
(:class:`DatasetStore`), ``store.histories`` (:class:`MetricHistories`),
``store.models`` (:class:`ModelStore`), ``store.predictions`` (:class:`PredictionStore`),
``store.loop`` (:class:`LoopStore`) and ``store.reports`` (:class:`ReportStore`).

Every name loads on first use (a ``_LAZY`` map, as in :mod:`skloop.core`), and a
:class:`Store` builds each part on first access: ``skloop runs`` imports the runs' modules
and not those of predictions, the loop, the mirror or the reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from skloop.core import lazy_names as _lazy_names

if TYPE_CHECKING:
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

# name -> the module that defines it, imported on first access
_LAZY: dict[str, str] = {
    "ArtifactStore": "skloop.store._artifacts",
    "StoredFile": "skloop.store._artifacts",
    "CheckReport": "skloop.store._check",
    "LeftoverUpload": "skloop.store._check",
    "STALE_AFTER": "skloop.store._check",
    "check_store": "skloop.store._check",
    "Database": "skloop.store._database",
    "DatasetStore": "skloop.store._datasets",
    "current_revision": "skloop.store._engine",
    "head_revision": "skloop.store._engine",
    "upgrade_database": "skloop.store._engine",
    "AliasEvent": "skloop.store._entities",
    "ArtifactRef": "skloop.store._entities",
    "DatasetRecord": "skloop.store._entities",
    "DatasetSummary": "skloop.store._entities",
    "Label": "skloop.store._entities",
    "Metric": "skloop.store._entities",
    "ModelSummary": "skloop.store._entities",
    "ModelVersion": "skloop.store._entities",
    "Prediction": "skloop.store._entities",
    "RUN_KINDS": "skloop.store._entities",
    "RUN_STATUSES": "skloop.store._entities",
    "Run": "skloop.store._entities",
    "RunInput": "skloop.store._entities",
    "VersionArtifact": "skloop.store._entities",
    "Decision": "skloop.store._entities_loop",
    "LoopLock": "skloop.store._entities_loop",
    "StepRecord": "skloop.store._entities_loop",
    "StoredReport": "skloop.store._entities_reports",
    "MAX_FILTER_DEPTH": "skloop.store._filter",
    "SearchFilterError": "skloop.store._filter",
    "MetricHistories": "skloop.store._histories",
    "LoopLockedError": "skloop.store._loop",
    "LoopStore": "skloop.store._loop",
    "MirrorItem": "skloop.store._mirror",
    "MirrorOutbox": "skloop.store._mirror",
    "MirrorStatus": "skloop.store._mirror",
    "ModelStore": "skloop.store._models",
    "RunFacets": "skloop.store._pages",
    "RunsPage": "skloop.store._pages",
    "BLOCK_KEY": "skloop.store._prediction_block",
    "block_records": "skloop.store._prediction_block",
    "is_block": "skloop.store._prediction_block",
    "DEFAULT_PAGE_SIZE": "skloop.store._prediction_pages",
    "PredictionPage": "skloop.store._prediction_pages",
    "PredictionStore": "skloop.store._predictions",
    "ReportStore": "skloop.store._reports",
    "PruneResult": "skloop.store._retention",
    "RetryPolicy": "skloop.store._retry",
    "reset_retry_counts": "skloop.store._retry",
    "retry_counts": "skloop.store._retry",
    "RunStore": "skloop.store._runs",
    "FlagCount": "skloop.store._serving_stats",
    "ServingStats": "skloop.store._serving_stats",
    "TrafficBucket": "skloop.store._serving_stats",
    "VersionSpan": "skloop.store._serving_stats",
    "VersionSwap": "skloop.store._serving_stats",
    "Store": "skloop.store._store",
    "TagFacet": "skloop.store._tag_facets",
}


__getattr__, __dir__ = _lazy_names(__name__, _LAZY, globals())
