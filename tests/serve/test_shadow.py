"""Shadow mode: the challenger scores every request into the log, never into an answer."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from serve_helpers import project_settings, register_churn
from starlette.testclient import TestClient

from skloop.core import UsageError
from skloop.registry import Registry
from skloop.serve import create_app
from skloop.store import Store


class MemoryLog:
    """A prediction log in memory: a :class:`~skloop.serve.PredictionSink` (an async ``append(records)``)."""

    def __init__(self) -> None:
        self.records: list[Mapping[str, Any]] = []

    async def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.records.extend(records)


def _promote(base: Path, version: int, alias: str) -> None:
    store = Store.open(project_settings(base))
    try:
        Registry(store).promote("churn", version, alias, reason="shadow test")
    finally:
        store.close()


def _rows(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**row, "tenure_months": t, "support_calls": c} for t in (1, 24, 60) for c in (0, 5)]


@pytest.fixture
def two_versions(tmp_path: Path) -> Path:
    """churn v1 champion, v2 (another seed) challenger."""
    settings = project_settings(tmp_path)
    register_churn(settings)
    register_churn(settings, promote=False, seed=1)
    _promote(tmp_path, 2, "challenger")
    return tmp_path


_V2_TYPES = {str: "BYTES", bool: "BOOL", int: "INT64", float: "FP64", type(None): "BYTES"}


# The default 100 ms the response waits for the shadow is too short on a loaded CI machine;
# these tests check what the shadow answers, not how long it may take (a test below does).
LOADED_MACHINE_TIMEOUT = 30.0


def _infer(client: TestClient, rows: list[dict[str, Any]]) -> dict[str, Any]:
    doc = {"inputs": [{"name": k, "shape": [len(rows)], "datatype": _V2_TYPES[type(v)], "data": [r[k] for r in rows]}
                      for k, v in rows[0].items()]}  # fmt: skip
    response = client.post("/v2/models/churn/infer", json=doc)
    assert response.status_code == 200, response.text
    return {o["name"]: o["data"] for o in response.json()["outputs"]}


def test_answers_come_from_the_champion_and_records_carry_both(two_versions: Path, srv_row: dict[str, Any]) -> None:
    settings = project_settings(two_versions)
    rows = _rows(srv_row)
    log = MemoryLog()
    app = create_app(
        settings,
        model_name="churn",
        prediction_log=log,
        poll_seconds=None,
        onnx=False,
        shadow_alias="challenger",
        shadow_timeout=LOADED_MACHINE_TIMEOUT,
    )
    v1 = create_app(settings, model_name="churn", version=1, poll_seconds=None, onnx=False)
    v2 = create_app(settings, model_name="churn", version=2, poll_seconds=None, onnx=False)
    try:
        assert app.shadow is not None and app.shadow.model is not None and app.shadow.model.version == 2
        with TestClient(app) as client, TestClient(v1) as c1, TestClient(v2) as c2:
            served = _infer(client, rows)
            champion, challenger = _infer(c1, rows), _infer(c2, rows)
            response = client.post("/invocations", json={"dataframe_records": rows})
            assert response.headers["x-skloop-model"] == "churn/1"
            assert response.json()["predictions"] == champion["predictions"]
    finally:
        for a in (app, v1, v2):
            a.registry.store.close()
    assert served == champion  # the answer is the champion's, probabilities included
    assert not np.allclose(champion["probabilities"], challenger["probabilities"])  # two different models
    assert len(log.records) == 2 * len(rows)
    first = log.records[: len(rows)]
    assert all(r["version"] == 1 and r["outputs"]["shadow"]["version"] == 2 for r in log.records)
    probs = np.asarray(challenger["probabilities"]).reshape(len(rows), -1)
    for i, record in enumerate(first):
        shadow = record["outputs"]["shadow"]
        assert shadow["prediction"] == challenger["predictions"][i]
        np.testing.assert_allclose([shadow["probabilities"][c] for c in ("0", "1")], probs[i], atol=1e-12)
        assert record["outputs"]["prediction"] == champion["predictions"][i]


def test_no_challenger_means_no_shadow_until_one_is_promoted(tmp_path: Path, srv_row: dict[str, Any]) -> None:
    settings = project_settings(tmp_path)
    register_churn(settings)
    log = MemoryLog()
    app = create_app(
        settings,
        model_name="churn",
        prediction_log=log,
        poll_seconds=0.05,
        onnx=False,
        shadow_alias="challenger",
        shadow_timeout=LOADED_MACHINE_TIMEOUT,
    )
    try:
        assert app.shadow is not None and app.shadow.model is None
        with TestClient(app) as client:
            assert client.post("/invocations", json={"dataframe_records": [srv_row]}).status_code == 200
            assert "shadow" not in log.records[-1]["outputs"]
            register_churn(settings, promote=False, seed=1)
            _promote(tmp_path, 2, "challenger")
            deadline = time.monotonic() + 20
            while app.shadow.model is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert app.shadow.model is not None and app.shadow.model.version == 2
            assert client.post("/invocations", json={"dataframe_records": [srv_row]}).status_code == 200
            assert log.records[-1]["outputs"]["shadow"]["version"] == 2
            assert log.records[-1]["version"] == 1
    finally:
        app.registry.store.close()


def test_a_failing_or_slow_shadow_never_fails_or_holds_a_request(two_versions: Path, srv_row: dict[str, Any]) -> None:
    settings = project_settings(two_versions)
    log = MemoryLog()
    app = create_app(
        settings,
        model_name="churn",
        prediction_log=log,
        poll_seconds=None,
        onnx=False,
        shadow_alias="challenger",
        shadow_timeout=0.05,
    )
    assert app.shadow is not None and app.shadow.model is not None
    shadow_model = app.shadow.model

    def boom(rows: Any) -> Any:
        raise RuntimeError("the challenger is broken")

    def slow(rows: Any) -> Any:
        time.sleep(1.0)
        raise AssertionError("never logged: the request does not wait this long")

    try:
        with TestClient(app) as client:
            shadow_model.predict = boom  # type: ignore[method-assign]
            response = client.post("/invocations", json={"dataframe_records": [srv_row, srv_row]})
            assert response.status_code == 200 and len(response.json()["predictions"]) == 2
            assert [r["outputs"]["shadow"] for r in log.records] == [
                {"version": 2, "error": "RuntimeError: the challenger is broken"}
            ] * 2
            assert all("prediction" in r["outputs"] for r in log.records)

            shadow_model.predict = slow  # type: ignore[method-assign]
            started = time.perf_counter()
            response = client.post("/invocations", json={"dataframe_records": [srv_row]})
            elapsed = time.perf_counter() - started
            assert response.status_code == 200
            assert elapsed < 0.8, f"the slow shadow held the answer for {elapsed:.2f}s"
            assert log.records[-1]["outputs"]["shadow"] == {"version": 2, "error": "timed out after 50 ms"}
        assert app.shadow.failures == 2
    finally:
        app.registry.store.close()


def test_the_shadow_cannot_be_the_served_alias(srv_project: Path) -> None:
    with pytest.raises(UsageError, match="shadow alias"):
        create_app(project_settings(srv_project), model_name="churn", shadow_alias="champion", poll_seconds=None)
