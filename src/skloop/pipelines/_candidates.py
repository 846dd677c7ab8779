"""A fitted search's candidates as the table a run records (``cv_results.json``).

One layout for every strategy, so the run page, the model card and a reader of the
artifact need not know which search ran: per candidate its ``params``, per metric
``folds_test_<m>`` (the fold scores), ``mean_test_<m>``, ``std_test_<m>`` and
``rank_test_<m>`` (1 is the candidate the search picked), and the mean fit and score
times. Successive halving adds the rung (``iter``, from 0) and its ``n_resources``, and
its ranks order the last rung first, as the search picks its best there. Optuna adds
``state`` (``complete`` or ``pruned``); a pruned trial lists the folds it scored, its
means are over those folds and its ranks are null.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["candidates_table"]

_PLAIN = (int, float, str, bool, type(None))


def _number(value: Any) -> float | None:
    number = float(value)
    return None if math.isnan(number) else number


def _suffix(cv_results: dict[str, Any], name: str) -> str:
    return name if f"mean_test_{name}" in cv_results else "score"  # halving: one unnamed scorer


def _halving_ranks(cv_results: dict[str, Any], suffix: str) -> list[int]:
    """Ranks with the last rung first, then by mean score: rank 1 is halving's ``best_index_``."""
    rung = np.asarray(cv_results["iter"])
    means = np.nan_to_num(np.asarray(cv_results[f"mean_test_{suffix}"], dtype=float), nan=-np.inf)
    order = sorted(range(len(rung)), key=lambda i: (-rung[i], -means[i], i))
    ranks = [0] * len(order)
    for position, i in enumerate(order):
        previous = order[position - 1] if position else None
        tied = previous is not None and rung[previous] == rung[i] and means[previous] == means[i]
        ranks[i] = ranks[previous] if tied and previous is not None else position + 1
    return ranks


def candidates_table(cv_results: dict[str, Any], scoring: list[str]) -> list[dict[str, Any]]:
    """The rows of ``cv_results_`` (any skloop search) for ``scoring``'s metrics.

    Examples
    --------
    >>> import numpy as np
    >>> cv = {"params": [{"C": 1}], "split0_test_acc": np.array([0.8]), "split1_test_acc": np.array([0.9]),
    ...       "mean_test_acc": np.array([0.85]), "std_test_acc": np.array([0.05]),
    ...       "rank_test_acc": np.array([1]), "mean_fit_time": np.array([0.1])}
    >>> candidates_table(cv, ["acc"])[0]["folds_test_acc"]
    [0.8, 0.9]
    """
    halving = "iter" in cv_results and "n_resources" in cv_results
    ranks = {name: _halving_ranks(cv_results, _suffix(cv_results, name)) for name in scoring} if halving else {}
    rows: list[dict[str, Any]] = []
    for i, params in enumerate(cv_results["params"]):
        row: dict[str, Any] = {"params": {k: (v if isinstance(v, _PLAIN) else repr(v)) for k, v in params.items()}}
        if "state" in cv_results:
            row["state"] = str(cv_results["state"][i])
        if halving:
            row["iter"] = int(cv_results["iter"][i])
            row["n_resources"] = int(cv_results["n_resources"][i])
        for name in scoring:
            suffix = _suffix(cv_results, name)
            folds, j = [], 0
            while f"split{j}_test_{suffix}" in cv_results:
                score = _number(cv_results[f"split{j}_test_{suffix}"][i])
                if score is not None:
                    folds.append(score)
                j += 1
            row[f"folds_test_{name}"] = folds
            row[f"mean_test_{name}"] = _number(cv_results[f"mean_test_{suffix}"][i])
            row[f"std_test_{name}"] = _number(cv_results[f"std_test_{suffix}"][i])
            rank = ranks[name][i] if halving else _number(cv_results[f"rank_test_{suffix}"][i])
            row[f"rank_test_{name}"] = None if rank is None else int(rank)
        for key in ("mean_fit_time", "mean_score_time"):
            if key in cv_results:
                row[key] = _number(cv_results[key][i])
        rows.append(row)
    return rows
