"""The fast multivariate paths give today's results: category codes, the one-product residual, the sampled read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.preprocessing import StandardScaler

from skloop.core import DataError, MultivariateSpec
from skloop.monitor import _mv_read
from skloop.monitor._multivariate import (
    MultivariateReference,
    MultivariateWindow,
    compare_window,
    read_reference_rows,
    reference_halves,
)
from skloop.monitor._mv_codes import CategoryCodes, Residual
from skloop.monitor._mv_read import kept_rows


def _by_get_indexer(categories: pd.Index, values: pd.Series) -> np.ndarray:
    """The codes as the monitor computed them before (one pandas lookup a value)."""
    found = pd.Index(categories).get_indexer(pd.Index(values))
    return np.where(found < 0, len(categories), found).astype(float)


def _table(n: int, seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    levels = np.array(["a", "b", "c", "d", "new"])
    p = np.array([4.0, 3.0, 2.0, 1.0, 3.0 * shift])
    frame = pd.DataFrame({
        "x": rng.normal(shift, 1.0, n), "y": rng.normal(0.0, 1.0 + shift, n),
        "big": 1e6 + rng.normal(0.0, 1.0, n),  # the PCA's mean beside it is ~1e-10, not ~1e-16
        "n": rng.integers(0, 20, n), "flag": rng.random(n) < 0.3 + shift / 3,
        "s": pd.Series(levels[rng.choice(5, n, p=p / p.sum())], dtype="str"),
        "o": pd.Series(levels[rng.choice(4, n)], dtype=object),
        "c": pd.Categorical(levels[rng.choice(4, n)]),
    })  # fmt: skip
    frame["z"] = frame["x"] * (0.9 - 1.8 * shift) + rng.normal(0.0, 0.4, n)
    frame.loc[rng.random(n) < 0.05, "y"] = np.nan
    frame.loc[rng.random(n) < 0.05, "s"] = None
    return frame


def test_category_codes_equal_the_pandas_lookup() -> None:
    cats = pd.Index(["b", "a", "c"], dtype="str")
    arrow_chunks = pd.concat([pd.Series(["a", None], dtype="str"), pd.Series(["z", "c", "b"], dtype="str")])
    cases = [
        pd.Series(["a", "b", None, "zz", "c", "a"], dtype="str"),  # Arrow-backed: the fast path
        arrow_chunks.reset_index(drop=True),
        pd.Series(["c", None, "q"], dtype=pd.ArrowDtype(pa.string())),
        pd.Series(["c", None, "a"], dtype=pd.ArrowDtype(pa.large_string())),
        pd.Series(["a", None, 3, "c"], dtype=object),  # mixed objects: pandas' lookup
        pd.Series(pd.Categorical(["c", "x", None, "b"])),
        pd.Series([], dtype="str"),
    ]
    for values in cases:
        codes = CategoryCodes(cats).codes(values)
        assert codes.dtype == np.float64
        np.testing.assert_array_equal(codes, _by_get_indexer(cats, values))
    # categories that are not all strings never take the Arrow lookup: "1" is not 1
    mixed = pd.Index([1, "a"], dtype=object)
    values = pd.Series(["1", "a", None], dtype="str")
    np.testing.assert_array_equal(CategoryCodes(mixed).codes(values), [2.0, 1.0, 2.0])
    assert CategoryCodes(pd.Index([], dtype="str")).codes(values).tolist() == [0.0, 0.0, 0.0]


def test_residual_equals_sklearn_reconstruction() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4000, 6)) @ rng.normal(size=(6, 6))
    x[:, 2] += 1e6
    x[:, 5] = 7.0  # constant: StandardScaler's scale 1
    fit = x[:2000]
    scaler = StandardScaler().fit(fit)
    pca = PCA(n_components=0.65, svd_solver="covariance_eigh").fit(scaler.transform(fit))
    z = scaler.transform(x)
    expected = np.linalg.norm(z - pca.inverse_transform(pca.transform(z)), axis=1)
    got = Residual(scaler, pca).errors(np.asfortranarray(x))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)
    with pytest.raises(ValueError, match="whitening"):
        Residual(scaler, PCA(n_components=2, whiten=True).fit(z))


def test_drift_equals_the_direct_computation() -> None:
    ref, cur = _table(3000, 1, 0.0), _table(900, 2, 0.4)
    fitted = MultivariateReference(ref)
    # the encoding: numeric imputed with the reference mean, categories by frequency rank
    expected = np.empty((len(cur), len(fitted.columns)))
    for j, c in enumerate(fitted.columns):
        if c in ("s", "o", "c"):
            expected[:, j] = _by_get_indexer(ref[c].dropna().value_counts().index, cur[c])
        else:
            v = cur[c].to_numpy(dtype=float, na_value=np.nan)
            expected[:, j] = np.where(np.isnan(v), float(ref[c].astype(float).mean()), v)
    encoded = fitted.encode(cur)
    np.testing.assert_array_equal(encoded, expected)
    # the reconstruction error through sklearn's transform and inverse_transform
    fit, held = reference_halves(len(ref))
    r = fitted.reference_matrix
    scaler = StandardScaler().fit(r[fit])
    pca = PCA(n_components=0.65, svd_solver="covariance_eigh").fit(scaler.transform(r[fit]))

    def errors(m: np.ndarray) -> np.ndarray:
        z = scaler.transform(m)
        return np.asarray(np.linalg.norm(z - pca.inverse_transform(pca.transform(z)), axis=1))

    spec = MultivariateSpec(enabled=True)
    result = compare_window(fitted, cur, spec)
    assert result.reconstruction is not None and result.classifier is not None
    assert result.reconstruction.error == pytest.approx(errors(encoded).mean(), rel=1e-12)
    ref_err = errors(r[held])
    upper = ref_err.mean() + 3 * ref_err.std(ddof=1) / np.sqrt(len(cur))
    assert result.reconstruction.upper == pytest.approx(upper, rel=1e-12)
    # the domain classifier on the same encoded rows: the AUC exactly
    x = np.vstack([r, encoded])
    y = np.r_[np.zeros(len(r), dtype=int), np.ones(len(cur), dtype=int)]
    model = HistGradientBoostingClassifier(max_iter=50, max_leaf_nodes=15, random_state=0)
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    assert result.classifier.auc == float(np.mean(cross_val_score(model, x, y, cv=cv, scoring="roc_auc")))
    # a streamed window: the same error summed page by page
    window = MultivariateWindow(fitted, spec)
    for start in range(0, len(cur), 250):
        window.add(cur.iloc[start : start + 250], np.arange(start, min(start + 250, len(cur)), dtype=np.uint64))
    streamed = window.result()
    assert streamed is not None and streamed.reconstruction is not None
    assert streamed.reconstruction.error == pytest.approx(result.reconstruction.error, rel=1e-12)


def _typed(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    ints = pd.array(rng.integers(0, 9, n), dtype="Int64")
    ints[::7] = pd.NA
    return pd.DataFrame({
        "f": rng.normal(size=n), "i": rng.integers(0, 100, n), "ni": ints, "b": rng.random(n) < 0.5,
        "s": pd.Series(rng.choice(["u", "v", "w"], n), dtype="str").mask(rng.random(n) < 0.1),
        "ls": pd.Series(rng.choice(["p", "q"], n), dtype=pd.ArrowDtype(pa.large_string())),
        "cat": pd.Categorical(rng.choice(["k", "l", "m"], n)),
        "t": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
    })  # fmt: skip


def test_read_reference_rows_is_the_sampled_read_parquet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_mv_read, "MAX_REFERENCE_ROWS", 60)
    path = tmp_path / "ref.parquet"
    _typed(250).to_parquet(path, row_group_size=70)  # 4 row groups, each sampled on its own
    full = pd.read_parquet(path)
    keep = kept_rows(len(full))
    assert keep is not None and len(keep) == 60
    expected = full.iloc[keep].reset_index(drop=True)
    for got in (read_reference_rows(path), read_reference_rows(path.read_bytes())):
        pd.testing.assert_frame_equal(got, expected)
    pd.testing.assert_frame_equal(read_reference_rows(path, ["s", "f"]), expected[["s", "f"]])
    small = tmp_path / "small.parquet"
    _typed(40).to_parquet(small)  # fewer rows than kept: all of them
    pd.testing.assert_frame_equal(read_reference_rows(small), pd.read_parquet(small))
    # the fitted reference is the one of the whole frame (sampled inside): the same drift
    ref, cur = _table(400, 1, 0.0), _table(200, 2, 0.4)
    ref.to_parquet(tmp_path / "mv.parquet")
    spec = MultivariateSpec(enabled=True)
    whole = compare_window(MultivariateReference(pd.read_parquet(tmp_path / "mv.parquet")), cur, spec)
    sampled = compare_window(MultivariateReference(read_reference_rows(tmp_path / "mv.parquet")), cur, spec)
    assert sampled == whole and sampled.n_reference == 60


def test_read_reference_rows_errors(tmp_path: Path) -> None:
    path = tmp_path / "ref.parquet"
    _typed(10).to_parquet(path)
    with pytest.raises(DataError, match=r"lacks column\(s\) \['nope'\]"):
        read_reference_rows(path, ["f", "nope"])
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(DataError, match=r"cannot read the reference .*bad\.parquet as Parquet"):
        read_reference_rows(bad)
    with pytest.raises(DataError, match="snapshot as Parquet"):
        read_reference_rows(b"nope")
