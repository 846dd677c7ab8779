"""Pipelines: feature kinds, custom transformers, pipeline building.

Everything here is re-exported from private modules:

- ``_categorical``, ``_transformers``: skloop's scikit-learn transformers;
- ``_features``: :class:`FeatureSets` and :func:`resolve_features`;
- ``_estimators``: estimators named by dotted path in the spec;
- ``_build``: the preprocessor and the pipeline of a spec.
"""

from skloop.pipelines._build import (
    TEXT_MAX_FEATURES,
    build_pipeline,
    build_preprocessor,
    feature_names_to_inputs,
)
from skloop.pipelines._categorical import MissingCategoryFiller, RareCategoryGrouper
from skloop.pipelines._estimators import build_estimator, import_object, is_estimator
from skloop.pipelines._features import FEATURE_KINDS, FeatureSets, resolve_features
from skloop.pipelines._transformers import (
    DATETIME_FEATURES,
    BooleanEncoder,
    DatetimeFeatures,
    QuantileClipper,
)

# --- search, CV and scoring (skloop.pipelines._search) -------------------------------
# Reserved: the owner of _search adds its import here and its names to __all__ below
# (keep __all__ in ruff's isort-style order: CONSTANTS, Classes, functions;
# `ruff check --fix` does it, tests/pipelines/test_init.py checks it).
# ---------------------------------------------------------------------------------------

__all__ = [
    "DATETIME_FEATURES",
    "FEATURE_KINDS",
    "TEXT_MAX_FEATURES",
    "BooleanEncoder",
    "DatetimeFeatures",
    "FeatureSets",
    "MissingCategoryFiller",
    "QuantileClipper",
    "RareCategoryGrouper",
    "build_estimator",
    "build_pipeline",
    "build_preprocessor",
    "feature_names_to_inputs",
    "import_object",
    "is_estimator",
    "resolve_features",
]
