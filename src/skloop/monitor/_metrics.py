"""Vectorised, weighted metric kernels: one matrix product per metric for every bootstrap.

A bootstrap resample is a vector of counts ``w`` (how often each row was drawn), so a
metric of the resample is a *weighted* metric of the original rows. Stacking ``B``
count vectors as the rows of ``W`` (``B × n``) turns every resample's metric into a
few matrix-vector products: no Python loop over resamples.

Classification targets are a matrix ``T`` (``n × K``) in the model's class order: the
one-hot true labels for realised performance, or calibrated probabilities for an
*expected* one (:mod:`skloop.monitor._estimate`): every formula below is linear in
``T``'s entries, so the same code gives realised and expected confusion counts,
accuracy, log loss and ROC AUC (pairs weighted by ``T`` as positives, ``1 - T`` as
negatives).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from skloop.monitor._types import Floats, Indices

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "bootstrap_weights",
    "classification_kernels",
    "regression_kernels",
    "score_order",
]

CLASSIFICATION_METRICS = ("accuracy", "roc_auc", "f1", "precision", "recall", "log_loss")
"""Metrics computed for classifiers; binary ``f1``/``precision``/``recall`` are of the
positive class (``positive``; by default the last of ``classes``), multiclass ones are macro averages, and
multiclass ``roc_auc`` is the one-vs-rest macro average."""
REGRESSION_METRICS = ("rmse", "mae", "r2")
"""Metrics computed for regressors."""

_EPS = 1e-15
_MAX_CELLS = 20_000_000  # resamples are drawn in chunks of at most this many counts


def bootstrap_weights(n: int, n_boot: int, rng: np.random.Generator) -> Floats:
    """``n_boot`` bootstrap count vectors of ``n`` rows (``n_boot × n``, float64).

    Examples
    --------
    >>> w = bootstrap_weights(5, 3, np.random.default_rng(0))
    >>> w.shape, w.sum(axis=1).tolist()
    ((3, 5), [5.0, 5.0, 5.0])
    """
    idx = rng.integers(0, n, size=(n_boot, n))
    flat = (idx + (np.arange(n_boot) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n).astype(np.float64)


def chunks(n: int, n_boot: int) -> list[int]:
    """Sizes of bootstrap chunks so one chunk holds at most ``_MAX_CELLS`` counts."""
    per = max(1, _MAX_CELLS // max(n, 1))
    return [min(per, n_boot - start) for start in range(0, n_boot, per)]


def _ratio(num: Floats, den: Floats) -> Floats:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def score_order(scores: Floats) -> tuple[Indices, Indices]:
    """The stable sort of ``scores`` and where each run of tied scores starts in it.

    What :func:`weighted_auc` needs of the scores alone: a caller scoring many
    resamples of the same scores (the CBPE's bootstrap) sorts them once.
    """
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    return order, np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])


def weighted_auc(W: Floats, scores: Floats, positive: Floats, order: tuple[Indices, Indices] | None = None) -> Floats:
    """ROC AUC of ``scores`` per row of ``W``, with soft positives ``positive`` in [0, 1].

    Tied scores count one half, as in :func:`sklearn.metrics.roc_auc_score`. ``nan``
    where a resample has no positive or no negative weight. ``order``: the
    :func:`score_order` of ``scores``, if already known.
    """
    by_score, starts = score_order(scores) if order is None else order
    Ws = W[:, by_score]
    pos = np.add.reduceat(Ws * positive[by_score], starts, axis=1)
    neg = np.add.reduceat(Ws * (1.0 - positive[by_score]), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    num = (pos * (below + 0.5 * neg)).sum(axis=1)
    return _ratio(num, pos.sum(axis=1) * neg.sum(axis=1))


def classification_kernels(
    W: Floats,
    T: Floats,
    pred: Indices,
    proba: Floats | None,
    names: Sequence[str] = CLASSIFICATION_METRICS,
    positive: int | None = None,
    orders: Sequence[tuple[Indices, Indices]] | None = None,
) -> dict[str, Floats]:
    """Classification metrics per row of ``W``.

    Parameters
    ----------
    W : ndarray of shape (B, n)
        Row weights (bootstrap counts, or ones for the point value).
    T : ndarray of shape (n, K)
        Targets in the class order: one-hot labels, or probabilities for expectations.
    pred : ndarray of shape (n,)
        Index of the predicted class (``-1``: a class the model does not know).
    proba : ndarray of shape (n, K) or None
        The model's probabilities; without them ``roc_auc`` and ``log_loss`` are left out.
    names : sequence of str
        Which of :data:`CLASSIFICATION_METRICS` to compute.
    positive : int, optional
        Binary: the column of the positive class (default: the last).
    orders : sequence, optional
        The :func:`score_order` of each column of ``proba`` (computed when not given).

    Returns
    -------
    dict of str to ndarray of shape (B,)
    """
    n, k = T.shape
    pos = k - 1 if positive is None else positive
    total = W.sum(axis=1)
    known = pred >= 0
    P = np.zeros((n, k))
    P[np.flatnonzero(known), pred[known]] = 1.0  # one-hot predictions
    out: dict[str, Floats] = {}
    if "accuracy" in names:
        out["accuracy"] = _ratio(W @ (P * T).sum(axis=1), total)
    wanted = [m for m in ("f1", "precision", "recall") if m in names]
    if wanted:
        classes = [pos] if k == 2 else list(range(k))
        per: dict[str, list[Floats]] = {m: [] for m in wanted}
        for c in classes:
            tp = W @ (P[:, c] * T[:, c])
            fp = W @ (P[:, c] * (1.0 - T[:, c]))
            fn = W @ ((1.0 - P[:, c]) * T[:, c])
            with np.errstate(divide="ignore", invalid="ignore"):
                # sklearn's zero_division=0: an undefined score counts as 0
                if "f1" in per:
                    per["f1"].append(np.nan_to_num(_ratio(2 * tp, 2 * tp + fp + fn)))
                if "precision" in per:
                    per["precision"].append(np.nan_to_num(_ratio(tp, tp + fp)))
                if "recall" in per:
                    per["recall"].append(np.nan_to_num(_ratio(tp, tp + fn)))
        for m, values in per.items():
            out[m] = np.mean(values, axis=0)
    if proba is not None:
        if "log_loss" in names:
            clipped = np.clip(proba / proba.sum(axis=1, keepdims=True), _EPS, 1.0)
            out["log_loss"] = _ratio(W @ -(T * np.log(clipped)).sum(axis=1), total)
        if "roc_auc" in names:
            sort = [None] * k if orders is None else list(orders)
            if k == 2:
                out["roc_auc"] = weighted_auc(W, proba[:, pos], T[:, pos], sort[pos])
            else:
                out["roc_auc"] = np.mean([weighted_auc(W, proba[:, c], T[:, c], sort[c]) for c in range(k)], axis=0)
    return {m: out[m] for m in names if m in out}


def regression_kernels(
    W: Floats, y: Floats, yhat: Floats, names: Sequence[str] = REGRESSION_METRICS
) -> dict[str, Floats]:
    """``rmse``, ``mae`` and ``r2`` per row of ``W`` (see :func:`classification_kernels`)."""
    total = W.sum(axis=1)
    err = y - yhat
    out: dict[str, Floats] = {}
    if "rmse" in names:
        out["rmse"] = np.sqrt(_ratio(W @ err**2, total))
    if "mae" in names:
        out["mae"] = _ratio(W @ np.abs(err), total)
    if "r2" in names:
        sse = W @ err**2
        sst = W @ y**2 - _ratio((W @ y) ** 2, total)
        out["r2"] = 1.0 - _ratio(sse, np.where(sst > 1e-12 * np.maximum(W @ y**2, 1.0), sst, 0.0))
    return {m: out[m] for m in names if m in out}
