"""The one validator: its columnar fast path agrees with the general (pandas) cast on every value.

``_cast`` types a column of plain JSON values with NumPy and hands anything else to
``cast_general``; these tests generate columns of every kind of value a JSON parser (or a
client) can send and check that both give the same typed values, the same missing
values and the same refused values with the same problem — so that no verdict depends
on the path a column took, whatever the number of rows.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skloop.registry import MISSING_IMPUTED, ColumnRule, InputColumn, Signature, Validator, coerce_frame
from skloop.registry import _validator as validator_module
from skloop.registry._cells import Cast, cast_general
from skloop.registry._validator import _FAST

DTYPES = ("int64", "float64", "bool", "string", "datetime64")

_dates = st.datetimes(
    min_value=__import__("datetime").datetime(1, 1, 2), max_value=__import__("datetime").datetime(9999, 12, 30)
)
_iso = st.one_of(
    _dates.map(lambda d: d.isoformat()),
    _dates.map(lambda d: d.isoformat(sep=" ", timespec="minutes")),
    _dates.map(lambda d: d.date().isoformat()),
    st.tuples(_dates, st.sampled_from(["Z", "+02:00", "-05:30", "+0100"])).map(
        lambda t: t[0].isoformat(timespec="seconds") + t[1]
    ),
    st.sampled_from(["0000-01-01", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59", "2024-02-30", "2024-1-1",
                     "now", "2024", "10000-01-01", "2024-01-01T25:00"]),
)  # fmt: skip
_plain = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([2**63 - 1, -(2**63), 2**63, 2**62, 2**53 + 1, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.5, 1e308, 2.0**63, -(2.0**63), 3.0]),
    st.text(max_size=6),
    st.sampled_from(["north", "\ud800", "caf\u00e9", "35", "1e999", "Infinity", "nan", "yes", " 1 ", ""]),
    _iso,
)
_odd = st.one_of(st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))

# columns of one kind of value (the fast path's domain), or of anything (mostly the general path)
_columns = st.one_of(
    st.lists(st.one_of(st.none(), st.integers(min_value=-(2**70), max_value=2**70)), min_size=1, max_size=8),
    st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)), min_size=1, max_size=8),
    st.lists(st.one_of(st.none(), st.booleans()), min_size=1, max_size=8),
    st.lists(st.one_of(st.none(), st.text(max_size=6), st.just("\ud800")), min_size=1, max_size=8),
    st.lists(st.one_of(st.none(), _iso), min_size=1, max_size=8),
    st.lists(st.one_of(_plain, _odd), min_size=1, max_size=8),
)


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype == object:
        return a.tolist() == b.tolist() and [type(v) for v in a.tolist()] == [type(v) for v in b.tolist()]
    if a.dtype.kind == "M":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b, equal_nan=True))


def _problems(cast: Cast) -> dict[str, list[int]]:
    return {why: np.flatnonzero(mask).tolist() for mask, why in cast.problems if mask.any()}


def _missing(cast: Cast) -> list[int]:
    return [] if cast.missing is None else np.flatnonzero(cast.missing).tolist()


def _exact(cast: Cast, n: int) -> list[Any] | None:
    if cast.exact is None:
        return None
    return cast.exact.tolist()


@settings(max_examples=600, deadline=None)
@given(values=_columns, dtype=st.sampled_from(DTYPES))
def test_the_fast_path_agrees_with_the_general_cast(values: list[Any], dtype: str) -> None:
    fast = _FAST[dtype](list(values), dtype == "int64")
    if fast is None:
        return  # the general path is taken: nothing to compare
    general = cast_general(pd.Series(values, dtype=object), dtype)
    assert _same_values(fast.values, general.values), (values, fast.values, general.values)
    assert _missing(fast) == _missing(general), values
    assert _problems(fast) == _problems(general), values
    exact_fast, exact_general = _exact(fast, len(values)), _exact(general, len(values))
    if exact_fast is not None or exact_general is not None:  # only rows beyond 2**62 need every digit
        floats = fast.values.tolist()
        assert (exact_fast or [None if f != f else int(f) for f in floats]) == (
            exact_general or [None if f != f else int(f) for f in floats]
        ), values


@pytest.mark.parametrize(
    ("dtype", "values"),
    [
        ("int64", [1, 2, None, 2**63 - 1]),
        ("float64", [1.5, 2, None, float("nan")]),
        ("bool", [True, None, False]),
        ("string", ["a", None, "caf\u00e9"]),
        ("datetime64", ["2024-01-01", "2024-01-01T10:00:00.5", None, "2024-01-01 10:00"]),
        ("datetime64", ["2024-01-01T10:00:00+02:00", "2024-01-01T10:00:00Z"]),
    ],
)
def test_plain_values_take_the_fast_path(dtype: str, values: list[Any]) -> None:
    """The generated comparison above means something only if plain columns take the fast path."""
    assert _FAST[dtype](values, dtype == "int64") is not None


def _sig(*columns: InputColumn) -> Signature:
    return Signature.from_dict(
        {"inputs": [c.to_dict() for c in columns], "output": {"task": "regression", "classes": None,
                                                               "dtype": "float64"}}
    )  # fmt: skip


TEN = _sig(
    *(InputColumn(f"n{i}", "float64", "numeric", False, None, 0.0, 1.0) for i in range(3)),
    *(InputColumn(f"i{i}", "int64", "numeric", True, None, 0, 100) for i in range(2)),
    InputColumn("flag", "bool", "boolean", False, (False, True)),
    *(InputColumn(f"s{i}", "string", "categorical", False, ("a", "b", "c")) for i in range(2)),
    InputColumn("when", "datetime64", "datetime", False, None, "2020-01-01T00:00:00", "2030-01-01T00:00:00"),
    InputColumn("note", "string", "text", True),
)


def _rows(n: int) -> dict[str, list[Any]]:
    return {
        **{f"n{i}": [(k % 97) / 97 for k in range(n)] for i in range(3)},
        **{f"i{i}": [k % 100 for k in range(n)] for i in range(2)},
        "flag": [k % 2 == 0 for k in range(n)],
        **{f"s{i}": ["abc"[k % 3] for k in range(n)] for i in range(2)},
        "when": [f"2024-01-{1 + k % 28:02d}T10:00:00" for k in range(n)],
        "note": [None if k % 5 == 0 else f"note {k}" for k in range(n)],
    }


def test_large_requests_take_the_columnar_path_with_no_row_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(raw: pd.Series, dtype: str) -> Cast:
        raise AssertionError(f"the general path was taken for a plain {dtype} column")

    monkeypatch.setattr(validator_module, "cast_general", refuse)
    checked = Validator(TEN).validate(_rows(20_000), 20_000)
    assert checked.n == 20_000 and not checked.issues
    assert checked.columns["when"][0] == np.datetime64("2024-01-01T10:00:00", "us")


def test_failing_values_are_named_by_row_at_any_size() -> None:
    rows = _rows(10_000)
    rows["n1"][9_000] = float("inf")
    rows["i0"][7_777] = 2.5
    rows["s0"][5_000] = "\ud800"
    rows["when"][9_999] = "2024-02-30"
    rows["flag"][42] = None
    rows["s1"][3] = "zzz"
    rows["n0"][8] = 7.0
    checked = Validator(TEN).validate(rows, 10_000)
    errors = {(i.row, i.column): i.problem for i in checked.errors}
    assert set(errors) == {(9_000, "n1"), (7_777, "i0"), (5_000, "s0"), (9_999, "when"), (42, "flag")}
    assert errors[(9_000, "n1")] == "inf is not a finite number; expected float64"
    assert errors[(7_777, "i0")] == "2.5 is not a whole number; expected int64"
    assert "lone UTF-16 surrogate" in errors[(5_000, "s0")]
    assert errors[(9_999, "when")] == "'2024-02-30' is not an ISO-8601 date or time; expected datetime64"
    assert errors[(42, "flag")].startswith("missing value")
    assert [(i.row, i.column) for i in checked.flags] == [(8, "n0"), (3, "s1")]
    assert checked.error_rows == (42, 5_000, 7_777, 9_000, 9_999)


def test_accepts_missing_turns_a_missing_value_into_a_flag() -> None:
    col = InputColumn("age", "int64", "numeric", False, None, 18, 90)
    assert ColumnRule.of(col).accepts_missing is False  # a column's own, False by default
    values = {"age": [30, None, float("nan")]}
    refused = Validator(_sig(col)).validate(values, 3)
    assert [(i.row, i.severity) for i in refused.issues] == [(1, "error"), (2, "error")]
    filled = InputColumn("age", "int64", "numeric", False, None, 18, 90, accepts_missing=True)
    assert ColumnRule.of(filled).accepts_missing is True
    imputed = Validator(_sig(filled)).validate(values, 3)
    assert [(i.row, i.severity) for i in imputed.issues] == [(1, "flag"), (2, "flag")]
    assert imputed.issues[0].problem == MISSING_IMPUTED and not imputed.error_rows
    assert math.isnan(imputed.columns["age"][1])


def test_coerce_frame_reads_every_shape_alike() -> None:
    rows = _rows(50)
    records = [dict(zip(rows, r, strict=True)) for r in zip(*rows.values(), strict=True)]
    frame = pd.DataFrame(rows)
    results = [coerce_frame(x, TEN) for x in (rows, records, frame)]
    for result in results:
        assert result.ok and not result.issues, result.issues
        pd.testing.assert_frame_equal(result.frame, results[0].frame)
    assert str(results[0].frame["when"].dtype) == "datetime64[us]"
    assert str(results[0].frame["i0"].dtype) == "Int64"
