"""Core: spec models, errors, settings, hashing. Imports nothing else from skloop."""

from skloop.core._errors import (
    ArtifactIntegrityError,
    DataError,
    MissingExtraError,
    NotFoundError,
    PipelineError,
    ReproductionError,
    SchemaOutOfDateError,
    SkloopError,
    SpecError,
    StoreError,
    UsageError,
)
from skloop.core._settings import Settings
from skloop.core._spec import (
    CVSpec,
    DataSpec,
    Distribution,
    EstimatorSpec,
    FeaturesSpec,
    PipelineSpec,
    SearchSpec,
    Spec,
    SqlSource,
)
from skloop.core._spec_loader import SPEC_FILENAME, load_spec, parse_spec, spec_from_dict

__all__ = [
    "SPEC_FILENAME",
    "ArtifactIntegrityError",
    "CVSpec",
    "DataError",
    "DataSpec",
    "Distribution",
    "EstimatorSpec",
    "FeaturesSpec",
    "MissingExtraError",
    "NotFoundError",
    "PipelineError",
    "PipelineSpec",
    "ReproductionError",
    "SchemaOutOfDateError",
    "SearchSpec",
    "Settings",
    "SkloopError",
    "Spec",
    "SpecError",
    "SqlSource",
    "StoreError",
    "UsageError",
    "load_spec",
    "parse_spec",
    "spec_from_dict",
]
