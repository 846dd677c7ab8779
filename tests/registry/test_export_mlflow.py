"""MLflow export: the directory loads with MLflow's own loader and predicts like skloop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline

from skloop.core import ExportError
from skloop.data import make_churn
from skloop.pipelines import FeatureSets, build_preprocessor

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed")

from skloop.registry import export_mlflow, infer_signature  # noqa: E402

FEATURES = FeatureSets(
    numeric=("age", "tenure_months", "support_calls", "monthly_charges", "total_charges"),
    categorical=("contract", "payment_method", "region"),
    boolean=("has_partner", "paperless_billing"),
    # MLflow's schema enforcement hands datetimes over as datetime64[ns]
    datetime=("signup_date",),
)


@pytest.fixture(scope="module")
def fitted() -> tuple[Pipeline, pd.DataFrame]:
    frame = make_churn(800, seed=3)
    X = frame[list(FEATURES.all_columns)]
    pipe = Pipeline(
        [
            ("preprocess", build_preprocessor(FEATURES)),
            ("model", RandomForestClassifier(n_estimators=20, random_state=0)),
        ]
    )
    return pipe.fit(X, frame["churned"]), X


def test_loaded_by_mlflow_predicts_like_skloop(fitted: tuple[Pipeline, pd.DataFrame], tmp_path: Path) -> None:
    pipe, X = fitted
    signature = infer_signature(X, task="classification", model=pipe)
    out = export_mlflow(pipe, tmp_path / "churn-mlflow", signature=signature, input_example=X.head(5))
    assert {"MLmodel", "requirements.txt", "python_env.yaml"} <= {p.name for p in out.iterdir()}
    assert any(p.name.startswith("input_example") for p in out.iterdir())
    requirements = (out / "requirements.txt").read_text()
    assert "skloop==" in requirements and "scikit-learn==" in requirements

    loaded = mlflow.pyfunc.load_model(str(out))
    assert loaded.metadata.get_input_schema().input_names() == list(X.columns)
    rows = make_churn(300, seed=9)[list(X.columns)]
    np.testing.assert_array_equal(np.asarray(loaded.predict(rows)).ravel(), pipe.predict(rows))
    # And the sklearn flavour gives back the same pipeline.
    back = mlflow.sklearn.load_model(str(out))
    np.testing.assert_allclose(back.predict_proba(rows), pipe.predict_proba(rows))


def test_signature_inferred_from_the_example(fitted: tuple[Pipeline, pd.DataFrame], tmp_path: Path) -> None:
    pipe, X = fitted
    out = export_mlflow(pipe, tmp_path / "m", input_example=X.head(20))
    loaded = mlflow.pyfunc.load_model(str(out))
    np.testing.assert_array_equal(np.asarray(loaded.predict(X.head(50))).ravel(), pipe.predict(X.head(50)))


def test_refuses_a_non_empty_directory(fitted: tuple[Pipeline, pd.DataFrame], tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("x")
    with pytest.raises(ExportError, match="already exists"):
        export_mlflow(fitted[0], tmp_path / "taken")


def test_accepts_what_the_server_accepts_category_columns_and_date_strings(
    fitted: tuple[Pipeline, pd.DataFrame], tmp_path: Path
) -> None:
    pipe, X = fitted
    signature = infer_signature(X, task="classification", model=pipe)
    out = export_mlflow(pipe, tmp_path / "m", signature=signature, input_example=X.head(5))
    loaded = mlflow.pyfunc.load_model(str(out))
    rows = make_churn(200, seed=11)[list(X.columns)]
    expected = pipe.predict(rows)
    typed = rows.assign(
        contract=rows["contract"].astype("category"),
        region=rows["region"].astype("category"),
        signup_date=rows["signup_date"].dt.strftime("%Y-%m-%d"),
    )
    np.testing.assert_array_equal(np.asarray(loaded.predict(typed)).ravel(), expected)
    # JSON records, as a client would send them: dates as text, booleans as words
    records = typed.head(20).assign(has_partner=np.where(rows["has_partner"].head(20), "yes", "no"))
    records = pd.DataFrame(records.astype(object).where(records.notna(), None).to_dict("records"))
    np.testing.assert_array_equal(np.asarray(loaded.predict(records)).ravel(), expected[:20])
    bad = typed.head(3).assign(signup_date=["2024-01-02", "not a date", "2024-01-03"])
    with pytest.raises(mlflow.exceptions.MlflowException, match=r"row 1 column 'signup_date'.*ISO-8601"):
        loaded.predict(bad)
