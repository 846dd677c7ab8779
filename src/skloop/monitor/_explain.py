"""Why a model predicted what it did: per-row contributions by input column.

For tree ensembles (random forests, gradient boosting, extra trees, decision trees,
histogram gradient boosting) behind a ``ColumnTransformer``, :func:`explain_rows` runs
``shap.TreeExplainer`` on the transformed features and sums the contributions of every
feature made from one input column (the one-hot levels of a category, the parts of a
date), using :func:`skloop.pipelines.feature_names_to_inputs`. So a row's
contributions are in the user's columns, and with the expected value they add up to
the model's raw output for that row (a probability for forests, log-odds for gradient
boosting).

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

__all__ = ["Explanation", "explain_rows", "importance_weights", "weighted_drift"]

MAX_EXPLAIN_ROWS = 10_000


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
    values: np.ndarray = field(repr=False)
    expected_value: float
    output: str
    predictions: np.ndarray = field(repr=False)
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
        f"explanations need a fitted Pipeline of preprocessing then a tree model; got {type(model).__name__}"
    )


def explain_rows(
    model: Any,
    X: pd.DataFrame,
    *,
    class_index: int | None = None,
    max_rows: int = MAX_EXPLAIN_ROWS,
) -> Explanation:
    """Per-row contributions of each input column, for a tree ensemble behind a ColumnTransformer.

    Parameters
    ----------
    model : Pipeline
        A fitted pipeline: a ``ColumnTransformer`` first, a tree model last
        (what ``skloop train`` registers).
    X : DataFrame
        Rows with the model's input columns.
    class_index : int, optional
        For a classifier, the class whose output is explained (default: the last,
        the positive class of a binary model).
    max_rows : int, default=10000
        Refuse more rows than this (TreeExplainer's cost grows with rows × trees × depth).

    Returns
    -------
    Explanation

    Raises
    ------
    MissingExtraError
        ``shap`` is not installed (``pip install 'skloop[explain]'``).
    PipelineError
        The model is not a pipeline ending in a tree model that TreeExplainer supports.
    DataError
        ``X`` is empty or too large.
    """
    if not isinstance(X, pd.DataFrame) or X.empty:
        raise DataError("explain_rows needs a non-empty DataFrame of the model's input columns")
    if len(X) > max_rows:
        raise DataError(f"{len(X)} rows to explain; at most {max_rows} at once (pass a sample or raise max_rows)")
    shap = _shap()
    from skloop.pipelines import feature_names_to_inputs

    pre, tree = _split(model)
    mapping = feature_names_to_inputs(model)
    try:
        names = [str(n) for n in pre.get_feature_names_out()]
    except (AttributeError, ValueError) as exc:
        raise PipelineError(f"the preprocessing does not name its output features ({exc})") from exc
    Z = pre.transform(X)
    if hasattr(Z, "toarray"):
        Z = Z.toarray()
    Z = np.asarray(Z, dtype=np.float64)
    try:
        explainer = shap.TreeExplainer(tree)
        raw = explainer.shap_values(Z, check_additivity=False)
    except Exception as exc:  # shap's own error for an unsupported model: name it, keep the cause
        raise PipelineError(
            f"shap.TreeExplainer cannot explain {type(tree).__name__} ({type(exc).__name__}: {exc}); "
            "explanations support tree ensembles (RandomForest, GradientBoosting, ExtraTrees, HistGradientBoosting)"
        ) from exc
    values = np.asarray(raw[-1] if isinstance(raw, list) else raw, dtype=np.float64)
    expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))
    classes = getattr(tree, "classes_", None)
    if values.ndim == 3:  # (rows, features, outputs): one output per class
        k = values.shape[2] - 1 if class_index is None else class_index
        values, base = values[:, :, k], float(expected[k])
    else:
        k = (len(classes) - 1 if classes is not None else 0) if class_index is None else class_index
        base = float(expected[0] if expected.size == 1 else expected[k])
    if classes is None:
        output = "prediction"
    else:
        kind = "probability" if explainer.model.tree_output == "probability" else "log-odds"
        output = f"{kind} of class {classes[k]}"
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
        predictions=base + values.sum(axis=1), index=tuple(X.index),
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
