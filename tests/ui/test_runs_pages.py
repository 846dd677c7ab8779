"""The runs table (pagination in SQL, sort, filter, status facet, htmx partials) and compare."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import event
from starlette.testclient import TestClient
from ui_helpers import N_BULK, Seeded

N_RUNS = N_BULK + 3


def _names(html: str) -> list[str]:
    """The run names in the table, in order."""
    return re.findall(r'<td><a href="/runs/[0-9a-f]{32}">([^<]+)</a></td>', html)


def test_home_opens_the_projects_runs(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "/projects/churn/runs"


def _summary(html: str) -> str:
    """The text of the table's summary line, tags stripped."""
    line = html.split('id="runs-summary">', 1)[1].split("</p>", 1)[0]
    return unescape(re.sub(r"<[^>]+>", "", line))


def test_first_page_holds_fifty_runs_and_counts_them_later(client: TestClient) -> None:
    html = client.get("/projects/churn/runs").text
    names = _names(html)
    assert len(names) == 50
    assert names[:3] == ["broken", "other", "best"]  # newest first
    assert 'rel="next"' in html and 'rel="prev"' not in html
    # the table is not held up by the count: the summary asks for it once loaded
    assert 'hx-get="/projects/churn/runs/count" hx-trigger="load"' in html
    assert f"{N_RUNS} runs" not in _summary(html) and _summary(html).endswith(", showing 1–50")
    assert '<span id="runs-pages">page 1</span>' in html
    count = client.get("/projects/churn/runs/count")
    assert count.status_code == 200
    assert f'<span id="runs-total">{N_RUNS} runs</span>' in count.text
    assert '<span id="runs-pages" hx-swap-oob="true">page 1 of 3</span>' in count.text  # the pager, out of band


def test_count_all_counts_in_the_page_and_the_last_page_knows_its_total(client: TestClient) -> None:
    html = client.get("/projects/churn/runs?count=all").text
    assert _summary(html) == f"{N_RUNS} runs, showing 1–50" and "runs/count" not in html.split("</p>")[0]
    assert "count=all" in html.split('rel="next"', 1)[1].split(">", 1)[0]  # the choice follows the pages
    last = client.get("/projects/churn/runs?page=3").text  # its end is the total: nothing to count
    assert _summary(last) == f"{N_RUNS} runs, showing 101–{N_RUNS}" and "page 3 of 3" in last


def test_a_count_over_the_cap_says_more_than_and_counts_all_on_demand(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from skloop.ui import _runs_pages

    monkeypatch.setattr(_runs_pages, "COUNT_CAP", 100)
    capped = client.get("/projects/churn/runs/count", params={"q": "metrics.cv_roc_auc_mean > 0", "per": "20"}).text
    assert "more than 100 runs" in capped and "page 1 of more than 5" in capped
    link = re.search(r'hx-get="([^"]+)"', capped)
    assert (
        link is not None and "count=all" in link.group(1) and "per=20" in link.group(1) and "q=metrics" in link.group(1)
    )
    exact = client.get(unescape(link.group(1))).text
    assert f'<span id="runs-total">{N_RUNS - 1} runs</span>' in exact and "more than" not in exact
    assert client.get("/projects/churn/runs/count", params={"q": "metrics.auc >"}).text == ""  # the page says why


def test_pages_follow_each_other_without_overlap(client: TestClient) -> None:
    pages = [_names(client.get(f"/projects/churn/runs?page={p}").text) for p in (1, 2, 3)]
    assert [len(p) for p in pages] == [50, 50, N_RUNS - 100]
    assert len({n for p in pages for n in p}) == N_RUNS
    last = client.get("/projects/churn/runs?page=3").text
    assert 'rel="next"' not in last and 'rel="prev"' in last
    beyond = client.get("/projects/churn/runs?page=99")
    assert beyond.status_code == 200 and "No runs match." in beyond.text


def test_a_page_is_read_with_limit_and_offset_in_sql(client: TestClient, seeded: Seeded) -> None:
    statements: list[str] = []
    engine = seeded.store.db.reader  # the engine the pages read through

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        client.get("/projects/churn/runs?page=2&per=20")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    searches = [s for s in statements if s.startswith("SELECT runs.id, runs.project") and "ORDER BY" in s]
    assert searches and all("LIMIT" in s and "OFFSET" in s for s in searches), searches


def test_bad_page_numbers_fall_back_to_the_first_page(client: TestClient) -> None:
    for page in ("x", "-3", "0"):
        response = client.get(f"/projects/churn/runs?page={page}")
        assert response.status_code == 200 and len(_names(response.text)) == 50


@pytest.mark.parametrize(("direction", "first"), [("asc", "bulk-000"), ("desc", "best")])
def test_sort_by_a_metric_column(client: TestClient, direction: str, first: str) -> None:
    html = client.get(f"/projects/churn/runs?sort=metrics.cv_roc_auc_mean&dir={direction}").text
    assert _names(html)[0] == first
    assert f'aria-sort="{direction}ending"' in html


def test_sort_links_toggle_the_direction(client: TestClient) -> None:
    html = client.get("/projects/churn/runs?sort=name&dir=desc").text
    assert "/projects/churn/runs?sort=name&amp;dir=asc" in html
    assert _names(client.get("/projects/churn/runs?sort=name&dir=asc").text)[:2] == ["best", "broken"]


def test_filter_uses_the_store_language(client: TestClient) -> None:
    html = client.get("/projects/churn/runs", params={"q": "params.model__C = '10.0'"}).text
    assert _names(html) == ["other"]
    html = client.get("/projects/churn/runs", params={"q": "metrics.cv_roc_auc_mean > 0.79"}).text
    assert sorted(_names(html)) == ["best", "bulk-117", "bulk-118", "bulk-119"]
    assert _summary(html) == "4 runs, showing 1–4"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "metrics.cv_roc_auc_mean >"}, "bad search filter"),
        ({"q": "metrics.x > 1 and ("}, "bad search filter"),
        ({"q": "params.a = 'unterminated"}, "bad search filter"),
        ({"sort": "no such field!"}, "bad order_by item"),
    ],
)
def test_a_malformed_filter_is_shown_beside_the_box_never_a_500(
    client: TestClient, params: dict[str, str], message: str
) -> None:
    response = client.get("/projects/churn/runs", params=params)
    assert response.status_code == 200
    form = response.text.split('<form class="runs-filter"', 1)[1].split("</form>", 1)[0]
    error = re.search(r'<p id="filter-error" class="filter-error" role="alert">([^<]*)</p>', form)
    assert error and message in error.group(1)
    assert 'aria-invalid="true"' in form
    assert _names(response.text) == []


def test_status_facet_filters_and_counts(client: TestClient) -> None:
    html = client.get("/projects/churn/runs?status=failed&status=killed").text
    statuses = re.findall(r'<span class="status (\w+)">', html)
    assert statuses and set(statuses) == {"failed", "killed"}
    failed = sum(1 for i in range(N_BULK) if i % 5 == 3) + 1
    assert f'value="failed" checked> failed <span class="count">({failed})</span>' in html


def test_htmx_gets_the_panel_alone(client: TestClient) -> None:
    headers = {"HX-Request": "true", "HX-Target": "#runs-panel"}
    partial = client.get("/projects/churn/runs?page=2", headers=headers)
    assert partial.status_code == 200
    assert "<html" not in partial.text and "<table" in partial.text and len(_names(partial.text)) == 50
    assert "Vary" in partial.headers
    full = client.get("/projects/churn/runs?page=2", headers={**headers, "HX-History-Restore-Request": "true"})
    assert "<html" in full.text


def test_unknown_project_is_a_404_page(client: TestClient) -> None:
    response = client.get("/projects/nope/runs")
    assert response.status_code == 404 and "project 'nope' has no runs" in unescape(response.text)


def test_compare_highlights_differing_params_and_shows_folds(client: TestClient, seeded: Seeded) -> None:
    response = client.get("/compare", params=[("run", seeded.best), ("run", seeded.other)])
    assert response.status_code == 200
    html = response.text
    rows = re.findall(r'<tr( class="diff")?><th scope="row">([\w.]+)', html)
    flagged = {key for flag, key in rows if flag}
    assert "model__C" in flagged and "model" not in flagged and "search.cv.folds" not in flagged
    assert {"model", "model__C", "search.cv.folds"} <= {key for _, key in rows}
    assert "cv_roc_auc_mean" in flagged  # metrics differ too
    folds = html.split('<table class="sk-table compare folds">', 1)[1].split("</table>", 1)[0]
    assert "0.8100" in folds and "0.7000" in folds and folds.count("<tr>") == 4  # header + 3 folds
    assert 'id="fold-data"' in html and "uPlot.iife.min.js" in html


def test_compare_accepts_prefixes_and_refuses_unknown_or_none(client: TestClient, seeded: Seeded) -> None:
    assert client.get("/compare", params={"run": seeded.best[:10]}).status_code == 200
    missing = client.get("/compare", params=[("run", seeded.best), ("run", "f" * 32)])
    assert missing.status_code == 404 and "does not exist" in missing.text
    assert client.get("/compare").status_code == 400
