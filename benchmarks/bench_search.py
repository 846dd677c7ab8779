"""Search strategies at an equal budget: optuna (TPE + pruning) against random search and a grid.

On a generated classification table, each strategy evaluates the same number of
candidates (``--budget``) over the same folds with the same model, through skloop's
``build_search``: ``grid`` and ``random`` are plain scikit-learn ``GridSearchCV`` and
``RandomizedSearchCV`` (what a user would write by hand), ``optuna`` is skloop's
:class:`~skloop.pipelines.OptunaSearchCV`, with and without its median pruning. Printed
per strategy: the best mean CV score (averaged over ``--seeds`` seeds, with its range),
the (candidate, fold) fits made, the search's wall and CPU time (``--n-jobs 1``: every fit
in this process, so CPU time is the cost even on a busy machine) and their ratios to the
grid's, and the load average.

Run: ``python benchmarks/bench_search.py [--rows 4000] [--budget 24] [--folds 5] [--seeds 3]``
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

from skloop.core import SearchSpec
from skloop.pipelines import build_search

GRID = {  # 3 x 2 x 2 x 2 = 24 candidates
    "model__learning_rate": [0.03, 0.1, 0.3],
    "model__max_leaf_nodes": [8, 48],
    "model__min_samples_leaf": [10, 60],
    "model__l2_regularization": [0.0, 1.0],
}
SPACE = {
    "model__learning_rate": {"dist": "loguniform", "low": 0.01, "high": 0.5},
    "model__max_leaf_nodes": {"dist": "randint", "low": 4, "high": 96},
    "model__min_samples_leaf": {"dist": "randint", "low": 5, "high": 120},
    "model__l2_regularization": {"dist": "loguniform", "low": 1e-4, "high": 10.0},
}


def table(rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """A noisy table with interactions: where the best params are not on a coarse grid."""
    X, y = make_classification(
        n_samples=rows, n_features=20, n_informative=8, n_redundant=4, n_clusters_per_class=4,
        flip_y=0.08, class_sep=0.7, random_state=seed,
    )  # fmt: skip
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]), pd.Series(y)


def search_spec(strategy: str, budget: int, folds: int, n_jobs: int, pruning: bool) -> SearchSpec:
    spec: dict[str, Any] = {"strategy": strategy, "cv": {"folds": folds}, "scoring": "roc_auc", "n_jobs": n_jobs}
    if strategy == "grid":
        spec["space"] = GRID
    elif strategy == "random":
        spec.update(space=SPACE, n_iter=budget)
    else:
        spec.update(space=SPACE, n_trials=budget, pruning=pruning)
    return SearchSpec.model_validate(spec)


def run(
    strategy: str, X: pd.DataFrame, y: pd.Series, args: argparse.Namespace, seed: int, pruning: bool = True
) -> tuple[float, int, float, float]:
    """The best mean CV score, the fits made, the search's wall and CPU seconds (n_jobs=1: all in this process)."""
    pipe = Pipeline([("model", HistGradientBoostingClassifier(max_iter=40, early_stopping=False, random_state=0))])
    plan = build_search(
        pipe, search_spec(strategy, args.budget, args.folds, args.n_jobs, pruning), task="classification", seed=seed
    )
    started, cpu = time.perf_counter(), time.process_time()
    plan.search.fit(X, y)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    cv = plan.search.cv_results_
    fits = int(sum((~np.isnan(cv[f"split{j}_test_roc_auc"].astype(float))).sum() for j in range(args.folds)))
    return float(plan.search.best_score_), fits, seconds, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--budget", type=int, default=24, help="candidates per strategy (the grid has 24)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3, help="tables and search seeds to average over")
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args()
    strategies = [("grid", True), ("random", True), ("optuna", True), ("optuna", False)]
    results: dict[str, list[tuple[float, int, float, float]]] = {}
    load_before = os.getloadavg()
    for seed in range(args.seeds):
        X, y = table(args.rows, seed)
        for strategy, pruning in strategies:
            name = strategy if strategy != "optuna" else ("optuna (TPE + pruning)" if pruning else "optuna (TPE only)")
            results.setdefault(name, []).append(run(strategy, X, y, args, seed, pruning))
            score, fits, seconds, cpu = results[name][-1]
            print(
                f"seed {seed} {name:<24} best {score:.4f} fits {fits:>4} wall {seconds:6.1f}s cpu {cpu:6.1f}s",
                flush=True,
            )
    load_after = os.getloadavg()
    grid_time = float(np.mean([r[2] for r in results["grid"]]))
    grid_cpu = float(np.mean([r[3] for r in results["grid"]]))
    print(
        f"\n{args.rows} rows x 20 features, HistGradientBoostingClassifier(max_iter=40), "
        f"budget {args.budget} candidates "
        f"x {args.folds} folds, roc_auc, {args.seeds} seed(s), n_jobs={args.n_jobs}"
    )
    print(
        f"{'strategy':<24} {'best CV roc_auc':>16} {'range':>14} {'fits':>5} "
        f"{'wall s':>7} {'x grid':>6} {'CPU s':>6} {'x grid':>6}"
    )
    for name, rows in results.items():
        scores = [r[0] for r in rows]
        fits = np.mean([r[1] for r in rows])
        seconds = float(np.mean([r[2] for r in rows]))
        cpu = float(np.mean([r[3] for r in rows]))
        print(
            f"{name:<24} {np.mean(scores):>16.4f} {min(scores):>7.4f}-{max(scores):.4f} {fits:>5.0f} "
            f"{seconds:>7.1f} {seconds / grid_time:>6.2f} {cpu:>6.1f} {cpu / grid_cpu:>6.2f}"
        )
    for name in results:
        if name != "grid":
            gains = [r[0] - g[0] for r, g in zip(results[name], results["grid"], strict=True)]
            wins = sum(g > 0 for g in gains)
            print(
                f"{name}: best score - grid's = {np.mean(gains):+.4f} on average, higher on {wins}/{len(gains)} seeds"
            )
    print(
        f"load average before {load_before[0]:.2f} {load_before[1]:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f}"
    )


if __name__ == "__main__":
    main()
