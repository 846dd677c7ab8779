"""Fuzzing the search language: any text is parsed or refused with SearchFilterError, never a crash.

Text goes to :func:`parse_filter` and :func:`parse_order_by`, and what parses is run as
a search on a real SQLite store, so a value the parser accepts cannot crash the SQL
(a huge number, a string compared to a metric, an odd time).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_budget import fuzz_settings
from skloop.core import SearchFilterError
from skloop.store import Store
from skloop.store._filter import parse_filter, parse_order_by

FIELDS = [
    "metrics.auc", "metrics.`val loss`", "params.model__C", "tags.team", "status", "start_time", "end_time",
    "code_dirty", "seed", "pid", "attributes.id", "run.name", "metric.x", "bogus.x", "metrics.", "metrics.``",
]  # fmt: skip
OPS = ["=", "==", "!=", "<>", "<", "<=", ">", ">=", "like", "ilike", "in", "not in", "is", "is not"]
VALUES = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e999", "-1e999", "null", "true", "false", "'2024-01-01'", "'2024-13-99'", "''", "'x''y'"]),
    st.text(max_size=8).map(lambda s: "'" + s.replace("'", "''") + "'"),
    st.lists(st.sampled_from(["1", "'a'", "2.5", "null"]), max_size=3).map(lambda xs: "(" + ", ".join(xs) + ")"),
)
comparison = st.builds(lambda f, o, v: f"{f} {o} {v}", st.sampled_from(FIELDS), st.sampled_from(OPS), VALUES)
grammar = st.recursive(
    comparison,
    lambda inner: st.one_of(
        st.builds(lambda a, j, b: f"{a} {j} {b}", inner, st.sampled_from(["and", "or", "AND", "oR"]), inner),
        inner.map(lambda s: f"({s})"),
        inner.map(lambda s: f"not {s}"),
    ),
    max_leaves=6,
)
# near-grammar text: grammatical filters with characters dropped, doubled or replaced
mutated = st.tuples(grammar, st.integers(0, 60), st.sampled_from(["", "(", ")", "'", "`", "\x00", "é", ",", "  "])).map(
    lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1 :]
)
filters = st.one_of(grammar, mutated, st.text(max_size=40), st.text(alphabet="()'`,.=<>! andorit", max_size=40))


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    base = tmp_path_factory.mktemp("fuzz_filter")
    store = Store.open(f"sqlite:///{base}/skloop.db", base / "artifacts")
    with store.runs.start_run("churn", spec={"name": "churn"}) as run:
        store.runs.log_params(run.id, {"model__C": "1.0"})
        store.runs.log_metrics(run.id, {"auc": 0.8, "val loss": 0.3})
        store.runs.set_tags(run.id, {"team": "a"})
    try:
        yield store
    finally:
        store.close()


def _search(store: Store, text: str, order: list[str] | None = None) -> None:
    with contextlib.suppress(SearchFilterError):
        store.runs.search_runs(filter=text, order_by=order, limit=5)


@fuzz_settings()
@given(text=filters)
def test_any_filter_parses_or_is_refused_and_what_parses_runs(fuzz_store: Store, text: str) -> None:
    try:
        parse_filter(text)
    except SearchFilterError as exc:
        assert str(exc)
        return
    _search(fuzz_store, text)


@fuzz_settings(0.5)
@given(
    items=st.lists(
        st.one_of(st.sampled_from([f"{f} {d}" for f in FIELDS for d in ("", "ASC", "desc")]), st.text(max_size=20)),
        max_size=3,
    )
)
def test_any_order_by_parses_or_is_refused_and_what_parses_runs(fuzz_store: Store, items: list[str]) -> None:
    try:
        parse_order_by(items)
    except SearchFilterError:
        return
    _search(fuzz_store, "", items)


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    with pytest.raises(SearchFilterError):
        parse_filter("(" * 5000 + "status = 'x'" + ")" * 5000)
    with pytest.raises(SearchFilterError):
        parse_filter("not " * 5000 + "status = 'x'")
