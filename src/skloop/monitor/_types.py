"""Array aliases shared by the monitor's modules (aliases only, like Starlette's ``types``)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["Counts", "Floats", "Indices"]

Floats = npt.NDArray[np.float64]
"""A float64 array: a sorted sample, CDF values, shares, bootstrap weights or metric draws."""
Counts = npt.NDArray[np.int64]
"""Counts of a current sample: between or at the reference points, or in histogram bins."""
Indices = npt.NDArray[np.int64]
"""Positions: the class index of each prediction (``-1`` when unknown)."""
