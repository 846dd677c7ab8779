"""Why a model predicted what it did: per-row contributions by input column.

For tree ensembles (random forests, gradient boosting, extra trees, decision trees,
histogram gradient boosting) and linear models behind a ``ColumnTransformer``,
:func:`explain_rows` computes Shapley values of the transformed features
(``shap.TreeExplainer`` for trees, ``coef · (z - mean)`` for linear models) and sums the
contributions of every feature made from one input column (the one-hot levels of a
category, the parts of a date, the TF-IDF terms of a text), using
:func:`skloop.pipelines.feature_names_to_inputs`. So a row's contributions are in the
user's columns, and with the expected value they add up to the model's own output for
that row (a probability for forests, log-odds for gradient boosting and logistic
regression, the prediction for regressors) — checked on every call.

``shap`` is the optional ``explain`` extra (``pip install 'skloop[explain]'``).

:func:`weighted_drift` combines drift with the global permutation importance stored at
registration: a drifted column the model relies on counts for more.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import DataError, PipelineError, optional_import
from skloop.monitor._types import Floats

__all__ = ["Explanation", "explain_rows", "importance_weights", "weighted_drift"]

MAX_EXPLAIN_ROWS = 10_000
MAX_BACKGROUND_ROWS = 100
ADDITIVITY_RTOL = 1e-6
DEEP_TREE = 40
"""Trees deeper than this are named as the likely cause when contributions do not add up."""
"""Contributions plus the base must match the model's output within this (relative to max(|output|, 1))."""


@dataclass(frozen=True)
class Explanation:
    """Per-row contributions of each input column to a model's output.

    Attributes
    ----------
    columns : tuple of str
        The input columns, in the model's input order.
    values : ndarray of shape (n_rows, n_columns)
        Contributions (the output's units: see ``output``).
    expected_value : float
        The model's average output over the background; ``expected_value +
        values.sum(axis=1)`` is each row's output.
    output : str
        What is explained, e.g. ``"probability of class 1"`` or ``"log-odds of class 1"``.
    predictions : ndarray of shape (n_rows,)
        The model's output for each row, in the same units.
    index : tuple
        The rows' index labels.
    """

    columns: tuple[str, ...]
    values: Floats = field(repr=False)
    expected_value: float
    output: str
    predictions: Floats = field(repr=False)
    index: tuple[Any, ...] = ()

    def frame(self) -> pd.DataFrame:
        """The contributions as a DataFrame (rows × input columns)."""
        return pd.DataFrame(self.values, columns=list(self.columns), index=list(self.index) or None)

    def top(self, k: int = 5) -> list[list[tuple[str, float]]]:
        """The ``k`` columns with the largest absolute contribution, per row."""
        order = np.argsort(-np.abs(self.values), axis=1, kind="stable")[:, :k]
        return [[(self.columns[j], float(self.values[i, j])) for j in row] for i, row in enumerate(order)]

    def to_dict(self, k: int | None = None) -> dict[str, Any]:
        """A JSON-able dict: every column per row, or only the top ``k``."""
        rows = []
        tops = self.top(k) if k is not None else None
        for i in range(len(self.values)):
            if tops is None:
                contrib = {c: float(v) for c, v in zip(self.columns, self.values[i], strict=True)}
            else:
                contrib = dict(tops[i])
            rows.append({
                "index": _json(self.index[i]) if self.index else i,
                "prediction": float(self.predictions[i]),
                "contributions": contrib,
            })  # fmt: skip
        return {
            "columns": list(self.columns), "expected_value": self.expected_value, "output": self.output,
            "rows": rows,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Explanation:
        """Rebuild from :meth:`to_dict` output (with every column)."""
        columns = tuple(data["columns"])
        rows = data["rows"]
        values = np.asarray([[r["contributions"].get(c, 0.0) for c in columns] for r in rows], dtype=np.float64)
        return cls(
            columns=columns, values=values.reshape(len(rows), len(columns)),
            expected_value=float(data["expected_value"]), output=str(data["output"]),
            predictions=np.asarray([r["prediction"] for r in rows], dtype=np.float64),
            index=tuple(r["index"] for r in rows),
        )  # fmt: skip


def _json(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _shap() -> Any:
    with warnings.catch_warnings():
        # shap's import touches matplotlib colormap APIs that matplotlib deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return optional_import("shap", "explain")


def _split(model: Any) -> tuple[Any, Any]:
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline) and len(model.steps) >= 2:
        return model[:-1], model[-1]
    raise PipelineError(
        f"explanations need a fitted Pipeline of preprocessing then a model; got {type(model).__name__}"
    )


def _is_linear(estimator: Any) -> bool:
    """A model whose output is ``Z @ coef_.T + intercept_`` (checked again after explaining)."""
    module = type(estimator).__module__
    return module.startswith("sklearn.linear_model") or (
        module.startswith("sklearn.svm") and type(estimator).__name__ in {"LinearSVC", "LinearSVR"}
    )


def _tree_values(shap: Any, tree: Any, Z: Floats, background: Floats | None) -> tuple[Any, Any]:
    """SHAP values and the explainer; ``background`` switches to interventional TreeSHAP."""
    step = type(tree).__name__
    try:
        if background is None:
            explainer = shap.TreeExplainer(tree)
        else:
            explainer = shap.TreeExplainer(tree, data=background, feature_perturbation="interventional")
        return explainer.shap_values(Z, check_additivity=False), explainer
    except Exception as exc:  # shap's own error for an unsupported model: name it, keep the cause
        raise PipelineError(
            f"the model step ({step}) cannot be explained: shap.TreeExplainer refuses it "
            f"({type(exc).__name__}: {exc}); explanations support tree ensembles (RandomForest, "
            "GradientBoosting, ExtraTrees, HistGradientBoosting) and linear models"
        ) from exc


def _pick(raw: Any, expected: Any, k: int | None, n_outputs: int) -> tuple[Floats, float, int]:
    """The values and base of output ``k`` (default: the last) from shap's answer."""
    base_all = np.atleast_1d(np.asarray(expected, dtype=np.float64))
    if isinstance(raw, list):  # older shap: one array per output
        j = len(raw) - 1 if k is None else k
        return np.asarray(raw[j], dtype=np.float64), float(base_all[j]), j
    values = np.asarray(raw, dtype=np.float64)
    if values.ndim == 3:  # (rows, features, outputs): one output per class
        j = values.shape[2] - 1 if k is None else k
        return values[:, :, j], float(base_all[j]), j
    j = n_outputs - 1 if k is None else k
    return values, float(base_all[0] if base_all.size == 1 else base_all[j]), j


def _explain_tree(
    shap: Any, model: Any, tree: Any, X: pd.DataFrame, Z: Floats, Zb: Floats, k: int | None
) -> tuple[Floats, float, str, Floats]:
    classes = getattr(tree, "classes_", None)
    n_outputs = len(classes) if classes is not None else 1
    raw, explainer = _tree_values(shap, tree, Z, None)
    values, base, j = _pick(raw, explainer.expected_value, k, n_outputs)
    probability = classes is not None and explainer.model.tree_output == "probability"
    output = _output(model, X, classes, j, "probability" if probability else "log-odds")
    if not _adds_up(base, values, output):
        # Path-dependent TreeSHAP loses all precision on deep trees over many sparse
        # features (TF-IDF): its path weights are ratios of binomial coefficients of the
        # path length, and the unwinding divides by them (shap issue #4042). The
        # interventional algorithm, against a background, has no such division.
        raw, explainer = _tree_values(shap, tree, Z, Zb)
        values, base, j = _pick(raw, explainer.expected_value, k, n_outputs)
    kind = "prediction" if classes is None else f"{'probability' if probability else 'log-odds'} of class {classes[j]}"
    return values, base, kind, output


def _output(model: Any, X: pd.DataFrame, classes: Any, j: int, space: str) -> Floats:
    """The model's own output for each row, in the space that is explained."""
    if classes is None:
        return np.asarray(model.predict(X), dtype=np.float64).reshape(-1)
    if space == "probability":
        return np.asarray(model.predict_proba(X), dtype=np.float64)[:, j]
    scores = np.asarray(model.decision_function(X), dtype=np.float64)
    if scores.ndim == 1:  # binary: the score of classes_[1]
        return scores if j == len(classes) - 1 else -scores
    return scores[:, j]


def _explain_linear(
    model: Any, linear: Any, X: pd.DataFrame, Z: Floats, Zb: Floats, k: int | None
) -> tuple[Floats, float, str, Floats]:
    # Exact Shapley values of a linear model with independent features:
    # coef_j * (z_j - mean_j), the base being the model's output at the background mean.
    coef = np.atleast_2d(np.asarray(linear.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(linear.intercept_, dtype=np.float64))
    classes = getattr(linear, "classes_", None)
    mean = Zb.mean(axis=0)
    if classes is None:
        if coef.shape[0] != 1:
            raise PipelineError(
                f"the model step ({type(linear).__name__}) has {coef.shape[0]} outputs; "
                "explanations cover models with one output"
            )
        j, sign = 0, 1.0
    else:
        j = len(classes) - 1 if k is None else k
        if coef.shape[0] == 1:  # binary: one score, for classes_[1]
            row, sign = 0, (1.0 if j == len(classes) - 1 else -1.0)
        else:
            row, sign = j, 1.0
        coef, intercept = coef[row : row + 1], intercept[row : row + 1]
    w = sign * coef[0]
    values = (Z - mean) * w
    base = float(sign * intercept[0] + mean @ w)
    if classes is None:
        return values, base, "prediction", _output(model, X, None, j, "prediction")
    space = "log-odds" if type(linear).__name__.startswith("LogisticRegression") else "decision function"
    return values, base, f"{space} of class {classes[j]}", _output(model, X, classes, j, space)


def _adds_up(base: float, values: Floats, output: Floats) -> bool:
    error = np.abs(base + values.sum(axis=1) - output)
    return bool(np.all(error <= ADDITIVITY_RTOL * np.maximum(np.abs(output), 1.0)))


def _depth(estimator: Any) -> int | None:
    """The depth of the deepest tree of a scikit-learn tree model, if it is one."""
    trees = getattr(estimator, "estimators_", None)
    found = [estimator] if hasattr(estimator, "tree_") else list(np.ravel(trees)) if trees is not None else []
    depths = [t.tree_.max_depth for t in found if hasattr(t, "tree_")]
    return max(depths) if depths else None


def _dense(pre: Any, X: pd.DataFrame) -> Floats:
    Z = pre.transform(X)
    if hasattr(Z, "toarray"):
        Z = Z.toarray()
    return np.asarray(Z, dtype=np.float64)


def explain_rows(
    model: Any,
    X: pd.DataFrame,
    *,
    class_index: int | None = None,
    max_rows: int = MAX_EXPLAIN_ROWS,
    background: pd.DataFrame | None = None,
) -> Explanation:
    """Per-row contributions of each input column, for a tree or linear model behind a ColumnTransformer.

    Whatever the preprocessing (scaled numbers, one-hot categories, calendar parts of a
    date, TF-IDF of a text, booleans), ``expected_value + values.sum(axis=1)`` equals
    the model's own output for every row, within a relative 1e-6: the probability of
    the class for forests, the log-odds for gradient boosting and logistic regression,
    the decision function for other linear classifiers, the prediction for regressors.
    This is checked on every call; an explanation that does not add up is refused.

    Tree models are explained with path-dependent TreeSHAP (the base is the average
    output over the training data, from the trees' node counts). When its result does
    not add up — it loses precision on deep trees over many sparse features, such as
    TF-IDF — they are explained with interventional TreeSHAP against ``background``.
    Linear models get their exact Shapley values ``coef_j · (z_j − mean_j)`` over
    ``background``.

    Parameters
    ----------
    model : Pipeline
        A fitted pipeline: a ``ColumnTransformer`` first, a tree or linear model last
        (what ``skloop train`` registers).
    X : DataFrame
        Rows with the model's input columns.
    class_index : int, optional
        For a classifier, the class whose output is explained (default: the last,
        the positive class of a binary model).
    max_rows : int, default=10000
        Refuse more rows than this (TreeExplainer's cost grows with rows × trees × depth).
    background : DataFrame, optional
        Rows standing for "typical" inputs (at most 100 are used, sampled with a fixed
        seed); the base of linear and interventional explanations is the average
        output over them. Default: ``X`` itself.

    Returns
    -------
    Explanation

    Raises
    ------
    MissingExtraError
        ``shap`` is not installed (``pip install 'skloop[explain]'``).
    PipelineError
        The model is not a pipeline ending in a tree or linear model, or its
        contributions do not add up to its output (the message names the step and the error).
    DataError
        ``X`` is empty or too large.
    """
    if not isinstance(X, pd.DataFrame) or X.empty:
        raise DataError("explain_rows needs a non-empty DataFrame of the model's input columns")
    if len(X) > max_rows:
        raise DataError(f"{len(X)} rows to explain; at most {max_rows} at once (pass a sample or raise max_rows)")
    from skloop.pipelines import feature_names_to_inputs

    pre, estimator = _split(model)
    step = type(estimator).__name__
    linear = _is_linear(estimator) and hasattr(estimator, "coef_")
    shap = None if linear else _shap()  # linear models need no extra
    mapping = feature_names_to_inputs(model)
    try:
        names = [str(n) for n in pre.get_feature_names_out()]
    except (AttributeError, ValueError) as exc:
        raise PipelineError(f"the preprocessing does not name its output features ({exc})") from exc
    Z = _dense(pre, X)
    rows = X if background is None else background
    if len(rows) > MAX_BACKGROUND_ROWS:
        rows = rows.sample(MAX_BACKGROUND_ROWS, random_state=0)
    Zb = _dense(pre, rows)
    if linear:
        values, base, output, predicted = _explain_linear(model, estimator, X, Z, Zb, class_index)
    else:
        values, base, output, predicted = _explain_tree(shap, model, estimator, X, Z, Zb, class_index)
    if not _adds_up(base, values, predicted):
        worst = int(np.argmax(np.abs(base + values.sum(axis=1) - predicted)))
        depth = _depth(estimator)
        why = (
            f"shap's TreeSHAP loses precision on trees {depth} levels deep; limit model__max_depth "
            "(e.g. to 30) and retrain"
            if depth is not None and depth > DEEP_TREE
            else "explanations support tree ensembles and linear models"
        )
        raise PipelineError(
            f"the model step ({step}) cannot be explained exactly: for row {X.index[worst]!r} the "
            f"contributions add up to {base + values[worst].sum():.6g} but the model's {output} is "
            f"{predicted[worst]:.6g}; {why}"
        )
    inputs = list(dict.fromkeys(str(c) for c in X.columns))
    owner = [mapping.get(n, n) for n in names]
    extra = [o for o in dict.fromkeys(owner) if o not in inputs]
    columns = tuple(inputs + extra)
    position = {c: j for j, c in enumerate(columns)}
    summed = np.zeros((values.shape[0], len(columns)))
    np.add.at(summed.T, np.asarray([position[o] for o in owner]), values.T)
    used = [j for j, c in enumerate(columns) if c in set(owner)]
    summed = summed[:, used]
    return Explanation(
        columns=tuple(columns[j] for j in used), values=summed, expected_value=base, output=output,
        predictions=predicted, index=tuple(X.index),
    )  # fmt: skip


def importance_weights(importance: Mapping[str, Any] | None, columns: Sequence[str]) -> dict[str, float]:
    """Non-negative weights per column from a version's permutation importance.

    A column without a recorded importance, or with a negative one (shuffling it did not
    hurt), gets weight 0; without any importance every column weighs 1.

    Examples
    --------
    >>> importance_weights({"a": {"mean": 0.3}, "b": {"mean": -0.01}}, ["a", "b", "c"])
    {'a': 0.3, 'b': 0.0, 'c': 0.0}
    >>> importance_weights(None, ["a", "b"])
    {'a': 1.0, 'b': 1.0}
    """
    if not importance:
        return {c: 1.0 for c in columns}
    out = {}
    for c in columns:
        entry = importance.get(c)
        value = entry.get("mean") if isinstance(entry, Mapping) else entry
        out[c] = max(float(value), 0.0) if value is not None and np.isfinite(float(value)) else 0.0
    if not any(out.values()):
        return {c: 1.0 for c in columns}
    return out


def weighted_drift(drifted: Mapping[str, bool], importance: Mapping[str, Any] | None) -> float:
    """``Σ importance_i · drifted_i / Σ importance_i`` over the tested columns.

    Examples
    --------
    >>> round(weighted_drift({"a": True, "b": False}, {"a": {"mean": 0.3}, "b": {"mean": 0.1}}), 6)
    0.75
    """
    weights = importance_weights(importance, list(drifted))
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    return sum(w for c, w in weights.items() if drifted[c]) / total
