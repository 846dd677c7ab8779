"""Pages of a search (offset and total in SQL), runs per status, and the projects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from skloop.core import StoreError
from skloop.store import Run, SearchFilterError, Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _seed(store: Store, n: int = 37) -> list[str]:
    runs = [
        Run(
            id="", project="churn" if i % 4 else "fraud", kind="train",
            status=("finished", "failed")[i % 3 == 0], start_time=T0 + timedelta(minutes=i),
            params={"c": str(i % 5)}, metrics={"auc": i / 100},
        )
        for i in range(n)
    ]  # fmt: skip
    return store.runs.import_runs(runs)


def test_pages_are_the_search_cut_in_sql(store: Store) -> None:
    _seed(store)
    whole = [r.id for r in store.runs.search_runs("churn", order_by="metrics.auc DESC", limit=None)]
    pages = [store.runs.search_runs_page("churn", order_by="metrics.auc DESC", limit=10, offset=o) for o in (0, 10, 20)]
    assert [r.id for p in pages for r in p.runs] == whole
    assert [p.total for p in pages] == [len(whole)] * 3
    assert [p.has_next for p in pages] == [True, True, False]


def test_total_counts_the_filtered_runs(store: Store) -> None:
    _seed(store)
    where = "metrics.auc > 0.1 and params.c = '1'"
    page = store.runs.search_runs_page("churn", filter=where, limit=2, status="finished")
    expected = store.runs.search_runs("churn", filter=where, status="finished", limit=None)
    assert page.total == len(expected) and [r.id for r in page.runs] == [r.id for r in expected[:2]]


def test_a_page_past_the_end_is_empty_but_counted(store: Store) -> None:
    _seed(store)
    page = store.runs.search_runs_page("churn", limit=10, offset=500)
    assert page.runs == [] and page.total == 27 and not page.has_next


def test_status_counts_and_projects(store: Store) -> None:
    _seed(store)
    counts = store.runs.facets("churn").statuses
    assert counts == {"finished": sum(1 for i in range(37) if i % 4 and i % 3), "failed": 9}
    assert sum(store.runs.facets().statuses.values()) == 37
    assert store.runs.facets("nope").statuses == {}
    assert store.runs.facets().projects == ["churn", "fraud"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"filter": "metrics.auc >"}, SearchFilterError, "bad search filter"),
        ({"order_by": "metrics.auc sideways"}, SearchFilterError, "bad order_by item"),
        ({"status": "done"}, StoreError, "unknown status 'done'"),
        ({"limit": 0}, StoreError, "a page holds 1 to 500 runs"),
        ({"limit": 501}, StoreError, "a page holds 1 to 500 runs"),
        ({"offset": -1}, StoreError, "offset must be a non-negative integer"),
    ],
)
def test_bad_pages_are_refused(store: Store, kwargs: dict[str, object], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        store.runs.search_runs_page("churn", **kwargs)  # type: ignore[arg-type]
