"""Fixtures for the registry tests: a store on SQLite and, when configured, PostgreSQL.

Set ``SKLOOP_TEST_POSTGRES_URL`` to an admin connection (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``); each PostgreSQL test then
gets a fresh database cloned from an upgraded template, dropped afterwards. Fixture
names start with ``reg_`` so that other registry test modules can add their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from skloop.store import DatasetRecord, Store


@pytest.fixture
def reg_store_url(store_url: str) -> str:
    """The shared ``store_url`` (SQLite, and PostgreSQL when configured)."""
    return store_url


@pytest.fixture
def reg_artifact_root(tmp_path: Path) -> Path:
    return tmp_path / "artifacts"


@pytest.fixture
def reg_store(reg_store_url: str, reg_artifact_root: Path) -> Iterator[Store]:
    store = Store.open(reg_store_url, reg_artifact_root)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(scope="session")
def reg_model_bytes() -> bytes:
    """A tiny fitted model, saved with skops."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    return sio.dumps(LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]))


@pytest.fixture
def reg_make_run(reg_store: Store, reg_model_bytes: bytes) -> Callable[..., str]:
    """Make a finished training run: metrics, a train dataset and a ``model.skops`` artifact."""

    def make(
        auc: float = 0.8, fingerprint: str = "ab" * 32, project: str = "churn", artifact: str = "model.skops"
    ) -> str:
        with reg_store.runs.start_run(
            project, spec={"name": project}, code_commit="c0ffee", environment={"x": "1"}
        ) as run:
            record = DatasetRecord(fingerprint=fingerprint, source="data/churn.csv", n_rows=100, n_columns=4)
            reg_store.datasets.log_dataset(run.id, record, role="train")
            reg_store.runs.log_params(run.id, {"model": "LogisticRegression"})
            reg_store.runs.log_batch(
                run.id,
                metrics=[("holdout_roc_auc", auc, 0), ("cv_roc_auc_mean", auc, 0), ("cv_roc_auc_fold", auc, 0)],
            )
            reg_store.runs.log_artifact(run.id, artifact, reg_model_bytes, media_type="application/x-skops")
        return run.id

    return make


# --- persistence, signature, importance, card: the churn example as a fitted pipeline

_NOTES = ("called about billing twice this month", "asked to upgrade the plan soon please", "no contact at all so far")


def _churn_pipeline(features: object, estimator: object) -> object:
    """The pipeline ``build_pipeline`` makes: the auto preprocessor, then the model."""
    from sklearn.pipeline import Pipeline

    from skloop.pipelines import build_preprocessor

    return Pipeline([("preprocess", build_preprocessor(features)), ("model", estimator)])


@pytest.fixture(scope="session")
def churn_split() -> dict[str, object]:
    """The churn example (400 rows + a text column ``note``) split 300/100, with its feature sets."""
    import numpy as np

    from skloop.data import infer_schema, make_churn
    from skloop.pipelines import FeatureSets

    df = make_churn(400)
    rng = np.random.default_rng(0)
    df["note"] = [f"{_NOTES[i % 3]} {w}" for i, w in enumerate(rng.integers(0, 50, len(df)))]
    X = df.drop(columns=["churned", "customer_id"])
    schema = infer_schema(X)
    kinds = ("numeric", "categorical", "boolean", "datetime")
    by_kind = {k: tuple(c for c in schema.by_kind(k) if c != "note") for k in kinds}
    features = FeatureSets(**by_kind, text=("note",))
    return {
        "frame": df,
        "features": features,
        "X_train": X.iloc[:300],
        "y_train": df["churned"].iloc[:300],
        "X_test": X.iloc[300:],
        "y_test": df["churned"].iloc[300:],
    }


@pytest.fixture(scope="session")
def build_churn_pipeline() -> Callable[[object, object], object]:
    """``build_churn_pipeline(features, estimator)``: an unfitted auto pipeline."""
    return _churn_pipeline


@pytest.fixture(scope="session")
def churn_forest(churn_split: dict[str, object]) -> object:
    """A fitted auto pipeline (every feature kind, text included) with a small random forest."""
    from sklearn.ensemble import RandomForestClassifier

    pipe = _churn_pipeline(churn_split["features"], RandomForestClassifier(n_estimators=10, random_state=0))
    return pipe.fit(churn_split["X_train"], churn_split["y_train"])
