"""Model persistence: skops with a loader-side allow-list, joblib only when trusted."""

from __future__ import annotations

import importlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from skloop.core import RegistryError, UntrustedModelError
from skloop.registry import (
    MODEL_FORMATS,
    TRUSTED_TYPES,
    Trust,
    TrustedPickleWarning,
    load_model,
    model_format_from_name,
    save_model,
)

HERE = Path(__file__).parent
PAYLOAD = "registry_payload.SideEffect"

CLASSIFIERS = [
    RandomForestClassifier(n_estimators=5, random_state=0),
    ExtraTreesClassifier(n_estimators=5, random_state=0),
    GradientBoostingClassifier(n_estimators=5, random_state=0),
    HistGradientBoostingClassifier(max_iter=5, random_state=0),
    DecisionTreeClassifier(max_depth=4, random_state=0),
    LogisticRegression(solver="liblinear"),
    KNeighborsClassifier(),
    SVC(),
]
REGRESSORS = [
    Ridge(),
    LinearRegression(),
    RandomForestRegressor(n_estimators=5, random_state=0),
    GradientBoostingRegressor(n_estimators=5, random_state=0),
    HistGradientBoostingRegressor(max_iter=5, random_state=0),
]


def _ids(estimators):
    return [type(e).__name__ for e in estimators]


@pytest.mark.parametrize("estimator", CLASSIFIERS, ids=_ids(CLASSIFIERS))
def test_auto_classification_pipelines_round_trip_without_extra_trust(
    estimator, churn_split, build_churn_pipeline
) -> None:
    pipe = build_churn_pipeline(churn_split["features"], estimator).fit(churn_split["X_train"], churn_split["y_train"])
    loaded = load_model(save_model(pipe))
    X = churn_split["X_test"]
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))


@pytest.mark.parametrize("estimator", REGRESSORS, ids=_ids(REGRESSORS))
def test_auto_regression_pipelines_round_trip_without_extra_trust(estimator, churn_split, build_churn_pipeline) -> None:
    y = churn_split["X_train"]["total_charges"] / 100
    X_train = churn_split["X_train"].drop(columns=["total_charges"])
    features = churn_split["features"]
    features = type(features)(**{k: tuple(c for c in v if c != "total_charges") for k, v in features.by_kind().items()})
    pipe = build_churn_pipeline(features, estimator).fit(X_train, y)
    loaded = load_model(save_model(pipe), "skops")
    X = churn_split["X_test"].drop(columns=["total_charges"])
    np.testing.assert_allclose(loaded.predict(X), pipe.predict(X), rtol=0, atol=0)


def test_every_skloop_trusted_type_exists() -> None:
    for dotted in TRUSTED_TYPES:
        if dotted.startswith("skloop."):
            module, _, name = dotted.rpartition(".")
            assert hasattr(importlib.import_module(module), name), dotted


def _schema(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return json.loads(z.read("schema.json"))


def _rezip(data: bytes, schema: dict) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, json.dumps(schema) if name == "schema.json" else src.read(name))
    return out.getvalue()


def _claim_trust(node: object, types: list[str]) -> None:
    """Write every 'trust me' field we can think of into each node of a schema."""
    if isinstance(node, dict):
        if "__loader__" in node:
            node["trusted"] = types
            node["__trusted__"] = True
        for value in list(node.values()):
            _claim_trust(value, types)
    elif isinstance(node, list):
        for value in node:
            _claim_trust(value, types)


@pytest.fixture
def crafted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, churn_forest) -> tuple[bytes, Path]:
    """A real pipeline plus an injected SideEffect, whose schema claims it is trusted."""
    import skops.io as sio

    monkeypatch.syspath_prepend(str(HERE))
    payload = importlib.import_module("registry_payload")
    marker = tmp_path / "marker"
    data = sio.dumps({"model": churn_forest, "payload": payload.SideEffect(str(marker))})
    schema = _schema(data)
    _claim_trust(schema, [PAYLOAD, *TRUSTED_TYPES])
    schema["trusted_types"] = [PAYLOAD]
    return _rezip(data, schema), marker


def test_an_injected_type_is_refused_before_any_of_its_code_runs(crafted) -> None:
    data, marker = crafted
    with pytest.raises(UntrustedModelError) as info:
        load_model(data)
    assert info.value.types == [PAYLOAD]
    message = str(info.value)
    assert PAYLOAD in message and "registry.trusted_types" in message and f"--trust-type {PAYLOAD}" in message
    assert not marker.exists()
    # the same refusal with other types trusted
    with pytest.raises(UntrustedModelError):
        load_model(data, trust=Trust(types=["registry_payload.Other", "sklearn.tree._tree.Tree"]))
    assert not marker.exists()


def test_an_injected_type_loads_when_the_caller_trusts_it(crafted) -> None:
    data, marker = crafted
    loaded = load_model(data, trust=Trust(types=[PAYLOAD]))
    # proof that the refusal above mattered: trusting it runs its code
    assert marker.read_text() == "ran"
    assert hasattr(loaded["model"], "predict")


def test_a_function_reference_swapped_for_os_system_is_refused(churn_forest, tmp_path: Path) -> None:
    data = save_model(churn_forest)
    schema = _schema(data)
    swapped = 0

    def swap(node: object) -> None:
        nonlocal swapped
        if isinstance(node, dict):
            if node.get("__class__") == "as_documents":
                node["__module__"], node["__class__"] = "os", "system"
                swapped += 1
            for value in node.values():
                swap(value)
        elif isinstance(node, list):
            for value in node:
                swap(value)

    swap(schema)
    assert swapped  # the text pipeline holds as_documents
    with pytest.raises(UntrustedModelError) as info:
        load_model(_rezip(data, schema))
    assert "os.system" in info.value.types


def test_a_joblib_artifact_loads_only_when_trusted(churn_forest, churn_split, tmp_path: Path) -> None:
    data = save_model(churn_forest, "joblib")
    with pytest.raises(UntrustedModelError, match="runs any code it holds"):
        load_model(data, "joblib")
    with pytest.warns(TrustedPickleWarning, match="runs any code"):
        loaded = load_model(data, "joblib", trust=Trust(pickle=True))
    X = churn_split["X_test"]
    np.testing.assert_array_equal(loaded.predict_proba(X), churn_forest.predict_proba(X))


def test_a_joblib_artifact_holding_a_payload_runs_nothing_unless_trusted(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))
    payload = importlib.import_module("registry_payload")
    marker = tmp_path / "marker"
    data = save_model(payload.SideEffect(str(marker)), "joblib")
    with pytest.raises(UntrustedModelError):
        load_model(data, "joblib")
    assert not marker.exists()


def test_trusted_pickle_warning_is_a_user_warning() -> None:
    assert issubclass(TrustedPickleWarning, UserWarning)


def test_wrong_bytes_and_unknown_formats_are_registry_errors(churn_forest) -> None:
    with pytest.raises(RegistryError, match="not a skops file"):
        load_model(save_model(churn_forest, "joblib"))
    with pytest.raises(RegistryError, match="unknown model format 'onnx'"):
        save_model(churn_forest, "onnx")
    with pytest.raises(RegistryError, match="unknown model format"):
        load_model(b"", "pickle")
    assert MODEL_FORMATS == ("skops", "joblib")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("model.skops", "skops"), ("a/b/model.joblib", "joblib"), ("m.PKL", "joblib"), ("s3://b/m.pickle", "joblib")],
)
def test_model_format_from_name(name: str, expected: str) -> None:
    assert model_format_from_name(name) == expected
    assert model_format_from_name(Path(name)) == expected


def test_model_format_from_name_rejects_unknown_suffixes() -> None:
    with pytest.raises(RegistryError, match=r"model\.onnx.*expected one of"):
        model_format_from_name("model.onnx")
