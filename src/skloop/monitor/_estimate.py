"""Estimated performance before labels arrive: confidence-based performance estimation.

A classifier's probabilities say how often it expects to be right. Once *calibrated*
on rows whose labels are known (the training holdout), the calibrated probability
``p_k`` that a row is of class ``k`` makes every confusion-matrix cell an expectation:
``E[TP_k] = Σ_{pred=k} p_k``, ``E[FP_k] = Σ_{pred=k} (1 - p_k)``, and so on; accuracy,
F1, precision, recall, log loss and ROC AUC follow from those (the approach of
NannyML's CBPE). The estimate holds while the relation between features and label
does not change (covariate shift only); a concept drift is seen only once labels
arrive, which is why every estimate is marked ``estimated`` and, once labels are
there, reported next to the realised figure.

Calibration is isotonic regression per class (one-vs-rest), the rows then renormalised
to sum to one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from skloop.core import DataError
from skloop.data import class_name
from skloop.monitor._chunks import DEFAULT_CHUNKS, Band, chunk_spread, learned_band, round_size
from skloop.monitor._metrics import CLASSIFICATION_METRICS, bootstrap_weights, classification_kernels, score_order
from skloop.monitor._performance import (
    DEFAULT_CONFIDENCE,
    DEFAULT_N_BOOT,
    PerformanceReport,
    positive_index,
    prepare_classification,
    proba_matrix,
    summarize,
)
from skloop.monitor._types import Floats, Indices

__all__ = ["CBPE"]

MIN_REFERENCE_ROWS = 20


class CBPE:
    """Confidence-based performance estimation for a classifier.

    Parameters
    ----------
    classes : sequence
        The model's classes, in the order of its probability columns (``classes_``).
    metrics : sequence of str, optional
        Which of :data:`CLASSIFICATION_METRICS` to estimate (default: all).
    calibrate : bool, default=True
        Fit an isotonic calibration on the reference rows; without it the model's own
        probabilities are trusted as they are.
    positive : scalar, optional
        Binary: the positive class (the one recorded with the model version), as in
        :func:`~skloop.monitor.performance`.

    Attributes
    ----------
    classes_ : tuple of str
        The classes as text.
    calibrators_ : list of IsotonicRegression or None
        One per class (``None`` when ``calibrate=False``).
    reference_ : PerformanceReport
        The estimate on the reference rows themselves.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.random(500)
    >>> y = (rng.random(500) < p).astype(int)  # well calibrated: P(y=1) = p
    >>> est = CBPE(classes=[0, 1]).fit(np.column_stack([1 - p, p]), y)
    >>> q = rng.random(400)
    >>> report = est.estimate(np.column_stack([1 - q, q]), n_boot=0)
    >>> report.estimated, abs(report["accuracy"].value - 0.75) < 0.05  # E[max(p, 1 - p)] = 0.75
    (True, True)
    """

    def __init__(
        self,
        *,
        classes: Sequence[Any],
        metrics: Sequence[str] | None = None,
        calibrate: bool = True,
        positive: Any = None,
    ) -> None:
        self.classes = classes
        self.metrics = metrics
        self.calibrate = calibrate
        self.positive = positive

    def _names(self) -> tuple[str, ...]:
        names = tuple(self.metrics or CLASSIFICATION_METRICS)
        unknown = [m for m in names if m not in CLASSIFICATION_METRICS]
        if unknown:
            raise DataError(f"CBPE cannot estimate {unknown}; choose from {list(CLASSIFICATION_METRICS)}")
        return names

    def fit(self, proba: Any, y_true: Any) -> CBPE:
        """Calibrate on reference rows: their probabilities and true labels.

        Parameters
        ----------
        proba : ndarray or DataFrame of shape (n, K)
            The model's probabilities on the reference rows (e.g. the training holdout).
        y_true : array-like of shape (n,)
            Their labels.

        Returns
        -------
        self

        Raises
        ------
        DataError
            Too few rows, or shapes that do not match the classes.
        """
        from sklearn.isotonic import IsotonicRegression

        self._names()
        texts, _ = prepare_classification(list(self.classes), self.classes)
        labels = np.asarray([class_name(v) for v in np.asarray(y_true, dtype=object).reshape(-1)], dtype=object)
        P = proba_matrix(proba, texts, len(labels))
        assert P is not None
        keep = np.asarray([v is not None for v in labels]) & np.isfinite(P).all(axis=1)
        if keep.sum() < MIN_REFERENCE_ROWS:
            raise DataError(
                f"CBPE needs at least {MIN_REFERENCE_ROWS} labeled reference rows to calibrate; got {int(keep.sum())}"
            )
        P, labels = P[keep], labels[keep]
        T = (labels[:, None] == np.asarray(texts, dtype=object)[None, :]).astype(np.float64)
        self.classes_ = texts
        self.positive_ = positive_index(texts, self.positive)
        self.calibrators_: list[Any] | None = None
        if self.calibrate:
            self.calibrators_ = [
                IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(P[:, k], T[:, k])
                for k in range(len(texts))
            ]
        self.reference_ = self._report(P, P.argmax(axis=1), reference=None, n_boot=0, confidence=0.95, seed=0)
        self.reference_rows_ = (P, T)
        self._spreads: dict[tuple[int, int, int], dict[str, Band]] = {}
        return self

    def band(self, m: int, k: float, *, chunks: int = DEFAULT_CHUNKS, seed: int = 0) -> dict[str, Band]:
        """The learned band of each metric at ``m`` rows: ``mean ± k·std`` of the *realised*
        metric over chunks of ``m`` labeled reference rows (NannyML's CBPE thresholds)."""
        self._check_fitted()
        key = (round_size(int(m)), chunks, seed)
        if key not in self._spreads:
            P, T = self.reference_rows_
            names, pred, pos = self._names(), P.argmax(axis=1), self.positive_

            def kernel(W: Floats) -> dict[str, Floats]:
                return classification_kernels(W, T, pred, P, names, pos)

            self._spreads[key] = chunk_spread(kernel, len(P), key[0], chunks=chunks, seed=seed)
        return {
            name: learned_band(mean, std, k, lower=0.0, upper=None if name == "log_loss" else 1.0)
            for name, (mean, std) in self._spreads[key].items()
        }

    def calibrated(self, proba: Any) -> Floats:
        """Calibrated probabilities (``n × K``, rows summing to one) of ``proba``."""
        self._check_fitted()
        P = proba_matrix(proba, self.classes_, len(proba))
        assert P is not None
        if self.calibrators_ is None:
            Q = P.copy()
        elif len(self.calibrators_) == 2:  # binary: one calibration, of the positive class
            q = self.calibrators_[1].predict(P[:, 1])
            Q = np.column_stack([1.0 - q, q])
        else:
            Q = np.column_stack([cal.predict(P[:, k]) for k, cal in enumerate(self.calibrators_)])
        totals = Q.sum(axis=1, keepdims=True)
        # a row every calibrator maps to 0 keeps the model's own probabilities
        return np.where(totals > 0, Q / np.where(totals > 0, totals, 1.0), P)

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise DataError("this CBPE is not fitted yet; call fit(reference_proba, reference_labels) first")

    def _report(
        self,
        P: Floats,
        pred: Indices,
        *,
        reference: Mapping[str, float] | None,
        n_boot: int,
        confidence: float,
        seed: int,
    ) -> PerformanceReport:
        names = self._names()
        T = self.calibrated(P)

        def kernel(W: Floats) -> dict[str, Floats]:
            return classification_kernels(W, T, pred, P, names, self.positive_)

        cumulative = np.cumsum(T, axis=1)
        eye = np.eye(T.shape[1])
        orders = [score_order(P[:, c]) for c in range(P.shape[1])]  # the same scores in every resample

        def sampler(rng: np.random.Generator, size: int) -> dict[str, Floats]:
            # resample the rows *and* draw their labels from the calibrated
            # probabilities, so the interval is where the realised figure should fall
            W = bootstrap_weights(len(P), size, rng)
            drawn = (rng.random((size, len(P), 1)) > cumulative[None, :, :-1]).sum(axis=2)
            out: dict[str, list[Floats]] = {}
            for b in range(size):
                for m, v in classification_kernels(
                    W[b : b + 1], eye[drawn[b]], pred, P, names, self.positive_, orders
                ).items():
                    out.setdefault(m, []).append(v)
            return {m: np.concatenate(v) for m, v in out.items()}

        results = summarize(
            kernel, len(P), names=names, reference=reference, n_boot=n_boot, confidence=confidence, seed=seed,
            estimated=True, sampler=sampler,
        )  # fmt: skip
        return PerformanceReport(
            task="classification", n_rows=len(P), metrics=results, confidence=confidence, n_boot=n_boot,
            estimated=True, classes=self.classes_,
            positive=None if self.positive_ is None else self.classes_[self.positive_],
        )  # fmt: skip

    def estimate(
        self,
        proba: Any,
        y_pred: Any = None,
        *,
        reference: Mapping[str, float] | None = None,
        n_boot: int = DEFAULT_N_BOOT,
        confidence: float = DEFAULT_CONFIDENCE,
        seed: int = 0,
    ) -> PerformanceReport:
        """Expected metrics of unlabeled predictions, marked ``estimated``.

        Parameters
        ----------
        proba : ndarray or DataFrame of shape (n, K)
            The model's probabilities.
        y_pred : array-like, optional
            The predicted classes (default: the most probable class).
        reference : mapping, optional
            The version's ``metrics``, for the change against the training holdout.
        n_boot, confidence, seed
            As in :func:`~skloop.monitor.performance`; each resample also draws
            labels from the calibrated probabilities, so the interval is where the
            realised figure should fall (it does not cover calibration error).

        Returns
        -------
        PerformanceReport
            With ``estimated=True``.
        """
        self._check_fitted()
        n = len(proba)
        if n == 0:
            raise DataError("no predictions to estimate the performance of")
        P = proba_matrix(proba, self.classes_, n)
        assert P is not None
        if y_pred is None:
            pred = P.argmax(axis=1)
        else:
            _, pred = prepare_classification(y_pred, self.classes_)
        return self._report(P, pred, reference=reference, n_boot=n_boot, confidence=confidence, seed=seed)

    def __repr__(self) -> str:
        return f"CBPE(classes={list(self.classes)!r}, calibrate={self.calibrate}, positive={self.positive!r})"
