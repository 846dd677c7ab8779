"""Real clients against a real uvicorn on 127.0.0.1: tritonclient.http (V2) and MLflow's JSON formats."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest


@pytest.fixture
def srv_url(srv_app: Any, srv_uvicorn: Callable[[Any], str]) -> str:
    return srv_uvicorn(srv_app)


@pytest.mark.parametrize("binary", [True, False], ids=["binary-tensors", "json-tensors"])
def test_tritonclient_http_column_tensors(srv_url: str, srv_row: dict[str, Any], binary: bool) -> None:
    tritonclient_http = pytest.importorskip("tritonclient.http")
    client = tritonclient_http.InferenceServerClient(srv_url.removeprefix("http://"))
    try:
        assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("churn")
        meta = client.get_model_metadata("churn")
        assert meta["versions"] == ["1"]
        rows = [srv_row, {**srv_row, "payment_method": "credit_card", "tenure_months": 60}]
        inputs = []
        for spec in meta["inputs"]:
            name, datatype = spec["name"], spec["datatype"]
            values = [r[name] for r in rows]
            if datatype == "BYTES":
                array = np.array([("" if v is None else v).encode() for v in values], dtype=np.object_)
                if name == "payment_method":  # send the missing value as null through JSON rows instead
                    array = np.array([b"bank_transfer", b"credit_card"], dtype=np.object_)
            elif datatype == "BOOL":
                array = np.array(values, dtype=bool)
            elif datatype == "INT64":
                array = np.array(values, dtype=np.int64)
            else:
                array = np.array(values, dtype=np.float64)
            tensor = tritonclient_http.InferInput(name, [len(rows), 1], datatype)
            tensor.set_data_from_numpy(array.reshape(-1, 1), binary_data=binary)
            inputs.append(tensor)
        result = client.infer("churn", inputs, request_id="triton-1")
        proba = result.as_numpy("probabilities")
        assert proba.shape == (2, 2) and np.allclose(proba.sum(axis=1), 1)
        assert result.as_numpy("predictions").tolist() == proba.argmax(axis=1).tolist()
        assert result.get_response()["id"] == "triton-1"
    finally:
        client.close()


def test_tritonclient_http_json_rows_tensor(srv_url: str, srv_row: dict[str, Any]) -> None:
    tritonclient_http = pytest.importorskip("tritonclient.http")
    client = tritonclient_http.InferenceServerClient(srv_url.removeprefix("http://"))
    try:
        rows = np.array([json.dumps(srv_row).encode()] * 3, dtype=np.object_)
        tensor = tritonclient_http.InferInput("rows", [3], "BYTES")
        tensor.set_data_from_numpy(rows)
        out = tritonclient_http.InferRequestedOutput("predictions", binary_data=False)
        result = client.infer("churn", [tensor], outputs=[out])
        assert result.as_numpy("predictions").shape == (3,)
        with pytest.raises(Exception, match="unknown model 'other'"):
            client.infer("other", [tensor])
    finally:
        client.close()


def test_mlflow_documented_formats_over_http(srv_url: str, srv_row: dict[str, Any]) -> None:
    # the bodies of MLflow's "Deploy MLflow models" docs and of `mlflow models predict`
    cols = list(srv_row)
    split = {"dataframe_split": {"index": [0], "columns": cols, "data": [[srv_row[c] for c in cols]]}}
    bodies: list[tuple[Any, str]] = [
        (json.dumps(split), "application/json"),
        (json.dumps({"dataframe_records": [srv_row]}), "application/json"),
        (json.dumps({"instances": [srv_row]}), "application/json"),
        (json.dumps({"inputs": {c: [v] for c, v in srv_row.items()}}), "application/json"),
        (json.dumps({"inputs": [srv_row], "params": {}}), "application/json; charset=utf-8"),
        (",".join(cols) + "\n" + ",".join("" if v is None else str(v) for v in srv_row.values()), "text/csv"),
    ]
    with httpx.Client(base_url=srv_url) as client:
        assert client.get("/ping").status_code == 200
        answers = []
        for body, content_type in bodies:
            r = client.post("/invocations", content=body, headers={"Content-Type": content_type})
            assert r.status_code == 200, (body, r.text)
            answers.append(r.json()["predictions"])
        assert all(a == answers[0] for a in answers)
        bad = client.post("/invocations", json={"dataframe_records": [{**srv_row, "age": "old"}]})
        assert bad.status_code == 400 and bad.json()["error_code"] == "BAD_REQUEST"
