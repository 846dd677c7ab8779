"""ASGI type aliases of the server, the same types as Starlette's ``starlette.types``.

The server routes through a Starlette ``Router`` and runs under uvicorn and Starlette's
``TestClient``: its app, its router endpoints and its response helpers take and pass
these. They are spelled here rather than imported so that the modules which only speak
ASGI (the response layer, the app) do not import Starlette for a type, and they are
*equal* to Starlette's (``tests/serve/test_types.py`` checks it), so either side accepts
the other's callables without a cast.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send"]

Scope = MutableMapping[str, Any]
"""The connection scope: ``type``, ``method``, ``path``, ``headers``, ``path_params``, ..."""

Message = MutableMapping[str, Any]
"""One ASGI event: ``{"type": "http.request", "body": ..., "more_body": ...}``, ..."""

Receive = Callable[[], Awaitable[Message]]
"""Awaits the next event from the client (body chunks, disconnect, lifespan)."""

Send = Callable[[Message], Awaitable[None]]
"""Sends one event to the client (response start and body, lifespan acknowledgements)."""

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
"""An ASGI application (or a Starlette route endpoint)."""
