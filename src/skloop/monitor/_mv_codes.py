"""The codes of a reference's categories, and the projection that gives a row's reconstruction error.

Private helpers of :mod:`skloop.monitor._multivariate`, fast on the rows a window streams:

* :class:`CategoryCodes` maps a column's values to their rank among the reference's
  categories (unseen and missing values one extra code). Arrow-backed strings (pandas'
  default ``str`` dtype with pyarrow) are looked up by :func:`pyarrow.compute.index_in`,
  one hash probe per value in C++; other columns by :meth:`pandas.Index.get_indexer`
  (which on Arrow strings first builds Python objects: 9 ms per 100,000 values, ten
  times the Arrow lookup). Both give the same codes: the values equal a category exactly.
* :class:`Residual` folds the standardisation and the PCA into one ``d × d`` matrix: with
  ``z = (x − m)/s`` and the PCA's mean ``μ`` and components ``V``, the reconstruction's
  residual is ``(z − μ)(I − VᵀV) = (x − m)·M − μ(I − VᵀV)`` with
  ``M = diag(1/s)(I − VᵀV)`` — one matrix product instead of scaling, projecting and
  projecting back (equal to sklearn's ``inverse_transform(transform(z))`` path to
  rounding, about 1e-15 relative).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["BLOCK_ROWS", "CategoryCodes", "Residual", "arrow_numbers"]

BLOCK_ROWS = 1024
"""Rows :meth:`Residual.errors` takes at a time (two ``BLOCK_ROWS × d`` buffers, in cache)."""


class CategoryCodes:
    """A value's rank among ``categories`` (most frequent first); unseen and missing: ``len(categories)``.

    Examples
    --------
    >>> codes = CategoryCodes(pd.Index(["b", "a"]))
    >>> codes.codes(pd.Series(["a", "b", None, "z"], dtype="str")).tolist()
    [1.0, 0.0, 2.0, 2.0]
    >>> codes.codes(pd.Series(["a", None, "z"], dtype=object)).tolist()
    [1.0, 2.0, 2.0]
    """

    def __init__(self, categories: pd.Index) -> None:
        self.index = pd.Index(categories)
        self.n = len(self.index)
        values = list(self.index)
        # the Arrow lookup only when every category is a string (an int category never equals a string)
        self._strings: list[str] | None = values if all(isinstance(v, str) for v in values) else None
        self._sets: dict[Any, Any] = {}

    def codes(self, values: pd.Series) -> np.ndarray:
        """The codes of ``values``, as floats (a column of the encoded matrix)."""
        strings = _arrow_strings(values) if self._strings is not None else None
        if strings is not None:
            return self._lookup(strings)
        found = self.index.get_indexer(pd.Index(values))
        return np.where(found < 0, self.n, found).astype(float)

    def arrow_codes(self, values: Any) -> np.ndarray | None:
        """:meth:`codes` of an Arrow array (a streamed record batch's column), or ``None`` without a fast path.

        Strings are looked up directly; a dictionary array looks up its dictionary (a few
        distinct values) once and takes each row's code by its index. Other types: ``None``
        (convert to pandas and call :meth:`codes`).

        Examples
        --------
        >>> codes = CategoryCodes(pd.Index(["b", "a"]))
        >>> codes.arrow_codes(pa.array(["a", "z", None, "b"]).dictionary_encode()).tolist()
        [1.0, 2.0, 2.0, 0.0]
        >>> codes.arrow_codes(pa.array([1, 2])) is None
        True
        """
        if self._strings is None:
            return None
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        kind = values.type
        if pa.types.is_dictionary(kind) and _is_string(kind.value_type):
            lookup = pa.array(self._lookup(values.dictionary), type=pa.float64())
            taken: Any = pc.take(lookup, values.indices)
            return np.asarray(pc.fill_null(taken, float(self.n)).to_numpy(zero_copy_only=False), dtype=float)
        if _is_string(kind):
            return self._lookup(values)
        return None

    def _lookup(self, strings: Any) -> np.ndarray:
        """The codes of an Arrow string array, by one hash probe a value in C++."""
        value_set = self._sets.get(strings.type)
        if value_set is None:
            categories: Any = self._strings
            value_set = self._sets[strings.type] = pa.array(categories, type=strings.type)
        found: Any = pc.fill_null(pc.index_in(strings, value_set=value_set), self.n)
        return np.asarray(found.to_numpy(), dtype=float)


def _is_string(kind: Any) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def arrow_numbers(values: Any) -> np.ndarray | None:
    """An Arrow integer or float column as float64 (NaN where missing), or ``None`` for any other type.

    Examples
    --------
    >>> arrow_numbers(pa.array([1, None, 3])).tolist()
    [1.0, nan, 3.0]
    >>> arrow_numbers(pa.array([True])) is None
    True
    """
    kind = values.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        return None
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=float)


def _arrow_strings(values: pd.Series) -> Any:
    """The Arrow string array behind ``values`` (no copy), or ``None`` for any other storage."""
    dtype = values.dtype
    arrow = isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"
    arrow = arrow or (isinstance(dtype, pd.ArrowDtype) and pa.types.is_string(dtype.pyarrow_dtype))
    arrow = arrow or (isinstance(dtype, pd.ArrowDtype) and pa.types.is_large_string(dtype.pyarrow_dtype))
    if not arrow:
        return None
    data: Any = values.array
    strings = data.__arrow_array__()  # a pyarrow Array or ChunkedArray
    return strings if isinstance(strings, pa.Array | pa.ChunkedArray) else None


class Residual:
    """Rows' reconstruction errors through a fitted ``StandardScaler`` and ``PCA`` in one product.

    Parameters
    ----------
    scaler : StandardScaler
        Fitted (``mean_`` and ``scale_``).
    pca : PCA
        Fitted on the scaled rows, without whitening (``mean_`` and ``components_``).

    Examples
    --------
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.preprocessing import StandardScaler
    >>> x = np.random.default_rng(0).normal(size=(200, 3))
    >>> scaler = StandardScaler().fit(x)
    >>> pca = PCA(n_components=1).fit(scaler.transform(x))
    >>> z = scaler.transform(x)
    >>> by_sklearn = np.linalg.norm(z - pca.inverse_transform(pca.transform(z)), axis=1)
    >>> bool(np.allclose(Residual(scaler, pca).errors(x), by_sklearn, rtol=1e-12, atol=0))
    True
    """

    def __init__(self, scaler: Any, pca: Any) -> None:
        if getattr(pca, "whiten", False):
            raise ValueError("Residual needs a PCA without whitening")
        scale = np.asarray(scaler.scale_, dtype=float)
        components = np.asarray(pca.components_, dtype=float)
        project = np.eye(len(scale)) - components.T @ components
        self.centre = np.asarray(scaler.mean_, dtype=float)
        self.matrix = project / scale[:, None]
        # the PCA's mean (of the scaled rows: ~1e-16, but 1e-10 beside a column of values near 1e6)
        # is taken off after the product, not folded into the centre, where it would round to its ulp
        self.offset = np.asarray(pca.mean_, dtype=float) @ project

    def errors(self, matrix: np.ndarray) -> np.ndarray:
        """Each row's Euclidean distance from its reconstruction."""
        n, d = matrix.shape
        out = np.empty(n, dtype=float)
        # a block of rows at a time through two buffers that stay in cache: the whole page's
        # temporaries (two n x d arrays, fresh pages each) took twice as long; each row's value is the same
        block = max(1, min(n, BLOCK_ROWS))
        shifted, residual = np.empty((block, d)), np.empty((block, d))
        # BLAS on one thread: a 20-column product gains nothing from two, and on a shared
        # machine the second thread's waiting made it four to eight times slower
        with _blas().limit(limits=1, user_api="blas"):
            for start in range(0, n, block):
                k = min(block, n - start)
                np.subtract(matrix[start : start + k], self.centre, out=shifted[:k])
                np.matmul(shifted[:k], self.matrix, out=residual[:k])
                residual[:k] -= self.offset
                np.einsum("ij,ij->i", residual[:k], residual[:k], out=out[start : start + k])
        return np.sqrt(out, out=out)


@functools.cache
def _blas() -> Any:
    """One ``ThreadpoolController`` (finding the loaded libraries each call took 2 ms of a 10 ms page)."""
    from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

    return ThreadpoolController()
