"""From a spec and feature sets to a scikit-learn ``Pipeline``.

The ``auto`` preprocessing uses only steps that skl2onnx converts (plus skloop's own
categorical transformers, which replace the ones it cannot): no ``OneHotEncoder``
infrequent categories and no ``SimpleImputer`` on strings holding ``NaN``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from skloop.core import EstimatorSpec, PipelineError, Spec
from skloop.pipelines._categorical import MissingCategoryFiller, RareCategoryGrouper
from skloop.pipelines._estimators import build_estimator, import_object, is_estimator
from skloop.pipelines._features import FEATURE_KINDS, FeatureSets
from skloop.pipelines._transformers import BooleanEncoder, DatetimeFeatures

__all__ = [
    "TEXT_MAX_FEATURES",
    "build_pipeline",
    "build_preprocessor",
    "feature_names_to_inputs",
    "used_input_columns",
]

TEXT_MAX_FEATURES = 1000
"""Vocabulary size of the ``auto`` TF-IDF step of each text column."""

# The spec's keys are its Literal kinds; a Python caller's may be any str (checked on use).
Preprocessing = (
    str
    | Mapping[str, Sequence[EstimatorSpec]]
    | Mapping[Literal["numeric", "categorical", "boolean", "datetime", "text"], Sequence[EstimatorSpec]]
)


def as_documents(X: Any) -> npt.NDArray[np.object_]:
    """The single column of ``X`` as a 1-D array of documents, for text vectorizers.

    Examples
    --------
    >>> as_documents(np.array([["a b"], ["c"]], dtype=object))
    array(['a b', 'c'], dtype=object)
    """
    values = X.to_numpy() if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=object)
    return np.asarray(values, dtype=object).reshape(-1)


def _auto_steps(kind: str, rare_min_frequency: float) -> list[tuple[str, Any]]:
    if kind == "numeric":
        return [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]
    if kind == "categorical":
        return [
            ("fill", MissingCategoryFiller()),
            ("group", RareCategoryGrouper(min_frequency=rare_min_frequency)),
            ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    if kind == "boolean":
        return [
            ("encode", BooleanEncoder()),
            ("impute", SimpleImputer(strategy="most_frequent", keep_empty_features=True)),
        ]
    if kind == "datetime":
        return [
            ("extract", DatetimeFeatures()),
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            # calendar parts (a year near 2000, a day up to 31) unscaled leave a linear model's
            # solver ill-conditioned: lbfgs stops at max_iter instead of converging in ~10 steps
            ("scale", StandardScaler()),
        ]
    return [("tfidf", TfidfVectorizer(max_features=TEXT_MAX_FEATURES))]


def _text_pipeline(steps: list[tuple[str, Any]]) -> Pipeline:
    # Vectorizers want 1-D documents and reject NaN; fill, then flatten.
    return Pipeline(
        [
            ("fill", MissingCategoryFiller(fill_value="")),
            ("documents", FunctionTransformer(as_documents, feature_names_out="one-to-one")),
            *steps,
        ]
    )


def _explicit_steps(kind: str, specs: Sequence[EstimatorSpec], seed: int | None) -> list[tuple[str, Any]]:
    steps: list[tuple[str, Any]] = []
    for i, step in enumerate(specs):
        estimator = build_estimator(step, seed=seed, key=f"pipeline.preprocessing.{kind}[{i}]")
        if not hasattr(estimator, "transform"):
            raise PipelineError(
                f"pipeline.preprocessing.{kind}[{i}].class: {step.class_!r} is not a "
                "transformer (it has no transform method)"
            )
        steps.append((f"{i}_{type(estimator).__name__.lower()}", estimator))
    return steps


def build_preprocessor(
    features: FeatureSets,
    preprocessing: Preprocessing = "auto",
    *,
    rare_min_frequency: float = 0.01,
    seed: int | None = None,
) -> ColumnTransformer:
    """The ``ColumnTransformer`` that prepares the feature columns.

    ``auto``, per kind (a kind without columns is skipped):

    - numeric: median imputation, standard scaling;
    - categorical: :class:`MissingCategoryFiller`, :class:`RareCategoryGrouper`,
      one-hot encoding that ignores unknown categories;
    - boolean: :class:`BooleanEncoder`, most-frequent imputation;
    - datetime: :class:`DatetimeFeatures`, median imputation, standard scaling;
    - text: per column, missing text filled with ``""`` and a TF-IDF vectorizer.

    An explicit mapping gives, per kind, a list of ``{class, params}`` steps (kinds not
    given use the ``auto`` steps; an empty list passes the columns through). Text steps
    get each text column as 1-D documents with missing text filled. ``none`` passes the
    numeric columns through and drops the rest.

    Parameters
    ----------
    features : FeatureSets
        The feature columns by kind.
    preprocessing : {"auto", "none"} or mapping, default="auto"
        The spec's ``pipeline.preprocessing``.
    rare_min_frequency : float, default=0.01
        ``min_frequency`` of the rare-category grouping.
    seed : int, optional
        ``random_state`` for explicit steps that take one.

    Returns
    -------
    ColumnTransformer
        Unfitted; dense output; output names ``<group>__<feature>``, where the group is
        the kind (``text_<column>`` for text).

    Raises
    ------
    PipelineError
        No feature column would reach the model, or an explicit step cannot be built.

    Examples
    --------
    >>> pre = build_preprocessor(FeatureSets(numeric=("age",), categorical=("city",)))
    >>> [name for name, _, _ in pre.transformers]
    ['numeric', 'categorical']
    """
    if preprocessing == "none":
        groups: list[tuple[str, Any, Any]] = (
            [("numeric", "passthrough", list(features.numeric))] if features.numeric else []
        )
    else:
        explicit: dict[str, Sequence[EstimatorSpec]] = (
            {} if isinstance(preprocessing, str) else {kind: steps for kind, steps in preprocessing.items()}
        )
        if isinstance(preprocessing, str) and preprocessing != "auto":
            raise PipelineError(
                f"pipeline.preprocessing: expected 'auto', 'none' or steps per kind, got {preprocessing!r}"
            )
        unknown = sorted(set(explicit) - set(FEATURE_KINDS))
        if unknown:
            raise PipelineError(f"pipeline.preprocessing: unknown kind(s) {unknown}; expected {list(FEATURE_KINDS)}")
        groups = []
        for kind in FEATURE_KINDS:
            columns = list(getattr(features, kind))
            if not columns:
                continue
            if kind in explicit:
                steps = _explicit_steps(kind, explicit[kind], seed)
            else:
                steps = _auto_steps(kind, rare_min_frequency)
            if kind == "text":
                groups += [(f"text_{c}", _text_pipeline(steps), [c]) for c in columns]
            else:
                groups.append((kind, Pipeline(steps) if steps else "passthrough", columns))
    if not groups:
        raise PipelineError(
            "no feature columns reach the model: "
            + (
                "preprocessing 'none' uses numeric columns only and there are none"
                if preprocessing == "none"
                else "no feature columns were given or inferred"
            )
            + "; list columns under 'features' in the spec"
        )
    return ColumnTransformer(groups, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=True)


def _call_factory(path: str, features: FeatureSets) -> Any:
    factory = import_object(path, "pipeline.factory")
    if not callable(factory):
        raise PipelineError(f"pipeline.factory: {path!r} is not callable")
    try:
        accepts_features = "features" in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        accepts_features = False
    try:
        return factory(features=features) if accepts_features else factory()
    except Exception as exc:
        raise PipelineError(f"pipeline.factory: calling {path!r} failed: {type(exc).__name__}: {exc}") from exc


def build_pipeline(spec: Spec, features: FeatureSets) -> Pipeline:
    """The unfitted pipeline of a spec: ``("preprocess", ...)`` then ``("model", ...)``.

    With ``pipeline.model``, the model is built by :func:`build_estimator` (its
    ``random_state`` defaults to ``spec.seed``). With ``pipeline.factory``, the function
    is called (with ``features=`` if it takes that parameter); an estimator it returns
    gets the preprocessor in front (and ``random_state=spec.seed`` if it has that
    parameter set to ``None``), a ``Pipeline`` it returns is used as it is.

    Parameters
    ----------
    spec : Spec
        The whole spec.
    features : FeatureSets
        The feature columns by kind.

    Returns
    -------
    Pipeline
        Unfitted.

    Raises
    ------
    PipelineError
        The model, a preprocessing step or the factory cannot be built; the message
        names the spec key.
    """
    pipe_spec = spec.pipeline
    if pipe_spec.factory is not None:
        built = _call_factory(pipe_spec.factory, features)
        if isinstance(built, Pipeline):
            return built
        if not is_estimator(built):
            raise PipelineError(
                f"pipeline.factory: {pipe_spec.factory!r} returned {type(built).__name__}; "
                "expected an estimator instance or a sklearn Pipeline"
            )
        model = built
        params = model.get_params(deep=False)
        if "random_state" in params and params["random_state"] is None:
            model.set_params(random_state=spec.seed)
    else:
        assert pipe_spec.model is not None  # guaranteed by PipelineSpec's validator
        model = build_estimator(pipe_spec.model, seed=spec.seed)
    preprocess = build_preprocessor(
        features,
        pipe_spec.preprocessing,
        rare_min_frequency=pipe_spec.rare_min_frequency,
        seed=spec.seed,
    )
    return Pipeline([("preprocess", preprocess), ("model", model)])


def _owner(name: str, columns: Sequence[str], prefix: str) -> str:
    """The input column an inner output name comes from (longest matching prefix)."""
    for column in sorted(columns, key=len, reverse=True):
        if name == column or name.startswith(f"{column}_"):
            return column
    return prefix


def used_input_columns(model: Any) -> list[str] | None:
    """The input columns a fitted model reads, in the order it was fitted on.

    When the model's first step (through nested pipelines) is a fitted
    ``ColumnTransformer``, the columns its transformers select, the remainder
    included unless it is ``"drop"``, and no column given to a ``"drop"``
    transformer: a ``factory:`` pipeline that selects a few columns of the frame
    reads only those. Any other model reads every column it was fitted on
    (``feature_names_in_``).

    Parameters
    ----------
    model : estimator
        A fitted estimator or pipeline.

    Returns
    -------
    list of str or None
        ``None`` when the model was not fitted on named columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.linear_model import LinearRegression
    >>> X = pd.DataFrame({"age": [1.0, 2.0, 3.0], "city": ["a", "b", "a"], "noise": [0.0, 1.0, 0.0]})
    >>> select = ColumnTransformer([("numeric", StandardScaler(), ["age"])])
    >>> used_input_columns(Pipeline([("select", select), ("model", LinearRegression())]).fit(X, [1, 2, 3]))
    ['age']
    """
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return None
    columns = [str(c) for c in names]
    first = model
    while isinstance(first, Pipeline) and first.steps:
        first = first.steps[0][1]
    groups = getattr(first, "transformers_", None)
    if not isinstance(first, ColumnTransformer) or groups is None:
        return columns
    used: set[str] = set()
    for _, transformer, selected in groups:  # the fitted remainder is listed here too
        if isinstance(transformer, str) and transformer == "drop":
            continue
        used.update(_input_columns(first, selected))
    return [c for c in columns if c in used]


def feature_names_to_inputs(pipeline: Pipeline | ColumnTransformer) -> dict[str, str]:
    """Map each output feature of a fitted preprocessor to the input column it comes from.

    Parameters
    ----------
    pipeline : Pipeline or ColumnTransformer
        A fitted pipeline whose first step (or the transformer itself) is a fitted
        ``ColumnTransformer``.

    Returns
    -------
    dict of str to str
        Output feature name (as ``get_feature_names_out`` gives it) to input column.
        An output that cannot be traced to one column (e.g. after a PCA over several
        columns) maps to its transformer's name.

    Raises
    ------
    PipelineError
        The pipeline has no fitted ``ColumnTransformer`` in front.

    Examples
    --------
    >>> import pandas as pd
    >>> pre = build_preprocessor(FeatureSets(numeric=("age",), categorical=("city",)))
    >>> X = pd.DataFrame({"age": [1.0, 2.0], "city": ["a", "b"]})
    >>> feature_names_to_inputs(pre.fit(X))
    {'numeric__age': 'age', 'categorical__city_a': 'city', 'categorical__city_b': 'city'}
    """
    pre = pipeline[0] if isinstance(pipeline, Pipeline) else pipeline
    if not isinstance(pre, ColumnTransformer) or not hasattr(pre, "transformers_"):
        raise PipelineError(
            "feature_names_to_inputs needs a fitted pipeline whose first step is a "
            f"ColumnTransformer; got {type(pre).__name__}"
        )
    out_names = pre.get_feature_names_out()
    mapping: dict[str, str] = {}
    for name, transformer, columns in pre.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        cols = _input_columns(pre, columns)
        for out in out_names[pre.output_indices_[name]]:
            inner = out.split("__", 1)[1] if pre.verbose_feature_names_out else out
            mapping[out] = cols[0] if len(cols) == 1 else _owner(inner, cols, name)
    return mapping


def _input_columns(pre: ColumnTransformer, columns: Any) -> list[str]:
    if isinstance(columns, str):
        return [columns]
    if isinstance(columns, list) and all(isinstance(c, str) for c in columns):
        return list(columns)
    names = getattr(pre, "feature_names_in_", None)
    if names is None:
        names = np.asarray([f"x{i}" for i in range(pre.n_features_in_)], dtype=object)
    return [str(c) for c in np.atleast_1d(names[columns])]
