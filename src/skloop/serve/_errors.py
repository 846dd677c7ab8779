"""The one table that maps every error to an HTTP status, and the errors' JSON bodies.

The server's errors are defined with the rest of the family in ``skloop.core`` (and
re-exported here, where the handlers import them)::

    ServeError                    (skloop.core.SkloopError)
    ├── BadRequestError           400: unreadable body, wrong shape, invalid rows
    ├── UnauthorizedError         401: a missing or wrong bearer token
    ├── NotFoundRouteError        404: no such route or served model
    ├── MethodNotAllowedError     405
    ├── PayloadTooLargeError      413: the body is over the configured limit
    ├── UnsupportedMediaError     415: a content type the route does not read
    └── UnavailableError          503 with Retry-After: try again later
        ├── NotReadyError         no model loaded yet
        └── LogUnavailableError   the prediction log cannot be written (disk full, I/O error)

Errors raised by lower layers map through the same table: a ``DataError`` or a
``ValidationIssue`` list is a 400, a ``ModelNotFoundError`` a 404.
"""

from __future__ import annotations

from typing import Any

from skloop.core import (
    BadRequestError,
    DataError,
    LogUnavailableError,
    MethodNotAllowedError,
    ModelNotFoundError,
    NotFoundRouteError,
    NotReadyError,
    PayloadTooLargeError,
    ServeError,
    UnauthorizedError,
    UnavailableError,
    UnsupportedMediaError,
)

__all__ = [
    "STATUS_BY_ERROR",
    "BadRequestError",
    "LogUnavailableError",
    "MethodNotAllowedError",
    "NotFoundRouteError",
    "NotReadyError",
    "PayloadTooLargeError",
    "ServeError",
    "UnauthorizedError",
    "UnavailableError",
    "UnsupportedMediaError",
    "error_body",
    "status_of",
]


STATUS_BY_ERROR: tuple[tuple[type[BaseException], int], ...] = (
    (BadRequestError, 400),
    (UnauthorizedError, 401),
    (NotFoundRouteError, 404),
    (MethodNotAllowedError, 405),
    (PayloadTooLargeError, 413),
    (UnsupportedMediaError, 415),
    (UnavailableError, 503),
    (DataError, 400),
    (ModelNotFoundError, 404),
)
"""The one table from error class to HTTP status (first match wins); anything else is 500."""


def status_of(error: BaseException) -> int:
    """The HTTP status of ``error`` from :data:`STATUS_BY_ERROR` (500 when unlisted)."""
    for kind, status in STATUS_BY_ERROR:
        if isinstance(error, kind):
            return status
    return 500


def error_body(error: BaseException) -> dict[str, Any]:
    """The JSON body of an error answer.

    Readable by both protocols' clients: KServe V2 reads ``error``, MLflow reads
    ``error_code`` and ``message``; ``issues`` lists the field, row and problem.
    """
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    code = getattr(error, "code", None) or ("BAD_REQUEST" if status_of(error) < 500 else "INTERNAL_ERROR")
    return {"error": message, "error_code": code, "message": message, "issues": getattr(error, "issues", [])}
