"""Adaptive micro-batching: requests that arrive while a batch runs share the next call.

There is no timer: the first request starts a batch at once, and whatever queues up
while it runs (or in the same event-loop turn) goes into the next one, up to a row
cap. Light load gets batches of one at no added latency; heavy load gets fewer,
larger inference calls. scikit-learn runs in a worker thread so that the event loop
never blocks; small ONNX Runtime batches (tens of microseconds) run inline, where a
thread hop would cost more than the inference.

A request fails alone: when a merged call raises, its requests are scored again in
halves, down to single requests, and only those that fail by themselves get an error (a 400 naming the problem
when the model refused their values, see :func:`request_error`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from skloop.serve._errors import BadRequestError
from skloop.serve._model import ServedModel
from skloop.serve._validate import Prepared

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_INLINE_ROWS", "DEFAULT_MAX_BATCH_ROWS", "MicroBatcher", "request_error"]

DEFAULT_MAX_BATCH_ROWS = 4096
"""Rows of queued requests merged into one inference call at most."""

DEFAULT_INLINE_ROWS = 256
"""ONNX batches up to this many rows run on the event loop thread."""

Result = tuple[np.ndarray, np.ndarray | None]

# what a model raises on values it cannot take (a lone surrogate, a type it cannot cast)
_VALUE_ERRORS = (ValueError, TypeError)


def request_error(error: Exception) -> Exception:
    """The error a request gets when its rows, scored alone, made the model raise ``error``.

    A value or type error is the request's own (a 400 that names it); anything else is
    the server's and stays as it is (a 500, logged).
    """
    if isinstance(error, _VALUE_ERRORS) and not isinstance(error, BadRequestError):
        bad = BadRequestError(
            f"the model cannot score the rows of this request: {type(error).__name__}: {error}"[:500]
            + "; check their values (valid UTF-8 text, the types of /openapi.json)"
        )
        bad.__cause__ = error
        return bad
    return error


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

    async def _call(self, model: ServedModel, rows: Prepared) -> Result:
        if self.on_batch is not None:
            self.on_batch(rows.n)
        self.batches += 1
        if model.session is not None and rows.n <= self.inline_rows:
            return model.predict(rows)
        return await asyncio.to_thread(model.predict, rows)

    async def _isolate(self, model: ServedModel, batch: list[_Item]) -> None:
        """Score the halves of a failed batch, and so on down to single requests: only the guilty fail.

        With ``k`` bad requests among ``n``, about ``2 k log2(n)`` calls instead of ``n``.
        """
        batch = [item for item in batch if not item.future.done()]  # clients that went away
        if len(batch) <= 1:
            for item in batch:
                try:
                    result = await self._call(model, item.rows)
                except Exception as exc:
                    _fail(item, exc)
                else:
                    _deliver([item], result)
            return
        middle = len(batch) // 2
        for half in (batch[:middle], batch[middle:]):
            if len(half) == 1:
                await self._isolate(model, half)
                continue
            try:
                result = await self._call(model, Prepared.concat([item.rows for item in half]))
            except Exception:
                await self._isolate(model, half)
            else:
                _deliver(half, result)

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._take()
                model = batch[0].model
                try:
                    rows = Prepared.concat([item.rows for item in batch])
                    predictions, proba = await self._call(model, rows)
                except Exception as exc:
                    if len(batch) == 1:
                        _fail(batch[0], exc)
                    else:  # one bad request must not fail the others
                        logger.info("%d requests failed together (%r); isolating the guilty", len(batch), exc)
                        await self._isolate(model, batch)
                    continue
                _deliver(batch, (predictions, proba))
        finally:
            self._busy = False


def _fail(item: _Item, error: Exception) -> None:
    """Fail one request whose rows, scored alone, raised ``error``."""
    logger.info("a request's %d rows failed to score: %r", item.rows.n, error)
    if not item.future.done():
        item.future.set_exception(request_error(error))


def _deliver(batch: list[_Item], result: Result) -> None:
    """Hand each request its slice of a merged call's result."""
    predictions, proba = result
    start = 0
    for item in batch:
        end = start + item.rows.n
        if not item.future.done():
            item.future.set_result((predictions[start:end], None if proba is None else proba[start:end]))
        start = end
