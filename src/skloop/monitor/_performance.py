"""Realised performance once labels are known: metrics with bootstrap intervals.

:func:`performance` scores logged predictions against their labels with the task's
metrics (:data:`~skloop.monitor._metrics.CLASSIFICATION_METRICS` or
:data:`~skloop.monitor._metrics.REGRESSION_METRICS`), each with a percentile bootstrap
interval (seeded, vectorised: see :mod:`skloop.monitor._metrics`), and the change
against the version's training holdout score (the ``holdout_<scorer>`` metrics the
registry recorded).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import DataError
from skloop.data import class_name, positive_class
from skloop.monitor._metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    bootstrap_weights,
    chunks,
    classification_kernels,
    regression_kernels,
)
from skloop.monitor._types import Floats, Indices

__all__ = [
    "DEFAULT_N_BOOT",
    "HOLDOUT_KEYS",
    "MetricResult",
    "PerformanceReport",
    "performance",
]

DEFAULT_N_BOOT = 500
"""Bootstrap resamples behind each interval."""
DEFAULT_CONFIDENCE = 0.95

#: Metric → (registry metric holding its training holdout score, sign that turns that
#: score into the metric; scikit-learn's ``neg_*`` scorers are negated).
HOLDOUT_KEYS: dict[str, tuple[tuple[str, float], ...]] = {
    "accuracy": (("holdout_accuracy", 1.0),),
    "roc_auc": (("holdout_roc_auc", 1.0), ("holdout_roc_auc_ovr", 1.0)),
    "f1": (("holdout_f1", 1.0), ("holdout_f1_macro", 1.0)),
    "precision": (("holdout_precision", 1.0), ("holdout_precision_macro", 1.0)),
    "recall": (("holdout_recall", 1.0), ("holdout_recall_macro", 1.0)),
    "log_loss": (("holdout_neg_log_loss", -1.0), ("holdout_log_loss", 1.0)),
    "rmse": (("holdout_neg_root_mean_squared_error", -1.0), ("holdout_rmse", 1.0)),
    "mae": (("holdout_neg_mean_absolute_error", -1.0), ("holdout_mae", 1.0)),
    "r2": (("holdout_r2", 1.0),),
}
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class MetricResult:
    """One metric over a set of rows.

    Attributes
    ----------
    name : str
        One of :data:`CLASSIFICATION_METRICS` or :data:`REGRESSION_METRICS`.
    value : float or None
        The metric on all rows (``None`` when undefined, e.g. AUC with one class).
    lower, upper : float or None
        The bootstrap percentile interval at the report's ``confidence``.
    reference : float or None
        The version's training holdout score, when recorded.
    change : float or None
        ``value - reference``.
    greater_is_better : bool
        Direction of the metric (``False`` for losses and errors).
    estimated : bool
        Whether this is an expectation from probabilities, not a realised score.
    band : tuple of float or None
        The learned band ``mean ± k·std`` of the metric over reference chunks of this
        many rows (``monitoring.performance.threshold: learned``); the value alerts
        when outside it.
    """

    name: str
    value: float | None
    lower: float | None = None
    upper: float | None = None
    reference: float | None = None
    change: float | None = None
    greater_is_better: bool = True
    estimated: bool = False
    band: tuple[float, float] | None = None

    @property
    def outside_band(self) -> bool:
        """Whether the value lies outside its learned :attr:`band` (never without one)."""
        if self.band is None or self.value is None:
            return False
        return not self.band[0] <= self.value <= self.band[1]

    @property
    def degradation(self) -> float | None:
        """How much worse than the reference (positive: worse), in the metric's units."""
        if self.change is None:
            return None
        return -self.change if self.greater_is_better else self.change

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it."""
        return {
            "name": self.name, "value": self.value, "lower": self.lower, "upper": self.upper,
            "reference": self.reference, "change": self.change, "greater_is_better": self.greater_is_better,
            "estimated": self.estimated, "band": None if self.band is None else list(self.band),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricResult:
        """Rebuild from :meth:`to_dict` output."""
        given = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        if given.get("band") is not None:
            given["band"] = (float(given["band"][0]), float(given["band"][1]))
        return cls(**given)


@dataclass(frozen=True)
class PerformanceReport:
    """Metrics of one set of predictions (realised, or estimated when ``estimated``).

    Attributes
    ----------
    task : {"classification", "regression"}
    n_rows : int
        Rows scored.
    metrics : tuple of MetricResult
    confidence : float
        Level of the intervals.
    n_boot : int
        Bootstrap resamples.
    estimated : bool
        An estimate from calibrated probabilities (no labels were used).
    classes : tuple of str
        The class order (classification).
    positive : str or None
        Binary classification: the class ``f1``, ``precision`` and ``recall`` are about.
    """

    task: str
    n_rows: int
    metrics: tuple[MetricResult, ...]
    confidence: float = DEFAULT_CONFIDENCE
    n_boot: int = DEFAULT_N_BOOT
    estimated: bool = False
    classes: tuple[str, ...] = field(default=())
    positive: str | None = None

    def __getitem__(self, name: str) -> MetricResult:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(f"no metric {name!r}; computed: {[m.name for m in self.metrics]}")

    def __contains__(self, name: object) -> bool:
        return any(m.name == name for m in self.metrics)

    @property
    def names(self) -> list[str]:
        """Metric names, in order."""
        return [m.name for m in self.metrics]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it."""
        return {
            "task": self.task, "n_rows": self.n_rows, "confidence": self.confidence, "n_boot": self.n_boot,
            "estimated": self.estimated, "classes": list(self.classes), "positive": self.positive,
            "metrics": [m.to_dict() for m in self.metrics],
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PerformanceReport:
        """Rebuild from :meth:`to_dict` output."""
        try:
            return cls(
                task=data["task"], n_rows=int(data["n_rows"]), confidence=float(data["confidence"]),
                n_boot=int(data["n_boot"]), estimated=bool(data["estimated"]),
                classes=tuple(data.get("classes") or ()), positive=data.get("positive"),
                metrics=tuple(MetricResult.from_dict(m) for m in data["metrics"]),
            )  # fmt: skip
        except (KeyError, TypeError) as exc:
            raise DataError(f"not a performance dict ({exc}); expected PerformanceReport.to_dict() output") from exc


def holdout_reference(name: str, reference: Mapping[str, float] | None) -> float | None:
    """The training holdout value of metric ``name`` in a version's ``metrics``, if any."""
    for key, sign in HOLDOUT_KEYS.get(name, ()):
        if reference and reference.get(key) is not None:
            return _num(sign * float(reference[key]))
    return None


def proba_matrix(proba: Any, classes: Sequence[str], n: int) -> Floats | None:
    """Probabilities as an ``n × K`` float array in the order of ``classes``.

    Accepts an array (already in that order) or a DataFrame whose columns are the
    classes (``"1"``) or ``proba_<class>``.
    """
    if proba is None:
        return None
    if isinstance(proba, pd.DataFrame):
        by_text = {class_name(c.removeprefix("proba_") if isinstance(c, str) else c): c for c in proba.columns}
        missing = [c for c in classes if c not in by_text]
        if missing:
            raise DataError(f"no probability column for classes {missing}; columns are {list(proba.columns)}")
        arr = proba[[by_text[c] for c in classes]].to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        arr = np.asarray(proba, dtype=np.float64)
        if arr.ndim == 1 and len(classes) == 2:
            arr = np.column_stack([1.0 - arr, arr])
    if arr.shape != (n, len(classes)):
        raise DataError(f"probabilities have shape {arr.shape}; expected ({n}, {len(classes)}), one per class")
    return arr


def prepare_classification(
    y_pred: Any, classes: Sequence[Any] | None, y_true: Any = None
) -> tuple[tuple[str, ...], Indices]:
    """The classes as text and the index of each prediction among them (``-1``: unknown)."""
    pred = [class_name(v) for v in np.asarray(y_pred, dtype=object)]
    if classes is None:
        seen = set(pred) | ({class_name(v) for v in np.asarray(y_true, dtype=object)} if y_true is not None else set())
        found = sorted(c for c in seen if c is not None)
        classes = sorted(found, key=lambda c: (0, float(c)) if _is_number(c) else (1, c))
    texts = tuple(str(class_name(c)) for c in classes)
    if len(texts) < 2:
        raise DataError(f"classification needs at least two classes; found {list(texts)}")
    index = {c: i for i, c in enumerate(texts)}
    return texts, np.asarray([index.get(p, -1) if p is not None else -1 for p in pred], dtype=np.int64)


def positive_index(texts: Sequence[str], positive: Any = None) -> int | None:
    """The index among the class names ``texts`` of the positive class of a binary model.

    ``positive`` is the class recorded with the version (its value or its name);
    without it, the rule of :func:`skloop.data.positive_class` on the names alone
    (``"1"`` or ``"True"`` when present, else the last). ``None`` unless binary.

    Raises
    ------
    DataError
        ``positive`` is not one of the classes.
    """
    if len(texts) != 2:
        return None
    name = class_name(positive) if positive is not None else positive_class(list(texts))
    if name is None or name not in texts:
        raise DataError(f"the positive class {positive!r} is not one of the model's classes {list(texts)}")
    return list(texts).index(name)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def summarize(
    kernel: Any,
    n: int,
    *,
    names: Sequence[str],
    reference: Mapping[str, float] | None,
    n_boot: int,
    confidence: float,
    seed: int,
    estimated: bool = False,
    sampler: Any = None,
) -> tuple[MetricResult, ...]:
    """Point values (all weights 1) and bootstrap intervals of ``kernel(W)``.

    ``sampler(rng, size)``, when given, draws the resampled metrics instead of
    ``kernel`` on bootstrap weights (the estimate also draws the labels).
    """
    if not 0 < confidence < 1:
        raise DataError(f"confidence must be between 0 and 1; got {confidence}")
    point = kernel(np.ones((1, n)))
    draws: dict[str, list[Floats]] = {m: [] for m in point}
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        for size in chunks(n, n_boot):
            drawn = sampler(rng, size) if sampler is not None else kernel(bootstrap_weights(n, size, rng))
            for m, values in drawn.items():
                draws[m].append(values)
    alpha = (1.0 - confidence) / 2
    results = []
    for m in names:
        if m not in point:
            continue
        value = _num(point[m][0])
        lower = upper = None
        samples = np.concatenate(draws[m]) if draws[m] else np.empty(0)
        samples = samples[np.isfinite(samples)]
        if value is not None and samples.size >= 10:
            lower, upper = (float(q) for q in np.quantile(samples, [alpha, 1.0 - alpha]))
        ref = holdout_reference(m, reference)
        change = None if value is None or ref is None else value - ref
        result = MetricResult(
            name=m, value=value, lower=lower, upper=upper, reference=ref, change=change,
            greater_is_better=m not in LOWER_IS_BETTER, estimated=estimated,
        )  # fmt: skip
        results.append(result)
    return tuple(results)


def performance(
    y_true: Any,
    y_pred: Any,
    *,
    proba: Any = None,
    classes: Sequence[Any] | None = None,
    task: str | None = None,
    reference: Mapping[str, float] | None = None,
    metrics: Sequence[str] | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    positive: Any = None,
) -> PerformanceReport:
    """The task's metrics of predictions against their labels, with bootstrap intervals.

    Parameters
    ----------
    y_true, y_pred : array-like
        Labels and predictions of the same rows (rows with a missing label are dropped).
    proba : ndarray or DataFrame, optional
        Class probabilities (columns in the order of ``classes``, or named by class or
        ``proba_<class>``); needed for ``roc_auc`` and ``log_loss``.
    classes : sequence, optional
        The model's classes (``classes_``); default: the sorted labels seen.
    task : {"classification", "regression"}, optional
        Default: classification when ``proba`` or ``classes`` is given.
    reference : mapping, optional
        The version's ``metrics``; each metric's ``holdout_<scorer>`` value becomes its
        ``reference``, and ``change`` is measured from it.
    metrics : sequence of str, optional
        A subset of the task's metrics.
    n_boot : int, default=500
        Bootstrap resamples (0: no intervals).
    confidence : float, default=0.95
    seed : int, default=0
        Seeds the resampling; the same inputs and seed give the same intervals.
    positive : scalar, optional
        Binary classification: the positive class (the one recorded with the model
        version); default: ``1``/``True`` when a class, else the last of ``classes``.

    Returns
    -------
    PerformanceReport

    Raises
    ------
    DataError
        Mismatched lengths, no labeled row, probabilities of the wrong shape, or a
        ``positive`` that is not a class.

    Examples
    --------
    >>> report = performance([0, 1, 1, 0], [0, 1, 0, 0], classes=[0, 1], n_boot=0)
    >>> report["accuracy"].value, report["recall"].value
    (0.75, 0.5)
    """
    y_true_arr = np.asarray(y_true, dtype=object).reshape(-1)
    y_pred_arr = np.asarray(y_pred, dtype=object).reshape(-1)
    if y_true_arr.shape != y_pred_arr.shape:
        raise DataError(f"{len(y_true_arr)} labels for {len(y_pred_arr)} predictions; give one label per prediction")
    if task is None:
        task = "classification" if proba is not None or classes is not None else "regression"
    if task not in ("classification", "regression"):
        raise DataError(f"task must be 'classification' or 'regression'; got {task!r}")
    keep = np.asarray([class_name(v) is not None for v in y_true_arr], dtype=bool)
    if not keep.any():
        raise DataError("no prediction has a label yet; record labels (skloop labels) or wait for them")
    available = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    names = tuple(metrics or available)
    unknown = [m for m in names if m not in available]
    if unknown:
        raise DataError(f"unknown {task} metrics {unknown}; choose from {list(available)}")
    n = int(keep.sum())
    if task == "regression":
        try:
            y = y_true_arr[keep].astype(np.float64)
            yhat = y_pred_arr[keep].astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"regression labels and predictions must be numbers ({exc})") from exc

        def kernel(W: Floats) -> dict[str, Floats]:
            return regression_kernels(W, y, yhat, names)

        texts: tuple[str, ...] = ()
        pos = None
    else:
        texts, pred = prepare_classification(y_pred_arr, classes, y_true_arr)
        pos = positive_index(texts, positive)
        P = proba_matrix(proba, texts, len(y_true_arr))
        truth = np.asarray([class_name(v) for v in y_true_arr[keep]], dtype=object)
        T = (truth[:, None] == np.asarray(texts, dtype=object)[None, :]).astype(np.float64)
        pred = pred[keep]
        P = None if P is None else P[keep]

        def kernel(W: Floats) -> dict[str, Floats]:
            return classification_kernels(W, T, pred, P, names, pos)

    results = summarize(kernel, n, names=names, reference=reference, n_boot=n_boot, confidence=confidence, seed=seed)
    return PerformanceReport(
        task=task, n_rows=n, metrics=results, confidence=confidence, n_boot=n_boot, classes=texts,
        positive=None if pos is None else texts[pos],
    )  # fmt: skip
