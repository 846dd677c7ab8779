"""The bundled example: a synthetic customer-churn table with controllable drift.

Every random number is drawn up front from one generator in a fixed order, whatever
``shift`` is; ``shift`` only transforms those draws. So the same seed gives the same
customers at every shift, and a small change of ``shift`` changes the table a little.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import expit
from scipy.stats import poisson

__all__ = ["TARGET", "make_churn", "write_example"]

TARGET = "churned"
POSITIVE_RATE = 0.25
_REF_DATE = np.datetime64("2024-12-31", "D")
_CONTRACTS = ("month-to-month", "one-year", "two-year")
_PAYMENTS = ("electronic_check", "mailed_check", "bank_transfer", "credit_card")
_REGIONS = ("north", "south", "east", "west", "central", "islands", "overseas")
_NEW_REGION = "metro"

# Logit coefficients at shift 0 and at shift 1; in between (and beyond) they move linearly.
_COEF_0 = {
    "month_to_month": 1.3,
    "two_year": -1.2,
    "tenure": -0.035,
    "charges": 0.02,
    "support": 0.45,
    "electronic": 0.5,
    "partner": -0.3,
    "paperless": 0.25,
    "age": 0.01,
    "metro": 0.0,
}
_COEF_1 = {
    "month_to_month": 0.2,
    "two_year": -0.2,
    "tenure": 0.02,
    "charges": 0.06,
    "support": -0.1,
    "electronic": 0.0,
    "partner": -0.3,
    "paperless": 0.25,
    "age": -0.02,
    "metro": 1.0,
}


def _pick(u: npt.NDArray[np.float64], labels: tuple[str, ...], probs: list[float]) -> npt.NDArray[np.object_]:
    """Map uniforms to labels by cumulative probabilities (inverse CDF)."""
    edges = np.cumsum(np.asarray(probs) / np.sum(probs))
    idx = np.minimum(np.searchsorted(edges, u, side="right"), len(labels) - 1)
    return np.asarray(labels, dtype=object)[idx]


def _intercept(score: npt.NDArray[np.float64], rate: float) -> float:
    """The intercept that makes the mean churn probability equal ``rate`` (bisection)."""
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if expit(score + mid).mean() < rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def make_churn(n_rows: int = 5000, *, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """Generate the example customer-churn table.

    Columns: ``customer_id`` (unique strings), ``signup_date`` (datetime), ``age``,
    ``tenure_months``, ``support_calls`` (ints), ``monthly_charges`` (float, about 3%
    missing), ``total_charges`` (float), ``contract`` (3 levels), ``payment_method``
    (4 levels, about 4% missing), ``region`` (5 common levels and 2 under 1%),
    ``has_partner`` and ``paperless_billing`` (bool), and the target ``churned``
    (int 0/1, about 25% positive) drawn from a logistic model of the features.

    Parameters
    ----------
    n_rows : int, default=5000
        Number of customers.
    seed : int, default=0
        Seed of the random generator; the same seed and shift give an identical table.
    shift : float, default=0.0
        Drift, from 0 (the reference population) to 1 and beyond. It moves the
        features (more month-to-month contracts, shorter tenure, higher charges, more
        support calls, later sign-ups, a new region ``"metro"``) and changes the label
        relationship linearly (price and tenure matter differently), so a model trained
        at shift 0 scores worse at shift 1 than a model trained on shifted data.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> df = make_churn(100, seed=1)
    >>> df.shape, df["customer_id"].is_unique
    ((100, 13), True)
    """
    if n_rows < 1:
        raise ValueError(f"n_rows must be at least 1; got {n_rows}")
    rng = np.random.default_rng(seed)
    u = {
        k: rng.random(n_rows)
        for k in (
            "contract",
            "payment",
            "payment_missing",
            "region",
            "tenure",
            "charges",
            "charges_missing",
            "total",
            "support",
            "partner",
            "paperless",
            "age",
            "day",
            "label",
        )
    }
    s = float(shift)
    c = min(max(s, 0.0), 1.5)  # distribution moves saturate so probabilities stay valid

    tenure = np.floor(72 * u["tenure"] ** (1.3 + 0.7 * c)).astype(np.int64)
    contract = _pick(u["contract"], _CONTRACTS, [0.5 + 0.25 * c, 0.25 - 0.1 * c, 0.25 - 0.15 * c])
    payment = _pick(u["payment"], _PAYMENTS, [0.35 + 0.1 * c, 0.2, 0.22, 0.23])
    payment[u["payment_missing"] < 0.04] = None
    region_probs = [0.3, 0.25, 0.2, 0.14, 0.101, 0.006, 0.003, 0.15 * min(c, 1.0)]
    region = _pick(u["region"], (*_REGIONS, _NEW_REGION), region_probs)
    charges = np.round(20 + 90 * u["charges"] ** 0.8 + 10 * c, 2)
    total = np.round(charges * tenure * (0.95 + 0.1 * u["total"]), 2)
    support = poisson.ppf(u["support"], 1.2 + 0.8 * c).astype(np.int64)
    partner = u["partner"] < 0.48
    paperless = u["paperless"] < 0.6 + 0.1 * c
    age = (18 + np.floor(67 * u["age"] ** 1.2)).astype(np.int64)
    days = np.round(tenure * 30.44 + u["day"] * 28).astype(np.int64)
    signup = _REF_DATE + np.round(365 * c).astype(np.int64) - days

    coef = {k: _COEF_0[k] + (_COEF_1[k] - _COEF_0[k]) * s for k in _COEF_0}
    score = (
        coef["month_to_month"] * (contract == "month-to-month")
        + coef["two_year"] * (contract == "two-year")
        + coef["tenure"] * (tenure - 24)
        + coef["charges"] * (charges - 65)
        + coef["support"] * support
        + coef["electronic"] * (payment == "electronic_check")
        + coef["partner"] * partner
        + coef["paperless"] * paperless
        + coef["age"] * (age - 45)
        + coef["metro"] * (region == _NEW_REGION)
    ).astype(np.float64)
    churned = (u["label"] < expit(score + _intercept(score, POSITIVE_RATE))).astype(np.int64)

    monthly = charges.copy()
    monthly[u["charges_missing"] < 0.03] = np.nan
    return pd.DataFrame(
        {
            "customer_id": pd.Series([f"C{i:07d}" for i in range(1, n_rows + 1)], dtype="str"),
            "signup_date": pd.Series(signup.astype("datetime64[us]")),
            "age": age,
            "tenure_months": tenure,
            "contract": pd.Series(contract, dtype="str"),
            "payment_method": pd.Series(payment, dtype="str"),
            "paperless_billing": paperless,
            "has_partner": partner,
            "region": pd.Series(region, dtype="str"),
            "monthly_charges": monthly,
            "total_charges": total,
            "support_calls": support,
            TARGET: churned,
        }
    )


def write_example(directory: str | os.PathLike[str], *, n_rows: int = 5000, seed: int = 0) -> Path:
    """Write :func:`make_churn` as ``<directory>/data/churn.csv`` and return that path.

    Parameters
    ----------
    directory : str or os.PathLike
        Project folder; ``data/`` is created inside it if needed.
    n_rows : int, default=5000
    seed : int, default=0

    Returns
    -------
    pathlib.Path
        The CSV file written.
    """
    path = Path(directory) / "data" / "churn.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    make_churn(n_rows, seed=seed).to_csv(path, index=False)
    return path
