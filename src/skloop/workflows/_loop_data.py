"""The loop's data: labelled traffic as tables, split into retraining rows and a holdout.

The retraining window is the labelled predictions of the last ``loop.data.window``,
oldest first. Its newest ``loop.data.holdout`` share is the *evaluation holdout*:
champion and challenger are compared on it, and the challenger never trains on it.
The rest, optionally with the original training data (the snapshot the model line
started from, so rows of earlier windows never leak in twice) and with recent rows
duplicated to weigh more, is what the challenger trains on.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import DataError, LoopDataSpec, Spec, parse_duration
from skloop.data import class_name
from skloop.registry import Signature, coerce_frame
from skloop.store import ModelVersion, Prediction, Store
from skloop.workflows._monitor import model_input_columns
from skloop.workflows._steps import hash_inputs

__all__ = [
    "LoopWindow",
    "base_dataset",
    "load_window",
    "retrain_spec",
    "training_frame_for",
    "typed_inputs",
    "typed_target",
]

#: Run tag holding the fingerprint of the original training data of a model line.
BASE_TAG = "loop.base_dataset"


@dataclass(frozen=True)
class LoopWindow:
    """The labelled traffic of a window, split into retraining rows and the evaluation holdout."""

    start: datetime
    end: datetime
    train: list[Prediction]
    holdout: list[Prediction]

    @property
    def n_rows(self) -> int:
        """Labelled rows in the window."""
        return len(self.train) + len(self.holdout)

    def fingerprint(self) -> str:
        """SHA-256 of the rows' ids and labels (what the retrain and the comparison depend on)."""
        return hash_inputs([[p.id, p.label] for p in (*self.train, *self.holdout)])

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary: bounds, counts, fingerprint, the holdout's time range."""
        first = self.holdout[0].time.isoformat() if self.holdout else None
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(), "rows": self.n_rows,
            "train_rows": len(self.train), "holdout_rows": len(self.holdout), "holdout_from": first,
            "fingerprint": self.fingerprint(),
        }  # fmt: skip


def load_window(store: Store, name: str, config: LoopDataSpec, now: datetime) -> LoopWindow:
    """The labelled predictions of ``name`` in ``[now - window, now)``, split by time.

    Rows made by any version count: their inputs and labels are what matters.
    """
    start = now - parse_duration(config.window)
    rows = store.predictions.query_predictions(name, start=start, end=now, labeled=True)
    rows.sort(key=lambda p: (p.time, p.id))
    n_hold = math.ceil(config.holdout * len(rows)) if rows else 0
    cut = len(rows) - n_hold
    return LoopWindow(start=start, end=now, train=rows[:cut], holdout=rows[cut:])


def typed_inputs(rows: Sequence[Prediction], signature: Signature | None) -> pd.DataFrame:
    """The logged inputs of ``rows`` typed like the model's training data (its signature)."""
    frame = pd.DataFrame([p.inputs for p in rows])
    if signature is None:
        return frame
    return coerce_frame(frame, signature).frame


def typed_target(rows: Sequence[Prediction], task: str, classes: Sequence[Any] | None) -> np.ndarray:
    """The labels of ``rows`` as the model's classes (or numbers, for regression)."""
    texts = [p.label for p in rows]
    if task == "regression":
        try:
            return np.asarray(texts, dtype=np.float64)
        except ValueError as exc:
            raise DataError(f"regression labels must be numbers ({exc}); check the labels ingested") from exc
    by_text = {class_name(c): c for c in classes or ()}
    values = [by_text.get(t, t) for t in texts]
    unknown = sorted({str(v) for v, t in zip(values, texts, strict=True) if t not in by_text})
    if unknown and by_text:
        raise DataError(
            f"labels {unknown[:5]} are not among the model's classes {list(by_text)}; "
            "check the labels ingested (skloop labels ingest)"
        )
    return np.asarray(values, dtype=object)


def _no_value(prediction: Prediction) -> None:
    """What a logged row gives for a column it lacks and has no field for: nothing."""
    return None


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable pandas dtypes back to numpy ones, which every scikit-learn step takes."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        if isinstance(s.dtype, pd.Int64Dtype | pd.BooleanDtype):
            integer = isinstance(s.dtype, pd.Int64Dtype)  # the numpy dtype of each: int64, bool
            s = s.astype(("int64" if integer else "bool") if not s.isna().any() else ("float64" if integer else object))
        elif isinstance(s.dtype, pd.StringDtype):
            s = s.astype(object).where(s.notna(), None)
        out[col] = s
    return pd.DataFrame(out, index=frame.index)


def base_dataset(store: Store, champion: ModelVersion) -> str | None:
    """The fingerprint of the original training data of the champion's model line."""
    run = store.runs.get_run(champion.run_id)
    return run.tags.get(BASE_TAG) or champion.dataset_fingerprint


def _snapshot(store: Store, fingerprint: str | None) -> pd.DataFrame | None:
    if fingerprint is None:
        return None
    record = store.datasets.get_dataset(fingerprint)
    if not record.snapshot_sha256:
        return None
    data = store.artifacts.get_bytes(record.snapshot_sha256, name=f"training data {fingerprint[:12]}")
    return pd.read_parquet(io.BytesIO(data))


def training_frame_for(
    store: Store,
    spec: Spec,
    window: LoopWindow,
    champion: ModelVersion,
    *,
    task: str,
    classes: Sequence[Any] | None,
    now: datetime,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The table a retrain learns from, and what went into it (rows per source, weighting).

    Raises
    ------
    DataError
        When the window has no rows to train on.
    """
    config = spec.loop.data
    if not window.train:
        raise DataError(f"the retraining window ({config.window}) has no labelled rows outside the holdout")
    signature = Signature.from_dict(champion.signature) if champion.signature else None
    inputs = model_input_columns(store, champion)
    traffic = _plain(typed_inputs(window.train, signature))
    if inputs is not None:
        # what the model reads, not whatever else the traffic logged: a retrain must not
        # pick up new columns as features, nor need the spec's dropped ones
        missing = [c for c in inputs if c not in traffic.columns]
        if missing:
            raise DataError(f"the logged inputs lack the model's input columns {missing}; they cannot be retrained on")
        traffic = traffic[list(inputs)]
    target = spec.data.target
    traffic[target] = typed_target(window.train, task, classes)
    base_fp = base_dataset(store, champion)
    base = _snapshot(store, base_fp)
    fallback: dict[str | None, Callable[[Prediction], Any]] = {
        spec.data.id: lambda p: p.entity_id,
        spec.data.time: lambda p: p.time,
    }
    for col in dict.fromkeys(c for c in (spec.data.id, spec.data.time, spec.search.cv.group) if c):
        if col not in traffic.columns:
            get = fallback.get(col, _no_value)
            traffic[col] = [p.inputs.get(col, get(p)) for p in window.train]
    if base is not None:
        for col in base.columns:
            if col in traffic.columns and traffic[col].dtype != base[col].dtype:
                with contextlib.suppress(TypeError, ValueError):  # else left as logged
                    traffic[col] = traffic[col].astype(base[col].dtype)
        traffic = traffic[[c for c in base.columns if c in traffic.columns]]
        base = base[list(traffic.columns)]
    weighting = config.weighting
    copies = np.ones(len(traffic), dtype=np.int64)
    if weighting.method == "duplicate" and weighting.factor > 1:
        cutoff = now - parse_duration(weighting.newer_than) if weighting.newer_than else None
        recent = np.asarray([cutoff is None or p.time >= cutoff for p in window.train], dtype=bool)
        copies[recent] = weighting.factor
    weighted = traffic.loc[traffic.index.repeat(copies)].reset_index(drop=True)
    parts = [weighted]
    if config.include_training and base is not None:
        parts.insert(0, base)
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else weighted
    info = {
        "traffic_rows": len(traffic), "weighted_rows": len(weighted), "base_rows": 0 if base is None or not
        config.include_training else len(base), "base_dataset": base_fp, "rows": len(frame),
        "weighting": weighting.method if weighting.factor > 1 else "none",
    }  # fmt: skip
    return frame, info


def retrain_spec(spec: Spec, frame: pd.DataFrame) -> Spec:
    """The spec a retrain runs on ``frame``: ``features.drop`` keeps only columns ``frame`` has.

    The retraining table holds what the model reads plus the target, id and time
    columns (:func:`training_frame_for`), so the columns the spec drops are absent
    and dropping them does nothing; the run then records a spec that reproduces it
    from its own data snapshot.
    """
    drop = [c for c in spec.features.drop if c in frame.columns]
    if drop == list(spec.features.drop):
        return spec
    return spec.model_copy(update={"features": spec.features.model_copy(update={"drop": drop})})


def window_bounds(now: datetime, length: str) -> tuple[datetime, datetime]:
    """``(now - length, now)``."""
    return now - parse_duration(length), now


def hours(delta: timedelta | None) -> float | None:
    """A duration in hours (rounded to 0.01), for records."""
    return None if delta is None else round(delta.total_seconds() / 3600, 2)
