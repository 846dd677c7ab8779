"""DLE accuracy: skloop's estimated MAE and RMSE of a regressor against the realised ones, window by window.

The stream of ``tests/monitor/test_loss.py``: a linear model whose noise grows with
``|x1|`` and is larger for one category; a DLE fitted on a 3,000-row holdout; 12 windows
of 1,500 rows in which a share rising from 0 to 66% of the rows moves to large ``x1`` and
to the noisy category (a known covariate shift). Prints, per metric, the realised figures
of the first and last window, the estimate's mean and largest absolute error, and how many
windows have the estimate inside the realised 95% bootstrap interval. (NannyML, the tool a
user would otherwise pick, is not installed here; its DLE uses the same construction.)

Usage::

    python benchmarks/bench_dle.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LinearRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "monitor"))
from test_loss import _rows

from skloop.monitor import DLE, performance


def main() -> None:
    rng = np.random.default_rng(7)
    train, holdout = _rows(rng, 3000), _rows(rng, 3000)
    model = LinearRegression().fit(train[["x1", "x2"]], train["y"])
    t = time.perf_counter()
    dle = DLE(seed=0).fit(holdout[["x1", "x2", "c"]], model.predict(holdout[["x1", "x2"]]), holdout["y"])
    fit = time.perf_counter() - t
    pairs: dict[str, list[tuple[float, float]]] = {"mae": [], "rmse": []}
    inside = dict.fromkeys(pairs, 0)
    for i in range(12):
        w = _rows(rng, 1500, shift=0.06 * i)
        p = model.predict(w[["x1", "x2"]])
        est = dle.estimate(w[["x1", "x2", "c"]], p)
        real = performance(w["y"], p, task="regression", n_boot=300, seed=1)
        for m in pairs:
            pairs[m].append((est[m].value, real[m].value))
            inside[m] += real[m].lower <= est[m].value <= real[m].upper
    print(f"load average {os.getloadavg()[0]:.1f}; loss models fitted in {fit:.2f} s")
    for m, v in pairs.items():
        a = np.asarray(v)
        err = np.abs(a[:, 0] - a[:, 1])
        print(
            f"{m:5} realised {a[0, 1]:.3f} -> {a[-1, 1]:.3f} (holdout {dle.reference_[m].value:.3f}) | "
            f"estimate's error mean {err.mean():.4f} max {err.max():.4f} | inside {inside[m]} of 12 windows"
        )


if __name__ == "__main__":
    main()
