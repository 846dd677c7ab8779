"""Served rows carry the spec's id column into the log, and labels posted later join on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import churn_pipeline, project_settings

from skloop.registry import Registry, infer_signature, save_model
from skloop.serve import PredictionLog, create_app, ingest_once
from skloop.store import Store


def _register_with_id_column(base: Path) -> None:
    pipe, X, y = churn_pipeline(n_rows=400, seed=1)
    with Store.open(project_settings(base)) as store:
        spec = {"name": "churn", "data": {"train": "x.csv", "target": "churned", "id": "customer_id"}}
        with store.runs.start_run("churn", spec=spec, environment={}) as run:
            store.runs.log_artifact(run.id, "model.skops", save_model(pipe, "skops"))
        registry = Registry(store)
        version = registry.register(run.id, "churn", signature=infer_signature(X, y, task="classification").to_dict())
        registry.promote("churn", version.version, "champion", reason="test")


@pytest.fixture
def labelled_client(tmp_path: Path):  # type: ignore[no-untyped-def]
    from starlette.testclient import TestClient

    _register_with_id_column(tmp_path)
    settings = project_settings(tmp_path).with_overrides(token="s3cret")
    log = PredictionLog(tmp_path / "wal").start()
    app = create_app(settings, model_name="churn", prediction_log=log, poll_seconds=None)
    with TestClient(app) as client:
        yield client, app, log
    log.close()
    app.registry.store.close()


def test_ids_are_logged_and_labels_join_them(labelled_client: Any, srv_row: dict[str, Any], tmp_path: Path) -> None:
    client, app, _log = labelled_client
    rows = [{**srv_row, "customer_id": f"c-{i}"} for i in range(3)]
    answer = client.post("/invocations", json={"dataframe_records": rows})
    assert answer.status_code == 200, answer.text
    flags = [i for i in answer.json().get("issues", []) if i.get("column") == "customer_id"]
    assert not flags  # the id column is expected, not "dropped"

    auth = {"Authorization": "Bearer s3cret"}
    assert client.post("/v2/models/churn/labels", json=[{"id": "c-1", "label": 1}]).status_code == 401
    bad = client.post("/v2/models/churn/labels", json=[{"label": 1}], headers=auth)
    assert bad.status_code == 400 and bad.json()["issues"][0]["row"] == 0
    missing = client.post("/v2/models/churn/labels", json=[{"id": "c-1", "label": 1}, {"id": "c-2"}], headers=auth)
    assert missing.status_code == 400 and missing.json()["error_code"] == "BAD_REQUEST"
    assert missing.json()["issues"] == [{"row": 1, "column": "label", "problem": "missing", "severity": "error"}]
    unreadable = client.post("/v2/models/churn/labels", content=b"{nope", headers=auth)
    assert unreadable.status_code == 400 and "malformed JSON" in unreadable.json()["error"]
    assert app.registry.store.predictions.count_labels() == 0  # a bad list stores nothing
    ok = client.post(
        "/v2/models/churn/labels", json=[{"id": "c-1", "label": 1}, {"id": "c-2", "label": 0}], headers=auth
    )
    assert ok.status_code == 200 and ok.json() == {"model": "churn", "labels": 2}

    store = app.registry.store
    assert ingest_once(tmp_path / "wal", store) == 3
    logged = store.predictions.query_predictions("churn")
    assert sorted(p.entity_id for p in logged) == ["c-0", "c-1", "c-2"]
    labelled = {p.entity_id: p.label for p in store.predictions.query_predictions("churn", labeled=True)}
    assert labelled == {"c-1": "1", "c-2": "0"}


def test_a_reused_x_request_id_never_collapses_predictions(
    labelled_client: Any, srv_row: dict[str, Any], tmp_path: Path
) -> None:
    client, app, _log = labelled_client
    keys = []
    for i in range(5):  # one client id, five different requests
        answer = client.post(
            "/invocations",
            json={"dataframe_records": [{**srv_row, "customer_id": f"d-{i}", "age": 20 + i}]},
            headers={"X-Request-ID": "dup"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-request-id"] == "dup"  # echoed for the client's correlation
        keys.append(answer.headers["x-skloop-request-id"])
    assert len(set(keys)) == 5

    store = app.registry.store
    assert ingest_once(tmp_path / "wal", store) == 5
    stored = store.predictions.query_predictions("churn")
    assert len(stored) == 5
    assert {p.correlation_id for p in stored} == {"dup"}
    assert sorted(p.request_id for p in stored) == sorted(keys)
    assert sorted(p.inputs["age"] for p in stored) == [20, 21, 22, 23, 24]

    # labels still join: by the spec's id column, and by the server's request id and row
    auth = {"Authorization": "Bearer s3cret"}
    by_id = client.post("/v2/models/churn/labels", json=[{"id": "d-1", "label": 1}], headers=auth)
    by_request = client.post(
        "/v2/models/churn/labels", json=[{"request_id": keys[3], "row": 0, "label": 0}], headers=auth
    )
    assert by_id.status_code == 200 and by_request.status_code == 200, (by_id.text, by_request.text)
    labelled = {p.entity_id: p.label for p in store.predictions.query_predictions("churn", labeled=True)}
    assert labelled == {"d-1": "1", "d-3": "0"}


def test_an_id_that_cannot_be_logged_is_a_400_for_that_request_only(
    labelled_client: Any, srv_row: dict[str, Any], tmp_path: Path
) -> None:
    client, app, _log = labelled_client
    body = json.dumps({"dataframe_records": [{**srv_row, "customer_id": "\ud800"}]})  # a lone surrogate
    answer = client.post("/invocations", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert (
        client.post("/invocations", json={"dataframe_records": [{**srv_row, "customer_id": "ok"}]}).status_code == 200
    )
    assert ingest_once(tmp_path / "wal", app.registry.store) == 1
    assert [p.entity_id for p in app.registry.store.predictions.query_predictions("churn")] == ["ok"]
