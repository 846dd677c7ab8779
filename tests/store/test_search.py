"""search_runs: the filter language, ordering and limits."""

from __future__ import annotations

import pytest

from skloop.core import StoreError, UsageError
from skloop.store import MAX_FILTER_DEPTH, SearchFilterError, Store


@pytest.fixture
def runs(store: Store) -> dict[str, str]:
    """Six runs with known metrics, params, tags and statuses; name -> id."""
    spec = [
        # name, auc, depth, status, tag
        ("r0", 0.95, "8", "finished", "a"),
        ("r1", 0.85, "8", "finished", "b"),
        ("r2", 0.75, "4", "finished", "a"),
        ("r3", 0.90, "4", "failed", "b"),
        ("r4", None, "8", "finished", "a"),
        ("r5", 0.60, "16", "running", None),
    ]
    ids = {}
    for name, auc, depth, status, tag in spec:
        run = store.runs.create_run("search", name=name, seed=int(name[1]))
        store.runs.log_param(run.id, "model__max_depth", depth)
        if auc is not None:
            store.runs.log_metric(run.id, "cv_roc_auc", auc)
            store.runs.log_metric(run.id, "fit_time", 10 * auc)
        if tag is not None:
            store.runs.set_tag(run.id, "group", tag)
        if status != "running":
            store.runs.finish_run(run.id, status)
        ids[name] = run.id
    other = store.runs.create_run("elsewhere", name="x")
    store.runs.log_metric(other.id, "cv_roc_auc", 0.99)
    return ids


def names(result: list) -> list[str]:
    return [r.name for r in result]


def test_filter_order_limit(store: Store, runs: dict[str, str]) -> None:
    found = store.runs.search_runs(
        "search",
        filter="metrics.cv_roc_auc > 0.8 and params.model__max_depth = '8' and status = 'finished'",
        order_by=["metrics.cv_roc_auc DESC"],
    )
    assert names(found) == ["r0", "r1"]
    assert found[0].metrics["cv_roc_auc"] == 0.95 and found[0].params == {"model__max_depth": "8"}
    asc = store.runs.search_runs("search", filter="metrics.cv_roc_auc >= 0.75", order_by="metrics.cv_roc_auc")
    assert names(asc) == ["r2", "r1", "r3", "r0"]
    assert names(store.runs.search_runs("search", order_by=["metrics.cv_roc_auc DESC"], limit=2)) == ["r0", "r3"]
    # runs without the metric sort last either way
    assert names(store.runs.search_runs("search", order_by=["metrics.cv_roc_auc"]))[-1] == "r4"
    assert names(store.runs.search_runs("search", order_by=["metrics.cv_roc_auc DESC"]))[-1] == "r4"
    # default order: newest first
    assert names(store.runs.search_runs("search")) == ["r5", "r4", "r3", "r2", "r1", "r0"]
    assert names(store.runs.search_runs("search", limit=1)) == ["r5"]
    assert len(store.runs.search_runs(limit=None)) == 7
    assert names(store.runs.search_runs(filter="metrics.cv_roc_auc > 0.96")) == ["x"]


def test_filter_language(store: Store, runs: dict[str, str]) -> None:
    def q(text: str, **kw: object) -> list[str]:
        return sorted(names(store.runs.search_runs("search", filter=text, **kw)))  # type: ignore[arg-type]

    assert q("metrics.cv_roc_auc < 0.8 or tags.group = 'b'") == ["r1", "r2", "r3", "r5"]
    assert q("(tags.group = 'a' or tags.group = 'b') and metrics.cv_roc_auc > 0.8") == ["r0", "r1", "r3"]
    assert q("params.model__max_depth in ('4', '16')") == ["r2", "r3", "r5"]
    assert q("params.model__max_depth not in ('8')") == ["r2", "r3", "r5"]
    assert q("params.model__max_depth = 8 and metrics.cv_roc_auc != 0.95") == ["r1"]
    assert q("metrics.cv_roc_auc is null") == ["r4"]
    assert q("tags.group is null") == ["r5"]
    assert q("tags.group is not null and status != 'finished'") == ["r3"]
    assert q("name like 'r%' and seed >= 4") == ["r4", "r5"]
    assert q("attributes.status = 'failed'") == ["r3"]
    assert q("run_id = '" + runs["r2"] + "'") == ["r2"]
    assert q("start_time > '2000-01-01' and end_time is null") == ["r5"]
    assert q("metrics.`fit_time` > 8.9") == ["r0", "r3"]
    assert q("metrics.cv_roc_auc > '0.9'") == ["r0"]
    assert q("metrics.cv_roc_auc > 0.5", status=["failed", "running"]) == ["r3", "r5"]
    assert q("metrics.cv_roc_auc > 0.5", status="running") == ["r5"]


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("metrics.cv_roc_auc > high", "high"),
        ("metrics.cv_roc_auc >", "<end>"),
        ("color = 'red'", "color"),
        ("metrics.auc > 0.5 and", "<end>"),
        ("metrics.auc ~ 0.5", "~ 0.5"),
        ("metrics.auc > 'abc'", "'abc'"),
        ("metrics.auc > 0.5 params.x = '1'", "params.x"),
        ("(metrics.auc > 0.5", "<end>"),
        ("metrics.auc like 'x%'", "like"),
        ("metrics.auc > 0.5; DROP TABLE runs", "; DROP TAB"),
    ],
)
def test_bad_filter_names_the_token(store: Store, text: str, token: str) -> None:
    with pytest.raises(StoreError, match=r"bad search filter") as info:
        store.runs.search_runs(filter=text)
    assert f"token {token!r}" in str(info.value)


def test_bad_filters_and_orderings_are_usage_errors(store: Store) -> None:
    for kwargs in ({"filter": "status ="}, {"order_by": ["colour"]}):
        with pytest.raises(SearchFilterError) as info:
            store.runs.search_runs(**kwargs)
        assert isinstance(info.value, StoreError) and isinstance(info.value, UsageError)


def test_nesting_is_capped_with_a_named_error(store: Store, runs: dict[str, str]) -> None:
    deepest = "(" * MAX_FILTER_DEPTH + "metrics.cv_roc_auc > 0.94" + ")" * MAX_FILTER_DEPTH
    assert names(store.runs.search_runs("search", filter=deepest)) == ["r0"]
    for depth in (MAX_FILTER_DEPTH + 1, 300, 5000):  # 300 was a RecursionError
        text = "(" * depth + "status = 'finished'" + ")" * depth
        with pytest.raises(SearchFilterError) as info:
            store.runs.search_runs(filter=text)
        message = str(info.value)
        assert f"at position {MAX_FILTER_DEPTH + 1}, token '('" in message
        assert f"parentheses nest more than {MAX_FILTER_DEPTH} deep" in message


def test_bad_order_and_arguments(store: Store) -> None:
    with pytest.raises(StoreError, match=r"bad order_by item 'metrics.auc SIDEWAYS'"):
        store.runs.search_runs(order_by=["metrics.auc SIDEWAYS"])
    with pytest.raises(StoreError, match=r"bad order_by item 'colour'"):
        store.runs.search_runs(order_by=["colour"])
    with pytest.raises(StoreError, match=r"unknown status 'done'"):
        store.runs.search_runs(status="done")
    with pytest.raises(StoreError, match=r"limit must be a positive integer"):
        store.runs.search_runs(limit=0)
    assert store.runs.search_runs("search") == []


def test_a_key_in_backticks_works_in_the_filter_and_the_ordering(store: Store) -> None:
    for name, loss in (("low", 0.1), ("high", 0.7), ("mid", 0.4)):
        run = store.runs.create_run("spaced", name=name)
        store.runs.log_metric(run.id, "val loss", loss)
        store.runs.finish_run(run.id, "finished")
    found = store.runs.search_runs("spaced", filter="metrics.`val loss` > 0.2", order_by="metrics.`val loss` DESC")
    assert names(found) == ["high", "mid"]
    assert names(store.runs.search_runs("spaced", order_by=["metrics.`val loss`"])) == ["low", "mid", "high"]
    # several keys in one item, separated by commas, like a SQL ORDER BY
    assert names(store.runs.search_runs("spaced", order_by="metrics.`val loss` asc, name")) == ["low", "mid", "high"]
    for bad in ("metrics.`val loss", "metrics.`val loss` DESC DESC", "metrics.a,", "'name'"):
        with pytest.raises(SearchFilterError, match=r"bad order_by item"):
            store.runs.search_runs("spaced", order_by=bad)
