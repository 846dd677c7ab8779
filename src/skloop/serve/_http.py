"""The server's request object and answer helpers, shared by the app and its handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

__all__ = ["JSON_TYPE", "ORJSON_OPTS", "Handler", "Request", "Response", "json_response", "skloop_version"]

JSON_TYPE = b"application/json"
ORJSON_OPTS = orjson.OPT_SERIALIZE_NUMPY

Response = tuple[int, bytes, bytes]
"""``(status, body, content type)``."""
Handler = Callable[["Request"], Awaitable[Response]]


class Request:
    __slots__ = ("body", "headers", "method", "params", "path", "request_id", "route")

    def __init__(self, method: str, path: str, headers: dict[bytes, bytes], request_id: str) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.request_id = request_id
        self.body = b""
        self.route = "unmatched"
        self.params: dict[str, str] = {}


def json_response(status: int, doc: Any) -> Response:
    return status, orjson.dumps(doc, option=ORJSON_OPTS), JSON_TYPE


def skloop_version() -> str:
    # the installed distribution's version: importing the top-level package would pull
    # in the workflows layer, which serve must not import
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("skloop")
    except PackageNotFoundError:
        return "unknown"
