"""Models whose classes are names, floats or booleans: answered in both protocols, logged once by class name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import project_settings

from skloop.data import make_churn
from skloop.registry import Registry, infer_signature, save_model
from skloop.serve import PredictionLog, create_app
from skloop.serve._wal import read_segment, segments
from skloop.store import Store

TARGETS = {
    "names": lambda y: y.map({0: "stay", 1: "leave"}),
    "floats": lambda y: y.astype(float),
    "booleans": lambda y: y.astype(bool),
}


def _register(base: Path, target: str) -> Any:
    """Train the churn pipeline on a target of ``target`` values, register and promote it."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    from skloop.data import infer_schema
    from skloop.pipelines import FeatureSets, build_preprocessor

    df = make_churn(400, seed=3)
    X, y = df.drop(columns=["churned", "customer_id"]), TARGETS[target](df["churned"])
    schema = infer_schema(X)
    features = FeatureSets(**{k: tuple(schema.by_kind(k)) for k in ("numeric", "categorical", "boolean", "datetime")})
    model = RandomForestClassifier(n_estimators=8, max_depth=6, random_state=0, n_jobs=1)
    pipe = Pipeline([("preprocess", build_preprocessor(features)), ("model", model)]).fit(X, y)
    with Store.open(project_settings(base)) as store:
        with store.runs.start_run("churn", spec={"name": "churn"}, environment={}) as run:
            store.runs.log_artifact(run.id, "model.skops", save_model(pipe, "skops"))
        signature = infer_signature(X, y, task="classification", model=pipe)
        registry = Registry(store)
        version = registry.register(run.id, "churn", signature=signature.to_dict())
        registry.promote("churn", version.version, "champion", reason="test")
    return pipe


@pytest.fixture(params=sorted(TARGETS))
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any, Any]]:
    from starlette.testclient import TestClient

    pipe = _register(tmp_path, request.param)
    log = PredictionLog(tmp_path / "wal").start()
    app = create_app(project_settings(tmp_path), model_name="churn", prediction_log=log, poll_seconds=None)
    with TestClient(app) as client:
        yield client, app, pipe
    log.close()
    app.registry.store.close()


def _logged(app: Any) -> list[dict[str, Any]]:
    app.prediction_log.close()
    app.prediction_log.start()
    return [r for seg in segments(app.prediction_log.directory) for _, r in read_segment(seg)]


def test_both_protocols_answer_the_class_values_and_log_them_once(
    served: tuple[Any, Any, Any], srv_row: dict[str, Any]
) -> None:
    client, app, pipe = served
    rows = [srv_row, {**srv_row, "contract": "month-to-month", "tenure_months": 1, "support_calls": 6}]
    classes = pipe.classes_.tolist()
    names = [str(c) if not isinstance(c, float) else str(int(c)) for c in classes]

    answer = client.post("/invocations", json={"dataframe_records": rows})
    assert answer.status_code == 200, answer.text  # names were a 500: numpy strings orjson cannot write
    predictions = answer.json()["predictions"]
    assert len(predictions) == 2 and all(p in classes for p in predictions)

    rows_tensor = {"name": "rows", "datatype": "BYTES", "shape": [2], "data": [json.dumps(r) for r in rows]}
    doc = {"inputs": [rows_tensor]}
    v2 = client.post("/v2/models/churn/infer", json=doc)
    assert v2.status_code == 200, v2.text
    out = {o["name"]: o for o in v2.json()["outputs"]}
    expected = {str: "BYTES", float: "FP64", bool: "BOOL"}[type(classes[0])]
    assert out["predictions"]["datatype"] == expected
    assert out["predictions"]["data"] == predictions
    assert out["probabilities"]["shape"] == [2, 2]

    records = _logged(app)
    assert len(records) == 4  # two requests of two rows, each row once
    for record in records:
        probabilities = record["outputs"]["probabilities"]
        assert list(probabilities) == names  # "0"/"1" for 0.0/1.0: the names the monitor reads
        assert record["outputs"]["prediction"] in classes


def test_a_request_whose_answer_cannot_be_written_logs_nothing(
    served: tuple[Any, Any, Any], srv_row: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, app, _ = served
    from skloop.serve import _handlers

    def unwritable(status: int, doc: Any) -> Any:  # what orjson raised for numpy strings
        raise TypeError("unsupported datatype in numpy array")

    monkeypatch.setattr(_handlers, "json_response", unwritable)
    failed = client.post("/invocations", json={"dataframe_records": [srv_row]})
    assert failed.status_code == 500
    assert _logged(app) == []  # the client retries: the row must not be logged twice
    monkeypatch.undo()
    assert client.post("/invocations", json={"dataframe_records": [srv_row]}).status_code == 200
    assert len(_logged(app)) == 1
