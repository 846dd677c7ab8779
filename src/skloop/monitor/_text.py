"""Drift of text columns by their vocabulary: out-of-vocabulary rate and term-distribution distance.

A text column is tokenised as scikit-learn's ``CountVectorizer`` does by default
(lower-cased, runs of two or more word characters: ``(?u)\\b\\w\\w+\\b``), so the terms
are those a TF-IDF step of the pipeline sees. The work is done in Arrow (``utf8_lower``,
then a split on runs of characters that are not letters, digits or ``_``, the
Unicode classes ``\\p{L}`` and ``\\p{N}`` of RE2), never row by row in Python.

The reference keeps the :data:`MAX_TERMS` most frequent terms with their token counts
(in :attr:`~skloop.monitor.ColumnReference.categories` and ``category_counts``; ``other``
counts the tokens of rarer terms). A window's column is compared on two numbers:

- the **out-of-vocabulary rate**: the share of its tokens whose term is not in the kept
  vocabulary (new words, misspellings, another language). A reference with more than
  :data:`MAX_TERMS` distinct terms counts its rare terms as out of vocabulary too; the
  report gives the reference's own share beyond the kept terms beside it;
- the **Jensen–Shannon distance** (natural log, as :func:`scipy.spatial.distance.jensenshannon`)
  of the term distributions over the kept terms plus one bin for every other term (the
  distance is the same as with one bin per new term, since a term the reference lacks
  adds ``q ln 2 / 2`` to the divergence however the mass is split).

The column drifts when either reaches its threshold (``monitoring.drift.text``: ``oov``
0.1, ``jensenshannon`` 0.35, or ``learned``: from chunks of the window's token count drawn
from the reference's term counts, see :mod:`skloop.monitor._learned`; such chunks hold
no unseen word, while a real window of the same source does, so that band runs narrow
and suits large windows best).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from skloop.data import OTHER
from skloop.monitor import _stats
from skloop.monitor._types import Counts

__all__ = ["MAX_TERMS", "TEXT_METHOD", "TermCounter", "TextComparison", "compare_terms", "term_counts", "text_drifted",
           "tokenize"]  # fmt: skip

MAX_TERMS = 10_000
"""Terms the reference keeps per text column (the most frequent)."""
CHART_TERMS = 20
"""Terms a report's chart shows (the reference's most frequent), then one bin for the rest."""
NEW_TERMS = 10
TEXT_METHOD = "vocabulary"
_SPLIT = r"[^\p{L}\p{N}_]+"


def _text_array(values: pd.Series | pa.Array[Any] | pa.ChunkedArray[Any]) -> pa.Array[Any] | pa.ChunkedArray[Any]:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        if pa.types.is_dictionary(values.type):
            values = pc.cast(values, pa.large_string())
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            return values
        values = values.to_pandas()
    present = values.notna()
    texts = values.astype(object).where(present, None)
    texts = texts.where(~present, texts[present].astype(str))
    return pa.array(texts.to_numpy(dtype=object), type=pa.large_string())


def tokenize(values: pd.Series | pa.Array[Any] | pa.ChunkedArray[Any]) -> pa.Array[Any] | pa.ChunkedArray[Any]:
    """Every token of the non-missing texts, in order (scikit-learn's default analyzer).

    Examples
    --------
    >>> import pandas as pd
    >>> tokenize(pd.Series(["Déjà vu, a café!", None, ""])).to_pylist()
    ['déjà', 'vu', 'café']
    """
    arr: Any = _text_array(values)  # the pyarrow stubs type compute functions by scalar type
    tokens: Any = pc.list_flatten(pc.split_pattern_regex(pc.utf8_lower(arr), _SPLIT))
    keep: Any = pc.greater_equal(pc.utf8_length(tokens), pa.scalar(2))
    return cast("pa.Array[Any] | pa.ChunkedArray[Any]", pc.filter(tokens, keep))


def term_counts(values: pd.Series | pa.Array[Any] | pa.ChunkedArray[Any]) -> dict[str, int]:
    """Token count per term of the non-missing texts."""
    tokens = tokenize(values)
    if len(tokens) == 0:
        return {}
    vc = pc.value_counts(tokens)
    terms = cast("list[str]", vc.field("values").to_pylist())  # never null: nulls were split away
    counts = cast("list[int]", vc.field("counts").to_pylist())
    return dict(zip(terms, counts, strict=True))


class TermCounter:
    """Term counts of a text column, batch by batch."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, values: pd.Series | pa.Array[Any] | pa.ChunkedArray[Any]) -> None:
        self.counts.update(term_counts(values))


@dataclass(frozen=True)
class TextComparison:
    """Both sides of a text column on the reference's kept terms (then one bin for the rest)."""

    oov_rate: float
    jensenshannon: float
    n_tokens: int
    new_terms: tuple[str, ...]
    chart_terms: tuple[Any, ...]
    chart_reference: Counts
    chart_current: Counts


def compare_terms(
    terms: tuple[Any, ...], ref_counts: tuple[int, ...], ref_other: int, current: Mapping[str, int]
) -> TextComparison:
    """Out-of-vocabulary rate, JS distance, the top new terms and a small chart of a window's terms."""
    known = set(terms)
    r = np.asarray([*ref_counts, ref_other], dtype=np.float64)
    c_known = np.asarray([current.get(t, 0) for t in terms], dtype=np.float64)
    n_tokens = int(sum(current.values()))
    oov = n_tokens - int(c_known.sum())
    c = np.append(c_known, oov)
    js = _stats.jensenshannon(r, c) if n_tokens and r.sum() else 0.0
    new = sorted(((n, t) for t, n in current.items() if t not in known), key=lambda p: (-p[0], p[1]))[:NEW_TERMS]
    k = min(CHART_TERMS, len(terms))
    chart = (*terms[:k], OTHER)
    chart_r = np.append(r[:k], r[k:].sum()).astype(np.int64)
    chart_c = np.append(c[:k], c[k:].sum()).astype(np.int64)
    return TextComparison(
        oov_rate=oov / n_tokens if n_tokens else 0.0, jensenshannon=float(js), n_tokens=n_tokens,
        new_terms=tuple(t for _, t in new), chart_terms=chart, chart_reference=chart_r, chart_current=chart_c,
    )  # fmt: skip


def text_drifted(comparison: TextComparison, oov: float, jensenshannon: float) -> bool:
    """Whether either number reaches its threshold (an empty window never drifts)."""
    if comparison.n_tokens == 0:
        return False
    return comparison.oov_rate >= oov or comparison.jensenshannon >= jensenshannon
