"""Scorers by name, with the binary target's positive class as their ``pos_label``.

scikit-learn's ``f1``, ``precision``, ``recall``, ``average_precision`` and ``jaccard``
scorers are about the class ``1``: on a target of names (``stay`` / ``leave``) they
fail (``pos_label=1 is not a valid label``), and on any other binary target they
score whichever class happens to be ``1``. :func:`build_scorers` gives those scorers
the positive class :func:`skloop.data.positive_class` chose, so the search, the
holdout scores, the gates, ``skloop validate`` and the permutation importance all
measure the same class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sklearn.metrics import (
    average_precision_score,
    f1_score,
    get_scorer,
    jaccard_score,
    make_scorer,
    precision_score,
    recall_score,
)

__all__ = ["POS_LABEL_SCORERS", "build_scorer", "build_scorers"]

_SCORE_METHODS = ("decision_function", "predict_proba")

POS_LABEL_SCORERS: dict[str, tuple[Any, Any]] = {
    "f1": (f1_score, "predict"),
    "precision": (precision_score, "predict"),
    "recall": (recall_score, "predict"),
    "jaccard": (jaccard_score, "predict"),
    "average_precision": (average_precision_score, _SCORE_METHODS),
}
"""The binary scorers that depend on the positive class: name → (metric, response method).
(``roc_auc``, ``log_loss`` and ``brier`` give the same value whichever class is positive.)"""


def build_scorer(name: str, positive: Any = None) -> Any:
    """The scikit-learn scorer ``name``, about the class ``positive`` when it matters.

    Parameters
    ----------
    name : str
        A scikit-learn scorer name (:func:`sklearn.metrics.get_scorer_names`).
    positive : scalar, optional
        The positive class of a binary target (``None``: scikit-learn's default).

    Returns
    -------
    callable
        ``scorer(estimator, X, y)``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = [[0.0], [1.0], [2.0], [3.0]], ["stay", "stay", "leave", "leave"]
    >>> model = LogisticRegression().fit(X, y)
    >>> build_scorer("recall", positive="leave")(model, X, y)
    1.0
    """
    if positive is not None and name in POS_LABEL_SCORERS:
        metric, method = POS_LABEL_SCORERS[name]
        return make_scorer(metric, response_method=method, pos_label=positive)
    return get_scorer(name)


def build_scorers(names: Sequence[str], positive: Any = None) -> dict[str, Any]:
    """``{name: scorer}`` for each of ``names`` (see :func:`build_scorer`)."""
    return {name: build_scorer(name, positive) for name in names}
