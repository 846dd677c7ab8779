"""The server's response layer: from a routed request to the bytes on the wire.

:class:`~skloop.serve.ServeApp` owns the model, the batcher and the prediction log;
this module owns what every request goes through whatever its route: the method and
token checks the route table asks for, reading the body under the size limit, turning
any error into its status and JSON body (through the one table of
``skloop.serve._errors``), sending the answer with the server's headers, and the
access log line. Kept apart so that the app reads as the model's life (load, swap,
score, log) and this as HTTP's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from skloop.serve._errors import (
    MethodNotAllowedError,
    PayloadTooLargeError,
    UnavailableError,
    error_body,
    status_of,
)
from skloop.serve._http import JSON_TYPE, Request, Response
from skloop.serve._routes import ADMIN, PREDICT, BoundRoute
from skloop.serve._types import Receive, Scope, Send

__all__ = ["error_answer", "log_access", "read_body", "run_route", "send_answer"]

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("skloop.serve.access")

Headers = list[tuple[bytes, bytes]]


async def run_route(
    bound: BoundRoute,
    request: Request,
    receive: Receive,
    *,
    check_token: Callable[[Request], None],
    token_required_for_predict: bool,
    max_body_bytes: int,
) -> Response:
    """Check the method and (where the route's auth class says) the token, read the body, run the handler."""
    handler = bound.handler(request.method)
    if handler is None:
        raise MethodNotAllowedError(
            f"{request.method} is not allowed on {request.path}; use {bound.allow}", allow=bound.allow
        )
    auth = bound.route.auth
    if auth == ADMIN or (auth == PREDICT and token_required_for_predict):
        check_token(request)
    if request.method == "POST":
        request.body = await read_body(request, receive, max_body_bytes)
    return await handler(request)


async def read_body(request: Request, receive: Receive, limit: int) -> bytes:
    """The whole body, refused with a 413 as soon as it passes ``limit`` bytes (declared or read)."""
    declared = request.headers.get(b"content-length")
    too_large = PayloadTooLargeError(
        f"the request body is larger than the limit of {limit} bytes; send fewer rows per request "
        "or start the server with a larger --max-body-bytes"
    )
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def error_answer(exc: BaseException, request: Request) -> tuple[Response, Headers]:
    """The answer to a request that raised ``exc``, and the extra headers its status needs.

    A 5xx that is not a deliberate "try again" (503) is a bug: it is logged with its
    traceback and the client sees only the request id, never the exception's text.
    """
    status = status_of(exc)
    extra: Headers = []
    if isinstance(exc, MethodNotAllowedError):
        extra.append((b"allow", exc.allow.encode()))
    if isinstance(exc, UnavailableError):
        extra.append((b"retry-after", str(exc.retry_after).encode()))
    if status == 401:
        extra.append((b"www-authenticate", b"Bearer"))
    if status >= 500 and not isinstance(exc, UnavailableError):
        logger.error("request %s to %s failed", request.request_id, request.path, exc_info=exc)
        message = f"internal error (request id {request.request_id}); see the server log"
        doc: dict[str, Any] = {"error": message, "error_code": "INTERNAL_ERROR", "message": message, "issues": []}
    else:
        doc = error_body(exc)
    return (status, orjson.dumps(doc), JSON_TYPE), extra


async def send_answer(send: Send, answer: Response, headers: Headers) -> None:
    """Send ``answer`` (status, body, content type) with ``headers`` after the content headers."""
    status, body, content_type = answer
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


def log_access(scope: Scope, request: Request, status: int, bytes_out: int, elapsed: float, model_ref: str) -> None:
    """One JSON line on the ``skloop.serve.access`` logger (only when it is enabled: ``--access-log``)."""
    if not access_logger.isEnabledFor(logging.INFO):
        return
    access_logger.info(
        orjson.dumps(
            {
                "time": datetime.now(UTC).isoformat(),
                "request_id": request.request_id,
                "correlation_id": request.correlation_id,
                "method": request.method,
                "path": request.path,
                "route": request.route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 3),
                "bytes_in": len(request.body),
                "bytes_out": bytes_out,
                "model": model_ref,
                "client": (scope.get("client") or ("", 0))[0],
            }
        ).decode()
    )
