"""Where the server puts the records of the rows it scored: the prediction sink.

The app appends the records of a request and answers only once the append returned,
so a sink's ``append`` returning means "kept" (for :class:`~skloop.serve.PredictionLog`,
``fsync``-ed to disk). The file-backed log, an in-memory list in the tests, or a
user's own sink meet here; the app depends on this Protocol, never on one of them.

A sink that also writes pre-encoded lines (:class:`LineSink`, as the file-backed log
does) lets the app encode the records with orjson itself and skip a second encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["Done", "LineSink", "PredictionSink"]

Done = Callable[[BaseException | None], None]
"""``done(error)``: called once appended lines are kept (``error`` ``None``) or were not."""


@runtime_checkable
class PredictionSink(Protocol):
    """Anything with an async ``append(records)`` that returns once the records are kept.

    A record is one served row (see :mod:`skloop.serve`): a JSON-able mapping with
    ``request_id``, ``row``, ``time``, ``model``, ``version``, ``inputs``, ``outputs``
    and ``flags``. ``append`` raises :class:`~skloop.core.StoreError` when the records
    could not be kept; the server then answers 503 and keeps nothing of the request.
    """

    async def append(self, records: Sequence[Mapping[str, Any]]) -> None: ...


@runtime_checkable
class LineSink(PredictionSink, Protocol):
    """A sink that also takes the records already encoded, one JSON document per line."""

    def append_bytes(self, lines: bytes, done: Done) -> None:
        """Queue ``lines`` (whole lines, each ending with ``\\n``); ``done(error)`` once kept.

        ``done`` may be called from another thread.
        """
        ...
