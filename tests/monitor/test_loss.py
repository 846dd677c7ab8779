"""Direct loss estimation (DLE): estimated MAE and RMSE of a regressor without labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from skloop.core import DataError, MonitoringSpec
from skloop.monitor import DLE, monitor_frame, performance
from skloop.monitor._chunks import chunk_spread
from skloop.monitor._metrics import regression_kernels


def _rows(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    """Two inputs and a category; the noise grows with ``|x1|`` and is larger for ``c``.

    ``shift`` (0 to 1) moves a share of the rows to large ``x1`` and to category ``c``, inside the
    reference's range (loss models, like any trees, do not extrapolate beyond it).
    """
    moved = rng.random(n) < shift
    x1 = np.where(moved, rng.uniform(1.2, 2.0, n), rng.uniform(-2.0, 2.0, n))
    x2 = rng.normal(0.0, 1.0, n)
    c = np.where(moved & (rng.random(n) < 0.5), "c", rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]))
    noise = rng.normal(0.0, 1.0, n) * (0.3 + 0.5 * np.abs(x1)) * np.where(c == "c", 1.5, 1.0)
    return pd.DataFrame({"x1": x1, "x2": x2, "c": c, "y": 2.0 * x1 - x2 + noise})


@pytest.fixture(scope="module")
def stream() -> tuple[LinearRegression, DLE, list[pd.DataFrame]]:
    """A linear model, a DLE fitted on its holdout, and 12 windows of 1,500 rows of which a share
    rising from 0 to 66% moved (a known covariate shift: the relation of y to the inputs stays)."""
    rng = np.random.default_rng(7)
    train, holdout = _rows(rng, 3000), _rows(rng, 3000)
    model = LinearRegression().fit(train[["x1", "x2"]], train["y"])
    dle = DLE(seed=0).fit(holdout[["x1", "x2", "c"]], model.predict(holdout[["x1", "x2"]]), holdout["y"])
    windows = [_rows(rng, 1500, shift=0.06 * i) for i in range(12)]
    for w in windows:
        w["prediction"] = model.predict(w[["x1", "x2"]])
    return model, dle, windows


def test_estimate_within_the_realised_interval_and_tracks_the_shift(stream) -> None:
    _, dle, windows = stream
    inside = {"mae": 0, "rmse": 0}
    est_mae, real_mae, holdout_outside = [], [], 0
    holdout_mae = dle.reference_["mae"].value
    for w in windows:
        est = dle.estimate(w[["x1", "x2", "c"]], w["prediction"])
        real = performance(w["y"], w["prediction"], task="regression", n_boot=300, seed=1)
        for m in inside:
            assert est[m].estimated and est[m].lower < est[m].value < est[m].upper
            inside[m] += real[m].lower <= est[m].value <= real[m].upper
        est_mae.append(est["mae"].value)
        real_mae.append(real["mae"].value)
        holdout_outside += not real["mae"].lower <= holdout_mae <= real["mae"].upper
    share = {m: v / len(windows) for m, v in inside.items()}
    assert share["mae"] >= 0.75 and share["rmse"] >= 0.75, share
    # the realised MAE rises with the shift, and a constant guess (the holdout's) leaves the interval
    assert real_mae[-1] > 1.3 * real_mae[0]
    assert holdout_outside >= len(windows) // 2
    # the estimate follows it: its error is small against the change it tracks
    error = np.abs(np.asarray(est_mae) - np.asarray(real_mae))
    assert error.mean() < 0.1 * (real_mae[-1] - real_mae[0]) + 0.05
    assert np.corrcoef(est_mae, real_mae)[0, 1] > 0.9


def test_interval_is_the_spread_over_reference_chunks(stream) -> None:
    _, dle, windows = stream
    w = windows[0]
    est = dle.estimate(w[["x1", "x2", "c"]], w["prediction"], confidence=0.9)
    y, yhat = dle.reference_y_, dle.reference_pred_
    # the std of the realised MAE over chunks of 1,500 rows: sqrt(var(|e|) / 1500) for draws with replacement
    expected = np.abs(y - yhat).std() / np.sqrt(1500)
    half = (est["mae"].upper - est["mae"].lower) / 2
    assert half == pytest.approx(1.6449 * expected, rel=0.25)
    spread = chunk_spread(lambda W: regression_kernels(W, y, yhat, ["mae"]), len(y), 1500, chunks=50, seed=0)
    assert half == pytest.approx(1.6449 * spread["mae"][1], rel=1e-3)


def test_round_trip_and_errors(stream) -> None:
    _, dle, windows = stream
    w = windows[3]
    again = DLE.from_bytes(dle.to_bytes())
    a, b = dle.estimate(w, w["prediction"]), again.estimate(w, w["prediction"])
    assert a.to_dict() == b.to_dict()
    with pytest.raises(DataError, match="lack the inputs"):
        dle.estimate(w[["x1"]], w["prediction"])
    with pytest.raises(DataError, match="at least 50 labeled"):
        DLE().fit(w.iloc[:10], np.zeros(10), np.ones(10))
    with pytest.raises(DataError, match="not a stored loss model"):
        DLE.from_bytes(b"not a zip")
    with pytest.raises(DataError, match="not fitted"):
        DLE().estimate(w, w["prediction"])


def test_monitor_frame_windows_and_learned_bands(stream) -> None:
    _model, dle, windows = stream
    reference = pd.concat(windows[:2])[["x1", "x2", "c"]]
    log = pd.concat(windows[:1] + windows[-2:]).drop(columns="y").reset_index(drop=True)
    config = MonitoringSpec.model_validate({"performance": {"threshold": "learned"}})
    report = monitor_frame(log, reference, estimator=dle, task="regression", window=1500, n_boot=0, config=config)
    est = [w.estimate for w in report.windows.windows]
    assert all(e is not None and e.names == ["mae", "rmse"] for e in est)
    # the first window is like the holdout; the shifted ones leave the band of holdout chunks
    assert report.windows.windows[0].alerts() == []
    assert "estimated mae" in report.windows.windows[-1].alerts()
    band = est[-1]["mae"].band
    mean, std = dle.spread(1500)["mae"]
    assert band == pytest.approx((mean - 3 * std, mean + 3 * std))
    assert report.to_dict()["windows"]["windows"][-1]["alerts"] == report.windows.windows[-1].alerts()


def test_no_estimator_says_why() -> None:
    rng = np.random.default_rng(0)
    rows = _rows(rng, 300)
    log = rows.drop(columns="y").assign(prediction=0.0)
    report = monitor_frame(log, rows[["x1", "x2", "c"]], task="regression", n_boot=0)
    assert report.estimate is None
    assert "no estimator was given" in report.estimate_reason
    assert "No performance estimate" in report.verdict()
    again = type(report).from_json(report.to_json())
    assert again.estimate_reason == report.estimate_reason
