"""Gates: the metric thresholds a run must meet for its model to be promotable."""

from __future__ import annotations

import math
from collections.abc import Mapping

from skloop.core import GatesSpec

__all__ = ["check_gates", "format_failures"]

_SEPARATOR = "; "


def check_gates(gates: GatesSpec | None, metrics: Mapping[str, float]) -> list[str]:
    """The gates that ``metrics`` fail, one readable line each (empty: all pass).

    A gate on a metric the run did not record fails, naming what was recorded, so a
    typo in ``gates`` cannot let every model through.

    Parameters
    ----------
    gates : GatesSpec or None
        ``min`` (metric >= value) and ``max`` (metric <= value) thresholds.
    metrics : mapping of str to float
        The run's metrics.

    Returns
    -------
    list of str
        E.g. ``["holdout_roc_auc 0.61 < 0.75"]``.

    Examples
    --------
    >>> check_gates(GatesSpec(min={"holdout_roc_auc": 0.75}), {"holdout_roc_auc": 0.61})
    ['holdout_roc_auc 0.61 < 0.75']
    >>> check_gates(GatesSpec(max={"fit_seconds": 10}), {"fit_seconds": 3.0})
    []
    """
    if gates is None:
        return []
    failures = []
    for bound, thresholds in (("min", gates.min), ("max", gates.max)):
        for key, threshold in sorted(thresholds.items()):
            value = metrics.get(key)
            if value is None:
                known = ", ".join(sorted(k for k in metrics if not k.endswith("_fold"))) or "none"
                failures.append(f"{key} was not recorded by the run (gates.{bound}; recorded: {known})")
            elif math.isnan(value):
                failures.append(f"{key} is NaN (gates.{bound} {threshold:g})")
            elif bound == "min" and value < threshold:
                failures.append(f"{key} {value:.4g} < {threshold:g}")
            elif bound == "max" and value > threshold:
                failures.append(f"{key} {value:.4g} > {threshold:g}")
    return failures


def format_failures(failures: list[str]) -> str:
    """The rejection reason stored with a version: the failures joined by ``'; '``."""
    return _SEPARATOR.join(failures)
