"""Core: spec models, errors, settings, hashing. Imports nothing else from skloop.

The spec models (pydantic, YAML) and the provenance helpers load on first use, so that
what every command needs (errors, settings, ``SPEC_FILENAME``) stays cheap to import:
``skloop --help`` imports no pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skloop.core._charts import (
    CHART_COLORS,
    CURRENT_COLOR,
    REFERENCE_COLOR,
)
from skloop.core._clock import utcnow
from skloop.core._errors import (
    ArtifactIntegrityError,
    BadRequestError,
    CsrfError,
    DataError,
    ExportError,
    GateError,
    LabelError,
    LogUnavailableError,
    LoopLockedError,
    MethodNotAllowedError,
    MirrorError,
    MissingExtraError,
    ModelNotFoundError,
    NotFoundError,
    NotFoundRouteError,
    NotReadyError,
    PayloadTooLargeError,
    PipelineError,
    RegistryError,
    ReproductionError,
    SchemaOutOfDateError,
    SearchFilterError,
    ServeError,
    ServerMetricsError,
    SkloopError,
    SpecError,
    StoreError,
    TokenError,
    UnauthorizedError,
    UnavailableError,
    UnsupportedMediaError,
    UntrustedModelError,
    UsageError,
)
from skloop.core._hashing import sha256_bytes, sha256_json
from skloop.core._html import html_environment, render_page
from skloop.core._imports import optional_import
from skloop.core._names import SPEC_FILENAME
from skloop.core._redact import redact_url
from skloop.core._settings import DEFAULT_HOME, Settings

if TYPE_CHECKING:
    from skloop.core._durations import parse_duration, parse_window_length
    from skloop.core._provenance import (
        CodeVersion,
        code_version,
        environment,
    )
    from skloop.core._spec import (
        ANDERSON_P_RANGE,
        DRIFT_METHODS,
        TABLE_FORMATS,
        TABLE_FORMATS_HELP,
        ColumnDriftSpec,
        ContractColumn,
        CVSpec,
        DataSpec,
        DirectionalTest,
        Distribution,
        DriftSpec,
        EstimatorSpec,
        FeaturesSpec,
        GatesSpec,
        InvarianceTest,
        LearnedSpec,
        MinimumFunctionalityTest,
        MonitoringSpec,
        PerformanceMonitorSpec,
        PipelineSpec,
        QualitySpec,
        RegistrySpec,
        SearchSpec,
        Spec,
        SqlSource,
        TestMethod,
        TextDriftSpec,
        TrackingSpec,
        table_format,
    )
    from skloop.core._spec_loader import (
        MAX_EXPANDED_NODES,
        load_spec,
        parse_spec,
        spec_from_dict,
    )
    from skloop.core._spec_loop import LoopDataSpec, LoopSpec
    from skloop.core._spec_multivariate import MultivariateSpec

__all__ = [
    "ANDERSON_P_RANGE",
    "CHART_COLORS",
    "CURRENT_COLOR",
    "DEFAULT_HOME",
    "DRIFT_METHODS",
    "MAX_EXPANDED_NODES",
    "REFERENCE_COLOR",
    "SPEC_FILENAME",
    "TABLE_FORMATS",
    "TABLE_FORMATS_HELP",
    "ArtifactIntegrityError",
    "BadRequestError",
    "CVSpec",
    "CodeVersion",
    "ColumnDriftSpec",
    "ContractColumn",
    "CsrfError",
    "DataError",
    "DataSpec",
    "DirectionalTest",
    "Distribution",
    "DriftSpec",
    "EstimatorSpec",
    "ExportError",
    "FeaturesSpec",
    "GateError",
    "GatesSpec",
    "InvarianceTest",
    "LabelError",
    "LearnedSpec",
    "LogUnavailableError",
    "LoopDataSpec",
    "LoopLockedError",
    "LoopSpec",
    "MethodNotAllowedError",
    "MinimumFunctionalityTest",
    "MirrorError",
    "MissingExtraError",
    "ModelNotFoundError",
    "MonitoringSpec",
    "MultivariateSpec",
    "NotFoundError",
    "NotFoundRouteError",
    "NotReadyError",
    "PayloadTooLargeError",
    "PerformanceMonitorSpec",
    "PipelineError",
    "PipelineSpec",
    "QualitySpec",
    "RegistryError",
    "RegistrySpec",
    "ReproductionError",
    "SchemaOutOfDateError",
    "SearchFilterError",
    "SearchSpec",
    "ServeError",
    "ServerMetricsError",
    "Settings",
    "SkloopError",
    "Spec",
    "SpecError",
    "SqlSource",
    "StoreError",
    "TestMethod",
    "TextDriftSpec",
    "TokenError",
    "TrackingSpec",
    "UnauthorizedError",
    "UnavailableError",
    "UnsupportedMediaError",
    "UntrustedModelError",
    "UsageError",
    "code_version",
    "environment",
    "html_environment",
    "load_spec",
    "optional_import",
    "parse_duration",
    "parse_spec",
    "parse_window_length",
    "redact_url",
    "render_page",
    "sha256_bytes",
    "sha256_json",
    "spec_from_dict",
    "table_format",
    "utcnow",
]

# name -> the module it lives in, imported on first use (pydantic and YAML for the spec)
_LAZY = {
    "CVSpec": "skloop.core._spec",
    "CodeVersion": "skloop.core._provenance",
    "ColumnDriftSpec": "skloop.core._spec",
    "ContractColumn": "skloop.core._spec",
    "ANDERSON_P_RANGE": "skloop.core._spec",
    "DRIFT_METHODS": "skloop.core._spec",
    "DataSpec": "skloop.core._spec",
    "DirectionalTest": "skloop.core._spec",
    "Distribution": "skloop.core._spec",
    "DriftSpec": "skloop.core._spec",
    "EstimatorSpec": "skloop.core._spec",
    "FeaturesSpec": "skloop.core._spec",
    "GatesSpec": "skloop.core._spec",
    "InvarianceTest": "skloop.core._spec",
    "LoopDataSpec": "skloop.core._spec_loop",
    "LoopSpec": "skloop.core._spec_loop",
    "MAX_EXPANDED_NODES": "skloop.core._spec_loader",
    "MinimumFunctionalityTest": "skloop.core._spec",
    "MonitoringSpec": "skloop.core._spec",
    "MultivariateSpec": "skloop.core._spec_multivariate",
    "PipelineSpec": "skloop.core._spec",
    "QualitySpec": "skloop.core._spec",
    "RegistrySpec": "skloop.core._spec",
    "SearchSpec": "skloop.core._spec",
    "Spec": "skloop.core._spec",
    "SqlSource": "skloop.core._spec",
    "TABLE_FORMATS": "skloop.core._spec",
    "TABLE_FORMATS_HELP": "skloop.core._spec",
    "TestMethod": "skloop.core._spec",
    "TextDriftSpec": "skloop.core._spec",
    "TrackingSpec": "skloop.core._spec",
    "LearnedSpec": "skloop.core._spec",
    "PerformanceMonitorSpec": "skloop.core._spec",
    "code_version": "skloop.core._provenance",
    "environment": "skloop.core._provenance",
    "load_spec": "skloop.core._spec_loader",
    "parse_duration": "skloop.core._durations",
    "parse_spec": "skloop.core._spec_loader",
    "parse_window_length": "skloop.core._durations",
    "spec_from_dict": "skloop.core._spec_loader",
    "table_format": "skloop.core._spec",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'skloop.core' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
