"""Fuzzing the request validator: any JSON-like column values give typed columns and issues, never a crash.

A signature with every dtype (each nullable or not, with categories, a range, missing
values accepted or not) is given columns of random JSON values — and the same values
as pandas Series, as a table reader would — through :class:`Validator` and the
server's :class:`~skloop.serve._validate.CompiledSignature` (records, columns, tables).
The validator itself never raises; the server's parser may raise only
:class:`~skloop.core.BadRequestError`, whose message names the problem.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from fuzz_budget import fuzz_settings
from skloop.core import BadRequestError
from skloop.registry import Signature, Validator
from skloop.serve._validate import CompiledSignature

COLUMNS = [
    {"name": "age", "dtype": "int64", "kind": "numeric", "nullable": False, "min": 18, "max": 90},
    {"name": "calls", "dtype": "int64", "kind": "numeric", "nullable": True, "accepts_missing": True},
    {"name": "charges", "dtype": "float64", "kind": "numeric", "nullable": False, "min": 0.5, "max": 1e6,
     "not_numbers": True},
    {"name": "ratio", "dtype": "float64", "kind": "numeric", "nullable": True},
    {"name": "paperless", "dtype": "bool", "kind": "boolean", "nullable": False, "categories": [False, True]},
    {"name": "contract", "dtype": "string", "kind": "categorical", "nullable": True,
     "categories": ["month", "year", "two years"]},
    {"name": "note", "dtype": "string", "kind": "text", "nullable": False},
    {"name": "signup", "dtype": "datetime64", "kind": "datetime", "nullable": False,
     "min": "2020-01-01T00:00:00", "max": "2024-12-31T00:00:00"},
    {"name": "seen", "dtype": "datetime64", "kind": "datetime", "nullable": True, "accepts_missing": True},
]  # fmt: skip
SIGNATURE = Signature.from_dict({"inputs": COLUMNS, "output": {"task": "binary", "classes": [0, 1], "dtype": "int64"}})
NAMES = [c["name"] for c in COLUMNS]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.sampled_from([
        "", "NaN", "nan", "inf", "-0", "1e999", "0x10", "1_000", " 7 ", "true", "FALSE", "yes", "month", "year",
        "2024-01-01", "2024-02-30", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00+25:00", "0001-01-01",
        "9999-12-31T23:59:59.999999999", "1970-01-01 00:00:00-12:00", "\x00", "é",
    ]),
)  # fmt: skip
values = st.one_of(scalars, st.lists(scalars, max_size=2), st.dictionaries(st.text(max_size=3), scalars, max_size=2))


@st.composite
def requests(draw: st.DrawFn) -> tuple[int, dict[str, list[Any]]]:
    n = draw(st.integers(1, 6))
    names = draw(st.lists(st.sampled_from([*NAMES, "extra"]), unique=True, max_size=len(NAMES) + 1))
    return n, {name: draw(st.lists(values, min_size=n, max_size=n)) for name in names}


def _check(checked: Any, n: int) -> None:
    assert checked.n == n
    for name in NAMES:
        assert len(checked.columns[name]) == n
    assert all(0 <= row < n for row in checked.error_rows)
    assert all(issue.problem for issue in checked.issues)


@fuzz_settings(0.3)
@given(request=requests())
def test_any_columns_are_typed_with_issues_never_a_crash(request: tuple[int, dict[str, list[Any]]]) -> None:
    n, columns = request
    validator = Validator(SIGNATURE)
    extras = [c for c in columns if c not in NAMES]
    _check(validator.validate(columns, n, extras), n)
    # the same values as object Series (as from a table) take the general path
    _check(validator.validate({k: pd.Series(v, dtype=object) for k, v in columns.items()}, n, extras, None), n)


@fuzz_settings(0.3)
@given(request=requests(), shape=st.sampled_from(["records", "columns", "table", "split"]))
def test_the_servers_parsing_answers_or_refuses_with_a_bad_request(
    request: tuple[int, dict[str, list[Any]]], shape: str
) -> None:
    n, columns = request
    compiled = CompiledSignature(SIGNATURE, id_column="id")
    try:
        if shape == "records":
            compiled.from_records([{k: v[i] for k, v in columns.items()} for i in range(n)])
        elif shape == "columns":
            compiled.from_columns(columns)
        elif shape == "split":
            names = list(columns)
            compiled.from_table({"columns": names, "data": [[columns[k][i] for k in names] for i in range(n)]})
        else:
            frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()}, index=np.arange(n))
            compiled.from_frame(frame)
    except BadRequestError as exc:
        assert str(exc)
