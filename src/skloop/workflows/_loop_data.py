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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import DataError, LoopDataSpec, Spec, parse_duration
from skloop.data import class_name
from skloop.registry import Signature, coerce_frame
from skloop.store import ModelVersion, Store
from skloop.workflows._monitor import model_input_columns
from skloop.workflows._steps import hash_inputs

__all__ = [
    "LogRows",
    "LoopWindow",
    "base_dataset",
    "load_window",
    "read_rows",
    "retrain_spec",
    "training_frame_for",
    "typed_inputs",
    "typed_target",
]

#: Run tag holding the fingerprint of the original training data of a model line.
BASE_TAG = "loop.base_dataset"


@dataclass(frozen=True)
class LogRows:
    """Logged predictions as columns, read page by page: their fields and their inputs (both indexed by id).

    ``rows`` has the columns of :class:`~skloop.store.PredictionPage` ``rows``
    (``time``, ``version``, ``entity_id``, ``predicted``, ``label``, ...); ``inputs``
    one column per logged input.
    """

    rows: pd.DataFrame
    inputs: pd.DataFrame

    def __len__(self) -> int:
        return len(self.rows)

    def part(self, begin: int, end: int | None = None) -> LogRows:
        """Rows ``begin .. end`` (positions, in time order)."""
        return LogRows(self.rows.iloc[begin:end], self.inputs.iloc[begin:end])

    def keys(self) -> list[list[Any]]:
        """``[id, label]`` per row, what a window's fingerprint hashes."""
        labels = self.rows["label"].astype(object).where(self.rows["label"].notna(), None)
        return [[int(i), lab] for i, lab in zip(self.rows.index, labels, strict=True)]


def read_rows(
    store: Store,
    name: str,
    *,
    start: datetime | None,
    end: datetime | None,
    labeled: bool | None = None,
    version: int | None = None,
) -> LogRows:
    """``name``'s predictions in ``[start, end)`` in ``(time, id)`` order, as :class:`LogRows`.

    Read in the store's pages (no :class:`~skloop.store.Prediction` object per row).
    """
    rows, inputs = [], []
    for page in store.predictions.iter_pages(name, start=start, end=end, labeled=labeled, version=version,
                                             order="time"):  # fmt: skip
        rows.append(page.rows)
        inputs.append(page.inputs)
    if not rows:
        empty = pd.Index([], name="id", dtype="int64")
        columns = ["time", "version", "entity_id", "predicted", "prediction", "label"]
        return LogRows(pd.DataFrame(columns=columns, index=empty), pd.DataFrame(index=empty))
    return LogRows(pd.concat(rows), pd.concat(inputs))


@dataclass(frozen=True)
class LoopWindow:
    """The labelled traffic of a window, split into retraining rows and the evaluation holdout."""

    start: datetime
    end: datetime
    train: LogRows
    holdout: LogRows

    @property
    def n_rows(self) -> int:
        """Labelled rows in the window."""
        return len(self.train) + len(self.holdout)

    def fingerprint(self) -> str:
        """SHA-256 of the rows' ids and labels (what the retrain and the comparison depend on)."""
        return hash_inputs(self.train.keys() + self.holdout.keys())

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary: bounds, counts, fingerprint, the holdout's time range."""
        first = self.holdout.rows["time"].iloc[0].to_pydatetime().isoformat() if len(self.holdout) else None
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
    rows = read_rows(store, name, start=start, end=now, labeled=True)
    n_hold = math.ceil(config.holdout * len(rows)) if len(rows) else 0
    cut = len(rows) - n_hold
    return LoopWindow(start=start, end=now, train=rows.part(0, cut), holdout=rows.part(cut))


def typed_inputs(rows: LogRows, signature: Signature | None) -> pd.DataFrame:
    """The logged inputs of ``rows`` typed like the model's training data (its signature)."""
    frame = rows.inputs.reset_index(drop=True)
    if signature is None:
        return frame
    return coerce_frame(frame, signature).frame


def typed_target(rows: LogRows, task: str, classes: Sequence[Any] | None) -> np.ndarray:
    """The labels of ``rows`` as the model's classes (or numbers, for regression)."""
    texts = rows.rows["label"].astype(object).tolist()
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
    fallback = {spec.data.id: "entity_id", spec.data.time: "time"}
    logged = window.train
    for col in dict.fromkeys(c for c in (spec.data.id, spec.data.time, spec.search.cv.group) if c):
        if col not in traffic.columns:  # as logged, else the prediction's own field (its entity, its time)
            if col in logged.inputs.columns:
                traffic[col] = logged.inputs[col].to_numpy()
            elif col in fallback:
                traffic[col] = logged.rows[fallback[col]].to_numpy()
            else:
                traffic[col] = None
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
        recent = np.ones(len(logged), dtype=bool) if cutoff is None else (logged.rows["time"] >= cutoff).to_numpy()
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
