"""Fuzzing: no body, header or path makes the server answer 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["2024-01-01", "2024-13-45", "north", "yes", "NaN", "", "1e999", "2024-01-01T00:00:00+25:00"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
COLUMNS = [
    "signup_date",
    "age",
    "tenure_months",
    "contract",
    "payment_method",
    "paperless_billing",
    "has_partner",
    "region",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "extra",
]
rows = st.dictionaries(st.sampled_from(COLUMNS), scalars, max_size=12)
mlflow_bodies = st.one_of(
    st.fixed_dictionaries({"dataframe_records": st.lists(rows, max_size=4)}),
    st.fixed_dictionaries(
        {"instances": st.one_of(st.lists(rows, max_size=3), st.lists(st.lists(scalars, max_size=12), max_size=3))}
    ),
    st.fixed_dictionaries(
        {"inputs": st.one_of(st.dictionaries(st.sampled_from(COLUMNS), st.lists(scalars, max_size=3)), values)}
    ),
    st.fixed_dictionaries(
        {
            "dataframe_split": st.fixed_dictionaries(
                {"columns": st.lists(st.sampled_from(COLUMNS), max_size=12), "data": values}
            )
        }
    ),
    values,
)
tensor = st.fixed_dictionaries(
    {
        "name": st.sampled_from([*COLUMNS, "rows"]),
        "shape": st.lists(st.integers(min_value=-1, max_value=3), max_size=3),
        "datatype": st.sampled_from(["BYTES", "FP32", "FP64", "INT64", "BOOL", "INT8", "bogus"]),
        "data": st.one_of(st.lists(scalars, max_size=4), st.lists(rows.map(json.dumps), max_size=3), values),
    }
)
v2_bodies = st.one_of(st.fixed_dictionaries({"inputs": st.lists(tensor, max_size=4)}), values)

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@FUZZ
@given(body=mlflow_bodies)
def test_invocations_never_500(srv_client: Any, body: Any) -> None:
    text = json.dumps(body, allow_nan=True)
    r = srv_client.post("/invocations", content=text, headers={"content-type": "application/json"})
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert r.json()["error"]


@FUZZ
@given(body=v2_bodies)
def test_v2_infer_never_500(srv_client: Any, body: Any) -> None:
    r = srv_client.post("/v2/models/churn/infer", content=json.dumps(body, allow_nan=True))
    assert r.status_code in (200, 400), r.text


@FUZZ
@given(
    raw=st.binary(max_size=300),
    content_type=st.sampled_from(["application/json", "text/csv", "x/y", ""]),
    header_length=st.one_of(st.none(), st.text(max_size=4)),
)
def test_raw_bytes_never_500(srv_client: Any, raw: bytes, content_type: str, header_length: str | None) -> None:
    headers = {"content-type": content_type}
    if header_length is not None and header_length.isascii() and header_length.isprintable():
        headers["inference-header-content-length"] = header_length
    for path in ("/invocations", "/v2/models/churn/infer"):
        r = srv_client.post(path, content=raw, headers=headers)
        assert r.status_code < 500, (path, r.text)


@pytest.mark.parametrize("path", ["/v2/models/%00/infer", "/v2/models/churn/versions/../../x", "//", "/v2/models/"])
def test_odd_paths_are_4xx(srv_client: Any, path: str) -> None:
    assert srv_client.get(path).status_code < 500
    assert srv_client.post(path, content=b"{}").status_code < 500
