"""Missing values the fitted pipeline fills in are served and flagged; CSV rows keep their ids (issue 10, items 6, 8).

A passenger-like table: ``Age`` and ``Embarked`` have missing values in training,
``Fare``, ``Sex`` and ``Pclass`` have none. The ``auto`` preprocessing imputes every
column, so a missing ``Fare`` or ``Sex`` at serving time is scored and flagged; a
pipeline that passes ``Pclass`` through untouched to a logistic regression cannot score
a missing ``Pclass``, which stays a 400 naming the row and the column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from serve_helpers import project_settings

from passenger_data import ID, fit_passengers, passengers
from skloop.registry import MISSING_IMPUTED, Registry, Signature, infer_signature, save_model
from skloop.serve import PredictionLog, create_app, ingest_once
from skloop.store import Store


def register_passengers(base: Path, *, impute_pclass: bool = True) -> Signature:
    pipe, X, y = fit_passengers(impute_pclass)
    signature = infer_signature(X, y, task="classification", model=pipe)
    with Store.open(project_settings(base)) as store:
        spec = {"name": "titanic", "data": {"train": "x.csv", "target": "Survived", "id": ID}}
        with store.runs.start_run("titanic", spec=spec, environment={}) as run:
            store.runs.log_artifact(run.id, "model.skops", save_model(pipe, "skops"))
        registry = Registry(store)
        version = registry.register(run.id, "titanic", signature=signature.to_dict())
        registry.promote("titanic", version.version, "champion", reason="test")
    return signature


@pytest.fixture
def served(tmp_path: Path, srv_uvicorn: Any, request: pytest.FixtureRequest) -> Any:
    """``(base URL, app)`` of a real uvicorn serving the passengers model, with a prediction log."""
    register_passengers(tmp_path, impute_pclass=getattr(request, "param", True))
    log = PredictionLog(tmp_path / "wal").start()
    app = create_app(project_settings(tmp_path), model_name="titanic", prediction_log=log, poll_seconds=None)
    try:
        yield srv_uvicorn(app), app
    finally:
        log.close()
        app.registry.store.close()


def _rows(n: int = 4) -> list[dict[str, Any]]:
    X, _ = passengers(n=n, seed=7)
    X["Age"] = X["Age"].astype(object)
    return X.astype(object).where(X.notna(), None).to_dict("records")  # type: ignore[no-any-return]


def test_the_signature_records_which_columns_the_pipeline_fills_in() -> None:
    pipe, X, y = fit_passengers(impute_pclass=True)
    sig = infer_signature(X, y, task="classification", model=pipe)
    assert not sig["Fare"].nullable and sig["Fare"].accepts_missing and sig["Fare"].missing_ok
    assert not sig["Sex"].nullable and sig["Sex"].accepts_missing
    assert sig["Age"].nullable and sig["Age"].accepts_missing

    raw_pipe, X, y = fit_passengers(impute_pclass=False)
    raw = infer_signature(X, y, task="classification", model=raw_pipe)
    assert not raw["Pclass"].accepts_missing and not raw["Pclass"].missing_ok
    assert raw["Fare"].accepts_missing

    # a signature recorded before the field existed loads, and refuses as it did
    old = sig.to_dict()
    for column in old["inputs"]:
        del column["accepts_missing"]
    loaded = Signature.from_dict(old)
    assert not loaded["Fare"].accepts_missing and not loaded["Fare"].missing_ok
    assert Signature.from_dict(sig.to_dict()) == sig


def test_missing_values_the_pipeline_fills_in_are_served_and_flagged(served: Any, tmp_path: Path) -> None:
    import httpx

    url, app = served
    rows = _rows()
    rows[1]["Fare"] = None  # never missing in training
    rows[2]["Sex"] = None
    rows[3]["Fare"] = float("nan")  # the NaN literal Python's json writes: missing too
    body = json.dumps({"dataframe_records": rows}).encode()
    answer = httpx.post(f"{url}/invocations", content=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 4

    csv = pd.DataFrame(rows).to_csv(index=False).encode()
    by_csv = httpx.post(f"{url}/invocations", content=csv, headers={"Content-Type": "text/csv"}, timeout=30)
    assert by_csv.status_code == 200, by_csv.text
    assert by_csv.json()["predictions"] == answer.json()["predictions"]

    store = app.registry.store
    assert ingest_once(tmp_path / "wal", store) == 8
    logged = store.predictions.query_predictions("titanic")
    flagged = {(p.entity_id, f["column"]) for p in logged for f in p.flags if f["problem"] == MISSING_IMPUTED}
    assert flagged == {(rows[1][ID], "Fare"), (rows[2][ID], "Sex"), (rows[3][ID], "Fare")}

    # the monitor counts them as missing values (quality), where the server scored them
    from skloop.monitor import compare_data

    _, X, _ = fit_passengers()
    current = pd.DataFrame([p.inputs for p in logged])
    quality = {(c.check, c.column): c for c in compare_data(X, current).quality.checks}
    assert quality[("missing_increase", "Fare")].count == 4 and quality[("missing_increase", "Fare")].flagged
    assert quality[("missing_increase", "Sex")].count == 2

    metrics = httpx.get(f"{url}/metrics", timeout=30).text
    assert 'column="Fare",problem="missing_imputed"} 4.0' in metrics

    schema = httpx.get(f"{url}/openapi.json", timeout=30).json()
    assert '"null"' in str(schema).replace("'", '"')
    assert {"type": "null"} in _column_schema(schema, "Fare")["anyOf"]


def _column_schema(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict) and name in props and isinstance(props[name], dict):
                found.append(props[name])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert found, f"no schema for {name!r} in the OpenAPI document"
    return found[0]


@pytest.mark.parametrize("served", [False], indirect=True, ids=["pclass-raw"])
def test_a_missing_value_the_pipeline_does_not_fill_in_is_still_a_400(served: Any, tmp_path: Path) -> None:
    import httpx

    url, app = served
    rows = _rows()
    rows[2]["Pclass"] = None
    rows[1]["Fare"] = None  # filled in: not the problem
    answer = httpx.post(f"{url}/invocations", json={"dataframe_records": rows}, timeout=30)
    assert answer.status_code == 400, answer.text
    issues = answer.json()["issues"]
    assert [(i["row"], i["column"]) for i in issues if i["severity"] == "error"] == [(2, "Pclass")]
    assert "row 2, column 'Pclass': missing value" in answer.json()["error"]

    csv = pd.DataFrame(rows).to_csv(index=False).encode()
    by_csv = httpx.post(f"{url}/invocations", content=csv, headers={"Content-Type": "text/csv"}, timeout=30)
    assert by_csv.status_code == 400 and "column 'Pclass'" in by_csv.json()["error"]
    assert ingest_once(tmp_path / "wal", app.registry.store) == 0  # refused requests log nothing


def test_csv_rows_keep_their_entity_id_like_json_rows(served: Any, tmp_path: Path) -> None:
    import httpx

    url, app = served
    rows = _rows(3)
    rows[0][ID] = "007"  # text that reads as a number keeps its zeros, as a JSON string does
    rows[1][ID] = 42  # a number in JSON, 42 in CSV: the same id "42"
    json_answer = httpx.post(f"{url}/invocations", json={"dataframe_records": rows}, timeout=30)
    assert json_answer.status_code == 200, json_answer.text
    csv = pd.DataFrame(rows).to_csv(index=False).encode()
    csv_answer = httpx.post(f"{url}/invocations", content=csv, headers={"Content-Type": "text/csv"}, timeout=30)
    assert csv_answer.status_code == 200, csv_answer.text
    split = {"columns": list(rows[0]), "data": [list(r.values()) for r in rows]}
    assert httpx.post(f"{url}/invocations", json={"dataframe_split": split}, timeout=30).status_code == 200

    store = app.registry.store
    assert ingest_once(tmp_path / "wal", store) == 9
    by_request: dict[str, list[str | None]] = {}
    for p in sorted(store.predictions.query_predictions("titanic"), key=lambda p: (p.request_id, p.row)):
        by_request.setdefault(p.request_id, []).append(p.entity_id)
    assert sorted(by_request.values()) == [["007", "42", rows[2][ID]]] * 3

    store.predictions.insert_labels("titanic", [{"entity_id": "007", "label": 1}, {"entity_id": "42", "label": 0}])
    joined = store.predictions.query_predictions("titanic", labeled=True)
    assert sorted(p.entity_id for p in joined) == ["007", "007", "007", "42", "42", "42"]


def test_a_csv_body_reads_the_id_column_as_text() -> None:
    """The unit under the served test: ``_csv`` types the id column as sent."""
    from skloop.serve._protocols import parse_invocations
    from skloop.serve._validate import CompiledSignature

    pipe, X, y = fit_passengers()
    compiled = CompiledSignature(infer_signature(X, y, task="classification", model=pipe), id_column=ID)
    frame = pd.DataFrame(_rows(2))
    frame[ID] = ["007", ""]
    prepared = parse_invocations(frame.to_csv(index=False).encode(), "text/csv", compiled)
    assert prepared.ids == ["007", None]
