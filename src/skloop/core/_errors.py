"""The one exception family of skloop.

Every error a user can cause derives from :class:`SkloopError`; callers catch the
narrowest class they act on.

::

    SkloopError
    ├── SpecError                 a skloop.yaml that does not validate
    ├── UsageError                a command or call used wrongly
    │   ├── CsrfError             a web UI form without a valid CSRF token (HTTP 403)
    │   └── TokenError            a web UI write without the admin token (HTTP 401)
    ├── DataError                 unreadable or unusable data
    │   └── LabelError            label records that cannot be stored (``issues``: one per problem)
    ├── PipelineError             a pipeline or search that cannot be built or fitted
    ├── StoreError                the metadata store or the artifact store
    │   ├── SchemaOutOfDateError  the database needs ``skloop db upgrade``
    │   ├── NotFoundError         a run, dataset or artifact that does not exist
    │   ├── ArtifactIntegrityError an artifact whose bytes do not match its SHA-256
    │   ├── LoopLockedError       another live process runs the loop of this model
    │   └── SearchFilterError     a run filter or ordering that cannot be parsed (also a UsageError)
    ├── RegistryError             registering, promoting, loading or exporting models
    │   ├── ModelNotFoundError    no such model, version or alias
    │   ├── GateError             a version that failed its gates (promote needs --force)
    │   ├── UntrustedModelError   an artifact holding types the loader does not trust
    │   └── ExportError           a model that cannot be exported to the asked format
    ├── ServeError                a request the model server refuses (its HTTP status: skloop.serve)
    │   ├── BadRequestError       unreadable body, wrong shape, invalid rows
    │   ├── UnauthorizedError     a missing or wrong bearer token
    │   ├── NotFoundRouteError    no such route or served model
    │   ├── MethodNotAllowedError the route exists, not for this method (``allow``)
    │   ├── PayloadTooLargeError  the body is over the configured limit
    │   ├── UnsupportedMediaError a content type the route does not read
    │   └── UnavailableError      try again later (``retry_after`` seconds)
    │       ├── NotReadyError     no model loaded yet
    │       └── LogUnavailableError the prediction log cannot be written (disk full, I/O error)
    ├── ServerMetricsError        a model server's ``/metrics`` the web UI cannot read or parse
    ├── ReproductionError         a reproduced run whose scores differ
    ├── MirrorError               an MLflow tracking server that fails or refuses a mirrored record
    └── MissingExtraError         an optional dependency that is not installed

Every class is defined here, whichever layer raises it, so that the tree above is the
whole family (a test walks ``SkloopError.__subclasses__()`` against it). The CLI's
exit code of each class is the table ``skloop.cli._errors.EXIT_CODES``; the server's
HTTP status, ``skloop.serve._errors.STATUS_BY_ERROR``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArtifactIntegrityError",
    "BadRequestError",
    "CsrfError",
    "DataError",
    "ExportError",
    "GateError",
    "LabelError",
    "LogUnavailableError",
    "LoopLockedError",
    "MethodNotAllowedError",
    "MirrorError",
    "MissingExtraError",
    "ModelNotFoundError",
    "NotFoundError",
    "NotFoundRouteError",
    "NotReadyError",
    "PayloadTooLargeError",
    "PipelineError",
    "RegistryError",
    "ReproductionError",
    "SchemaOutOfDateError",
    "SearchFilterError",
    "ServeError",
    "ServerMetricsError",
    "SkloopError",
    "SpecError",
    "StoreError",
    "TokenError",
    "UnauthorizedError",
    "UnavailableError",
    "UnsupportedMediaError",
    "UntrustedModelError",
    "UsageError",
]


class SkloopError(Exception):
    """Root of every error skloop raises on purpose."""


class SpecError(SkloopError):
    """A spec (``skloop.yaml``) that is missing, unparsable or invalid.

    Parameters
    ----------
    message : str
        The full, human-readable message.
    problems : list of dict, optional
        One entry per problem with keys ``file``, ``line``, ``key``, ``message``,
        ``given`` and ``allowed`` (any may be ``None``), for tools that want structure.
    """

    def __init__(self, message: str, problems: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class UsageError(SkloopError):
    """A command or API called with arguments that cannot work."""


class CsrfError(UsageError):
    """A web UI form sent without a valid CSRF token (HTTP 403)."""


class TokenError(UsageError):
    """A web UI write without the admin token while ``SKLOOP_TOKEN`` is set (HTTP 401)."""


class DataError(SkloopError):
    """Data that cannot be read or cannot be trained on."""


class LabelError(DataError):
    """Label records that cannot be stored; ``issues`` has one entry per problem.

    Each issue is ``{"row": index, "column": field, "problem": text, "severity": "error"}``
    (the shape of the server's error bodies: a ``DataError`` there is a 400).
    """

    code = "BAD_REQUEST"

    def __init__(self, message: str, issues: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.message = message
        self.issues = issues


class PipelineError(SkloopError):
    """A pipeline, estimator or search that cannot be built or fitted."""


class StoreError(SkloopError):
    """A failure of the metadata store or the artifact store."""


class SchemaOutOfDateError(StoreError):
    """The database schema is older than this version of skloop."""


class NotFoundError(StoreError):
    """A run, dataset, artifact or model that does not exist."""


class ArtifactIntegrityError(StoreError):
    """An artifact whose content does not match its recorded SHA-256."""


class LoopLockedError(StoreError):
    """Another live process runs the loop of this model."""


class SearchFilterError(StoreError, UsageError):
    """A search filter or ordering that cannot be parsed; the message names the token.

    A ``UsageError`` as well: the user's text is wrong, not the store (the CLI exits 2).
    """


class RegistryError(SkloopError):
    """Registering, promoting, loading or exporting a model failed."""


class ModelNotFoundError(RegistryError, LookupError):
    """No such model name, version or alias."""


class GateError(RegistryError):
    """A model version that failed its gates."""


class UntrustedModelError(RegistryError):
    """A model artifact that holds types the loader was not told to trust.

    Parameters
    ----------
    message : str
        What was refused and how to trust it.
    types : list of str
        The untrusted type names found in the artifact.
    """

    def __init__(self, message: str, types: list[str] | None = None) -> None:
        super().__init__(message)
        self.types = types or []


class ExportError(RegistryError):
    """A model that cannot be exported to the asked format (names the step or reason)."""


class ServeError(SkloopError):
    """A request the model server refuses.

    ``code`` is the protocol's error code of the answer; the HTTP status of each class
    is the table ``skloop.serve.STATUS_BY_ERROR``.

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


class ServerMetricsError(SkloopError):
    """A model server's ``/metrics`` that the web UI's serving page cannot read or parse.

    The page shows the message (unreachable, an HTTP error, not the Prometheus format),
    never a 500.
    """


class ReproductionError(SkloopError):
    """A reproduced run whose results differ from the original."""


class MirrorError(SkloopError):
    """An MLflow tracking server that cannot be reached, or refuses what skloop mirrors or imports.

    The mirror keeps the record queued and tries again later; ``skloop mirror status``
    shows the message.
    """


class MissingExtraError(SkloopError, ImportError):
    """An optional dependency is needed but not installed.

    Parameters
    ----------
    package : str
        The import name that failed.
    extra : str
        The skloop extra that installs it (``pip install 'skloop[extra]'``).
    key : str, optional
        The spec key that asked for it (``search.strategy``), named first.
    """

    def __init__(self, package: str, extra: str, *, key: str | None = None) -> None:
        super().__init__(
            f"{key + ': ' if key else ''}this needs the optional package {package!r}, which is not installed; "
            f"install it with: pip install 'skloop[{extra}]'"
        )
        self.package = package
        self.extra = extra
