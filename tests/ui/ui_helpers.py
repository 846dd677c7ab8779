"""Helpers of the web UI's tests: a store seeded fast, and a real search trained fast.

The store holds ``N_BULK`` runs imported in bulk (``Store.import_runs``: no training;
tags ``team`` and ``data``), three runs logged the way training logs them (folds as
metric steps, artifacts, a dataset, the spec, the environment), a failed run, and
model ``churn`` with a registered version and a rejected one retrained from it (its
parent). :func:`log_curves` adds two runs that logged metrics step by step;
:func:`train_search` trains a small grid search.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from skloop.core import GatesSpec
from skloop.registry import Registry
from skloop.store import DatasetRecord, Run, Store

if TYPE_CHECKING:
    from skloop.workflows import Project

N_BULK = 120
STATUSES = ("finished", "finished", "finished", "failed", "killed")
GATES = GatesSpec(min={"holdout_roc_auc": 0.75})
TOKEN = "s3cret-token"
FINGERPRINT = "ab" * 32
TEAMS = ("red", "blue", "red", "green")
"""Tag ``team`` of bulk run ``i`` is ``TEAMS[i % 4]``; tag ``data`` is ``v{i % 8}``."""
CURVES = {
    "a": {"loss": [0.9, 0.6, 0.45, 0.4], "accuracy": [0.5, 0.7, 0.8, 0.82]},
    "b": {"loss": [1.0, 0.8, 0.7, 0.66, 0.65, 0.64]},
}
"""What :func:`log_curves` logs: metric values by step, per run name."""
SEARCH_SPEC = """\
name: churn
seed: 7
data:
  train: data/churn.csv
  target: churned
  id: customer_id
  holdout: 0.2
pipeline:
  model:
    class: sklearn.tree.DecisionTreeClassifier
search:
  strategy: grid
  space:
    model__min_samples_leaf: [1, 4, 16, 100]
    model__criterion: [gini, entropy]
  cv: {folds: 3}
  scoring: [roc_auc, accuracy]
  refit: roc_auc
  n_jobs: 1
"""
"""A grid of 4 x 2 = 8 candidates (a numeric and a categorical param), 3 folds, on 400 rows."""


@dataclass(frozen=True)
class Seeded:
    """What the seeded store holds, by name."""

    store: Store
    bulk_ids: list[str]
    best: str  # a logged training run: folds, candidates, artifacts, dataset; churn v1
    other: str  # like best with other params; churn v2 (parent v1), rejected by the gates
    failed: str  # a run that raised


def _bulk_runs(t0: datetime) -> list[Run]:
    return [
        Run(
            id="",
            project="churn",
            kind="train",
            status=STATUSES[i % len(STATUSES)],
            start_time=t0 + timedelta(minutes=i),
            end_time=t0 + timedelta(minutes=i, seconds=20 + i % 7),
            name=f"bulk-{i:03d}",
            params={"model__C": str([0.1, 1, 10][i % 3]), "model": "LogisticRegression"},
            tags={"team": TEAMS[i % 4], "data": f"v{i % 8}"},
            metrics={"cv_roc_auc_mean": round(0.5 + i / 400, 4), "holdout_roc_auc": round(0.9 - i / 500, 4)},
        )
        for i in range(N_BULK)
    ]


def _training_run(store: Store, model_bytes: bytes, name: str, c: str, folds: list[float], holdout: float) -> str:
    spec = {"name": "churn", "target": "churned", "pipeline": {"model": "LogisticRegression"}}
    with store.runs.start_run(
        "churn", name=name, spec=spec, code_commit="c0ffee1234", code_dirty=False,
        environment={"python": "3.12.1", "scikit-learn": "1.7.0"}, seed=0,
    ) as run:  # fmt: skip
        store.datasets.log_dataset(
            run.id, DatasetRecord(fingerprint=FINGERPRINT, source="data/churn.csv", n_rows=400, n_columns=9)
        )
        store.runs.log_params(run.id, {"model": "LogisticRegression", "model__C": c, "search.cv.folds": len(folds)})
        metrics = [("cv_roc_auc_fold", s, i) for i, s in enumerate(folds)]
        metrics += [("cv_roc_auc_mean", sum(folds) / len(folds), 0), ("holdout_roc_auc", holdout, 0)]
        store.runs.log_batch(run.id, metrics=metrics)
        store.runs.log_artifact(run.id, "model.skops", model_bytes, media_type="application/x-skops")
        candidates = [
            {"params": {"model__C": v}, "mean_test_roc_auc": m, "rank_test_roc_auc": r}
            for v, m, r in ((0.1, 0.71, 3), (1.0, 0.83, 1), (10.0, 0.79, 2))
        ]
        cv = {"refit": "roc_auc", "scoring": ["roc_auc"], "best_index": 1, "candidates": candidates}
        store.runs.log_artifact(run.id, "cv_results.json", json.dumps(cv).encode(), media_type="application/json")
    return run.id


def seed(store: Store, model_bytes: bytes) -> Seeded:
    """Fill ``store`` as the module docstring says."""
    bulk_ids = store.runs.import_runs(_bulk_runs(datetime(2026, 1, 1, tzinfo=UTC)))
    best = _training_run(store, model_bytes, "best", "1.0", [0.81, 0.84, 0.83], 0.82)
    other = _training_run(store, model_bytes, "other", "10.0", [0.70, 0.66, 0.69], 0.61)
    with pytest.raises(ValueError), store.runs.start_run("churn", name="broken") as run:
        raise ValueError("the CSV has no column 'churned'")
    registry = Registry(store)
    registry.register(best, "churn", gates=GATES)
    registry.register(other, "churn", gates=GATES, parent_version=1)  # retrained from v1, as the loop records it
    return Seeded(store=store, bulk_ids=bulk_ids, best=best, other=other, failed=run.id)


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def seed_decisions(seeded: Seeded) -> list[str]:
    """Two loop decisions of ``churn``, written through ``store.loop`` (no loop run).

    The first retrained (run ``other``, v2) against champion v1 and kept v1; the second
    fired nothing. Returns their ids, oldest first.
    """
    loop = seeded.store.loop
    first = loop.create_decision("churn", evaluated_at=datetime(2026, 2, 1, 9, 30, tzinfo=UTC))
    loop.update_decision(
        first.id, champion_version=1, challenger_version=2, retrain_run_id=seeded.other, fired=["drift_psi"],
        triggers=[
            {"name": "drift_psi", "fired": True, "value": 0.31, "threshold": 0.2, "detail": "tenure drifted"},
            {"name": "schedule", "fired": False, "value": None, "threshold": None, "detail": "not due"},
        ],
        comparison={"metric": "roc_auc", "method": "paired_bootstrap", "champion": 0.82, "challenger": 0.61,
                    "p_value": 0.0123},
    )  # fmt: skip
    loop.finish_decision(first.id, outcome="kept", reason="the challenger scored worse than the champion")
    second = loop.create_decision("churn", evaluated_at=datetime(2026, 2, 2, 9, 30, tzinfo=UTC))
    loop.update_decision(second.id, champion_version=1, triggers=[{"name": "drift_psi", "fired": False, "value": 0.05}])
    loop.finish_decision(second.id, outcome="none", reason="no trigger fired")
    return [first.id, second.id]


def log_curves(store: Store) -> dict[str, str]:
    """Two runs that logged :data:`CURVES` step by step (``log_metric(..., step=i)``); their ids by name."""
    ids = {}
    for name, metrics in CURVES.items():
        with store.runs.start_run("churn", name=f"curve-{name}") as run:
            for key, values in metrics.items():
                for step, value in enumerate(values):
                    store.runs.log_metric(run.id, key, value, step=step)
            store.runs.log_metric(run.id, "epochs", len(next(iter(metrics.values()))))  # one step: no curve
        ids[name] = run.id
    return ids


def train_search(root: Path) -> tuple[Project, str]:
    """Train :data:`SEARCH_SPEC` (a real GridSearchCV) in ``root``; the project (close it) and the run id."""
    from skloop.workflows import Project, init_example

    spec = init_example(root, n_rows=400, force=True)
    spec.write_text(SEARCH_SPEC)
    project = Project.load(spec)
    return project, project.train(n_jobs=1).run_id
