"""``import-mlflow`` of local MLflow model folders: trust policy, signatures, refusals (no server)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from skloop.core import RegistryError, UntrustedModelError
from skloop.registry import Registry, Trust, TrustedPickleWarning
from skloop.store import Store
from skloop.workflows import import_mlflow

mlflow = pytest.importorskip("mlflow")
from mlflow.models import infer_signature  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning:mlflow.*",
    "ignore::FutureWarning:mlflow.*",
    # MLflow's hint that integer columns cannot hold missing values (else its inference gives up)
    "ignore:Hint. Inferred schema contains integer:UserWarning",
)


def _frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=80), "b": rng.integers(0, 5, 80).astype("int64")})
    return X, (X["a"] + X["b"] > 2).astype("int64")


def test_a_pickled_model_is_refused_without_trust_and_imported_with_it(tmp_path: Path, store: Store) -> None:
    X, y = _frame()
    model = LogisticRegression().fit(X, y)
    folder = tmp_path / "pickled"
    mlflow.sklearn.save_model(model, str(folder), serialization_format="pickle",
                              signature=infer_signature(X, model.predict(X)))  # fmt: skip
    with pytest.raises(UntrustedModelError, match="--trust"):
        import_mlflow(str(folder), store, name="pickled")
    assert store.models.model_names() == []  # nothing recorded for a refused model
    with pytest.warns(TrustedPickleWarning):
        result = import_mlflow(str(folder), store, name="pickled", trust=Trust(pickle=True))
    assert result.version.version == 1 and result.signature_from == "mlflow signature"
    loaded = Registry(store).load_model("pickled/1")  # re-saved as skops: loads without trust
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert result.version.signature["output"]["classes"] == [0, 1]


def test_a_skops_model_with_only_an_input_example_gets_an_inferred_signature(tmp_path: Path, store: Store) -> None:
    X, y = _frame()
    model = LinearRegression().fit(X, y.astype(float))
    folder = tmp_path / "skops-model"
    mlflow.sklearn.save_model(model, str(folder), input_example=X.head(5))
    (folder / "MLmodel").write_text(
        "\n".join(line for line in (folder / "MLmodel").read_text().splitlines() if not line.startswith("signature"))
    )
    result = import_mlflow(str(folder), store)
    assert result.version.name == "skops-model"
    assert [c["name"] for c in result.version.signature["inputs"]] == ["a", "b"]
    assert result.version.signature["output"]["task"] == "regression"


def test_a_model_without_signature_or_example_is_refused_by_name(tmp_path: Path, store: Store) -> None:
    X, y = _frame()
    folder = tmp_path / "bare"
    mlflow.sklearn.save_model(LogisticRegression().fit(X, y), str(folder))
    with pytest.raises(RegistryError, match="no signature of named, typed columns and no input example"):
        import_mlflow(str(folder), store, name="bare")
    with pytest.raises(RegistryError, match="neither a model directory nor an MLflow model URI"):
        import_mlflow(str(tmp_path / "missing"), store, name="bare")
    with pytest.raises(RegistryError, match="--tracking-uri"):
        import_mlflow("runs:/abc/model", store, name="bare")
