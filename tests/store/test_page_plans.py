"""The planned pages of a search (a driving metric or param, the runs in order, a walked metric index)
give the rows and the counts a brute-force evaluation of the filter over every run gives."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from skloop.store import Run, Store
from skloop.store import _pages as pages
from skloop.store._filter import BoolOp, Comparison, parse_filter, parse_order_by

T0 = datetime(2026, 1, 1, tzinfo=UTC)
N_RUNS = 240
LIMIT = 7
FILTERS = [
    None,
    "metrics.a > 0.5",
    "metrics.a > 0.5 and params.p = '1'",
    "metrics.a > 0.97",
    "metrics.a <= 0.3 and metrics.b > 0.2",
    "metrics.b is null",
    "metrics.b is not null and params.q != '2'",
    "metrics.a > 0.8 or params.p = '3'",
    "params.p in ('1', '2') and metrics.c in (1, 2)",
    "params.p not in ('1') and metrics.c >= 2",
    "status = 'failed' and metrics.a < 0.5",
    "tags.t = 'x' and metrics.b != 0.5",
    "params.p = 'none'",
    "(metrics.c = 3 or metrics.c = 0) and metrics.a > 0.1",
    "params.q = 'x' and metrics.a > 0.5",  # a param that matches nothing drives (its (key, value) index)
    "params.p = '2' and params.q in ('0', '1')",
    f"params.mid = '{'m' * 400}1' and status = 'finished'",  # long, but within the partial index
    f"params.long = '{'v' * 600}1'",  # longer than the partial index holds: cannot drive
]
ORDERS = [
    (),
    ("metrics.a DESC",),
    ("metrics.b ASC",),
    ("metrics.c DESC", "name"),
    ("name ASC",),
    ("params.p DESC", "metrics.a"),
]
OFFSETS = [0, LIMIT, 100, 200]


def _runs() -> list[Run]:
    rng = random.Random(7)
    runs = []
    for i in range(N_RUNS):
        metrics = {"a": rng.random(), "c": float(rng.randint(0, 3))}
        if i % 5:
            metrics["b"] = math.nan if i % 7 == 0 else rng.random()
        params = {"p": str(rng.randint(0, 4))}
        if i % 3:
            params["q"] = str(rng.randint(0, 2))
        if i % 4 == 1:
            params["mid"] = "m" * 400 + str(i % 3)
        if i % 5 == 2:
            params["long"] = "v" * 600 + str(i % 2)
        runs.append(
            Run(
                id=f"{rng.getrandbits(128):032x}", project="churn" if i % 6 else "fraud", kind="train",
                status="failed" if i % 4 == 0 else "finished",
                start_time=T0 + timedelta(minutes=i // 3),  # three runs per minute: ties broken by id
                end_time=T0 + timedelta(minutes=i // 3, seconds=5), name=None if i % 11 == 0 else f"run-{i:04d}",
                params=params, tags={"t": "x"} if i % 2 else {}, metrics=metrics,
            )
        )  # fmt: skip
    return runs


def _value(run: Run, entity: str, key: str) -> Any:
    if entity == "metrics":
        v = run.metrics.get(key)
        return None if v is None or math.isnan(v) else v
    if entity in ("params", "tags"):
        return (run.params if entity == "params" else run.tags).get(key)
    return getattr(run, key)


def _holds(node: Comparison | BoolOp, run: Run) -> bool | None:
    """SQL's three-valued truth of ``node`` for ``run``."""
    if isinstance(node, BoolOp):
        parts = [_holds(t, run) for t in node.terms]
        if node.op == "and":
            return False if False in parts else None if None in parts else True
        return True if True in parts else None if None in parts else False
    v = _value(run, node.entity, node.key)
    if node.op == "is null":
        return v is None
    if node.op == "is not null":
        return v is not None
    if node.op == "not in":
        return v is not None and v not in node.value
    if v is None:
        return None
    if node.op == "in":
        return v in node.value
    return {"=": v == node.value, "!=": v != node.value, "<": v < node.value, "<=": v <= node.value,
            ">": v > node.value, ">=": v >= node.value}[node.op]  # fmt: skip


def _expected(
    runs: list[Run], project: str, where: str | None, order: tuple[str, ...], statuses: tuple[str, ...]
) -> list[str]:
    node = parse_filter(where) if where else None
    out = [r for r in runs if r.project == project and (not statuses or r.status in statuses)]
    out = [r for r in out if node is None or _holds(node, r) is True]
    keys = parse_order_by(list(order))
    fields = [(k.entity, k.key, k.descending) for k in keys]
    if ("attributes", "start_time") not in {(e, k) for e, k, _ in fields}:
        fields.append(("attributes", "start_time", True))
    fields.append(("attributes", "id", False))
    for entity, key, desc in reversed(fields):  # stable sorts, last key first; NULLs last
        have = [r for r in out if _value(r, entity, key) is not None]
        have.sort(key=lambda r: _value(r, entity, key), reverse=desc)
        out = have + [r for r in out if _value(r, entity, key) is None]
    return [r.id for r in out]


@pytest.fixture
def seeded(store: Store) -> tuple[Store, list[Run]]:
    runs = _runs()
    store.runs.import_runs(runs)
    return store, runs


@pytest.mark.parametrize("drive_below", [0, 10**9], ids=["runs-or-walk", "driven"])
def test_every_plan_gives_the_brute_force_rows_and_counts(
    seeded: tuple[Store, list[Run]], monkeypatch: pytest.MonkeyPatch, drive_below: int
) -> None:
    store, runs = seeded
    monkeypatch.setattr(pages, "DRIVE_BELOW", drive_below)
    for where in FILTERS:
        for statuses in ((), ("failed",)):
            expected_all = _expected(runs, "churn", where, (), statuses)
            assert store.runs.count_runs("churn", filter=where, status=list(statuses)) == len(expected_all), where
            for order in ORDERS:
                expected = _expected(runs, "churn", where, order, statuses)
                assert sorted(expected) == sorted(expected_all)
                for offset in OFFSETS:
                    page = store.runs.search_runs_page(
                        "churn", filter=where, order_by=list(order), status=list(statuses), limit=LIMIT, offset=offset
                    )
                    case = (where, order, statuses, offset)
                    assert [r.id for r in page.runs] == expected[offset : offset + LIMIT], case
                    assert page.total == len(expected) and page.total_exact, case
                    assert page.has_next == (offset + LIMIT < len(expected)), case


@pytest.mark.parametrize("drive_below", [0, 10**9], ids=["runs-or-walk", "driven"])
def test_counts_up_to_a_cap_or_later(
    seeded: tuple[Store, list[Run]], monkeypatch: pytest.MonkeyPatch, drive_below: int
) -> None:
    store, runs = seeded
    monkeypatch.setattr(pages, "DRIVE_BELOW", drive_below)
    where = "metrics.a > 0.3"
    n = len(_expected(runs, "churn", where, (), ()))
    assert n > 30
    capped = store.runs.search_runs_page("churn", filter=where, limit=LIMIT, count_up_to=20)
    assert (capped.total, capped.total_exact, capped.has_next) == (20, False, True)
    deep = store.runs.search_runs_page("churn", filter=where, limit=LIMIT, offset=21, count_up_to=20)
    assert (deep.total, deep.total_exact) == (28, False)  # the cap is never before the page's end
    roomy = store.runs.search_runs_page("churn", filter=where, limit=LIMIT, count_up_to=n)
    assert (roomy.total, roomy.total_exact) == (n, True)
    later = store.runs.search_runs_page("churn", filter=where, limit=LIMIT, count_up_to=0)
    assert (later.total, later.total_exact, later.has_next, len(later.runs)) == (None, False, True, LIMIT)
    last = store.runs.search_runs_page("churn", filter=where, limit=LIMIT, offset=n - 3, count_up_to=0)
    assert (last.total, last.total_exact, last.has_next) == (n, True, False)  # the last page's end is the total
    assert store.runs.count_runs("churn", filter=where, up_to=20) == 21  # more than 20
    assert store.runs.count_runs("churn", filter=where, up_to=n) == n


def _statements(store: Store, **kwargs: Any) -> list[str]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()))

    engine = store.db.reader
    event.listen(engine, "before_cursor_execute", record)
    try:
        store.runs.search_runs_page("churn", limit=LIMIT, count_up_to=0, **kwargs)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def test_a_selective_metric_or_param_picks_the_runs_and_a_common_one_does_not(seeded: tuple[Store, list[Run]]) -> None:
    store, _ = seeded
    monkeypatch = pytest.MonkeyPatch()
    with monkeypatch.context() as m:
        m.setattr(pages, "DRIVE_BELOW", 30)  # fewer than 30 of the 240 runs have a > 0.9; most have a > 0.1
        with store.db.session("planning", read=True) as conn:
            assert pages.plan_driver(conn, "metrics.a > 0.1 and metrics.a > 0.9 and params.p = '1'") == 1
            assert pages.plan_driver(conn, "metrics.a > 0.1 and params.p = '1'") is None
            assert pages.plan_driver(conn, "metrics.a > 0.9 or params.p = '1'") is None  # an 'or' cannot drive
            assert pages.plan_driver(conn, "metrics.a != 0.9") is None  # not a range of the index
            assert pages.plan_driver(conn, "metrics.a > 0.1 and params.q = 'x'") == 1  # no run: the param drives
            assert pages.plan_driver(conn, "metrics.a > 0.9 and params.q in ('x', 'y')") == 1  # 0 < ~24 runs
            assert pages.plan_driver(conn, "metrics.a > 0.1 and params.p = '1'") is None  # ~48 runs: not selective
            assert pages.plan_driver(conn, "params.q != 'x'") is None  # not an equality
            assert pages.plan_driver(conn, f"params.long = '{'v' * 600}'") is None  # not in the partial index
        by_param = _statements(store, filter="metrics.a > 0.1 and params.q = 'x'")
        assert any("FROM params WHERE params.key = " in s.replace('"', "") and " IN (SELECT" in s for s in by_param)
        driven = _statements(store, filter="metrics.a > 0.9 and params.p = '1'")
        assert any("WHERE latest_metrics.key = " in s.replace('"', "") and " IN (SELECT" in s for s in driven), driven
        walked = _statements(store, filter="metrics.a > 0.1", order_by="metrics.c DESC")
        assert any("FROM latest_metrics AS walk" in s for s in walked), walked
        ordered = _statements(store, filter="metrics.a > 0.1")
        pagers = [s for s in ordered if s.startswith("SELECT runs.id")]
        assert pagers and all(" JOIN " not in s for s in pagers), pagers  # probes, no join: runs drive


def test_a_param_longer_than_its_index_holds_is_logged_and_found(store: Store) -> None:
    rng = random.Random(3)
    long = "".join(f"{rng.getrandbits(4096):x}" for _ in range(10))  # ~10,000 hex digits: hardly compressible
    assert len(long) > 9_000
    with store.runs.start_run("churn") as run:
        store.runs.log_params(run.id, {"long": long, "short": "s"})  # a B-tree entry would exceed ~2,700 bytes
    with store.runs.start_run("churn") as other:
        store.runs.log_params(other.id, {"long": "x", "short": "s"})
    for where in (f"params.long = '{long}'", f"params.long = '{long}' and params.short = 's'"):
        page = store.runs.search_runs_page("churn", filter=where)
        assert [r.id for r in page.runs] == [run.id] and page.total == 1, where
    assert [r.id for r in store.runs.search_runs_page("churn", filter="params.long = 'x'").runs] == [other.id]
