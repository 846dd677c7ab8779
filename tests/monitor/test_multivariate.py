"""Multivariate drift: a flipped correlation with unchanged marginals fires both methods."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from skloop.core import DataError
from skloop.monitor import MultivariateDrift, build_report, compare_data, multivariate_drift


def _gauss(rho: float, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], n), columns=["a", "b"])


def test_flipped_correlation_fires_multivariate_not_univariate() -> None:
    ref, same = _gauss(0.9, 3000, 0), _gauss(0.9, 500, 2)
    flipped = same.assign(b=-same["b"])  # b is symmetric: the same marginals, correlation -0.9
    uni = compare_data(ref, flipped)
    assert not uni.drifted and uni.drifted_features == []
    result = multivariate_drift(ref, flipped)
    assert result.reconstruction is not None and result.classifier is not None
    assert result.reconstruction.drifted and result.classifier.drifted and result.drifted
    assert result.classifier.auc > 0.7
    quiet = multivariate_drift(ref, same)
    assert not quiet.drifted
    assert quiet.classifier is not None and quiet.classifier.auc < 0.55

    # the reconstruction error by hand: standardise, PCA at 65% variance (1 component here), mean distance
    scaler = StandardScaler().fit(ref.to_numpy())
    pca = PCA(n_components=0.65, svd_solver="full").fit(scaler.transform(ref.to_numpy()))
    z = scaler.transform(flipped.to_numpy())
    expected = np.linalg.norm(z - pca.inverse_transform(pca.transform(z)), axis=1).mean()
    assert pca.n_components_ == result.reconstruction.n_components == 1
    # one component along (1, 1)/√2: the error is |z_a - z_b|/√2
    assert result.reconstruction.error == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(np.abs(z[:, 0] - z[:, 1]).mean() / np.sqrt(2), rel=1e-9)
    zr = scaler.transform(ref.to_numpy())
    chunks = (np.abs(zr[:, 0] - zr[:, 1]) / np.sqrt(2))[:3000].reshape(6, 500).mean(axis=1)
    assert result.reconstruction.n_chunks == 6
    assert result.reconstruction.upper == pytest.approx(chunks.mean() + 3 * chunks.std(ddof=1), rel=1e-9)

    # round trip and the report envelope
    assert MultivariateDrift.from_dict(result.to_dict()) == result
    report = build_report(uni, multivariate=result)
    assert report.to_dict()["multivariate"]["drifted"] is True
    assert "Multivariate drift" in report.verdict()
    assert type(report).from_dict(report.to_dict()).multivariate == result


def test_categorical_columns_and_errors() -> None:
    ref = _gauss(0.9, 600, 3).assign(c=lambda f: np.where(f["a"] > 0, "x", "y"))
    cur = _gauss(0.9, 200, 4).assign(c=lambda f: np.where(f["a"] > 0, "y", "z"))
    result = multivariate_drift(ref, cur, methods=("reconstruction",))
    assert result.columns == ("a", "b", "c") and result.classifier is None and result.drifted
    with pytest.raises(DataError, match="lacks column"):
        multivariate_drift(ref, cur.drop(columns="b"))
    with pytest.raises(DataError, match="unknown multivariate method"):
        multivariate_drift(ref, cur, methods=("pca",))
