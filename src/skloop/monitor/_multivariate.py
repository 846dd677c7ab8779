"""Multivariate drift: a change in how the features move together, which univariate tests miss.

Two methods, each per window against the reference:

* **PCA data-reconstruction error** (NannyML's): the reference inputs are encoded
  (numeric columns imputed with the reference mean, categorical ones as codes of the
  reference's categories, unseen ones one extra code), standardised, and a PCA keeping
  ``variance`` of the reference's variance is fitted — on a seeded half of the
  reference rows (:func:`reference_halves`). A row's error is the Euclidean
  distance between its standardised vector and its PCA reconstruction; a window's
  statistic is the mean error of its rows. It drifts when it leaves the band
  ``mean ± k·std`` of the same statistic over chunks of the window's size of the
  *other* half (with fewer than :data:`MIN_CHUNKS` whole chunks, the band of the mean's
  standard error, ``mean ± k·std_row/√n``). Unlike NannyML, the band is measured on
  rows the PCA was not fitted on: in-sample errors are biased low (the fit minimises
  them), which with a few thousand reference rows put unchanged windows above the band.
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
import pyarrow as pa

from skloop.core import DataError, MultivariateSpec
from skloop.monitor._loss import _one_thread
from skloop.monitor._mv_codes import CategoryCodes, Residual, arrow_numbers
from skloop.monitor._mv_read import MAX_REFERENCE_ROWS, kept_rows, read_reference_rows

__all__ = [
    "DEFAULT_AUC_THRESHOLD",
    "DEFAULT_VARIANCE",
    "MAX_REFERENCE_ROWS",
    "MAX_ROWS",
    "MIN_CHUNKS",
    "ClassifierDrift",
    "MultivariateDrift",
    "MultivariateReference",
    "MultivariateWindow",
    "ReconstructionDrift",
    "multivariate_drift",
    "multivariate_reference",
    "multivariate_text",
    "read_reference_rows",
    "reference_halves",
    "sampling_keys",
]

DEFAULT_VARIANCE = 0.65
"""Share of the reference's (standardised) variance the PCA keeps, as NannyML."""
DEFAULT_AUC_THRESHOLD = 0.55
"""The domain classifier's AUC at or above which a window drifts (with the noise floor)."""
MIN_CHUNKS = 10
"""Whole reference chunks needed for the chunk band; fewer use the standard-error band (the spread
of a handful of chunks is too noisy an estimate: 3 chunks of 500 rows flagged unchanged windows)."""
MAX_ROWS = 10_000
"""Rows per side the domain classifier learns on (and a streamed window's reservoir)."""


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
        keep = kept_rows(len(reference))  # beyond MAX_REFERENCE_ROWS, a seeded uniform sample bounds the fit
        if keep is not None:  # (read_reference_rows reads a Parquet reference keeping only these rows)
            reference = reference.iloc[keep]
        self.columns = tuple(columns)
        self.k = float(k)
        self.variance = float(variance)
        self._means: dict[str, float] = {}
        self._categories: dict[str, CategoryCodes] = {}
        for c in self.columns:
            s = reference[c]
            if _categorical(s):
                self._categories[c] = CategoryCodes(s.dropna().value_counts().index)
            else:
                mean = float(pd.to_numeric(s, errors="coerce").astype(float).mean())
                self._means[c] = 0.0 if math.isnan(mean) else mean
        self.reference_matrix = self.encode(reference)
        # the PCA is fitted on one half and the band measured on the other: errors of rows the
        # fit has seen are biased low (it minimises them), and a window's rows are never seen
        fit, held = reference_halves(len(self.reference_matrix))
        self.scaler = StandardScaler().fit(self.reference_matrix[fit])
        z = self.scaler.transform(self.reference_matrix[fit])
        # tall and narrow: the covariance's eigendecomposition, not a full SVD of the rows
        self.pca = PCA(n_components=self.variance, svd_solver="covariance_eigh").fit(z)
        self._residual = Residual(self.scaler, self.pca)
        self.reference_errors = self._errors(self.reference_matrix[held])

    def encode(self, frame: pd.DataFrame | pa.RecordBatch) -> np.ndarray:
        """The numeric matrix of ``frame``'s columns (imputed, categories as codes).

        ``frame`` may be an Arrow record batch (a streamed file's): string, dictionary and
        number columns are encoded from Arrow, without building pandas columns; any
        other column is converted as ``batch.to_pandas()`` converts it. Either way the
        matrix is the one of the batch in pandas.
        """
        names = set(frame.schema.names) if isinstance(frame, pa.RecordBatch) else set(frame.columns)
        missing = [c for c in self.columns if c not in names]
        if missing:
            raise DataError(f"multivariate drift: the window lacks column(s) {missing}")
        # column-major: each column written contiguously (row-major writes were 6x slower)
        out = np.empty((len(frame), len(self.columns)), dtype=float, order="F")
        for j, c in enumerate(self.columns):
            if isinstance(frame, pa.RecordBatch):
                got = self._arrow_column(frame, c)
                if got is not None:
                    out[:, j] = got
                    if c in self._means:
                        np.copyto(out[:, j], self._means[c], where=np.isnan(got))
                    continue
                col = frame.select([c]).to_pandas()[c]
            else:
                col = frame[c]
            if c in self._categories:
                # unseen and missing categories share one extra code; Arrow strings looked up in C++
                out[:, j] = self._categories[c].codes(col)
            elif pd.api.types.is_float_dtype(col) or pd.api.types.is_integer_dtype(col):
                values = col.to_numpy(dtype=float, na_value=np.nan)
                out[:, j] = values
                np.copyto(out[:, j], self._means[c], where=np.isnan(values))
            else:
                out[:, j] = pd.to_numeric(col, errors="coerce").astype(float).fillna(self._means[c]).to_numpy()
        return out

    def _arrow_column(self, batch: pa.RecordBatch, name: str) -> np.ndarray | None:
        """Column ``name`` of ``batch`` from Arrow (codes, or numbers with NaN where missing); ``None``: use pandas."""
        values = batch.column(name)
        if name in self._categories:
            return self._categories[name].arrow_codes(values)
        return arrow_numbers(values)

    def _errors(self, matrix: np.ndarray) -> np.ndarray:
        # the standardisation and the PCA's projection and back folded into one d x d product
        return self._residual.errors(matrix)

    def errors(self, frame: pd.DataFrame) -> np.ndarray:
        """Each row's reconstruction error (what a streamed window sums page by page)."""
        return self._errors(self.encode(frame))

    def reconstruction(self, current: pd.DataFrame) -> ReconstructionDrift:
        """The window's mean reconstruction error against the reference band."""
        errors = self.errors(current)
        return self.reconstruction_of(float(errors.mean()), len(errors))

    def reconstruction_of(self, error: float, n: int) -> ReconstructionDrift:
        """A window of ``n`` rows whose mean reconstruction error is ``error``, against the band at ``n``."""
        ref = self.reference_errors
        n_chunks = len(ref) // n if n else 0
        if n_chunks >= MIN_CHUNKS:
            chunks = ref[: n_chunks * n].reshape(n_chunks, n).mean(axis=1)
            centre, spread = float(chunks.mean()), float(chunks.std(ddof=1))
        else:
            centre, spread = float(ref.mean()), float(ref.std(ddof=1)) / math.sqrt(max(n, 1))
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
        return self.classifier_of(self.encode(current), threshold=threshold, folds=folds, max_rows=max_rows, seed=seed)

    def classifier_of(
        self, cur: np.ndarray, *, threshold: float = DEFAULT_AUC_THRESHOLD, folds: int = 3,
        max_rows: int = MAX_ROWS, seed: int = 0,
    ) -> ClassifierDrift:  # fmt: skip
        """:meth:`classifier` on an encoded window (:meth:`encode`; a streamed window's reservoir)."""
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.model_selection import StratifiedKFold, cross_val_score

        rng = np.random.default_rng(seed)
        ref = self.reference_matrix
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
        with _one_thread():  # as the loss models: OpenMP's spin-waiting on a shared machine costs 20x and more
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
        if not methods:
            raise DataError("no multivariate method given; expected 'reconstruction', 'classifier' or both")
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


def reference_halves(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (sorted) of the half the PCA is fitted on and of the half its band is measured on.

    A seeded permutation: the first ``n // 2`` fit (all rows when ``n < 4``), the rest measure.
    """
    if n < 4:
        every = np.arange(n)
        return every, every
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2 :])


def _categorical(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or pd.api.types.is_string_dtype(s)


def _usable(s: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(s):
        return False
    return pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s) or _categorical(s)


def multivariate_reference(
    reference: pd.DataFrame, columns: Sequence[str], config: MultivariateSpec
) -> MultivariateReference:
    """The fitted reference of ``config`` (``monitoring.multivariate``) on ``columns``."""
    usable = [c for c in columns if c in reference.columns and _usable(reference[c])]
    return MultivariateReference(reference, usable, variance=config.variance, k=config.k)


def sampling_keys(ids: pd.Index | np.ndarray) -> np.ndarray:
    """SplitMix64 of integer row ids (prediction ids, a file's row positions): a fixed pseudo-random order.

    A streamed sample keeps the rows of smallest key, so it does not depend on the page size.

    Examples
    --------
    >>> keys = sampling_keys(np.arange(3))
    >>> keys.dtype.name, len(set(keys.tolist()))
    ('uint64', 3)
    """
    values = ids.to_numpy(dtype=np.int64) if isinstance(ids, pd.Index) else np.asarray(ids, dtype=np.int64)
    z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.asarray(z ^ (z >> np.uint64(31)))


class MultivariateWindow:
    """One window's multivariate drift, fed page by page in bounded memory.

    The reconstruction error is exact: each page's rows are encoded and their errors
    summed. The domain classifier needs rows: a reservoir of at most
    ``config.max_rows`` encoded rows — those whose key (a hash of the prediction id,
    given by the caller) is smallest, so the sample is uniform and does not depend on
    the page size — holds ``max_rows × columns`` floats plus one page.
    """

    def __init__(self, reference: MultivariateReference, config: MultivariateSpec) -> None:
        self.reference, self.config = reference, config
        self.n, self.total = 0, 0.0
        self._rows = np.empty((0, len(reference.columns)))
        self._keys = np.empty(0, dtype=np.uint64)
        self._seq = np.empty(0, dtype=np.int64)

    def add(self, rows: pd.DataFrame | pa.RecordBatch, keys: np.ndarray) -> None:
        """Add a page's rows (a DataFrame, or an Arrow record batch) with their sampling keys (one ``uint64`` a row)."""
        if rows.empty if isinstance(rows, pd.DataFrame) else rows.num_rows == 0:
            return
        matrix = self.reference.encode(rows)
        if "reconstruction" in self.config.methods:
            self.total += float(self.reference._errors(matrix).sum())
        if "classifier" in self.config.methods:
            seq = np.arange(self.n, self.n + len(rows), dtype=np.int64)
            cap = self.config.max_rows
            if len(self._keys) >= cap:  # full: only a row whose key beats the largest kept can enter
                enter = np.flatnonzero(keys < self._keys.max())  # (keys are distinct: hashed distinct ids)
                matrix, keys, seq = matrix[enter], keys[enter], seq[enter]
            m, k, q = np.vstack([self._rows, matrix]), np.r_[self._keys, keys], np.r_[self._seq, seq]
            if len(k) > cap:
                keep = np.sort(np.argpartition(k, cap - 1)[:cap])
                m, k, q = m[keep], k[keep], q[keep]
            self._rows, self._keys, self._seq = m, k, q
        self.n += len(rows)

    def result(self) -> MultivariateDrift | None:
        """The window's :class:`MultivariateDrift` (``None`` without rows, or too few for the classifier)."""
        if self.n == 0:
            return None
        c = self.config
        rec = self.reference.reconstruction_of(self.total / self.n, self.n) if "reconstruction" in c.methods else None
        clf = None
        if "classifier" in c.methods and len(self._rows) >= c.folds:
            order = np.argsort(self._seq, kind="stable")  # the window's own order, as a whole frame has it
            clf = self.reference.classifier_of(
                self._rows[order], threshold=c.auc_threshold, folds=c.folds, max_rows=c.max_rows, seed=c.seed
            )
        return MultivariateDrift(
            columns=self.reference.columns,
            n_reference=len(self.reference.reference_matrix),
            n_current=self.n,
            reconstruction=rec,
            classifier=clf,
        )


def compare_window(reference: MultivariateReference, rows: pd.DataFrame, config: MultivariateSpec) -> MultivariateDrift:
    """:meth:`MultivariateReference.compare` with ``monitoring.multivariate``'s settings.

    A window of fewer rows than folds gets the reconstruction error only.
    """
    methods = [m for m in config.methods if m != "classifier" or len(rows) >= config.folds]
    return reference.compare(
        rows, methods=methods, auc_threshold=config.auc_threshold, folds=config.folds,
        max_rows=config.max_rows, seed=config.seed,
    )  # fmt: skip


def multivariate_text(mv: MultivariateDrift) -> str:
    """One line for people: each method's value against its threshold, and the verdict.

    Examples
    --------
    >>> rec = ReconstructionDrift(error=1.2, reference_error=0.7, lower=0.6, upper=0.8, n_components=1,
    ...                           variance=0.95, chunk_size=500, n_chunks=6, drifted=True)
    >>> multivariate_text(MultivariateDrift(columns=("a", "b"), n_reference=3000, n_current=500, reconstruction=rec))
    'drifted: reconstruction error 1.200 (reference band 0.600–0.800) over 2 columns, 500 rows'
    """
    parts = []
    if mv.classifier is not None:
        c = mv.classifier
        parts.append(f"domain classifier AUC {c.auc:.3f} (drifts at {max(c.threshold, c.noise_floor):.3f})")
    if mv.reconstruction is not None:
        r = mv.reconstruction
        parts.append(f"reconstruction error {r.error:.3f} (reference band {r.lower:.3f}–{r.upper:.3f})")
    head = "drifted" if mv.drifted else "no drift"
    return f"{head}: {'; '.join(parts)} over {len(mv.columns)} columns, {mv.n_current:,} rows"
