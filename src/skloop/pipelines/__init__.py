"""Pipelines: feature kinds, custom transformers, pipeline building.

Everything here is re-exported from private modules:

- ``_categorical``, ``_transformers``: skloop's scikit-learn transformers;
- ``_features``: :class:`FeatureSets` and :func:`resolve_features`;
- ``_estimators``: estimators named by dotted path in the spec;
- ``_build``: the preprocessor and the pipeline of a spec;
- ``_fold_cache``: searches whose candidates share each fold's fitted preprocessing.
- ``_search``, ``_optuna``, ``_candidates``: the search of a spec (``strategy: optuna`` an
  extra) and its candidates as a run records them.
"""

from skloop.pipelines._build import (
    TEXT_MAX_FEATURES,
    build_pipeline,
    build_preprocessor,
    feature_names_to_inputs,
    used_input_columns,
)
from skloop.pipelines._candidates import candidates_table
from skloop.pipelines._categorical import MissingCategoryFiller, RareCategoryGrouper
from skloop.pipelines._estimators import build_estimator, import_object, is_estimator
from skloop.pipelines._features import FEATURE_KINDS, FeatureSets, resolve_features
from skloop.pipelines._fold_cache import (
    FOLD_CACHE,
    FOLD_CACHE_BYTES,
    FoldCache,
    FoldCachedGridSearchCV,
    FoldCachedHalvingGridSearchCV,
    FoldCachedHalvingRandomSearchCV,
    FoldCachedPipeline,
    FoldCachedRandomizedSearchCV,
    FoldCacheMixin,
    fold_cached_search_class,
)
from skloop.pipelines._missing import PROBE_ROWS, missing_handled_columns
from skloop.pipelines._optuna import OPTUNA_EXTRA, OptunaSearchCV
from skloop.pipelines._progress import SearchProgress, attach_progress
from skloop.pipelines._scoring import POS_LABEL_SCORERS, build_scorer, build_scorers
from skloop.pipelines._search import (
    SearchPlan,
    build_cv,
    build_search,
    default_scoring,
    resolve_scoring,
    summarize_cv,
    to_search_space,
)
from skloop.pipelines._transformers import (
    DATETIME_FEATURES,
    BooleanEncoder,
    DatetimeFeatures,
    QuantileClipper,
)

__all__ = [
    "DATETIME_FEATURES",
    "FEATURE_KINDS",
    "FOLD_CACHE",
    "FOLD_CACHE_BYTES",
    "OPTUNA_EXTRA",
    "POS_LABEL_SCORERS",
    "PROBE_ROWS",
    "TEXT_MAX_FEATURES",
    "BooleanEncoder",
    "DatetimeFeatures",
    "FeatureSets",
    "FoldCache",
    "FoldCacheMixin",
    "FoldCachedGridSearchCV",
    "FoldCachedHalvingGridSearchCV",
    "FoldCachedHalvingRandomSearchCV",
    "FoldCachedPipeline",
    "FoldCachedRandomizedSearchCV",
    "MissingCategoryFiller",
    "OptunaSearchCV",
    "QuantileClipper",
    "RareCategoryGrouper",
    "SearchPlan",
    "SearchProgress",
    "attach_progress",
    "build_cv",
    "build_estimator",
    "build_pipeline",
    "build_preprocessor",
    "build_scorer",
    "build_scorers",
    "build_search",
    "candidates_table",
    "default_scoring",
    "feature_names_to_inputs",
    "fold_cached_search_class",
    "import_object",
    "is_estimator",
    "missing_handled_columns",
    "resolve_features",
    "resolve_scoring",
    "summarize_cv",
    "to_search_space",
    "used_input_columns",
]
