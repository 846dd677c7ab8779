"""Bad input is a 4xx naming the row, column or field, decided before scoring; never a 500.

Each case here answered 200 with a bad value stored, or 500, before the cell rules of
``coerce_frame``, the V2 datatype checks and the label checks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_helpers import churn_pipeline, project_settings
from starlette.testclient import TestClient

from skloop.registry import Registry, infer_signature, save_model
from skloop.serve import PredictionLog, create_app
from skloop.serve._errors import BadRequestError
from skloop.serve._wal import read_segment, segments
from skloop.store import Store


def _post(client: Any, path: str, body: Any) -> Any:
    text = body if isinstance(body, bytes) else json.dumps(body, allow_nan=True).encode()
    return client.post(path, content=text, headers={"content-type": "application/json"})


def _issue(response: Any, column: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    return next(i for i in response.json()["issues"] if i["column"] == column)


def _logged(app: Any) -> list[dict[str, Any]]:
    app.prediction_log.close()
    app.prediction_log.start()
    return [r for seg in segments(app.prediction_log.directory) for _, r in read_segment(seg)]


@pytest.fixture(scope="module")
def sklearn_client(srv_project: Path) -> Iterator[Any]:
    """The shared churn model scored by scikit-learn (``srv_client`` scores it with ONNX Runtime)."""
    app = create_app(project_settings(srv_project), model_name="churn", onnx=False, poll_seconds=None)
    with TestClient(app) as client:
        yield client
    app.registry.store.close()


# -- numbers ----------------------------------------------------------------------------------

OUT_OF_INT64 = [1e308, 2**64, -(2**63) - 1, 2**63, float(2**63)]


@pytest.mark.parametrize("age", OUT_OF_INT64, ids=["1e308", "2**64", "-2**63-1", "2**63", "2.0**63"])
def test_int_column_refuses_values_beyond_int64_at_both_ends(
    srv_client: Any, srv_row: dict[str, Any], age: Any
) -> None:
    r = _post(srv_client, "/invocations", {"dataframe_records": [srv_row, {**srv_row, "age": age}]})
    issue = _issue(r, "age")
    assert issue["row"] == 1 and "outside the int64 range" in issue["problem"]


def test_int64_ends_are_accepted_and_logged_within_int64(
    srv_client: Any, srv_app: Any, srv_row: dict[str, Any]
) -> None:
    for age in (2**63 - 1, -(2**63)):
        r = _post(srv_client, "/invocations", {"dataframe_records": [{**srv_row, "age": age}]})
        assert r.status_code == 200, r.text
    # scored as float64 (2**63 - 1 becomes 2**63), logged back inside int64
    assert [rec["inputs"]["age"] for rec in _logged(srv_app)] == [2**63 - 1, -(2**63)]


@pytest.mark.parametrize("column", ["monthly_charges", "total_charges", "age"])
@pytest.mark.parametrize("value", [float("inf"), float("-inf"), "Infinity", "1e999"])
def test_non_finite_numbers_are_refused_on_both_runtimes(
    srv_client: Any, sklearn_client: Any, srv_row: dict[str, Any], column: str, value: Any
) -> None:
    for client in (srv_client, sklearn_client):
        r = _post(client, "/invocations", {"dataframe_records": [{**srv_row, column: value}]})
        issue = _issue(r, column)
        assert issue["row"] == 0 and "not a finite number" in issue["problem"]


def test_nan_is_missing_in_a_nullable_column_on_both_runtimes(
    srv_client: Any, sklearn_client: Any, srv_row: dict[str, Any]
) -> None:
    answers = [
        _post(c, "/invocations", {"dataframe_records": [{**srv_row, "monthly_charges": float("nan")}]})
        for c in (srv_client, sklearn_client)
    ]
    assert [a.status_code for a in answers] == [200, 200], answers[0].text
    assert answers[0].json() == answers[1].json()


# -- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["0000-01-01", "0001-01-01T00:00:00+01:00", "10000-01-01"])
def test_dates_outside_the_representable_years_are_400(srv_client: Any, srv_row: dict[str, Any], when: str) -> None:
    r = _post(srv_client, "/invocations", {"dataframe_records": [{**srv_row, "signup_date": when}]})
    issue = _issue(r, "signup_date")
    assert issue["row"] == 0


@pytest.mark.parametrize("when", ["0001-01-01", "9999-12-31T23:00:00", "1500-06-01"])
def test_dates_at_the_ends_are_scored_and_logged(
    srv_client: Any, sklearn_client: Any, srv_app: Any, srv_row: dict[str, Any], when: str
) -> None:
    answers = [_post(c, "/invocations", {"dataframe_records": [{**srv_row, "signup_date": when}]}) for c in
               (srv_client, sklearn_client)]  # fmt: skip
    assert [a.status_code for a in answers] == [200, 200], (answers[0].text, answers[1].text)
    assert _logged(srv_app)[0]["inputs"]["signup_date"].startswith(when[:10])


# -- one value per cell, text in string columns ---------------------------------------------------


def _nested(depth: int) -> bytes:
    return b'{"dataframe_records": [{"age": ' + b"[" * depth + b"1" + b"]" * depth + b"}]}"


@pytest.mark.parametrize("depth", [900, 980, 1010])
def test_nested_cells_are_400_at_any_depth(srv_client: Any, depth: int) -> None:
    r = _post(srv_client, "/invocations", _nested(depth))
    issue = _issue(r, "age")
    assert issue["row"] == 0 and "not one value" in issue["problem"]


def test_json_deeper_than_the_parser_limit_is_400(srv_client: Any) -> None:
    r = _post(srv_client, "/invocations", _nested(1100))
    assert r.status_code == 400 and "nested deeper than 1024" in r.json()["error"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [({"a": 1}, "not one value"), ([1, 2], "not one value"), (True, "not text")],
    ids=["object", "list", "boolean"],
)
def test_string_columns_refuse_values_that_are_not_text(
    srv_client: Any, srv_row: dict[str, Any], value: Any, problem: str
) -> None:
    for fmt in ("dataframe_records", "instances"):
        r = _post(srv_client, "/invocations", {fmt: [srv_row, {**srv_row, "region": value}]})
        issue = _issue(r, "region")
        assert issue["row"] == 1 and problem in issue["problem"]


def test_numbers_in_a_string_column_are_their_canonical_text(
    srv_client: Any, srv_app: Any, srv_row: dict[str, Any]
) -> None:
    r = _post(
        srv_client, "/invocations", {"dataframe_records": [{**srv_row, "region": 7.0}, {**srv_row, "region": 2.5}]}
    )
    assert r.status_code == 200, r.text
    assert [rec["inputs"]["region"] for rec in _logged(srv_app)] == ["7", "2.5"]


def test_a_lone_surrogate_is_400_before_scoring(srv_client: Any, srv_app: Any, srv_row: dict[str, Any]) -> None:
    body = json.dumps({"dataframe_records": [srv_row, {**srv_row, "region": "\ud800"}]}).encode()
    assert b"\\ud800" in body  # as a JSON escape: orjson refuses it, the standard library reads it
    r = _post(srv_client, "/invocations", body)
    assert r.status_code == 400, r.text
    assert "surrogate" in r.json()["error"] and "dataframe_records[1].region" in r.json()["error"]
    key = json.dumps({"dataframe_records": [{**srv_row, "\udc00": 1}]}).encode()
    assert _post(srv_client, "/invocations", key).status_code == 400
    v2 = {"inputs": [{"name": "region", "shape": [1], "datatype": "BYTES", "data": ["\ud800"]}]}
    assert _post(srv_client, "/v2/models/churn/infer", json.dumps(v2).encode()).status_code == 400
    assert _logged(srv_app) == []


def test_validation_catches_a_lone_surrogate_from_python(srv_app: Any, srv_row: dict[str, Any]) -> None:
    with pytest.raises(BadRequestError) as info:
        srv_app.model.compiled.from_records([srv_row, {**srv_row, "region": "north\ud800"}])
    assert [(i["row"], i["column"]) for i in info.value.issues] == [(1, "region")]


# -- V2 datatypes ---------------------------------------------------------------------------------

_V2 = {str: "BYTES", bool: "BOOL", int: "INT64", float: "FP64", type(None): "BYTES"}


def _v2(row: dict[str, Any], **patch: tuple[str, Any]) -> dict[str, Any]:
    inputs = []
    for name, value in row.items():
        datatype, value = patch.get(name, (_V2[type(value)], value))
        inputs.append({"name": name, "shape": [1], "datatype": datatype, "data": [value]})
    return {"inputs": inputs}


@pytest.mark.parametrize("datatype", [{}, [], None, 5, "fp32"])
def test_v2_datatype_must_be_a_known_name(srv_client: Any, srv_row: dict[str, Any], datatype: Any) -> None:
    r = _post(srv_client, "/v2/models/churn/infer", _v2(srv_row, age=(datatype, 41)))
    assert r.status_code == 400 and "datatype" in r.json()["error"]


@pytest.mark.parametrize(
    ("column", "datatype", "value", "words"),
    [
        ("age", "INT8", 1000, "outside [-128, 127]"),
        ("age", "UINT8", -1, "outside [0, 255]"),
        ("age", "INT32", 2**31, "outside"),
        ("age", "INT64", 2**63, "outside"),
        ("age", "INT64", 41.5, "not an integer"),
        ("monthly_charges", "FP32", "61.82", "not a number"),
        ("monthly_charges", "FP16", 1e6, "too large for FP16"),
        ("monthly_charges", "FP32", 1e39, "too large for FP32"),
        ("has_partner", "BOOL", 1, "not a boolean"),
        ("region", "BYTES", 5, "not a string"),
        ("region", "BYTES", {"a": 1}, "not a string"),
    ],
)
def test_v2_data_must_fit_its_datatype(
    srv_client: Any, srv_row: dict[str, Any], column: str, datatype: str, value: Any, words: str
) -> None:
    r = _post(srv_client, "/v2/models/churn/infer", _v2(srv_row, **{column: (datatype, value)}))
    issue = _issue(r, column)
    assert issue["row"] == 0 and words in issue["problem"], issue
    assert f"input {column!r} is declared {datatype}" in r.json()["error"]


def test_v2_data_that_fits_is_scored(srv_client: Any, srv_row: dict[str, Any]) -> None:
    body = _v2(srv_row, age=("INT8", 41), monthly_charges=("FP32", 61.82), support_calls=("UINT8", 1.0))
    r = _post(srv_client, "/v2/models/churn/infer", body)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "extra", [{"outputs": [{"name": {}}]}, {"outputs": [{"name": ["x"]}]}, {"outputs": {}}, {"id": {"a": 1}}]
)
def test_v2_outputs_and_id_are_checked_before_scoring(
    srv_client: Any, srv_app: Any, srv_row: dict[str, Any], extra: dict[str, Any]
) -> None:
    r = _post(srv_client, "/v2/models/churn/infer", {**_v2(srv_row), **extra})
    assert r.status_code == 400, r.text
    assert _logged(srv_app) == []


# -- labels ---------------------------------------------------------------------------------------


def _register_with_id(base: Path) -> None:
    pipe, X, y = churn_pipeline(n_rows=300, seed=2)
    with Store.open(project_settings(base)) as store:
        spec = {"name": "churn", "data": {"train": "x.csv", "target": "churned", "id": "customer_id"}}
        with store.runs.start_run("churn", spec=spec, environment={}) as run:
            store.runs.log_artifact(run.id, "model.skops", save_model(pipe, "skops"))
        registry = Registry(store)
        signature = infer_signature(X, y, task="classification", model=pipe)
        version = registry.register(run.id, "churn", signature=signature.to_dict())
        registry.promote("churn", version.version, "champion", reason="test")


@pytest.fixture(scope="module")
def labels_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("labels_project")
    _register_with_id(base)
    return base


@pytest.fixture
def labels_client(labels_project: Path, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    log = PredictionLog(tmp_path / "wal").start()
    app = create_app(project_settings(labels_project), model_name="churn", prediction_log=log, poll_seconds=None)
    with TestClient(app) as client:
        yield client, app
    log.close()
    app.registry.store.close()


def _stored(app: Any, prefix: str) -> dict[str, str]:
    return {
        str(x.entity_id or f"{x.request_id}/{x.row}"): x.label
        for x in app.registry.store.predictions.list_labels("churn")
        if (x.entity_id or x.request_id or "").startswith(prefix)
    }


@pytest.mark.parametrize(
    ("record", "field", "words"),
    [
        ({"id": "bad-1", "label": "not-a-class"}, "label", "not one of the model's classes (0, 1)"),
        ({"id": "bad-2", "label": "x" * 1_000_000}, "label", "at most 200"),
        ({"id": "bad-3", "label": 2}, "label", "not one of the model's classes"),
        ({"id": "bad-4", "label": True}, "label", "not one of the model's classes"),
        ({"id": "bad-5", "label": 0.5}, "label", "not one of the model's classes"),
        ({"request_id": "bad-6", "row": 2**70, "label": 1}, "row", "from 0 to 2**63 - 1"),
        ({"request_id": "bad-7", "row": 1e300, "label": 1}, "row", "from 0 to 2**63 - 1"),
        ({"id": "bad-8" + "x" * 300, "label": 1}, "id", "at most 200"),
        ({"id": "bad-9", "label": 1, "time": 7}, "time", "ISO 8601"),
    ],
)
def test_bad_labels_are_400_naming_the_record_and_nothing_is_stored(
    labels_client: tuple[Any, Any], record: dict[str, Any], field: str, words: str
) -> None:
    client, app = labels_client
    r = _post(client, "/v2/models/churn/labels", [{"id": "bad-ok", "label": 1}, record])
    issue = _issue(r, field)
    assert issue["row"] == 1 and words in issue["problem"], issue
    assert f"record 1, field {field!r}" in r.json()["error"] and len(r.json()["error"]) < 1000
    assert _stored(app, "bad-") == {}


def test_labels_are_compared_with_the_classes_canonically(labels_client: tuple[Any, Any]) -> None:
    client, app = labels_client
    labels = [1, 1.0, "1", "1.0", " 0 ", 0.0]
    r = _post(client, "/v2/models/churn/labels", [{"id": f"canon-{i}", "label": v} for i, v in enumerate(labels)])
    assert r.status_code == 200, r.text
    assert _stored(app, "canon-") == {f"canon-{i}": t for i, t in enumerate(["1", "1", "1", "1", "0", "0"])}


def _label_file(path: Path, labels: list[Any], prefix: str = "file-") -> Path:
    lines = ["customer_id,churned", *(f"{prefix}{i},{v}" for i, v in enumerate(labels))]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_label_files_with_a_bad_row_store_nothing_even_in_a_later_chunk(labels_project: Path, tmp_path: Path) -> None:
    from skloop.serve import LabelError, ingest_label_file

    source = _label_file(tmp_path / "labels.csv", [1, 0, 1, 0, "yes", 1])
    with Store.open(project_settings(labels_project)) as store:
        with pytest.raises(LabelError, match=r"labels.csv: .*row 4, field 'label': 'yes' is not one of"):
            ingest_label_file(store, "churn", source, id_column="customer_id", label_column="churned", batch_rows=2)
        assert [x for x in store.predictions.list_labels("churn") if (x.entity_id or "").startswith("file-")] == []
        good = _label_file(tmp_path / "good.csv", [1, 0, "1.0"])
        n = ingest_label_file(store, "churn", good, id_column="customer_id", label_column="churned", batch_rows=2)
        assert n == 3
        stored = {
            x.entity_id: x.label
            for x in store.predictions.list_labels("churn")
            if (x.entity_id or "").startswith("file-")
        }
        assert stored == {"file-0": "1", "file-1": "0", "file-2": "1"}


def test_labels_ingest_cli_exits_non_zero_naming_the_row(labels_project: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from skloop.cli import app

    source = _label_file(tmp_path / "cli.csv", [1, "1" * 300, 0], prefix="cli-")
    spec = labels_project / "skloop.yaml"
    result = CliRunner().invoke(
        app, ["labels", "ingest", str(source), "--model", "churn", "--id-column", "customer_id",
              "--label-column", "churned", "--spec", str(spec)],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "row 1, field 'label'" in result.output and "nothing stored" in result.output
    with Store.open(project_settings(labels_project)) as store:
        assert [x for x in store.predictions.list_labels("churn") if (x.entity_id or "").startswith("cli-")] == []
    missing = CliRunner().invoke(app, ["labels", "ingest", str(source), "--model", "nope", "--spec", str(spec)])
    assert missing.exit_code == 1 and "'nope' is not in the registry" in missing.output


def test_id_column_values_must_be_ids(labels_client: tuple[Any, Any], srv_row: dict[str, Any]) -> None:
    client, app = labels_client
    r = _post(client, "/invocations", {"dataframe_records": [{**srv_row, "customer_id": "c-1"},
                                                              {**srv_row, "customer_id": {"a": 1}}]})  # fmt: skip
    issue = _issue(r, "customer_id")
    assert issue["row"] == 1 and "not an id" in issue["problem"]
    ok = _post(client, "/invocations", {"dataframe_records": [{**srv_row, "customer_id": 42.0}]})
    assert ok.status_code == 200, ok.text
    assert [rec["entity_id"] for rec in _logged(app)] == ["42"]


def test_label_output_is_the_champions_and_names_unknown_models(labels_project: Path) -> None:
    from skloop.core import ModelNotFoundError
    from skloop.serve import label_output

    with Store.open(project_settings(labels_project)) as store:
        output = label_output(store, "churn")
        assert output is not None and output.task == "classification" and output.classes == (0, 1)
        for name in ("nope", "churn@champion"):
            with pytest.raises(ModelNotFoundError, match="not in the registry"):
                label_output(store, name)


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["1", "0.0", " 1 ", "true", "2025-03-01T00:00:00Z", "soon", "x" * 300]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_keys = st.one_of(st.text(min_size=1, max_size=6), st.integers(min_value=0, max_value=10**6))
_record = st.one_of(
    st.fixed_dictionaries({"id": _keys, "label": _values}, optional={"time": _values}),
    st.fixed_dictionaries({"request_id": _keys, "row": _values, "label": _values}),
    st.dictionaries(st.sampled_from(["id", "request_id", "row", "label", "time", "other"]), _values, max_size=5),
)
_records = st.lists(_record, min_size=1, max_size=3)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(_records, st.fixed_dictionaries({"labels": _records}), _values))
def test_labels_never_500(labels_client: tuple[Any, Any], body: Any) -> None:
    client, app = labels_client
    r = _post(client, "/v2/models/churn/labels", body)
    assert r.status_code in (200, 400), r.text
    if r.status_code == 200:  # whatever was stored is a class of the model, as the loop reads it
        assert {x.label for x in app.registry.store.predictions.list_labels("churn")} <= {"0", "1"}
