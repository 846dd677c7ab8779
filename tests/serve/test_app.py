"""The app through Starlette's TestClient: both protocols, every bad input, metrics, logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from skloop.registry import MISSING_IMPUTED, coerce_frame
from skloop.serve import STATUS_BY_ERROR, ServeError
from skloop.serve._errors import BadRequestError, status_of
from skloop.serve._validate import CompiledSignature
from skloop.serve._wal import read_segment, segments


def _logged(app: Any) -> list[dict[str, Any]]:
    app.prediction_log.close()
    app.prediction_log.start()
    return [r for seg in segments(app.prediction_log.directory) for _, r in read_segment(seg)]


def test_mlflow_formats_agree_and_are_logged(srv_client: Any, srv_app: Any, srv_row: dict[str, Any]) -> None:
    rows = [srv_row, {**srv_row, "contract": "month-to-month", "tenure_months": 1, "support_calls": 5}]
    cols = list(srv_row)
    bodies = [
        {"dataframe_split": {"columns": cols, "data": [[r[c] for c in cols] for r in rows]}},
        {"dataframe_records": rows},
        {"instances": rows},
        {"inputs": {c: [r[c] for r in rows] for c in cols}},
        {"inputs": rows},
    ]
    answers = []
    for body in bodies:
        r = srv_client.post("/invocations", json=body, headers={"X-Request-ID": "req-1"})
        assert r.status_code == 200, r.text
        assert r.headers["x-request-id"] == "req-1"
        answers.append(r.json()["predictions"])
    csv = pd.DataFrame(rows).to_csv(index=False)
    r = srv_client.post("/invocations", content=csv, headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    answers.append(r.json()["predictions"])
    assert all(a == answers[0] for a in answers) and len(answers[0]) == 2
    records = _logged(srv_app)
    assert len(records) == 2 * len(answers)
    first = records[0]
    assert first["correlation_id"] == "req-1" and first["model"] == "churn" and first["version"] == 1
    # the key is the server's id, one per request, although the client reused its X-Request-ID
    assert len({r["request_id"] for r in records}) == len(answers)
    assert first["inputs"]["age"] == 41 and first["inputs"]["signup_date"].startswith("2024-06-20")
    assert set(first["outputs"]) == {"prediction", "probabilities"}


def test_nan_literal_and_null_both_mean_missing(srv_client: Any, srv_row: dict[str, Any]) -> None:
    for literal in ("NaN", "null"):
        body = json.dumps({"dataframe_records": [srv_row]}).replace(
            '"monthly_charges": 61.82', f'"monthly_charges": {literal}'
        )
        assert literal in body
        r = srv_client.post("/invocations", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text


def test_v2_column_tensors_json_rows_and_flags(srv_client: Any, srv_row: dict[str, Any]) -> None:
    types = {str: "BYTES", bool: "BOOL", int: "INT64", float: "FP64", type(None): "BYTES"}
    inputs = [{"name": k, "shape": [1, 1], "datatype": types[type(v)], "data": [[v]]} for k, v in srv_row.items()]
    by_columns = srv_client.post("/v2/models/churn/infer", json={"id": "abc", "inputs": inputs})
    assert by_columns.status_code == 200, by_columns.text
    doc = by_columns.json()
    assert doc["id"] == "abc" and doc["model_name"] == "churn" and doc["model_version"] == "1"
    outputs = {o["name"]: o for o in doc["outputs"]}
    assert outputs["probabilities"]["shape"] == [1, 2] and outputs["predictions"]["datatype"] == "INT64"
    odd = {**srv_row, "region": "atlantis", "age": 130}
    rows = [json.dumps(srv_row), json.dumps(odd)]
    by_rows = srv_client.post(
        "/v2/models/churn/versions/1/infer",
        json={
            "inputs": [{"name": "rows", "shape": [2], "datatype": "BYTES", "data": rows}],
            "outputs": [{"name": "predictions"}],
        },
    )
    assert by_rows.status_code == 200, by_rows.text
    assert [o["name"] for o in by_rows.json()["outputs"]] == ["predictions"]
    flags = json.loads(by_rows.json()["parameters"]["skloop_flags"])
    assert {(f["row"], f["column"]) for f in flags} == {(1, "region"), (1, "age")}
    assert by_rows.json()["outputs"][0]["data"][0] == outputs["predictions"]["data"][0]


def test_metadata_health_openapi_and_metrics(srv_client: Any, srv_row: dict[str, Any]) -> None:
    assert srv_client.get("/v2/health/live").status_code == 200
    assert srv_client.get("/v2/health/ready").json() == {"ready": True}
    assert srv_client.get("/ping").status_code == 200 and srv_client.get("/health").status_code == 200
    assert srv_client.get("/version").text
    meta = srv_client.get("/v2/models/churn").json()
    assert meta["versions"] == ["1"] and meta["platform"] == "onnxruntime"
    assert [i["name"] for i in meta["inputs"]][:2] == ["signup_date", "age"]
    assert srv_client.get("/v2/models/churn/ready").json()["ready"] is True
    assert srv_client.get("/v2").json()["name"] == "skloop"
    spec = srv_client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.") and "/v2/models/{name}/infer" in spec["paths"]
    srv_client.post("/invocations", json={"dataframe_records": [srv_row, {**srv_row, "region": "mars"}]})
    srv_client.post("/invocations", json={"dataframe_records": [{"age": "x"}]})
    text = srv_client.get("/metrics").text
    assert 'skloop_requests_total{code="200",route="/invocations"}' in text
    assert 'skloop_requests_total{code="400",route="/invocations"}' in text
    assert 'skloop_validation_flags_total{column="region",problem="unknown_category"} 1.0' in text
    assert 'skloop_model_info{name="churn",runtime="onnxruntime",version="1"} 1.0' in text
    assert "skloop_batch_rows_bucket" in text and "skloop_request_seconds_bucket" in text


def test_access_log_is_one_json_line_per_request(srv_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="skloop.serve.access"):
        answer = srv_client.get("/ping", headers={"X-Request-ID": "abc-123"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "skloop.serve.access"]
    assert len(lines) == 1 and lines[0]["correlation_id"] == "abc-123" and lines[0]["status"] == 200
    assert lines[0]["request_id"] == answer.headers["x-skloop-request-id"]


BAD = [
    ("missing column", {"dataframe_records": [{"age": 40}]}, "signup_date", "missing column"),
    ("wrong type", {"dataframe_records": [{"monthly_charges": "lots"}]}, "monthly_charges", "is not a number"),
    ("fractional int", {"dataframe_records": [{"age": 40.5}]}, "age", "whole number"),
    ("bad date", {"dataframe_records": [{"signup_date": "yesterday"}]}, "signup_date", "ISO-8601"),
    ("bad bool", {"dataframe_records": [{"has_partner": "maybe"}]}, "has_partner", "not a boolean"),
]


def test_a_missing_value_the_pipeline_fills_in_is_scored_and_flagged(srv_client: Any, srv_row: dict[str, Any]) -> None:
    # no churn row had a missing age, but the auto preprocessing imputes it (see
    # test_missing_and_csv_ids.py for a column the pipeline does not fill in: still a 400)
    r = srv_client.post("/invocations", json={"dataframe_records": [srv_row, {**srv_row, "age": None}]})
    assert r.status_code == 200, r.text
    metrics = srv_client.get("/metrics").text
    assert 'skloop_validation_flags_total{column="age",problem="missing_imputed"} 1.0' in metrics
    flags = CompiledSignature(srv_client.app.model.signature).from_records([{**srv_row, "age": None}]).flags
    assert [f.to_dict() for f in flags] == [{"row": 0, "column": "age", "problem": MISSING_IMPUTED, "severity": "flag"}]


@pytest.mark.parametrize(("case", "patch", "column", "problem"), BAD, ids=[b[0] for b in BAD])
def test_invalid_values_name_row_column_and_problem(
    srv_client: Any, srv_row: dict[str, Any], case: str, patch: dict[str, Any], column: str, problem: str
) -> None:
    record = patch["dataframe_records"][0]
    row = {k: v for k, v in srv_row.items() if k in record or case != "missing column"} | record
    rows = [row] if case == "missing column" else [srv_row, row]  # a key absent from one record only is a missing value
    r = srv_client.post("/invocations", json={"dataframe_records": rows})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error_code"] == "BAD_REQUEST" and problem in body["error"]
    issue = next(i for i in body["issues"] if i["column"] == column)
    assert problem in issue["problem"]
    assert issue["row"] == (None if case == "missing column" else 1)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [
        (b'{"dataframe_records": [', "application/json", 400, "malformed JSON"),
        (b'{"dataframe_records": []}', "application/json", 400, "empty batch"),
        (b'{"inputs": {}}', "application/json", 400, "empty batch"),
        (b'{"rows": []}', "application/json", 400, "dataframe_split"),
        (b"[1, 2]", "application/json", 400, "JSON object"),
        (b'{"dataframe_records": [1]}', "application/json", 400, "row 0"),
        (b'{"dataframe_split": {"columns": ["age"], "data": [[1, 2]]}}', "application/json", 400, "row 0"),
        (b"age\n", "text/csv", 400, "empty batch"),
        (b"<xml/>", "application/xml", 415, "not supported"),
    ],
)
def test_unreadable_bodies(srv_client: Any, body: bytes, content_type: str, status: int, words: str) -> None:
    r = srv_client.post("/invocations", content=body, headers={"content-type": content_type})
    assert r.status_code == status, r.text
    assert words in r.json()["error"]


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ({"inputs": []}, "non-empty list"),
        ({"inputs": [{"name": "age", "shape": [2], "datatype": "INT64", "data": [1]}]}, "1 values for shape [2]"),
        ({"inputs": [{"name": "age", "shape": [1], "datatype": "INT65", "data": [1]}]}, "datatype 'INT65'"),
        ({"inputs": [{"name": "age", "shape": [1, 2], "datatype": "INT64", "data": [1, 2]}]}, "shape [1, 2]"),
        ({"inputs": [{"name": "rows", "shape": [1], "datatype": "BYTES", "data": ["{oops"]}]}, "element 0"),
    ],
)
def test_v2_bad_requests(srv_client: Any, doc: dict[str, Any], words: str) -> None:
    r = srv_client.post("/v2/models/churn/infer", json=doc)
    assert r.status_code == 400, r.text
    assert words in r.json()["error"]


def test_unknown_model_route_and_version_are_404_naming_the_served_model(srv_client: Any) -> None:
    for path in ("/v2/models/../../etc/passwd/infer", "/v2/models/other", "/v2/models/churn/versions/7"):
        r = srv_client.get(path) if not path.endswith("infer") else srv_client.post(path, json={})
        assert r.status_code == 404, (path, r.text)
    assert "'churn'" in srv_client.get("/v2/models/other").json()["error"]
    assert "version 1" in srv_client.get("/v2/models/churn/versions/7").json()["error"]
    assert srv_client.get("/nope").status_code == 404
    assert srv_client.get("/invocations").status_code == 405


def test_oversized_body_is_413(srv_project: Path, srv_row: dict[str, Any]) -> None:
    from serve_helpers import project_settings
    from starlette.testclient import TestClient

    from skloop.serve import create_app

    app = create_app(project_settings(srv_project), model_name="churn", max_body_bytes=2000, poll_seconds=None)
    with TestClient(app) as client:
        assert client.post("/invocations", json={"dataframe_records": [srv_row]}).status_code == 200
        r = client.post("/invocations", json={"dataframe_records": [srv_row] * 20})
        assert r.status_code == 413 and "2000 bytes" in r.json()["error"]
        chunks = iter([b'{"dataframe_records": [' + b" " * 1500, b" " * 1500 + b"]}"])
        r = client.post("/invocations", content=chunks, headers={"content-type": "application/json"})
        assert r.status_code == 413


def test_sklearn_path_matches_onnx_path(srv_project: Path, srv_app: Any, srv_row: dict[str, Any]) -> None:
    from serve_helpers import project_settings
    from starlette.testclient import TestClient

    from skloop.serve import create_app

    rows = [{**srv_row, "age": a, "tenure_months": t} for a in (20, 50, 80) for t in (0, 30, 70)]
    sk = create_app(project_settings(srv_project), model_name="churn", version=1, onnx=False, poll_seconds=None)
    assert sk.model.runtime == "sklearn" and srv_app.model.runtime == "onnxruntime"
    doc = {
        "inputs": [{"name": "rows", "shape": [len(rows)], "datatype": "BYTES", "data": [json.dumps(r) for r in rows]}]
    }
    with TestClient(sk) as a, TestClient(srv_app) as b:
        pa, pb = (c.post("/v2/models/churn/infer", json=doc).json()["outputs"][1]["data"] for c in (a, b))
    np.testing.assert_allclose(pa, pb, atol=1e-5)


def test_fast_path_agrees_with_coerce_frame(srv_app: Any, srv_row: dict[str, Any]) -> None:
    compiled: CompiledSignature = srv_app.model.compiled
    variants = [
        {},
        {"region": "mars"},
        {"age": 200},
        {"signup_date": "2031-01-01T10:00:00+02:00"},
        {"monthly_charges": float("nan")},
        {"total_charges": 2.0**60},
        {"extra": 1},
        {"age": None},  # none in training, filled in by the pipeline: scored and flagged
    ]
    for patch in variants:
        records = [srv_row, {**srv_row, **patch}]
        fast = compiled.from_records(records)
        slow = compiled.from_table(records)
        assert [f.to_dict() for f in fast.flags] == [f.to_dict() for f in slow.flags], patch
        for name in compiled.names:
            a, b = fast.columns[name], slow.columns[name]
            if a.dtype == object:
                assert a.tolist() == b.tolist(), (patch, name)
            else:
                np.testing.assert_allclose(a, b, equal_nan=True, err_msg=f"{patch} {name}")
        assert coerce_frame(records, srv_app.model.signature).ok
    refused = [{"total_charges": float("inf")}, {"age": 2**63}, {"region": [1]}, {"region": True}]
    for patch in refused:
        records = [srv_row, {**srv_row, **patch}]
        with pytest.raises(BadRequestError) as fast:
            compiled.from_records(records)
        with pytest.raises(BadRequestError) as slow:
            compiled.from_table(records)
        assert fast.value.issues == slow.value.issues and fast.value.issues[0]["row"] == 1, patch


def test_status_table_is_the_one_mapping() -> None:
    assert status_of(ServeError("x")) == 500
    assert dict(STATUS_BY_ERROR)[ServeError.__subclasses__()[0]] == 400
