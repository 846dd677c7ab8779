"""The compare page's stepped metrics: per-fold scores and metric curves, from one read.

The selected runs' stepped histories come from ``store.histories`` in one statement
(:func:`skloop.ui._queries.metric_histories`). The ``cv_<scorer>_fold`` keys are the
per-fold scores (a table and a chart per scorer); every other key logged at several
steps (``log_metric("loss", v, step=i)``) is a curve: one uPlot chart per key, one
series per run, over the union of the runs' steps (a run without a value at a step
has a gap there, bridged by the line).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from skloop.store import Metric, Run
from skloop.ui._queries import fold_key

__all__ = ["MAX_CURVES", "MAX_POINTS", "Curve", "curves_of", "folds_of", "run_labels"]

MAX_CURVES = 12
"""Curves drawn on one compare page (by key); the others are named, not drawn."""
MAX_POINTS = 500
"""Points per run and key: a longer history is thinned evenly by the store, its last point kept."""


@dataclass(frozen=True)
class Curve:
    """One metric's histories across runs, aligned on steps for uPlot."""

    key: str
    steps: list[int]
    series: list[list[float | None]]
    label: str

    def data(self) -> dict[str, Any]:
        """What the page's script draws: ``{"x": steps, "y": [per run values]}``."""
        return {"x": self.steps, "y": self.series}


def run_labels(runs: Sequence[Run]) -> list[str]:
    """A legend name per run: its name, with its id's start when two runs share a name."""
    names = [r.name or r.id[:8] for r in runs]
    return [f"{n} ({r.id[:8]})" if names.count(n) > 1 and r.name else n for n, r in zip(names, runs, strict=True)]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None  # JSON has no NaN; the chart shows a gap


def folds_of(histories: Mapping[str, Mapping[str, list[Metric]]], run: Run) -> dict[str, list[float]]:
    """The per-fold scores of ``run`` by scorer, from the batched histories."""
    out: dict[str, list[float]] = {}
    for key, points in sorted(histories.get(run.id, {}).items()):
        scorer = fold_key(key)
        if scorer is not None:
            out[scorer] = [m.value for m in points]
    return out


def curves_of(
    histories: Mapping[str, Mapping[str, list[Metric]]], runs: Sequence[Run], *, max_curves: int = MAX_CURVES
) -> tuple[list[Curve], list[str]]:
    """The curves to draw (at most ``max_curves``, by key) and the stepped keys left undrawn."""
    keys = sorted({k for r in runs for k in histories.get(r.id, {}) if fold_key(k) is None})
    labels = run_labels(runs)
    curves = []
    for key in keys[:max_curves]:
        per_run = [histories.get(r.id, {}).get(key, []) for r in runs]
        steps = sorted({m.step for points in per_run for m in points})
        series = []
        described = []
        for label, points in zip(labels, per_run, strict=True):
            by_step = {m.step: _finite(m.value) for m in points}  # a step logged twice: its last value
            series.append([by_step.get(s) for s in steps])
            if points:
                last = points[-1]
                described.append(f"{label}: {len(by_step)} steps, last {last.value:.4g} at step {last.step}")
        label = f"{key} by step, one line per run ({'; '.join(described)})"
        curves.append(Curve(key=key, steps=steps, series=series, label=label))
    return curves, keys[max_curves:]
