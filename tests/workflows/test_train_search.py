"""Training with the strategies that decide as they go: optuna (an extra) and successive halving.

Each is tracked like a grid: its candidates in ``cv_results.json`` (with optuna's
``state`` and halving's rungs), the best params, the refit model registered, the
progress ticks, and the run page and model card showing the search's own best first.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from small_project import write_small_project

from skloop.workflows import NullProgress, Project

SPEC = """\
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
{search}  cv: {{folds: 3}}
  scoring: [roc_auc, accuracy]
  refit: roc_auc
"""

OPTUNA = """\
  strategy: optuna
  n_trials: 10
  space:
    model__max_depth: {dist: randint, low: 1, high: 16}
    model__min_samples_leaf: {dist: loguniform, low: 0.001, high: 0.2}
    model__criterion: [gini, entropy]
"""

HALVING = """\
  strategy: halving
  factor: 2
  space:
    model__max_depth: [1, 3, 6, 12]
"""


def _project(root: Path, search: str) -> Project:
    return Project.load(write_small_project(root, rows=300, spec=SPEC.format(search=search)))


def _candidates(project: Project, run_id: str) -> dict:
    return json.loads(project.store.runs.load_artifact(run_id, "cv_results.json"))


def test_optuna_search_is_tracked_and_registered(tmp_path: Path) -> None:
    """(That the same seed gives the same trials is checked in tests/pipelines/test_optuna_search.py.)"""
    pytest.importorskip("optuna")
    project = _project(tmp_path, OPTUNA)
    progress = NullProgress()
    result = project.train(progress=progress)
    assert progress.advanced == 10 * 3  # a tick per fold, a pruned trial's rest at once
    run = project.run(result.run_id)
    assert run.status == "finished" and run.params["search.strategy"] == "optuna"
    cv = _candidates(project, result.run_id)
    rows = cv["candidates"]
    states = [r["state"] for r in rows]
    assert len(rows) == result.n_candidates == 10 and {"complete", "pruned"} <= set(states)
    best = rows[cv["best_index"]]
    assert best["state"] == "complete" and best["rank_test_roc_auc"] == 1
    assert best["params"] == result.best_params
    assert {f"best.{k}" for k in result.best_params} <= set(run.params)
    assert best["folds_test_roc_auc"] == result.cv["roc_auc"]["folds"]
    assert run.metrics["cv_roc_auc_mean"] == pytest.approx(best["mean_test_roc_auc"])
    assert all(
        r["rank_test_roc_auc"] is None and len(r["folds_test_roc_auc"]) < 3 for r in rows if r["state"] == "pruned"
    )
    # the refit model is registered with the run
    assert result.model_version is not None
    version = project.store.models.get_model_version("churn", result.model_version)
    assert version.run_id == result.run_id
    assert result.model.get_params()["model__max_depth"] == result.best_params["model__max_depth"]


def test_halving_records_its_rungs_and_ranks_its_pick_first(tmp_path: Path) -> None:
    project = _project(tmp_path, HALVING)
    progress = NullProgress()
    result = project.train(progress=progress)
    cv = _candidates(project, result.run_id)
    rows = cv["candidates"]
    assert cv["scoring"] == ["roc_auc"]  # halving keeps one metric: the refit one
    rungs = [r["iter"] for r in rows]
    assert rungs == sorted(rungs) and rungs[0] == 0 and rungs[-1] >= 2
    per_rung = [rungs.count(i) for i in range(rungs[-1] + 1)]
    assert per_rung[0] == 4 and all(a >= b for a, b in itertools.pairwise(per_rung))
    resources = {r["iter"]: r["n_resources"] for r in rows}
    assert all(resources[i] < resources[i + 1] for i in range(rungs[-1]))
    # rank 1 is the search's pick, the best of the last rung (not the top score of a small early rung)
    best = rows[cv["best_index"]]
    assert best["rank_test_roc_auc"] == 1 and best["iter"] == rungs[-1]
    assert best["params"] == result.best_params and best["folds_test_roc_auc"] == result.cv["roc_auc"]["folds"]
    ranked = sorted(rows, key=lambda r: r["rank_test_roc_auc"])
    assert [r["iter"] for r in ranked] == sorted(rungs, reverse=True)  # the last rung first
    assert all(len(r["folds_test_roc_auc"]) == 3 for r in rows)
    assert progress.advanced == len(rows) * 3
    assert result.n_candidates == len(rows)
    # and the run page's plots and the model card show that pick first
    from skloop.registry._card import _search_section
    from skloop.ui._search_plots import search_of

    search = search_of(cv)
    assert search is not None and search.best is not None and search.best.index == cv["best_index"]
    section = _search_section(project.store.runs.get_run(result.run_id), cv)
    assert section["candidates"][0]["params"] == result.best_params
