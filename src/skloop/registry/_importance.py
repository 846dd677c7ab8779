"""Which input columns a fitted pipeline relies on: permutation importance per column.

The permutation is applied to the raw input columns (before preprocessing), so one
number describes one column of the user's data, however many features the pipeline
makes of it (one-hot categories, date parts, TF-IDF terms).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import RegistryError

__all__ = ["column_importance"]


def column_importance(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series | np.ndarray,
    *,
    scoring: str | Callable[..., float],
    seed: int = 0,
    n_repeats: int = 5,
    max_rows: int = 2000,
) -> dict[str, dict[str, float]]:
    """Permutation importance of each input column of a fitted model.

    Parameters
    ----------
    model : estimator
        A fitted pipeline that takes the columns of ``X``.
    X : DataFrame
        Rows to score on, ideally not used for training (a holdout).
    y : Series or ndarray
        Their targets.
    scoring : str or callable
        A scikit-learn scorer name (``"roc_auc"``, ``"r2"`` ...) or scorer.
    seed : int, default=0
        Seeds both the row sample and the permutations.
    n_repeats : int, default=5
        Permutations per column.
    max_rows : int, default=2000
        At most this many rows (a seeded sample) are used, to bound the cost.

    Returns
    -------
    dict
        Column name to ``{"mean": ..., "std": ...}``: the drop of the score when the
        column is shuffled, over the repeats; sorted by mean, largest first.

    Raises
    ------
    RegistryError
        ``X`` is not a non-empty DataFrame matching ``y``, or scoring fails.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> X = pd.DataFrame({"a": np.arange(50.0), "b": np.zeros(50)})
    >>> model = LinearRegression().fit(X, 3 * X["a"])
    >>> list(column_importance(model, X, 3 * X["a"], scoring="r2"))
    ['a', 'b']
    """
    from sklearn.inspection import permutation_importance

    if not isinstance(X, pd.DataFrame) or X.empty:
        raise RegistryError("column_importance needs a non-empty DataFrame of the model's input columns")
    if len(X) != len(y):
        raise RegistryError(f"X has {len(X)} rows but y has {len(y)}; give the targets of the same rows")
    if max_rows < 1 or n_repeats < 1:
        raise RegistryError(f"max_rows and n_repeats must be at least 1; got {max_rows} and {n_repeats}")
    y_values = y.to_numpy() if isinstance(y, pd.Series) else np.asarray(y)
    if len(X) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(len(X), size=max_rows, replace=False))
        X, y_values = X.iloc[rows], y_values[rows]
    try:
        result = permutation_importance(
            model, X, y_values, scoring=scoring, n_repeats=n_repeats, random_state=seed, n_jobs=1
        )
    except Exception as exc:  # the estimator's or scorer's own error: name it, keep the cause
        raise RegistryError(
            f"permutation importance failed with scoring {scoring!r}: {type(exc).__name__}: {exc}"
        ) from exc
    pairs = [
        (str(name), {"mean": float(mean), "std": float(std)})
        for name, mean, std in zip(X.columns, result.importances_mean, result.importances_std, strict=True)
    ]
    pairs.sort(key=lambda item: (-item[1]["mean"], item[0]))
    return dict(pairs)
