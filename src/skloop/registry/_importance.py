"""Which input columns a fitted pipeline relies on: permutation importance per column.

The permutation is applied to the raw input columns (before preprocessing), so one
number describes one column of the user's data, however many features the pipeline
makes of it (one-hot categories, date parts, TF-IDF terms).

The permutations are scikit-learn's (:func:`sklearn.inspection.permutation_importance`,
same seeds, same scores), but the model is called once per batch of permuted copies
instead of once per column and repeat: a pipeline's fixed cost per call (the
``ColumnTransformer``'s dispatch, validation) dominates on a holdout of a few hundred
rows, and the batched calls give the same outputs row for row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import RegistryError

__all__ = ["column_importance"]

BATCH_ROWS = 100_000
"""At most this many rows (permuted copies of the sample) go to the model in one call."""


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
    from sklearn.metrics import check_scoring

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
        scorer = check_scoring(model, scoring=scoring)
        baseline, permuted = _permutation_scores(model, X.reset_index(drop=True), y_values, scorer, n_repeats, seed)
    except Exception as exc:  # the estimator's or scorer's own error: name it, keep the cause
        raise RegistryError(
            f"permutation importance failed with scoring {scoring!r}: {type(exc).__name__}: {exc}"
        ) from exc
    drops = baseline - permuted
    pairs = [
        (str(name), {"mean": float(mean), "std": float(std)})
        for name, mean, std in zip(X.columns, drops.mean(axis=1), drops.std(axis=1), strict=True)
    ]
    pairs.sort(key=lambda item: (-item[1]["mean"], item[0]))
    return dict(pairs)


def _permuted_blocks(X: pd.DataFrame, n_repeats: int, seed: int) -> list[pd.DataFrame]:
    """``X``, then each column's ``n_repeats`` permutations, drawn as scikit-learn draws them.

    ``permutation_importance`` seeds every column with one number drawn from ``seed``
    and shuffles an index in place before each repeat, applied to the column as the
    previous repeat left it.
    """
    from sklearn.utils import check_random_state

    column_seed = check_random_state(seed).randint(np.iinfo(np.int32).max + 1)
    blocks = [X]
    for name in X.columns:
        state = check_random_state(column_seed)
        order = np.arange(len(X))
        column = X[name]
        for _ in range(n_repeats):
            state.shuffle(order)
            column = pd.Series(column.to_numpy()[order], index=X.index, dtype=X[name].dtype, name=name)
            block = X.copy()
            block[name] = column
            blocks.append(block)
    return blocks


def _permutation_scores(
    model: Any, X: pd.DataFrame, y: np.ndarray, scorer: Callable[..., float], n_repeats: int, seed: int
) -> tuple[float, np.ndarray]:
    """The unpermuted score and the ``(columns, repeats)`` scores of the permuted copies."""
    blocks = _permuted_blocks(X, n_repeats, seed)
    per_call = max(1, BATCH_ROWS // len(X))
    scores: list[float] = []
    for start in range(0, len(blocks), per_call):
        group = blocks[start : start + per_call]
        replay = _Replay(model, pd.concat(group, ignore_index=True), len(X))
        for k in range(len(group)):
            scores.append(float(scorer(replay, np.full((len(X), 1), k), y)))
    return scores[0], np.asarray(scores[1:]).reshape(X.shape[1], n_repeats)


class _Replay:
    """The model as a scorer sees it, answering block ``k``'s rows from one batched call.

    A scorer calls the model's ``predict`` / ``predict_proba`` / ``decision_function``
    on what it is given; here that is an array holding the block's number, and the
    answer is that block's slice of one call on every block. Only the methods the model
    has are offered, so a scorer picks the one it would pick on the model.
    """

    def __init__(self, model: Any, frame: pd.DataFrame, block_rows: int) -> None:
        self.model = model
        self._frame = frame
        self._rows = block_rows
        self._outputs: dict[str, Any] = {}
        if hasattr(model, "classes_"):
            self.classes_ = model.classes_

    def __sklearn_tags__(self) -> Any:
        return self.model.__sklearn_tags__()

    def _answer(self, method: str, token: np.ndarray) -> Any:
        if method not in self._outputs:
            self._outputs[method] = np.asarray(getattr(self.model, method)(self._frame))
        k = int(token[0, 0])
        return self._outputs[method][k * self._rows : (k + 1) * self._rows]

    def __getattr__(self, name: str) -> Any:
        """``predict``, ``predict_proba``, ... where the model has them (a scorer looks them up)."""
        if name not in _METHODS or name.startswith("_") or not hasattr(self.model, name):
            raise AttributeError(name)

        def answer(token: np.ndarray) -> Any:
            return self._answer(name, token)

        answer.__name__ = name  # scikit-learn post-processes by the method's name
        return answer


_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")
