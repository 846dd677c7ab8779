"""Errors of the server and the one table that maps every error to an HTTP status.

::

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

from skloop.core import DataError, ModelNotFoundError, SkloopError

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


class ServeError(SkloopError):
    """A request the server refuses.

    Parameters
    ----------
    message : str
        What was wrong and what to send instead.
    issues : list of dict, optional
        One ``{"row", "column", "problem", "severity"}`` per problem, when the
        request's rows or fields were at fault (``column`` names the field).
    """

    code = "INTERNAL_ERROR"

    def __init__(self, message: str, issues: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.issues = issues or []


class BadRequestError(ServeError):
    """The body cannot be read or its rows cannot be scored."""

    code = "BAD_REQUEST"


class UnauthorizedError(ServeError):
    """A bearer token is needed and was missing or wrong."""

    code = "UNAUTHENTICATED"


class NotFoundRouteError(ServeError):
    """No such route, or a model name that is not the served one."""

    code = "RESOURCE_DOES_NOT_EXIST"


class MethodNotAllowedError(ServeError):
    """The route exists but not for this method; ``allow`` lists the methods it answers."""

    code = "METHOD_NOT_ALLOWED"

    def __init__(self, message: str, allow: str) -> None:
        super().__init__(message)
        self.allow = allow


class PayloadTooLargeError(ServeError):
    """The body is larger than the server accepts."""

    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaError(ServeError):
    """A content type the route cannot read."""

    code = "UNSUPPORTED_MEDIA_TYPE"


class UnavailableError(ServeError):
    """The server cannot answer now; the answer carries ``Retry-After: retry_after``."""

    code = "UNAVAILABLE"
    retry_after = 1


class NotReadyError(UnavailableError):
    """The model is not loaded (yet)."""

    code = "NOT_READY"


class LogUnavailableError(UnavailableError):
    """The prediction log cannot be written: nothing of the request was kept or acknowledged."""

    code = "LOG_UNAVAILABLE"
    retry_after = 5


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
