"""Transformers for categorical columns that skl2onnx can follow.

scikit-learn's own answers to missing and rare categories (``SimpleImputer`` on string
columns holding ``NaN``, ``OneHotEncoder(min_frequency=...)``) cannot be converted to
ONNX, so skloop does both steps itself, before a plain ``OneHotEncoder``.

Both transformers turn every value into a Python ``str`` (see :func:`skloop.data.as_category`) so that
an integer-coded column and the same column read back with a missing value (and so as
floats) give the same categories.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, RealNotInt
from sklearn.utils.validation import check_is_fitted, validate_data

from skloop.data import as_category
from skloop.pipelines._fit_context import fit_context

__all__ = ["MissingCategoryFiller", "RareCategoryGrouper"]


_as_category_ufunc = np.frompyfunc(as_category, 1, 1)


# pandas.api.types.infer_dtype kinds whose values are all of one plain type (or missing):
# pandas' hashing merges only values that as_category labels alike (3 and 3.0 are "3").
_PLAIN_TYPES = frozenset({"boolean", "integer", "floating", "mixed-integer-float"})


def _as_category(X: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """:func:`~skloop.data.as_category` of every value; missing values get any label.

    Every caller overwrites the labels of missing values, so only the others are
    exact. A column of strings is its own labels, a column of one plain type is
    labelled once per distinct value, any other column value by value.
    """
    labels = np.empty(X.shape, dtype=object)
    for j in range(X.shape[1]):
        column = X[:, j]
        kind = pd.api.types.infer_dtype(column, skipna=True)
        if kind in ("string", "empty"):
            labels[:, j] = column
        elif kind in _PLAIN_TYPES:
            codes, uniques = pd.factorize(column, use_na_sentinel=True)
            table = np.array([as_category(u) for u in uniques] + ["nan"], dtype=object)
            labels[:, j] = table[codes]  # code -1 (missing) takes the last entry
        else:
            labels[:, j] = _as_category_ufunc(column)
    return labels


def _object_input(estimator: BaseEstimator, X: Any, *, reset: bool) -> npt.NDArray[np.object_]:
    """Validate ``X`` without converting it to numbers; return a 2-D object array."""
    X = validate_data(estimator, X, reset=reset, dtype=None, ensure_all_finite=False)
    return np.asarray(X, dtype=object)


def _categorical_tags(tags: Any) -> Any:
    # Declared like OneHotEncoder/OrdinalEncoder: strings and categories are accepted,
    # missing values are handled, and the output is strings (no dtype is preserved).
    tags.input_tags.categorical = True
    tags.input_tags.string = True
    tags.input_tags.allow_nan = True
    tags.transformer_tags.preserves_dtype = []
    return tags


class MissingCategoryFiller(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Replace missing values of categorical columns by an explicit category.

    Missing means ``None``, ``NaN``, ``NaT`` or ``pd.NA``. Every other value becomes
    its string label, so the output is an object array of ``str`` that any encoder
    (and skl2onnx) accepts.

    Parameters
    ----------
    fill_value : str, default="__missing__"
        The category given to missing values.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen during :meth:`fit`, when ``X`` had string column names.
    missing_counts_ : ndarray of shape (n_features_in_,)
        Missing values per column in the training data.

    Examples
    --------
    >>> import numpy as np
    >>> from skloop.pipelines import MissingCategoryFiller
    >>> X = np.array([["a", None], [np.nan, 2.0]], dtype=object)
    >>> MissingCategoryFiller().fit_transform(X)
    array([['a', '__missing__'],
           ['__missing__', '2']], dtype=object)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {"fill_value": [str]}

    def __init__(self, *, fill_value: str = "__missing__") -> None:
        self.fill_value = fill_value

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> MissingCategoryFiller:
        """Check ``X`` and count its missing values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Categorical data; any values.
        y : None
            Ignored.

        Returns
        -------
        self : MissingCategoryFiller
            The fitted transformer.
        """
        X = _object_input(self, X, reset=True)
        self.missing_counts_ = pd.isna(X).sum(axis=0)
        return self

    def transform(self, X: Any) -> npt.NDArray[np.object_]:
        """Fill missing values and cast every value to ``str``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Categorical data.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features), dtype=object
            String labels, with ``fill_value`` where a value was missing.
        """
        check_is_fitted(self)
        X = _object_input(self, X, reset=False)
        out = _as_category(X).astype(object)
        out[pd.isna(X)] = self.fill_value
        return out

    def __sklearn_tags__(self) -> Any:
        return _categorical_tags(super().__sklearn_tags__())


class RareCategoryGrouper(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Group the rare categories of each column into one label.

    A category is rare when it occurs less often than ``min_frequency`` in the training
    data; rare categories, and categories never seen in training, become
    ``other_label``. Missing values stay missing (fill them first with
    :class:`MissingCategoryFiller` to give them a category of their own).

    Parameters
    ----------
    min_frequency : int or float, default=0.01
        An int is a count; a float in ``[0, 1)`` is a fraction of the training rows.
        ``0`` keeps every category seen in training.
    other_label : str, default="__rare__"
        The label of the grouped categories.

    Attributes
    ----------
    categories_ : list of ndarray
        Per column, the sorted string labels kept as they are.
    n_features_in_ : int
        Number of columns seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen during :meth:`fit`, when ``X`` had string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from skloop.pipelines import RareCategoryGrouper
    >>> X = np.array([["a"], ["a"], ["a"], ["b"]], dtype=object)
    >>> grouper = RareCategoryGrouper(min_frequency=2).fit(X)
    >>> grouper.categories_
    [array(['a'], dtype=object)]
    >>> grouper.transform(np.array([["a"], ["b"], ["z"]], dtype=object)).ravel()
    array(['a', '__rare__', '__rare__'], dtype=object)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "min_frequency": [
            Interval(Integral, 0, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="left"),
        ],
        "other_label": [str],
    }

    def __init__(self, *, min_frequency: float = 0.01, other_label: str = "__rare__") -> None:
        self.min_frequency = min_frequency
        self.other_label = other_label

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> RareCategoryGrouper:
        """Learn which categories of each column are frequent enough to keep.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Categorical data; any values.
        y : None
            Ignored.

        Returns
        -------
        self : RareCategoryGrouper
            The fitted transformer.
        """
        X = _object_input(self, X, reset=True)
        if isinstance(self.min_frequency, Integral):
            threshold: float = float(self.min_frequency)
        else:
            threshold = float(self.min_frequency) * X.shape[0]
        labels = _as_category(X)
        missing = pd.isna(X)
        self.categories_ = []
        for j in range(X.shape[1]):
            counts = pd.Series(labels[~missing[:, j], j]).value_counts(sort=False)
            kept = sorted(str(c) for c, n in counts.items() if n >= threshold)
            self.categories_.append(np.array(kept, dtype=object))
        return self

    def transform(self, X: Any) -> npt.NDArray[np.object_]:
        """Replace rare and unseen categories by ``other_label``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Categorical data.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features), dtype=object
            String labels; missing values are left as ``NaN``.
        """
        check_is_fitted(self)
        X = _object_input(self, X, reset=False)
        labels = _as_category(X).astype(object)
        missing = pd.isna(X)
        for j, kept in enumerate(self.categories_):
            rare = ~np.isin(labels[:, j], kept) & ~missing[:, j]
            labels[rare, j] = self.other_label
            labels[missing[:, j], j] = np.nan
        return labels

    def __sklearn_tags__(self) -> Any:
        return _categorical_tags(super().__sklearn_tags__())
