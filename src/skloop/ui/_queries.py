"""Every call the UI makes to the store and the registry, in one place.

The pages never touch :class:`~skloop.store.Store` themselves: they call these thin
functions, so that when the store's API changes (its parts: runs, models, ...) only
this module changes. Each function does one read or one write and returns entities.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from skloop.core import NotFoundError
from skloop.monitor import MonitorReport
from skloop.registry import LineageNode, Registry, render_html, version_card
from skloop.store import (
    AliasEvent,
    DatasetRecord,
    Decision,
    Metric,
    ModelSummary,
    ModelVersion,
    Run,
    RunFacets,
    RunsPage,
    ServingStats,
    Store,
    StoredReport,
)

__all__ = [
    "CV_RESULTS_ARTIFACT",
    "alias_history",
    "artifact_bytes",
    "card_html",
    "count_runs",
    "cv_candidates",
    "dataset_lineage",
    "datasets",
    "decisions",
    "fold_key",
    "fold_scores",
    "get_run",
    "get_runs",
    "list_models",
    "list_projects",
    "list_versions",
    "metric_histories",
    "monitor_report",
    "monitor_reports",
    "promote",
    "rollback",
    "run_facets",
    "runs_page",
    "serving_stats",
    "version_lineage",
]

CV_RESULTS_ARTIFACT = "cv_results.json"
"""The artifact in which training records the search's candidates."""
FOLD_SUFFIX = "_fold"
"""Training logs the score of fold ``i`` as metric ``cv_<name>_fold`` at step ``i``."""
TAG_FACET_KEYS = 8
"""Tag keys the runs page offers as facets (those most runs carry)."""
TAG_FACET_VALUES = 6
"""Values listed per tag key (the most common)."""


def list_projects(store: Store) -> list[str]:
    """The projects that have runs."""
    return store.runs.facets().projects


def runs_page(
    store: Store,
    project: str,
    *,
    filter: str | None,
    order_by: Sequence[str],
    statuses: Sequence[str],
    limit: int,
    offset: int,
    count_up_to: int | None = None,
) -> RunsPage:
    """One page of a project's runs (raises ``SearchFilterError`` for a bad filter).

    ``count_up_to``: ``None`` counts every match, ``0`` none (the total comes later, from
    :func:`count_runs`, unless this is the last page).
    """
    return store.runs.search_runs_page(
        project, filter=filter, order_by=list(order_by), status=list(statuses), limit=limit, offset=offset,
        count_up_to=count_up_to,
    )  # fmt: skip


def count_runs(store: Store, project: str, *, filter: str | None, statuses: Sequence[str], up_to: int | None) -> int:
    """How many of the project's runs match (above ``up_to``: more than ``up_to``)."""
    return store.runs.count_runs(project, filter=filter, status=list(statuses), up_to=up_to)


def run_facets(store: Store, project: str) -> RunFacets:
    """How many of the project's runs have each status, and its most common tag keys and values."""
    # every run, exactly: from the tag indexes (migrations 0013, 0015), beside other projects too
    return store.runs.facets(project, tags=TAG_FACET_KEYS, tag_values=TAG_FACET_VALUES)


def get_run(store: Store, run_id: str) -> Run:
    """The run with this id (or unique prefix); ``NotFoundError`` otherwise."""
    return store.runs.get_run(run_id)


def get_runs(store: Store, run_ids: Sequence[str]) -> list[Run]:
    """The runs with these full ids, in that order (unknown ids left out)."""
    return store.runs.get_runs(run_ids)


def fold_key(key: str) -> str | None:
    """The scorer of a per-fold metric key (``cv_roc_auc_fold`` → ``roc_auc``), else None."""
    if key.startswith("cv_") and key.endswith(FOLD_SUFFIX) and len(key) > 3 + len(FOLD_SUFFIX):
        return key[3 : -len(FOLD_SUFFIX)]
    return None


def fold_scores(store: Store, run: Run) -> dict[str, list[float]]:
    """Per-fold CV scores of a run: ``{"roc_auc": [fold 0, fold 1, ...]}``.

    Read from the metric histories (every scorer in one read), not from the latest values.
    """
    keys = [k for k in sorted(run.metrics) if fold_key(k)]
    if not keys:
        return {}
    histories = store.histories.read([run.id], keys).get(run.id, {})
    return {str(fold_key(k)): [m.value for m in histories.get(k, [])] for k in keys}


def metric_histories(store: Store, run_ids: Sequence[str], *, max_points: int) -> dict[str, dict[str, list[Metric]]]:
    """The stepped metric histories (curves, folds) of the runs in one read, ``max_points`` per history at most."""
    return store.histories.read(run_ids, stepped=True, max_points=max_points)


def cv_candidates(store: Store, run: Run) -> dict[str, Any] | None:
    """The search's candidate table (``cv_results.json``) of a training run, if it has one."""
    if CV_RESULTS_ARTIFACT not in run.artifacts:
        return None
    try:
        data = json.loads(store.runs.load_artifact(run.id, CV_RESULTS_ARTIFACT))
    except (NotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def artifact_bytes(store: Store, run_id: str, name: str) -> bytes:
    """The verified bytes of a run's artifact (``NotFoundError``, ``ArtifactIntegrityError``)."""
    return store.runs.load_artifact(run_id, name)


def datasets(store: Store, fingerprints: Sequence[str]) -> dict[str, DatasetRecord]:
    """The dataset records of these fingerprints, by fingerprint (unknown ones left out)."""
    return {d.fingerprint: d for d in store.datasets.get_datasets(fingerprints)}


def list_models(store: Store) -> list[ModelSummary]:
    """Every registered model with its latest version and aliases."""
    return Registry(store).models()


def list_versions(store: Store, name: str) -> list[ModelVersion]:
    """Every version of model ``name``, oldest first (``ModelNotFoundError`` if none)."""
    return Registry(store).versions(name)


def alias_history(store: Store, name: str) -> list[AliasEvent]:
    """Every move of every alias of ``name``, oldest first."""
    return Registry(store).history(name)


def promote(
    store: Store, name: str, version: int, alias: str, *, reason: str, actor: str, force: bool = False
) -> AliasEvent:
    """Point ``alias`` at ``version`` through the registry, as ``skloop promote`` does."""
    return Registry(store).promote(name, version, alias, reason=reason, actor=actor, force=force)


def rollback(store: Store, name: str, alias: str, *, reason: str, actor: str) -> AliasEvent:
    """Move ``alias`` back to its previous holder, as ``skloop rollback`` does."""
    return Registry(store).rollback(name, alias, reason=reason, actor=actor)


def card_html(store: Store, name: str, version: int) -> str:
    """The model card of a version as its self-contained HTML page (``skloop card --html``)."""
    return render_html(version_card(Registry(store), f"{name}/{version}"))


def decisions(store: Store, name: str) -> list[Decision]:
    """Every loop decision of model ``name``, oldest first (``store.loop``, as ``skloop decisions``)."""
    return store.loop.list_decisions(name)


def version_lineage(store: Store, name: str, version: int) -> LineageNode:
    """Version → run → datasets, as ``skloop lineage NAME/VERSION`` (``ModelNotFoundError`` if unknown)."""
    return Registry(store).lineage(f"{name}/{version}")


def dataset_lineage(store: Store, fingerprint: str) -> LineageNode:
    """Dataset → every version trained on it → its run, as ``skloop lineage FINGERPRINT``.

    The caller passes hex only, so the registry never reads it as a model name;
    an unknown fingerprint raises ``ModelNotFoundError``.
    """
    return Registry(store).lineage(fingerprint)


def serving_stats(store: Store, name: str, *, start: datetime | None = None) -> ServingStats:
    """Model ``name``'s logged predictions since ``start``, aggregated per time bucket in SQL."""
    return store.predictions.serving_stats(name, start=start)


def monitor_reports(store: Store, name: str, *, limit: int | None = None, summaries: bool = True) -> list[StoredReport]:
    """The stored monitoring reports of model ``name``, oldest first (the newest ``limit``); rows only.

    ``summaries=False`` reads the verdict columns only (a list), not each report's summary.
    """
    return store.reports.list_reports(name, limit=limit, summaries=summaries)


def monitor_report(store: Store, name: str, report_id: str) -> tuple[StoredReport, MonitorReport]:
    """One stored report of ``name``, its record and the whole report (``NotFoundError`` if unknown)."""
    record = store.reports.get_report(report_id, name=name)
    return record, MonitorReport.from_json(store.reports.load_report(record))
