"""The loop's reads of the prediction log, page by page: its windows' rows, fingerprints and bounds.

The monitor step judges the latest window and records the long view (all traffic since
the champion took over); both are streamed from the store into
:func:`~skloop.monitor.monitor_pages`, never held whole. What the step's inputs hash
(the rows' ids and labels) is streamed too, into the same digest
:func:`~skloop.workflows._steps.hash_inputs` gives the whole list.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from skloop.data import class_name
from skloop.monitor import MonitorReport, MultivariateDrift, log_page, performance
from skloop.store import Store

__all__ = [
    "drift_summary",
    "labelled_log",
    "log_pages",
    "multivariate_summary",
    "newest_key",
    "realised_metric",
    "rows_digest",
]


def log_pages(
    store: Store,
    name: str,
    *,
    start: datetime,
    end: datetime,
    after: tuple[datetime, int] | None = None,
    labeled: bool | None = None,
    version: int | None = None,
) -> Iterator[pd.DataFrame]:
    """Log frames (:func:`~skloop.monitor.log_page`) of ``name``'s predictions in ``[start, end)``, in time order."""
    for page in store.predictions.iter_pages(
        name, start=start, end=end, after=after, labeled=labeled, version=version, order="time"
    ):
        yield log_page(page)


def labelled_log(
    store: Store, name: str, *, start: datetime, end: datetime, version: int, after: tuple[datetime, int] | None = None
) -> pd.DataFrame:
    """The labelled rows of ``version`` in ``[start, end)`` as one log frame (what a metric is scored on)."""
    pages = list(log_pages(store, name, start=start, end=end, after=after, labeled=True, version=version))
    if not pages:
        return pd.DataFrame(columns=["time", "prediction", "label"])
    return pd.concat(pages) if len(pages) > 1 else pages[0]


def rows_digest(store: Store, name: str, *, start: datetime, end: datetime) -> str:
    """``hash_inputs([[id, label], ...])`` of ``name``'s rows in ``[start, end)`` in time order, streamed."""
    digest = hashlib.sha256(b"[")
    first = True
    for page in store.predictions.iter_pages(name, start=start, end=end, order="time", with_json=False):
        labels = page.rows["label"].astype(object).where(page.rows["label"].notna(), None)
        parts = [
            json.dumps([int(i), lab], sort_keys=True, default=str, separators=(",", ":"), allow_nan=True)
            for i, lab in zip(page.rows.index, labels, strict=True)
        ]
        digest.update(("" if first else ",").encode() + ",".join(parts).encode())
        first = False
    digest.update(b"]")
    return digest.hexdigest()


def newest_key(store: Store, name: str, *, start: datetime, end: datetime, n: int) -> tuple[datetime, int] | None:
    """``(time, id)`` of the first of the newest ``n`` rows in ``[start, end)`` (``None``: no rows)."""
    total = store.predictions.count_predictions(name, start=start, end=end)
    if total == 0:
        return None
    skip = max(total - n, 0)
    seen = 0
    for page in store.predictions.iter_pages(name, start=start, end=end, order="time", with_json=False):
        if seen + len(page) > skip:
            at = skip - seen
            return page.rows["time"].iloc[at].to_pydatetime(), int(page.rows.index[at])
        seen += len(page)
    return None  # rows deleted meanwhile


def drift_summary(report: MonitorReport) -> dict[str, Any]:
    """What the triggers read of a monitor report: drift, the features by importance, quality, the verdict."""
    drift = report.drift
    mv = report.multivariate
    return {
        "multivariate": None if mv is None else multivariate_summary(mv),
        "drift": {"drifted": drift.drifted, "share": drift.share, "threshold": drift.share_threshold,
                  "drifted_features": drift.drifted_features, "n_features": len(drift.features)},
        "top_features": [k for k, _ in sorted(report.importance.items(), key=lambda kv: (-kv[1], kv[0]))],
        "quality_issues": [f"{q.check}:{q.column}" for q in drift.quality.issues],
        "verdict": report.verdict(),
    }  # fmt: skip


def multivariate_summary(mv: MultivariateDrift) -> dict[str, Any]:
    """What the multivariate trigger reads: the verdict, the AUC and its threshold, the error and its band."""
    clf, rec = mv.classifier, mv.reconstruction
    return {
        "drifted": mv.drifted, "n_rows": mv.n_current,
        "auc": None if clf is None else round(clf.auc, 4),
        "auc_threshold": None if clf is None else round(max(clf.threshold, clf.noise_floor), 4),
        "auc_drifted": None if clf is None else clf.drifted,
        "error": None if rec is None else round(rec.error, 4),
        "band": None if rec is None else [round(rec.lower, 4), round(rec.upper, 4)],
        "error_drifted": None if rec is None else rec.drifted,
    }  # fmt: skip


def realised_metric(
    log: pd.DataFrame,
    metric: str,
    task: str,
    classes: list[Any] | None,
    *,
    reference: Mapping[str, float] | None = None,
    positive: Any = None,
) -> Any:
    """The realised ``metric`` of a log frame's (labelled) rows; with ``reference``: (value, reference, greater)."""
    texts = [class_name(c) for c in classes] if classes else None
    proba = None
    if texts is not None and all(f"proba_{t}" in log.columns for t in texts):
        proba = log[[f"proba_{t}" for t in texts]].to_numpy(dtype=np.float64)
    if proba is None and metric in ("roc_auc", "log_loss"):
        return None
    report = performance(
        log["label"].to_numpy(), log["prediction"].to_numpy(), proba=proba, classes=texts, task=task,
        reference=reference, metrics=[metric], n_boot=0, positive=positive,
    )  # fmt: skip
    m = report[metric]
    if reference is None:
        return m.value
    return m.value, m.reference, m.greater_is_better
