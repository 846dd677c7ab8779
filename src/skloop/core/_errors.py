"""The one exception family of skloop.

Every error a user can cause derives from :class:`SkloopError`; callers catch the
narrowest class they act on. The CLI maps classes to exit codes in one place
(``skloop.cli._errors``) and the server maps them to HTTP status codes in one table.

::

    SkloopError
    ├── SpecError                 a skloop.yaml that does not validate (exit 2)
    ├── UsageError                a command or call used wrongly (exit 2)
    ├── DataError                 unreadable or unusable data
    ├── PipelineError             a pipeline or search that cannot be built or fitted
    ├── StoreError                the metadata store or the artifact store
    │   ├── SchemaOutOfDateError  the database needs ``skloop db upgrade``
    │   ├── NotFoundError         a run, dataset or artifact that does not exist
    │   └── ArtifactIntegrityError an artifact whose bytes do not match its SHA-256
    ├── RegistryError             registering, promoting, loading or exporting models
    │   ├── ModelNotFoundError    no such model, version or alias
    │   ├── GateError             a version that failed its gates (promote needs --force)
    │   ├── UntrustedModelError   an artifact holding types the loader does not trust
    │   └── ExportError           a model that cannot be exported to the asked format
    ├── ReproductionError         a reproduced run whose scores differ
    └── MissingExtraError         an optional dependency that is not installed
"""

from __future__ import annotations

__all__ = [
    "ArtifactIntegrityError",
    "DataError",
    "ExportError",
    "GateError",
    "MissingExtraError",
    "ModelNotFoundError",
    "NotFoundError",
    "PipelineError",
    "RegistryError",
    "ReproductionError",
    "SchemaOutOfDateError",
    "SkloopError",
    "SpecError",
    "StoreError",
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


class DataError(SkloopError):
    """Data that cannot be read or cannot be trained on."""


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


class ReproductionError(SkloopError):
    """A reproduced run whose results differ from the original."""


class MissingExtraError(SkloopError, ImportError):
    """An optional dependency is needed but not installed.

    Parameters
    ----------
    package : str
        The import name that failed.
    extra : str
        The skloop extra that installs it (``pip install 'skloop[extra]'``).
    """

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"this needs the optional package {package!r}, which is not installed; "
            f"install it with: pip install 'skloop[{extra}]'"
        )
        self.package = package
        self.extra = extra
