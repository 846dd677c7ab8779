"""Adaptive micro-batching: requests that arrive while a batch runs share the next call.

There is no timer: the first request starts a batch at once, and whatever queues up
while it runs (or in the same event-loop turn) goes into the next one, up to a row
cap. Light load gets batches of one at no added latency; heavy load gets fewer,
larger inference calls. scikit-learn runs in a worker thread so that the event loop
never blocks; small ONNX Runtime batches (tens of microseconds) run inline, where a
thread hop would cost more than the inference.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from skloop.serve._model import ServedModel
from skloop.serve._validate import Prepared

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_INLINE_ROWS", "DEFAULT_MAX_BATCH_ROWS", "MicroBatcher"]

DEFAULT_MAX_BATCH_ROWS = 4096
"""Rows of queued requests merged into one inference call at most."""

DEFAULT_INLINE_ROWS = 256
"""ONNX batches up to this many rows run on the event loop thread."""

Result = tuple[np.ndarray, np.ndarray | None]


@dataclass
class _Item:
    model: ServedModel
    rows: Prepared
    future: asyncio.Future[Result]


class MicroBatcher:
    """Merge concurrent requests into one inference call per batch.

    Parameters
    ----------
    max_rows : int
        Cap of rows per call (a single larger request still runs, alone).
    inline_rows : int
        ONNX batches up to this size run inline on the event loop.
    on_batch : callable, optional
        Called with the number of rows of each inference call (metrics).
    """

    def __init__(
        self,
        *,
        max_rows: int = DEFAULT_MAX_BATCH_ROWS,
        inline_rows: int = DEFAULT_INLINE_ROWS,
        on_batch: Callable[[int], Any] | None = None,
    ) -> None:
        self.max_rows = max_rows
        self.inline_rows = inline_rows
        self.on_batch = on_batch
        self._pending: deque[_Item] = deque()
        self._busy = False
        self.batches = 0

    async def predict(self, model: ServedModel, rows: Prepared) -> Result:
        """Predictions (and probabilities) of ``rows``, computed in some batch."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append(_Item(model, rows, future))
        if not self._busy:
            self._busy = True
            # call_soon, not now: requests parsed in this loop turn join the batch
            loop.call_soon(self._kick, loop)
        return await future

    def _kick(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.create_task(self._drain())

    def _take(self) -> list[_Item]:
        first = self._pending.popleft()
        batch, n = [first], first.rows.n
        while self._pending:
            nxt = self._pending[0]
            if nxt.model is not first.model or n + nxt.rows.n > self.max_rows:
                break
            batch.append(self._pending.popleft())
            n += nxt.rows.n
        return batch

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._take()
                model = batch[0].model
                try:
                    rows = Prepared.concat([item.rows for item in batch])
                    if self.on_batch is not None:
                        self.on_batch(rows.n)
                    self.batches += 1
                    if model.session is not None and rows.n <= self.inline_rows:
                        predictions, proba = model.predict(rows)
                    else:
                        predictions, proba = await asyncio.to_thread(model.predict, rows)
                except Exception as exc:  # every waiter gets the error, the batcher keeps going
                    for item in batch:
                        if not item.future.done():
                            item.future.set_exception(exc)
                    continue
                start = 0
                for item in batch:
                    end = start + item.rows.n
                    if not item.future.done():
                        item.future.set_result((predictions[start:end], None if proba is None else proba[start:end]))
                    start = end
        finally:
            self._busy = False
