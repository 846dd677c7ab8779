"""The spread of a metric over reference chunks of a window's size (NannyML's sampling error).

NannyML cuts its reference data into chunks of the monitored chunk size, computes the
metric on each, and uses their standard deviation: as the sampling error of an estimate
(``estimate ± z·std``) and as an alert band (``mean ± k·std``). skloop windows do not
share one size (time windows, the last row window), so the chunks are *drawn* from the
reference rows: ``chunks`` multinomial count vectors of ``m`` rows (the window's size)
over the ``n`` reference rows, each a chunk of ``m`` rows drawn with replacement, scored
by the same weighted kernels as the bootstrap (:mod:`skloop.monitor._metrics`). Any
window size works, and a window larger than the reference still gets a spread.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from skloop.core import DataError
from skloop.monitor._types import Floats

__all__ = [
    "DEFAULT_CHUNKS",
    "DEFAULT_K",
    "Band",
    "band_dict",
    "chunk_spread",
    "chunk_weights",
    "learned_band",
    "round_size",
]

DEFAULT_CHUNKS = 50
"""Reference chunks drawn per window size."""
DEFAULT_K = 3.0
"""Width of a learned band in standard deviations (NannyML's default)."""

Band = tuple[float, float]
Kernel = Callable[[Floats], Mapping[str, Floats]]


def chunk_weights(n: int, m: int, chunks: int, rng: np.random.Generator) -> Floats:
    """``chunks`` count vectors of ``m`` rows drawn with replacement from ``n`` (``chunks × n``)."""
    if n < 1 or m < 1:
        raise DataError(f"chunks need rows on both sides; got {n} reference rows and a window of {m}")
    return rng.multinomial(m, np.full(n, 1.0 / n), size=chunks).astype(np.float64)


def chunk_spread(kernel: Kernel, n: int, m: int, *, chunks: int = DEFAULT_CHUNKS, seed: int = 0) -> dict[str, Band]:
    """Mean and standard deviation (``ddof=1``) of each metric of ``kernel`` over reference chunks of ``m`` rows.

    Parameters
    ----------
    kernel : callable
        ``kernel(W)`` → metric name → one value per row of the weights ``W`` (``B × n``).
    n : int
        Reference rows.
    m : int
        Rows of a chunk (the window's size).
    chunks : int, default=50
    seed : int, default=0

    Returns
    -------
    dict
        Metric name → ``(mean, std)`` over the chunks where the metric is defined
        (metrics defined on fewer than two chunks are left out).

    Examples
    --------
    >>> from skloop.monitor._metrics import regression_kernels
    >>> err = np.arange(100.0)
    >>> spread = chunk_spread(lambda W: regression_kernels(W, err, np.zeros(100), ["mae"]), 100, 25, chunks=400)
    >>> mean, std = spread["mae"]
    >>> bool(abs(mean - 49.5) < 1.5), bool(abs(std - err.std() / 5) < 1.0)  # std of a mean of 25 draws
    (True, True)
    """
    if chunks < 2:
        raise DataError(f"a spread needs at least 2 chunks; got {chunks}")
    W = chunk_weights(n, m, chunks, np.random.default_rng(seed))
    out: dict[str, Band] = {}
    for name, values in kernel(W).items():
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        if v.size >= 2:
            out[name] = (float(v.mean()), float(v.std(ddof=1)))
    return out


def learned_band(mean: float, std: float, k: float, *, lower: float | None = None, upper: float | None = None) -> Band:
    """``mean ± k·std``, clipped to the metric's range ``[lower, upper]`` when given."""
    lo, hi = mean - k * std, mean + k * std
    if lower is not None:
        lo = max(lo, lower)
    if upper is not None:
        hi = min(hi, upper)
    return (float(lo), float(hi))


def round_size(m: int) -> int:
    """``m`` to two significant digits: windows of about the same size share one band."""
    if m < 100:
        return m
    digits = math.floor(math.log10(m)) - 1
    return int(round(m / 10**digits) * 10**digits)


def band_dict(band: Band | None) -> Any:
    """A band as JSON (a two-item list, or ``None``)."""
    return None if band is None else [band[0], band[1]]
