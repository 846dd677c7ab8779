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
from collections.abc import Iterator
from datetime import datetime

import pandas as pd

from skloop.monitor import log_page
from skloop.store import Store

__all__ = ["labelled_log", "log_pages", "newest_key", "rows_digest"]


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
