"""Drift tests of one column: which test (the ``auto`` rule), its threshold, and the result.

The ``auto`` rule (Evidently's, on the smaller side instead of the reference only)::

    n = min(non-missing reference values, non-missing current values)
    numeric               n <  auto_rows (1000): Kolmogorov-Smirnov (p-value < 0.05)
                          n >= auto_rows:        Wasserstein / reference std (>= 0.1)
    categorical, boolean  n <  auto_rows:        chi-square (p-value < 0.05)
                          n >= auto_rows:        Jensen-Shannon distance (>= 0.1)

Tests give p-values that shrink with the sample size for any real difference, however
small; on large samples a distance with a fixed threshold says whether the change is
big enough to matter. ``psi`` (>= 0.2), ``hellinger`` (>= 0.1) and ``linf`` (>= 0.1) are
available for both kinds, on the reference's equal-mass bins or categories;
``chisquare`` and ``jensenshannon`` work on numeric columns through the same bins.
``anderson`` (k-sample Anderson–Darling, p-value < 0.1) is numeric only
(:mod:`skloop.monitor._anderson`). Text columns drift by their vocabulary
(:mod:`skloop.monitor._text`); datetime and id columns are not tested for drift (time
moves, ids are unique); the quality checks cover them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

import numpy as np

from skloop.core import DriftSpec, LearnedSpec, SpecError, TestMethod, TextDriftSpec
from skloop.monitor import _stats
from skloop.monitor._accumulate import CategoricalCurrent, NumericCurrent, TextCurrent
from skloop.monitor._anderson import anderson_binned, anderson_test
from skloop.monitor._learned import drift_band
from skloop.monitor._learned_batch import ChunkDraws, chunk_statistics
from skloop.monitor._reference import OTHER_CATEGORY, ColumnReference
from skloop.monitor._text import TEXT_METHOD, compare_terms, text_drifted
from skloop.monitor._types import Counts, Floats

__all__ = [
    "DEFAULT_THRESHOLDS",
    "DRIFT_KINDS",
    "P_VALUE_METHODS",
    "FeatureDrift",
    "choose_method",
    "column_drift",
    "relative_drift",
    "resolve_method",
    "text_drift",
]

DEFAULT_THRESHOLDS: Mapping[str, float] = {
    "ks": 0.05,
    "chisquare": 0.05,
    "psi": 0.2,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "hellinger": 0.1,  # Evidently's
    "linf": 0.1,  # a category's share moved by 10 points
    "anderson": 0.1,  # Evidently's; scipy's p-value lies in [0.001, 0.25]
}
P_VALUE_METHODS = ("ks", "chisquare", "anderson")
DRIFT_KINDS = ("numeric", "categorical", "boolean")
_NUMERIC_ONLY = ("ks", "wasserstein", "anderson")


@dataclass(frozen=True)
class FeatureDrift:
    """The drift test of one column (a feature, or a model output when ``role == "prediction"``).

    Attributes
    ----------
    name, kind : str
    role : {"feature", "prediction"}
    method : {"ks", "psi", "wasserstein", "jensenshannon", "chisquare", "hellinger", "linf", "anderson", \
"vocabulary"}
        ``vocabulary`` for a text column (:func:`~skloop.monitor._text.text_drift`).
    statistic : float
        KS D, PSI, normalised Wasserstein, Jensen–Shannon distance (of the term
        distribution, for text), chi-square, Hellinger distance, L-infinity distance, or
        the standardised Anderson–Darling ``T``.
    p_value : float or None
        For ``ks``, ``chisquare`` and ``anderson``.
    threshold : float
        Drift when ``p_value < threshold`` (tests) or ``statistic >= threshold`` (distances).
    drifted : bool
    n_reference, n_current : int
        Non-missing values compared.
    bin_edges : tuple of float or None
        Numeric: the reference's equal-mass bin edges (for plots).
    categories : tuple or None
        Categorical/boolean: reference categories (most frequent first), then
        ``"__other__"`` if the reference lumped rare ones, then new ones.
    reference_counts, current_counts : tuple of int
        Counts per bin or category, aligned with ``bin_edges`` or ``categories``.
    band : tuple of float or None
        A learned threshold's band ``mean ± k·std`` of the statistic over reference
        chunks of this window's size (``threshold`` is its upper end).
    oov_rate, oov_threshold : float or None
        Text: share of the window's tokens not in the reference vocabulary, and the
        share at which it drifts.
    new_terms : tuple of str
        Text: the window's most frequent out-of-vocabulary terms (up to 10).
    """

    name: str
    kind: str
    role: str
    method: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int
    bin_edges: tuple[float, ...] | None = None
    categories: tuple[Any, ...] | None = None
    reference_counts: tuple[int, ...] = ()
    current_counts: tuple[int, ...] = ()
    band: tuple[float, float] | None = None
    oov_rate: float | None = None
    oov_threshold: float | None = None
    new_terms: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureDrift:
        """Rebuild from :meth:`to_dict` output."""
        given: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**given)


MAX_RELATIVE_DRIFT = 5.0
"""Where :func:`relative_drift` stops, so that one huge value does not flatten the others."""


def relative_drift(statistic: float | None, p_value: float | None, threshold: float | None) -> float | None:
    """A test's distance from its threshold on one scale: 1 at the threshold, higher is more drift.

    ``statistic / threshold`` for distances, ``log p / log threshold`` for p-values;
    capped at :data:`MAX_RELATIVE_DRIFT`. ``None`` when the test has no value.

    Examples
    --------
    >>> relative_drift(0.2, None, 0.1), relative_drift(0.3, 0.0025, 0.05)
    (2.0, 2.0)
    """
    if statistic is None:
        return None
    threshold = threshold or 0.0
    if p_value is not None:
        if not 0 < threshold < 1:
            return None
        value = math.log(max(p_value, 1e-300)) / math.log(threshold)
    else:
        value = statistic / threshold if threshold > 0 else 0.0
    return min(max(value, 0.0), MAX_RELATIVE_DRIFT)


def choose_method(kind: str, n_reference: int, n_current: int, *, auto_rows: int = 1000) -> TestMethod:
    """The ``auto`` test for a column of ``kind`` (see the module docstring).

    Examples
    --------
    >>> choose_method("numeric", 50_000, 300), choose_method("categorical", 5000, 5000)
    ('ks', 'jensenshannon')
    """
    small = min(n_reference, n_current) < auto_rows
    if kind == "numeric":
        return "ks" if small else "wasserstein"
    return "chisquare" if small else "jensenshannon"


def resolve_method(
    name: str, kind: str, n_ref: int, n_cur: int, config: DriftSpec
) -> tuple[str, float | Literal["learned"]]:
    """The method and threshold for column ``name`` under ``config``.

    A dataset-wide ``ks`` or ``wasserstein`` applies to numeric columns; the others
    follow the auto rule. The threshold is ``"learned"`` when the column's, the
    method's or the dataset's threshold is (:mod:`skloop.monitor._learned`).

    Raises
    ------
    SpecError
        If a column's own method does not apply to its kind.
    """
    col = config.columns.get(name)
    method: TestMethod
    if col is not None and col.method != "auto":
        method = col.method
        if kind != "numeric" and method in _NUMERIC_ONLY:
            raise SpecError(
                f"monitoring.drift.columns.{name}.method: {method!r} needs a numeric column but {name!r} is "
                f"{kind}; use chisquare, jensenshannon, hellinger, linf or psi for it"
            )
    else:
        chosen = config.method
        if chosen == "auto" or (kind != "numeric" and chosen in _NUMERIC_ONLY):
            # a dataset-wide numeric-only method leaves other kinds to the auto rule
            method = choose_method(kind, n_ref, n_cur, auto_rows=config.auto_rows)
        else:
            method = chosen
    chosen_threshold: float | str | None = None
    if col is not None and col.threshold is not None:
        chosen_threshold = col.threshold
    elif isinstance(config.threshold, dict):
        chosen_threshold = config.threshold.get(method)
    else:
        chosen_threshold = config.threshold
    if chosen_threshold == "learned":
        return method, "learned"
    if isinstance(chosen_threshold, float | int):
        return method, float(chosen_threshold)
    return method, DEFAULT_THRESHOLDS[method]


def _anderson(ref: ColumnReference, cur: NumericCurrent) -> tuple[float, float]:
    """Exact when both sides hold every value, else on the cells of the reference's points."""
    pts = ref.points_array()
    if cur.values is not None and ref.exact and pts.size == ref.count:
        return anderson_test(pts, cur.values)
    if cur.values is not None:
        unique = np.unique(pts)
        left = np.searchsorted(cur.values, unique, side="left")
        right = np.searchsorted(cur.values, unique, side="right")
        le, eq = np.diff(right, prepend=0, append=cur.values.size), right - left
    else:
        le, eq = cur.binned_counts()
    return anderson_binned(pts, le, eq, ref.count)


def _numeric(ref: ColumnReference, cur: NumericCurrent, method: str) -> tuple[float, float | None]:
    pts = ref.points_array()
    if method in _NUMERIC_ONLY and (pts.size == 0 or cur.n == 0):
        return 0.0, (None if method == "wasserstein" else 1.0)
    if method == "anderson":
        return _anderson(ref, cur)
    if method == "ks":
        n_ref = None if ref.exact else ref.count
        if cur.values is not None:
            return _stats.ks_test(pts, cur.values, n_ref=n_ref)
        d = _stats.ks_binned(pts, *cur.binned_counts(), cur.n)
        return d, _stats.ks_pvalue(d, ref.count, cur.n)
    if method == "wasserstein":
        if cur.values is not None:
            return _stats.wasserstein(pts, cur.values, ref_std=ref.std), None
        w = _stats.wasserstein_binned(
            pts,
            *cur.binned_counts(),
            cur.n,
            cur.min,
            cur.max,
            ref_std=ref.std,
            sketch=not ref.exact,
            ref_min=ref.min,
            ref_max=ref.max,
            tails=cur.tails,
        )
        return w, None
    return _binned(np.asarray(ref.bin_counts or (), dtype="float64"), np.asarray(cur.plot_counts), method)


def _binned(r: Floats, c: Counts | Floats, method: str) -> tuple[float, float | None]:
    if r.sum() == 0 or c.sum() == 0:
        return 0.0, (1.0 if method == "chisquare" else None)
    if method == "chisquare":
        return _stats.chisquare_test(r, c)
    if method == "psi":
        return _stats.psi(r, c), None
    if method == "hellinger":
        return _stats.hellinger(r, c), None
    if method == "linf":
        return _stats.linf(r, c), None
    return _stats.jensenshannon(r, c), None


def align_categories(ref: ColumnReference, cur: CategoricalCurrent) -> tuple[tuple[Any, ...], Counts, Counts]:
    """Categories (reference's first, then ``"__other__"`` or new ones) and both sides' counts."""
    cats = list(ref.categories or ())
    ref_counts = list(ref.category_counts or ())
    known = set(cats)
    cur_counts = [cur.counts.get(c, 0) for c in cats]
    extra = {v: n for v, n in cur.counts.items() if v not in known}
    if ref.other:
        cats.append(OTHER_CATEGORY)
        ref_counts.append(ref.other)
        cur_counts.append(sum(extra.values()))
    else:
        for v, n in sorted(extra.items(), key=lambda p: (-p[1], str(p[0]))):
            cats.append(v)
            ref_counts.append(0)
            cur_counts.append(n)
    return tuple(cats), np.asarray(ref_counts, dtype="int64"), np.asarray(cur_counts, dtype="int64")


def _statistic(
    ref: ColumnReference, cur: NumericCurrent | CategoricalCurrent, method: str
) -> tuple[float, float | None]:
    if isinstance(cur, NumericCurrent):
        return _numeric(ref, cur, method)
    _, r, c = align_categories(ref, cur)
    return _binned(r.astype("float64"), c.astype("float64"), method)


def column_drift(
    ref: ColumnReference,
    cur: NumericCurrent | CategoricalCurrent,
    config: DriftSpec,
    *,
    role: str = "feature",
    learned: LearnedSpec | None = None,
) -> FeatureDrift:
    """Test one column of the current window against its reference.

    With a learned threshold the statistic is compared with the upper end of its band
    (``learned``: ``k``, ``chunks``, ``seed``; default :class:`~skloop.core.LearnedSpec`),
    which becomes the reported ``threshold``; the p-value is then left out, since the
    statistic decides.
    """
    n_cur = cur.n
    method, threshold = resolve_method(ref.name, ref.kind, ref.count, n_cur, config)
    band = None
    if threshold == "learned":
        band = drift_band(
            ref,
            method,
            n_cur,
            learned or LearnedSpec(),
            lambda r, c: _statistic(r, c, method)[0],
            batch=lambda r, d: chunk_statistics(r, d, method),
        )
    if isinstance(cur, NumericCurrent):
        stat, p = _numeric(ref, cur, method)
        plot: dict[str, Any] = {
            "bin_edges": ref.bin_edges,
            "reference_counts": tuple(int(x) for x in ref.bin_counts or ()),
            "current_counts": tuple(int(x) for x in (cur.plot_counts if cur.plot_counts is not None else ())),
        }
    else:
        cats, r, c = align_categories(ref, cur)
        stat, p = _binned(r.astype("float64"), c.astype("float64"), method)
        plot = {
            "categories": cats,
            "reference_counts": tuple(int(x) for x in r),
            "current_counts": tuple(int(x) for x in c),
        }
    if threshold == "learned":
        # no band (an empty side): nothing to compare with, so no drift
        threshold, p = (band[1] if band is not None else 0.0), None
        drifted = band is not None and stat > band[1]
    else:
        drifted = (p < threshold) if method in P_VALUE_METHODS and p is not None else stat >= threshold
    return FeatureDrift(
        name=ref.name,
        kind=ref.kind,
        role=role,
        method=method,
        statistic=float(stat),
        p_value=None if p is None else float(p),
        threshold=float(threshold),
        drifted=bool(drifted),
        n_reference=ref.count,
        n_current=n_cur,
        band=band,
        **plot,
    )


def _text_js(ref: ColumnReference, cur: NumericCurrent | CategoricalCurrent) -> float:
    counts = cur.counts if isinstance(cur, CategoricalCurrent) else {}
    return compare_terms(ref.categories or (), ref.category_counts or (), ref.other, counts).jensenshannon


def _text_js_batch(ref: ColumnReference, draws: ChunkDraws) -> Floats | None:
    """:func:`_text_js` of every chunk: the Jensen–Shannon distance over the terms and the rest."""
    return chunk_statistics(ref, draws, "jensenshannon")


def text_drift(
    ref: ColumnReference,
    cur: TextCurrent,
    spec: TextDriftSpec,
    *,
    role: str = "feature",
    learned: LearnedSpec | None = None,
) -> FeatureDrift:
    """The vocabulary drift of a text column (:mod:`skloop.monitor._text`).

    ``statistic`` is the Jensen–Shannon distance of the term distributions and
    ``threshold`` its threshold (a learned one: the upper end of ``band``, drawn from
    chunks of the window's token count, the reference's rarer terms as one term);
    ``oov_rate`` and ``oov_threshold`` the other test; ``n_reference`` and
    ``n_current`` count tokens. The chart keeps the reference's 20 most frequent terms
    and one bin for the rest.
    """
    cmp = compare_terms(ref.categories or (), ref.category_counts or (), ref.other, cur.terms)
    band = None
    threshold = spec.jensenshannon
    if threshold == "learned":
        tokens = replace(ref, count=int(sum(ref.category_counts or ()) + ref.other))  # sizes are token counts
        band = drift_band(tokens, TEXT_METHOD, cmp.n_tokens, learned or LearnedSpec(), _text_js, batch=_text_js_batch)
        threshold = band[1] if band is not None else 1.0
    drifted = text_drifted(cmp, spec.oov, float(threshold))
    return FeatureDrift(
        name=ref.name, kind=ref.kind, role=role, method=TEXT_METHOD, statistic=cmp.jensenshannon, p_value=None,
        threshold=float(threshold), drifted=drifted, band=band,
        n_reference=int(sum(ref.category_counts or ()) + ref.other), n_current=cmp.n_tokens,
        categories=cmp.chart_terms, reference_counts=tuple(int(x) for x in cmp.chart_reference),
        current_counts=tuple(int(x) for x in cmp.chart_current), oov_rate=cmp.oov_rate, oov_threshold=spec.oov,
        new_terms=cmp.new_terms,
    )  # fmt: skip
