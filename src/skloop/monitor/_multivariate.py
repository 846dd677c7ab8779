"""Multivariate drift: a change in how the features move together, which univariate tests miss.

Two methods, each per window against the reference:

* **PCA data-reconstruction error** (NannyML's): the reference inputs are encoded
  (numeric columns imputed with the reference mean, categorical ones as codes of the
  reference's categories, unseen ones one extra code), standardised, and a PCA keeping
  ``variance`` of the reference's variance is fitted. A row's error is the Euclidean
  distance between its standardised vector and its PCA reconstruction; a window's
  statistic is the mean error of its rows. It drifts when it leaves the band
  ``mean ± k·std`` of the same statistic over the reference's chunks of the window's
  size (with fewer than :data:`MIN_CHUNKS` whole chunks, the band of the mean's
  standard error, ``mean ± k·std_row/√n``).
* **Domain classifier** (NannyML's and Evidently's): a small seeded
  HistGradientBoostingClassifier learns to tell reference rows from window rows (each
  side subsampled to ``max_rows``); its ROC AUC is cross-validated (``folds``
  stratified folds). It drifts when the AUC reaches ``auc_threshold`` (default 0.55)
  *and* lies 3 null standard deviations above 0.5 — the Mann–Whitney standard
  deviation ``√((n₀+n₁+1)/(12·n₀·n₁))`` — so that a small window does not raise
  false alarms from the AUC's own noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import DataError

__all__ = [
    "DEFAULT_AUC_THRESHOLD",
    "DEFAULT_VARIANCE",
    "MIN_CHUNKS",
    "ClassifierDrift",
    "MultivariateDrift",
    "MultivariateReference",
    "ReconstructionDrift",
    "multivariate_drift",
]

DEFAULT_VARIANCE = 0.65
"""Share of the reference's (standardised) variance the PCA keeps, as NannyML."""
DEFAULT_AUC_THRESHOLD = 0.55
"""The domain classifier's AUC at or above which a window drifts (with the noise floor)."""
MIN_CHUNKS = 3
"""Whole reference chunks needed for the chunk band; fewer use the standard-error band."""
MAX_ROWS = 10_000


@dataclass(frozen=True)
class ReconstructionDrift:
    """The PCA data-reconstruction error of a window and the reference's band."""

    error: float
    reference_error: float
    lower: float
    upper: float
    n_components: int
    variance: float
    chunk_size: int
    n_chunks: int
    drifted: bool


@dataclass(frozen=True)
class ClassifierDrift:
    """The domain classifier's cross-validated ROC AUC (reference = 0, window = 1)."""

    auc: float
    fold_aucs: tuple[float, ...]
    threshold: float
    noise_floor: float
    n_reference: int
    n_current: int
    drifted: bool


@dataclass(frozen=True)
class MultivariateDrift:
    """Multivariate drift of a window: either method, or both.

    Attributes
    ----------
    columns : tuple of str
        The inputs used.
    reconstruction : ReconstructionDrift or None
    classifier : ClassifierDrift or None
    n_reference, n_current : int
    """

    columns: tuple[str, ...]
    n_reference: int
    n_current: int
    reconstruction: ReconstructionDrift | None = None
    classifier: ClassifierDrift | None = None

    @property
    def drifted(self) -> bool:
        """Whether any method fired."""
        return any(m is not None and m.drifted for m in (self.reconstruction, self.classifier))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``drifted`` included)."""
        return {
            "columns": list(self.columns), "n_reference": self.n_reference, "n_current": self.n_current,
            "drifted": self.drifted,
            "reconstruction": None if self.reconstruction is None else asdict(self.reconstruction),
            "classifier": None if self.classifier is None
            else {**asdict(self.classifier), "fold_aucs": list(self.classifier.fold_aucs)},
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MultivariateDrift:
        """Rebuild from :meth:`to_dict` output."""
        try:
            rec, clf = data.get("reconstruction"), data.get("classifier")
            return cls(
                columns=tuple(data["columns"]), n_reference=int(data["n_reference"]),
                n_current=int(data["n_current"]),
                reconstruction=None if rec is None else ReconstructionDrift(**rec),
                classifier=None if clf is None else ClassifierDrift(**{**clf, "fold_aucs": tuple(clf["fold_aucs"])}),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"not a multivariate drift result ({exc}); expected MultivariateDrift.to_dict()") from exc


class MultivariateReference:
    """The reference side, fitted once and compared with many windows.

    Parameters
    ----------
    reference : DataFrame
        The reference inputs (e.g. the training data).
    columns : sequence of str, optional
        The inputs to use; default every column of ``reference`` that is numeric,
        boolean or categorical (object / category dtype).
    variance : float, default=0.65
        Share of variance the PCA keeps.
    k : float, default=3.0
        Width of the reconstruction band in standard deviations.
    """

    def __init__(
        self,
        reference: pd.DataFrame,
        columns: Sequence[str] | None = None,
        *,
        variance: float = DEFAULT_VARIANCE,
        k: float = 3.0,
    ) -> None:
        from sklearn.decomposition import PCA
        from sklearn.preprocessing import StandardScaler

        if not isinstance(reference, pd.DataFrame) or reference.empty:
            raise DataError("multivariate drift needs a reference DataFrame with rows")
        if not 0.0 < variance < 1.0:
            raise DataError(f"variance must lie in (0, 1), got {variance!r}")
        if columns is None:
            columns = [str(c) for c in reference.columns if _usable(reference[c])]
        missing = [c for c in columns if c not in reference.columns]
        if missing:
            raise DataError(f"multivariate drift: reference lacks column(s) {missing}")
        if len(columns) < 2:
            raise DataError(f"multivariate drift needs at least 2 numeric or categorical columns, got {list(columns)}")
        self.columns = tuple(columns)
        self.k = float(k)
        self.variance = float(variance)
        self._means: dict[str, float] = {}
        self._categories: dict[str, dict[Any, int]] = {}
        for c in self.columns:
            s = reference[c]
            if _categorical(s):
                cats = s.dropna().value_counts().index
                self._categories[c] = {v: i for i, v in enumerate(cats)}
            else:
                mean = float(pd.to_numeric(s, errors="coerce").astype(float).mean())
                self._means[c] = 0.0 if math.isnan(mean) else mean
        self.reference_matrix = self.encode(reference)
        self.scaler = StandardScaler().fit(self.reference_matrix)
        self.pca = PCA(n_components=self.variance, svd_solver="full").fit(self.scaler.transform(self.reference_matrix))
        self.reference_errors = self._errors(self.reference_matrix)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """The numeric matrix of ``frame``'s columns (imputed, categories as codes)."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise DataError(f"multivariate drift: the window lacks column(s) {missing}")
        out = np.empty((len(frame), len(self.columns)), dtype=float)
        for j, c in enumerate(self.columns):
            if c in self._categories:
                codes = self._categories[c]
                # unseen and missing categories share one extra code
                out[:, j] = frame[c].map(codes).fillna(len(codes)).to_numpy(dtype=float)
            else:
                out[:, j] = pd.to_numeric(frame[c], errors="coerce").astype(float).fillna(self._means[c]).to_numpy()
        return out

    def _errors(self, matrix: np.ndarray) -> np.ndarray:
        z = self.scaler.transform(matrix)
        back = self.pca.inverse_transform(self.pca.transform(z))
        return np.asarray(np.linalg.norm(z - back, axis=1), dtype=float)

    def reconstruction(self, current: pd.DataFrame) -> ReconstructionDrift:
        """The window's mean reconstruction error against the reference band."""
        errors = self._errors(self.encode(current))
        n = len(errors)
        ref = self.reference_errors
        n_chunks = len(ref) // n if n else 0
        if n_chunks >= MIN_CHUNKS:
            chunks = ref[: n_chunks * n].reshape(n_chunks, n).mean(axis=1)
            centre, spread = float(chunks.mean()), float(chunks.std(ddof=1))
        else:
            centre, spread = float(ref.mean()), float(ref.std(ddof=1)) / math.sqrt(max(n, 1))
        error = float(errors.mean())
        lower, upper = centre - self.k * spread, centre + self.k * spread
        return ReconstructionDrift(
            error=error, reference_error=centre, lower=lower, upper=upper, n_components=int(self.pca.n_components_),
            variance=float(self.pca.explained_variance_ratio_.sum()), chunk_size=n, n_chunks=n_chunks,
            drifted=not lower <= error <= upper,
        )  # fmt: skip

    def classifier(
        self, current: pd.DataFrame, *, threshold: float = DEFAULT_AUC_THRESHOLD, folds: int = 3,
        max_rows: int = MAX_ROWS, seed: int = 0,
    ) -> ClassifierDrift:  # fmt: skip
        """The domain classifier's cross-validated AUC on reference vs ``current`` rows."""
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.model_selection import StratifiedKFold, cross_val_score

        rng = np.random.default_rng(seed)
        ref, cur = self.reference_matrix, self.encode(current)
        ref = ref[rng.choice(len(ref), max_rows, replace=False)] if len(ref) > max_rows else ref
        cur = cur[rng.choice(len(cur), max_rows, replace=False)] if len(cur) > max_rows else cur
        if min(len(ref), len(cur)) < folds:
            raise DataError(
                f"the domain classifier needs at least {folds} rows on each side, got {len(ref)}/{len(cur)}"
            )
        x = np.vstack([ref, cur])
        y = np.r_[np.zeros(len(ref), dtype=int), np.ones(len(cur), dtype=int)]
        model = HistGradientBoostingClassifier(max_iter=50, max_leaf_nodes=15, random_state=seed)
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        aucs = cross_val_score(model, x, y, cv=cv, scoring="roc_auc")
        auc = float(np.mean(aucs))
        n0, n1 = len(ref), len(cur)
        floor = 0.5 + 3.0 * math.sqrt((n0 + n1 + 1) / (12.0 * n0 * n1))
        return ClassifierDrift(
            auc=auc, fold_aucs=tuple(float(a) for a in aucs), threshold=float(threshold), noise_floor=floor,
            n_reference=n0, n_current=n1, drifted=auc >= max(threshold, floor),
        )  # fmt: skip

    def compare(
        self, current: pd.DataFrame, *, methods: Sequence[str] = ("reconstruction", "classifier"),
        auc_threshold: float = DEFAULT_AUC_THRESHOLD, folds: int = 3, max_rows: int = MAX_ROWS, seed: int = 0,
    ) -> MultivariateDrift:  # fmt: skip
        """Both (or the chosen) methods on one window."""
        unknown = sorted(set(methods) - {"reconstruction", "classifier"})
        if unknown:
            raise DataError(f"unknown multivariate method(s) {unknown}; expected 'reconstruction', 'classifier'")
        if not isinstance(current, pd.DataFrame) or current.empty:
            raise DataError("multivariate drift: the window has no rows")
        return MultivariateDrift(
            columns=self.columns, n_reference=len(self.reference_matrix), n_current=len(current),
            reconstruction=self.reconstruction(current) if "reconstruction" in methods else None,
            classifier=self.classifier(current, threshold=auc_threshold, folds=folds, max_rows=max_rows, seed=seed)
            if "classifier" in methods else None,
        )  # fmt: skip


def multivariate_drift(
    reference_frame: pd.DataFrame,
    current_frame: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    methods: Sequence[str] = ("reconstruction", "classifier"),
    variance: float = DEFAULT_VARIANCE,
    k: float = 3.0,
    auc_threshold: float = DEFAULT_AUC_THRESHOLD,
    folds: int = 3,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
) -> MultivariateDrift:
    """Multivariate drift of ``current_frame`` against ``reference_frame``.

    Parameters
    ----------
    reference_frame, current_frame : DataFrame
        Reference inputs and the window's.
    columns : sequence of str, optional
        Inputs to use (default: the reference's numeric, boolean and categorical columns).
    methods : sequence of str, default=("reconstruction", "classifier")
    variance : float, default=0.65
        Share of variance the PCA keeps.
    k : float, default=3.0
        Width of the reconstruction band in standard deviations.
    auc_threshold : float, default=0.55
        The domain classifier's AUC threshold.
    folds, max_rows, seed : int
        Cross-validation folds, rows kept per side, and the seed.

    Returns
    -------
    MultivariateDrift

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame(rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], 2000), columns=["a", "b"])
    >>> cur = pd.DataFrame(rng.multivariate_normal([0, 0], [[1, -0.9], [-0.9, 1]], 500), columns=["a", "b"])
    >>> multivariate_drift(ref, cur).drifted
    True
    """
    fitted = MultivariateReference(reference_frame, columns, variance=variance, k=k)
    return fitted.compare(
        current_frame, methods=methods, auc_threshold=auc_threshold, folds=folds, max_rows=max_rows, seed=seed
    )


def _categorical(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or pd.api.types.is_string_dtype(s)


def _usable(s: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(s):
        return False
    return pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s) or _categorical(s)
