"""Champion against challenger on the same labelled rows: is the challenger really better?

Three paired tests, each of ``H0: improvement <= margin`` against ``H1: improvement >
margin``, where *improvement* is the challenger's metric minus the champion's, signed
so that positive is better (a smaller loss is an improvement):

``bootstrap`` (any metric)
    The same resamples of the rows score both models (one count matrix ``W``, see
    :mod:`skloop.monitor._metrics`), so the spread of the *difference* is measured,
    not the spread of each score. ``p`` is the share of resampled improvements at or
    below the margin; ``lower``/``upper`` are the percentiles at ``1 - confidence``
    and ``confidence``.
``mcnemar`` (accuracy)
    Only the discordant rows matter: ``b`` (champion right, challenger wrong) and
    ``c`` (challenger right, champion wrong); improvement ``(c - b) / n``. With a zero
    margin ``p`` is the exact binomial tail ``P(X >= c)``, ``X ~ Bin(b + c, 1/2)``;
    with a margin, a normal test with the paired variance ``(b + c - (c - b)²/n) / n²``.
``delong`` (binary ROC AUC)
    DeLong, DeLong & Clarke-Pearson (1988), in the fast mid-rank form of Sun & Xu
    (2014): the covariance of the two AUCs from their structural components, and a
    normal test of the difference.

The challenger is :attr:`ModelComparison.better` when ``p <= 1 - confidence``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import numpy as np
from scipy import stats

from skloop.core import DataError
from skloop.data import class_name
from skloop.monitor._metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    bootstrap_weights,
    chunks,
    classification_kernels,
    regression_kernels,
)
from skloop.monitor._performance import LOWER_IS_BETTER, positive_index, prepare_classification, proba_matrix
from skloop.monitor._types import Floats

__all__ = ["COMPARISON_METHODS", "ModelComparison", "compare_models", "delong_test", "mcnemar_test"]

COMPARISON_METHODS = ("bootstrap", "mcnemar", "delong")


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class ModelComparison:
    """The champion and the challenger scored on the same rows, and the paired test.

    Attributes
    ----------
    metric, method : str
    champion, challenger : float or None
        Each model's metric on all rows.
    difference : float or None
        Improvement of the challenger (positive: better, whatever the metric's direction).
    lower, upper : float or None
        One-sided confidence bounds of the improvement at ``confidence``.
    p_value : float or None
        Of ``H0: improvement <= margin``.
    margin, confidence : float
    n_rows : int
    greater_is_better : bool
        Direction of the metric itself.
    statistic : float or None
        The test's statistic (z, or McNemar's chi-square without correction).
    detail : dict
        Method-specific numbers (``b``, ``c``; ``se``; ``n_boot``).
    """

    metric: str
    method: str
    champion: float | None
    challenger: float | None
    difference: float | None
    lower: float | None
    upper: float | None
    p_value: float | None
    margin: float
    confidence: float
    n_rows: int
    greater_is_better: bool = True
    statistic: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def better(self) -> bool:
        """Whether the challenger is better by more than ``margin`` at ``confidence``."""
        return self.p_value is not None and self.p_value <= 1.0 - self.confidence

    def summary(self) -> str:
        """One sentence: both scores, the improvement, its bound and the verdict."""
        if self.champion is None or self.challenger is None or self.difference is None:
            return f"{self.metric} is undefined on these {self.n_rows} rows; the challenger cannot be judged better"
        verdict = "better" if self.better else "not shown better"
        bound = "" if self.lower is None else f", {100 * self.confidence:.0f}% lower bound {self.lower:+.4f}"
        p = "" if self.p_value is None else f", p={self.p_value:.3g}"
        return (
            f"challenger {self.metric} {self.challenger:.4f} vs champion {self.champion:.4f} on {self.n_rows} rows: "
            f"improvement {self.difference:+.4f}{bound}{p} ({self.method}); {verdict} than the champion "
            f"by more than {self.margin:g}"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it."""
        return {**asdict(self), "better": self.better}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelComparison:
        """Rebuild from :meth:`to_dict` output."""
        try:
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except TypeError as exc:
            raise DataError(f"not a model comparison ({exc}); expected ModelComparison.to_dict() output") from exc


def mcnemar_test(correct_a: Any, correct_b: Any, *, margin: float = 0.0) -> tuple[float, float, float, dict[str, Any]]:
    """McNemar's paired test that model B is more accurate than model A by more than ``margin``.

    Returns
    -------
    difference : float
        ``accuracy(B) - accuracy(A)``.
    p_value : float
    se : float
        Standard error of the difference.
    detail : dict
        ``b`` (A right, B wrong), ``c`` (B right, A wrong), ``chi2`` (uncorrected).

    Examples
    --------
    >>> d, p, se, detail = mcnemar_test([1, 1, 0, 0, 1, 0], [1, 0, 1, 1, 1, 1])
    >>> round(d, 4), round(p, 4), detail["b"], detail["c"]
    (0.3333, 0.3125, 1, 3)
    """
    a = np.asarray(correct_a, dtype=bool)
    b_ = np.asarray(correct_b, dtype=bool)
    n = a.size
    b = int(np.count_nonzero(a & ~b_))
    c = int(np.count_nonzero(~a & b_))
    diff = (c - b) / n
    se = math.sqrt(max(b + c - (c - b) ** 2 / n, 0.0)) / n
    chi2 = (b - c) ** 2 / (b + c) if b + c else 0.0
    exact = float(stats.binom.sf(c - 1, b + c, 0.5)) if b + c else 1.0
    p = exact if margin == 0.0 else _normal_p(diff, se, margin)
    return diff, p, se, {"b": b, "c": c, "chi2": chi2}


def _midranks(x: Floats) -> Floats:
    return stats.rankdata(x, method="average", axis=-1)


def delong_test(
    y_true: Any, score_a: Any, score_b: Any, *, margin: float = 0.0
) -> tuple[float, float, float, float, float]:
    """DeLong's test that model B's ROC AUC exceeds model A's by more than ``margin``.

    Parameters
    ----------
    y_true : array-like of 0/1 (or bool)
        1 marks the positive class.
    score_a, score_b : array-like
        Each model's score of the positive class.

    Returns
    -------
    auc_a, auc_b, difference, se, p_value : float

    Examples
    --------
    >>> auc_a, auc_b, d, se, p = delong_test([0, 0, 1, 1, 1], [.1, .6, .4, .7, .8], [.1, .2, .6, .7, .8])
    >>> round(auc_a, 4), round(auc_b, 4), round(d, 4)
    (0.8333, 1.0, 0.1667)
    """
    y = np.asarray(y_true).astype(bool)
    scores = np.vstack([np.asarray(score_a, dtype=np.float64), np.asarray(score_b, dtype=np.float64)])
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        raise DataError(f"DeLong's test needs at least two rows of each class; got {m} positive, {n} negative")
    pos, neg = scores[:, y], scores[:, ~y]
    tx, ty = _midranks(pos), _midranks(neg)
    tz = _midranks(np.hstack([pos, neg]))
    auc = tz[:, :m].sum(axis=1) / (m * n) - (m + 1.0) / (2.0 * n)
    v01 = (tz[:, :m] - tx) / n  # per positive: share of negatives it beats
    v10 = 1.0 - (tz[:, m:] - ty) / m  # per negative: share of positives that beat it
    cov = np.cov(v01) / m + np.cov(v10) / n
    var = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    se = math.sqrt(max(var, 0.0))
    diff = float(auc[1] - auc[0])
    return float(auc[0]), float(auc[1]), diff, se, _normal_p(diff, se, margin)


def _normal_p(diff: float, se: float, margin: float) -> float:
    """One-sided p of ``H0: difference <= margin`` (a point mass when ``se`` is 0)."""
    if se > 0:
        return float(stats.norm.sf((diff - margin) / se))
    return 0.0 if diff > margin else 1.0


def _auto_metric(task: str, n_classes: int, has_proba: bool) -> str:
    if task == "regression":
        return "rmse"
    return "roc_auc" if n_classes == 2 and has_proba else "accuracy"


def _auto_method(metric: str, n_classes: int) -> str:
    if metric == "roc_auc" and n_classes == 2:
        return "delong"
    if metric == "accuracy":
        return "mcnemar"
    return "bootstrap"


def compare_models(
    y_true: Any,
    champion: Any,
    challenger: Any,
    *,
    champion_proba: Any = None,
    challenger_proba: Any = None,
    metric: str = "auto",
    method: str = "auto",
    margin: float = 0.0,
    confidence: float = 0.95,
    classes: Sequence[Any] | None = None,
    task: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    positive: Any = None,
) -> ModelComparison:
    """Score two models' predictions of the same rows and test whether the challenger is better.

    Parameters
    ----------
    y_true : array-like
        The labels (or targets) of the rows.
    champion, challenger : array-like
        Each model's predictions of those rows.
    champion_proba, challenger_proba : ndarray or DataFrame, optional
        Class probabilities (columns in the order of ``classes``); needed for
        ``roc_auc`` and ``log_loss``.
    metric : str, default="auto"
        One of the monitor's metrics; ``auto``: ``roc_auc`` for a binary classifier
        with probabilities, else ``accuracy``; ``rmse`` for regression.
    method : {"auto", "bootstrap", "mcnemar", "delong"}, default="auto"
        ``auto``: ``delong`` for binary ``roc_auc``, ``mcnemar`` for ``accuracy``,
        ``bootstrap`` otherwise.
    margin : float, default=0.0
        The challenger must be better by more than this (in the metric's units).
    confidence : float, default=0.95
        One-sided confidence required.
    classes : sequence, optional
        The class order of the probabilities (default: the sorted labels seen).
    task : {"classification", "regression"}, optional
        Default: classification when probabilities or classes are given, or the
        labels are not numbers.
    n_boot, seed : int
        Resamples and seed of the paired bootstrap.
    positive : scalar, optional
        Binary classification: the positive class (the one recorded with the model
        version), as in :func:`~skloop.monitor.performance`.

    Returns
    -------
    ModelComparison

    Raises
    ------
    DataError
        Mismatched lengths, no labelled row, an unknown metric or a method that
        does not fit it.

    Examples
    --------
    >>> y = [0, 1] * 50
    >>> result = compare_models(y, [0] * 100, y, metric="accuracy")
    >>> result.method, result.difference, result.better
    ('mcnemar', 0.5, True)
    """
    y_arr = np.asarray(y_true, dtype=object).reshape(-1)
    a_arr = np.asarray(champion, dtype=object).reshape(-1)
    b_arr = np.asarray(challenger, dtype=object).reshape(-1)
    if not (y_arr.shape == a_arr.shape == b_arr.shape):
        raise DataError(
            f"{len(y_arr)} labels, {len(a_arr)} champion and {len(b_arr)} challenger predictions; "
            "score both models on the same rows"
        )
    if not 0.5 <= confidence < 1:
        raise DataError(f"confidence must be in [0.5, 1); got {confidence}")
    keep = np.asarray([class_name(v) is not None for v in y_arr], dtype=bool)
    if not keep.any():
        raise DataError("no row has a label; the models cannot be compared")
    if task is None:
        seen = [class_name(v) for v in y_arr[keep][:1000]]
        fractional = all(_is_float(t) for t in seen) and any(not float(str(t)).is_integer() for t in seen)
        probabilistic = champion_proba is not None or challenger_proba is not None or classes is not None
        task = "regression" if fractional and not probabilistic else "classification"
    n = int(keep.sum())
    if task == "regression":
        if metric == "auto":
            metric = _auto_metric(task, 0, False)
        if metric not in REGRESSION_METRICS:
            raise DataError(f"unknown regression metric {metric!r}; choose from {list(REGRESSION_METRICS)}")
        y = y_arr[keep].astype(np.float64)
        ya, yb = a_arr[keep].astype(np.float64), b_arr[keep].astype(np.float64)
        method = "bootstrap" if method == "auto" else method
        if method != "bootstrap":
            raise DataError(f"method {method!r} does not fit regression; use bootstrap")

        def kernel(W: Floats, which: int) -> Floats:
            return regression_kernels(W, y, ya if which == 0 else yb, [metric])[metric]

        n_classes = 0
        truth_idx = None
        pa = pb = sa = sb = None
    else:
        texts, pred_a = prepare_classification(a_arr, classes, np.concatenate([y_arr, b_arr]))
        _, pred_b = prepare_classification(b_arr, texts)
        n_classes = len(texts)
        pos = positive_index(texts, positive)
        Pa = proba_matrix(champion_proba, texts, len(y_arr))
        Pb = proba_matrix(challenger_proba, texts, len(y_arr))
        has_proba = Pa is not None and Pb is not None
        if metric == "auto":
            metric = _auto_metric(task, n_classes, has_proba)
        if metric not in CLASSIFICATION_METRICS:
            raise DataError(f"unknown classification metric {metric!r}; choose from {list(CLASSIFICATION_METRICS)}")
        if metric in ("roc_auc", "log_loss") and not has_proba:
            raise DataError(f"{metric} needs both models' probabilities (champion_proba and challenger_proba)")
        truth = np.asarray([class_name(v) for v in y_arr[keep]], dtype=object)
        T = (truth[:, None] == np.asarray(texts, dtype=object)[None, :]).astype(np.float64)
        truth_idx = T.argmax(axis=1)
        pa, pb = pred_a[keep], pred_b[keep]
        sa = None if Pa is None else Pa[keep]
        sb = None if Pb is None else Pb[keep]
        method = _auto_method(metric, n_classes) if method == "auto" else method
        if method == "mcnemar" and metric != "accuracy":
            raise DataError(f"McNemar's test compares accuracy, not {metric}; use method bootstrap")
        if method == "delong" and (metric != "roc_auc" or n_classes != 2):
            raise DataError("DeLong's test compares the ROC AUC of a binary classifier; use method bootstrap")

        def kernel(W: Floats, which: int) -> Floats:
            p, s = (pa, sa) if which == 0 else (pb, sb)
            return classification_kernels(W, T, p, s, [metric], pos)[metric]

    if method not in COMPARISON_METHODS:
        raise DataError(f"unknown comparison method {method!r}; choose from {['auto', *COMPARISON_METHODS]}")
    greater = metric not in LOWER_IS_BETTER
    sign = 1.0 if greater else -1.0
    ones = np.ones((1, n))
    value_a, value_b = _num(kernel(ones, 0)[0]), _num(kernel(ones, 1)[0])
    z = stats.norm.ppf(confidence)
    result = partial(
        ModelComparison, metric=metric, method=method, champion=value_a, challenger=value_b, margin=margin,
        confidence=confidence, n_rows=n, greater_is_better=greater,
    )  # fmt: skip
    if value_a is None or value_b is None:
        return result(difference=None, lower=None, upper=None, p_value=None)
    if method == "mcnemar":
        assert truth_idx is not None
        diff, p, se, detail = mcnemar_test(pa == truth_idx, pb == truth_idx, margin=margin)
        return result(
            difference=diff, lower=diff - z * se, upper=diff + z * se, p_value=p, statistic=detail["chi2"],
            detail={"b": detail["b"], "c": detail["c"], "se": se},
        )  # fmt: skip
    if method == "delong":
        assert sa is not None and sb is not None and truth_idx is not None
        c = 1 if pos is None else pos  # the AUC is the same for either class; the positive one reads best
        _, _, diff, se, p = delong_test(truth_idx == c, sa[:, c], sb[:, c], margin=margin)
        stat = None if se == 0 else (diff - margin) / se
        return result(
            difference=diff, lower=diff - z * se, upper=diff + z * se, p_value=p, statistic=stat,
            detail={"se": se},
        )  # fmt: skip
    rng = np.random.default_rng(seed)
    draws = []
    for size in chunks(n, n_boot):
        W = bootstrap_weights(n, size, rng)
        draws.append(sign * (kernel(W, 1) - kernel(W, 0)))
    d = np.concatenate(draws) if draws else np.empty(0)
    d = d[np.isfinite(d)]
    diff = sign * (value_b - value_a)
    if d.size < 10:
        return result(difference=diff, lower=None, upper=None, p_value=None, detail={"n_boot": 0})
    lower, upper = (float(q) for q in np.quantile(d, [1.0 - confidence, confidence]))
    p = float(np.mean(d <= margin))
    return result(difference=diff, lower=lower, upper=upper, p_value=p, detail={"n_boot": int(d.size), "seed": seed})


def _is_float(text: str | None) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return True
