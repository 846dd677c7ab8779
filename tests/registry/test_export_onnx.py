"""ONNX export: parity with scikit-learn on the churn example, and clear refusals."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline

from skloop.core import ExportError
from skloop.data import make_churn
from skloop.pipelines import DatetimeFeatures, FeatureSets, build_preprocessor

pytest.importorskip("skl2onnx", reason="the onnx extra (skl2onnx) is not installed")
pytest.importorskip("onnxruntime", reason="the onnx extra (onnxruntime) is not installed")

from skloop.registry import OnnxReport, export_onnx, onnx_predict_proba

FEATURES = FeatureSets(
    numeric=("age", "tenure_months", "support_calls", "monthly_charges", "total_charges"),
    categorical=("contract", "payment_method", "region"),
    boolean=("has_partner", "paperless_billing"),
    datetime=("signup_date",),
)
# Linear models without the (unscaled) calendar features, which slow lbfgs down.
LINEAR = FeatureSets(numeric=FEATURES.numeric, categorical=FEATURES.categorical, boolean=FEATURES.boolean)
TARGET = "churned"


def _fit(model: BaseEstimator, frame: pd.DataFrame, features: FeatureSets = FEATURES) -> Pipeline:
    pipe = Pipeline([("preprocess", build_preprocessor(features)), ("model", model)])
    return pipe.fit(frame[list(features.all_columns)], frame[TARGET])


@pytest.fixture(scope="module")
def churn() -> pd.DataFrame:
    return make_churn(1500, seed=0)


@pytest.fixture(scope="module")
def forest(churn: pd.DataFrame) -> Pipeline:
    return _fit(RandomForestClassifier(n_estimators=40, random_state=0), churn)


@pytest.fixture(scope="module")
def drifted() -> pd.DataFrame:
    # Shifted data: an unseen region ("metro"), missing charges and payment methods.
    frame = make_churn(400, seed=5, shift=1.0)
    frame["has_partner"] = frame["has_partner"].astype(object)
    frame.loc[frame.index[:10], "has_partner"] = None
    frame.loc[frame.index[10:20], "signup_date"] = pd.NaT
    return frame


def test_random_forest_parity_on_the_example(forest: Pipeline, churn: pd.DataFrame, tmp_path: Path) -> None:
    report = export_onnx(forest, tmp_path / "churn.onnx", sample=churn)
    assert isinstance(report, OnnxReport)
    assert report.path.is_file() and report.n_rows == len(churn)
    assert report.max_abs_diff <= 1e-5
    # One input per column: scaled numbers float64, categories and booleans strings,
    # datetimes float64 Unix seconds.
    assert report.inputs["age"] == "float64"
    assert report.inputs["region"] == "string"
    assert report.inputs["has_partner"] == "string"
    assert report.inputs["signup_date"] == "datetime"
    got = onnx_predict_proba(report.path, churn)
    np.testing.assert_allclose(got, forest.predict_proba(churn[list(FEATURES.all_columns)]), atol=1e-5)


def test_parity_on_drifted_rows_with_missing_and_unseen_values(
    forest: Pipeline, churn: pd.DataFrame, drifted: pd.DataFrame, tmp_path: Path
) -> None:
    assert drifted["payment_method"].isna().any() and "metro" in set(drifted["region"])
    report = export_onnx(forest, tmp_path / "m.onnx", sample=drifted)
    assert report.max_abs_diff <= 1e-5
    expected = forest.predict_proba(drifted[list(FEATURES.all_columns)])
    np.testing.assert_allclose(onnx_predict_proba(report.path, drifted), expected, atol=1e-5)


def test_logistic_regression_parity(churn: pd.DataFrame, drifted: pd.DataFrame, tmp_path: Path) -> None:
    model = _fit(LogisticRegression(max_iter=500), churn, LINEAR)
    report = export_onnx(model, tmp_path / "lr.onnx", sample=drifted)
    assert report.max_abs_diff <= 1e-5


def test_every_datetime_feature_converts() -> None:
    from skloop.registry._export_onnx import _convert, _run, _session

    rng = np.random.default_rng(0)
    seconds = rng.uniform(-2.2e9, 4.1e9, 3000).round()  # 1900 to 2100, any time of day
    edges = ["1965-02-28 23:59:00", "2000-02-29 12:30:00", "2024-12-31 23:59:59", "1969-12-31 00:00:01"]
    stamps = pd.Series(pd.to_datetime(seconds, unit="s")).astype("datetime64[us]")
    frame = pd.DataFrame({"when": pd.concat([stamps, pd.Series(pd.to_datetime(edges)), pd.Series([pd.NaT])])})
    extract = DatetimeFeatures(features=("year", "month", "day", "dayofweek", "dayofyear", "hour", "minute", "quarter"))
    extract.fit(frame)
    session = _session(_convert(extract, {"when": "datetime"}, 21).SerializeToString())
    got = next(iter(_run(session, frame).values()))
    np.testing.assert_array_equal(got, extract.transform(frame).astype(np.float32))


def test_boolean_strings_in_any_case(churn: pd.DataFrame, tmp_path: Path) -> None:
    frame = churn.copy()
    frame["has_partner"] = np.where(churn["has_partner"], "Yes", "NO")
    model = _fit(LogisticRegression(max_iter=500), frame, LINEAR)
    assert export_onnx(model, tmp_path / "b.onnx", sample=frame).max_abs_diff <= 1e-5


def test_text_step_is_refused_naming_the_step(churn: pd.DataFrame, tmp_path: Path) -> None:
    frame = churn.assign(review=np.where(churn["churned"] == 1, "slow support", "great value"))
    features = FeatureSets(numeric=("age",), text=("review",))
    model = _fit(LogisticRegression(), frame, features)
    out = tmp_path / "text.onnx"
    with pytest.raises(ExportError, match=r"step 'preprocess/text_review' \(.* on review\)") as info:
        export_onnx(model, out, sample=frame)
    assert "--format mlflow" in str(info.value)
    assert not out.exists()


class _Doubler(TransformerMixin, BaseEstimator):
    def fit(self, X: object, y: object = None) -> _Doubler:
        return self

    def transform(self, X: object) -> np.ndarray:
        return np.asarray(X, dtype=float) * 2


def test_step_without_converter_is_refused_naming_it(churn: pd.DataFrame, tmp_path: Path) -> None:
    pipe = Pipeline([("double", _Doubler()), ("model", LogisticRegression())])
    pipe.fit(churn[["age", "tenure_months"]], churn[TARGET])
    with pytest.raises(ExportError, match=r"step 'double' \(.*_Doubler\) has no skl2onnx converter"):
        export_onnx(pipe, tmp_path / "x.onnx", sample=churn)


def test_parity_failure_writes_nothing(churn: pd.DataFrame, tmp_path: Path) -> None:
    model = _fit(LogisticRegression(max_iter=500), churn, LINEAR)
    out = tmp_path / "strict.onnx"
    with pytest.raises(ExportError, match=r"parity check failed.*not written") as info:
        export_onnx(model, out, sample=churn, atol=0.0, rtol=0.0)
    assert not out.exists()
    # the worst value is named by row and output, its |Δ| against atol and |Δ| / scale against rtol
    message = str(info.value)
    assert re.search(r"worst row \d+, probability of class [01]: sklearn [\d.e-]+, ONNX [\d.e-]+, ", message)
    assert re.search(r"\|Δ\| = [\d.e-]+ \(atol 0\), \|Δ\| / 1 = [\d.e-]+ \(rtol 0\)", message)


def test_regressor_parity_is_relative_to_the_scale_of_its_predictions(churn: pd.DataFrame, tmp_path: Path) -> None:
    features = FeatureSets(numeric=("age", "tenure_months", "support_calls", "monthly_charges"))
    y = churn["total_charges"].fillna(0) * 1000  # predictions in the millions: float32 errs by far more than 1e-5
    model = Pipeline([("preprocess", build_preprocessor(features)), ("model", Ridge())])
    model.fit(churn[list(features.all_columns)], y)
    report = export_onnx(model, tmp_path / "r.onnx", sample=churn)
    scale = np.abs(model.predict(churn[list(features.all_columns)])).max()
    assert report.output == "predictions" and report.max_abs_diff > 1e-5
    assert report.max_rel_diff == pytest.approx(report.max_abs_diff / scale)
    assert report.max_abs_diff <= report.atol + report.rtol * scale
    with pytest.raises(ExportError) as info:
        export_onnx(model, tmp_path / "strict.onnx", sample=churn, atol=0.0, rtol=1e-12)
    message = str(info.value)
    assert f"max |Δ| = {report.max_abs_diff:.3g}, max |Δ| / scale = {report.max_rel_diff:.3g}" in message
    assert re.search(r"worst row \d+, prediction: .*\(atol 0\), \|Δ\| / [\d.e+]+ = [\d.e-]+ \(rtol 1e-12\)", message)


def test_missing_column_when_scoring(forest: Pipeline, churn: pd.DataFrame, tmp_path: Path) -> None:
    from skloop.core import DataError

    report = export_onnx(forest, tmp_path / "m.onnx", sample=churn.head(50))
    with pytest.raises(DataError, match="column 'age' is missing"):
        onnx_predict_proba(report.path, churn.drop(columns=["age"]))


def test_columns_onnx_renames_are_fed_by_their_own_names(tmp_path: Path) -> None:
    # scikit-learn's wine table has "od280/od315_of_diluted_wines": skl2onnx renames the
    # input, and the feed must still find the column under its name in the data.
    from sklearn.datasets import load_wine

    from skloop.registry import onnx_input_columns

    wine = load_wine(as_frame=True)
    frame = wine.frame.rename(columns={"alcohol": "alcohol (% vol)"})
    features = [c for c in frame.columns if c != "target"]
    pipe = _fit(
        RandomForestClassifier(n_estimators=20, random_state=0),
        frame.assign(churned=wine.target),
        FeatureSets(numeric=tuple(features)),
    )
    report = export_onnx(pipe, tmp_path / "wine.onnx", sample=frame)
    assert report.max_abs_diff < 1e-5
    import onnxruntime as ort

    session = ort.InferenceSession(str(tmp_path / "wine.onnx"), providers=["CPUExecutionProvider"])
    columns = [column for _, column, _ in onnx_input_columns(session)]
    assert columns == features and any(name != column for name, column, _ in onnx_input_columns(session))
    np.testing.assert_allclose(
        onnx_predict_proba(tmp_path / "wine.onnx", frame.head(30)), pipe.predict_proba(frame.head(30)), atol=1e-5
    )
