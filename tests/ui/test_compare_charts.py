"""The runs page's tag facets, and the compare and run pages' charts: metric curves by
step, per-fold scores from one batched read, and a real search's candidates drawn."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import event
from starlette.testclient import TestClient
from ui_helpers import CURVES, N_BULK, TEAMS, Seeded, log_curves, train_search

from skloop.ui import create_app

TAG_BLOCK = re.compile(r'<div class="tag-facet" data-tag-key="([^"]+)">(.*?)</div>', re.S)
TAG_LINK = re.compile(
    r'<a class="tag-value[^"]*" href="([^"]+)"[^>]*>(?:<span[^>]*>[^<]*</span>)?([^<]*?) '
    r'<span class="count">\((\d[\d,]*)\)</span></a>'
)


def _names(html: str) -> list[str]:
    return re.findall(r'<td><a href="/runs/[0-9a-f]{32}">([^<]+)</a></td>', html)


def _facets(html: str) -> dict[str, dict[str, tuple[int, str]]]:
    """``{key: {value: (count, url)}}`` from the tag facets of a runs page."""
    out = {}
    for key, block in TAG_BLOCK.findall(html):
        links = TAG_LINK.findall(block)
        out[unescape(key)] = {unescape(v): (int(n.replace(",", "")), unescape(u)) for u, v, n in links}
    return out


def _q(url: str) -> str:
    """The filter of a runs page URL."""
    return parse_qs(urlsplit(url).query).get("q", [""])[0]


def _all_names(client: TestClient, url: str) -> list[str]:
    names, page = [], 1
    while True:
        html = client.get(url + ("&" if "?" in url else "?") + f"page={page}&per=200").text
        names += _names(html)
        if 'rel="next"' not in html:
            return names
        page += 1


def test_tag_facets_count_like_a_hand_count_and_narrow_the_filter(client: TestClient, seeded: Seeded) -> None:
    html = client.get("/projects/churn/runs").text
    facets = _facets(html)
    teams = Counter(TEAMS[i % 4] for i in range(N_BULK))
    assert {v: n for v, (n, _) in facets["team"].items()} == dict(teams)
    data = Counter(f"v{i % 8}" for i in range(N_BULK))
    shown = {v: n for v, (n, _) in facets["data"].items()}
    assert len(shown) == 6 and all(data[v] == n for v, n in shown.items())  # capped at six values...
    assert "and 2 more values" in html.split('data-tag-key="data"', 1)[1].split("</div>", 1)[0]  # ...of eight
    # clicking a value filters by it: exactly the runs with that tag
    url = facets["team"]["blue"][1]
    assert _q(url) == "tags.team = 'blue'"
    assert f'value="{_q(url).replace(chr(39), "&#39;")}"' in client.get(url).text  # in the box
    expected = sorted(f"bulk-{i:03d}" for i in range(N_BULK) if TEAMS[i % 4] == "blue")
    assert sorted(_all_names(client, url)) == expected
    # with a filter in the box, the value is and-ed to it
    narrowed = _facets(client.get("/projects/churn/runs", params={"q": "metrics.cv_roc_auc_mean > 0.75"}).text)
    url = narrowed["team"]["red"][1]
    assert _q(url) == "metrics.cv_roc_auc_mean > 0.75 and tags.team = 'red'"
    both = [f"bulk-{i:03d}" for i in range(N_BULK) if TEAMS[i % 4] == "red" and round(0.5 + i / 400, 4) > 0.75]
    assert both and sorted(_all_names(client, url)) == sorted(both)
    # the applied value links back to the filter without it
    applied = client.get(url).text
    assert 'aria-current="true"' in applied
    back = _facets(applied)["team"]["red"][1]
    assert _q(back) == "metrics.cv_roc_auc_mean > 0.75"


def test_tag_facets_come_in_the_htmx_panel(client: TestClient) -> None:
    partial = client.get("/projects/churn/runs", headers={"HX-Request": "true", "HX-Target": "#runs-panel"}).text
    assert "<html" not in partial and set(_facets(partial)) == {"team", "data"}


def _curve_data(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="curve-data">(.*?)</script>', html)
    assert found, "the compare page has no curve data"
    return json.loads(unescape(found.group(1)))


def test_compare_overlays_the_curves_logged_by_step_from_one_history_read(client: TestClient, seeded: Seeded) -> None:
    ids = log_curves(seeded.store)
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(seeded.store.db.reader, "before_cursor_execute", record)
    try:
        response = client.get("/compare", params=[("run", ids["a"]), ("run", ids["b"]), ("run", seeded.best)])
    finally:
        event.remove(seeded.store.db.reader, "before_cursor_execute", record)
    assert response.status_code == 200
    assert len([s for s in statements if "FROM metrics" in s]) == 1  # folds and curves: one batched read
    data = _curve_data(response.text)
    assert data["labels"] == ["curve-a", "curve-b", "best"]
    assert set(data["curves"]) == {"loss", "accuracy"}  # "epochs" was logged once; folds are not curves
    loss = data["curves"]["loss"]
    assert loss["x"] == list(range(6))
    assert loss["y"][0] == [*CURVES["a"]["loss"], None, None]
    assert loss["y"][1] == CURVES["b"]["loss"] and loss["y"][2] == [None] * 6
    accuracy = data["curves"]["accuracy"]
    assert accuracy["x"] == [0, 1, 2, 3] and accuracy["y"][0] == CURVES["a"]["accuracy"]
    html = response.text
    assert html.count("data-curve-chart=") == 2 and 'aria-label="loss by step, one line per run' in html
    folds = html.split('<table class="sk-table compare folds">', 1)[1].split("</table>", 1)[0]
    assert "0.8100" in folds and "0.8400" in folds  # best's folds, from the same read


def test_compare_without_stepped_metrics_says_so(client: TestClient, seeded: Seeded) -> None:
    html = client.get("/compare", params=[("run", seeded.bulk_ids[0]), ("run", seeded.bulk_ids[1])]).text
    assert "None of these runs logged a metric at several steps" in html
    assert _curve_data(html)["curves"] == {}


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str, object]]:
    """A real grid search (8 candidates, 3 folds) trained once, and the UI over its store."""
    project, run_id = train_search(tmp_path_factory.mktemp("search"))
    try:
        with TestClient(create_app(project.store, project="churn")) as c:
            yield c, run_id, project
    finally:
        project.close()


def _svg(html: str, cls: str) -> list[str]:
    return re.findall(rf'<svg class="{cls}".*?</svg>', html, re.S)


def test_run_page_draws_the_real_search_in_parallel_coordinates(searched: tuple[TestClient, str, object]) -> None:
    client, run_id, project = searched
    cv = json.loads(project.store.runs.load_artifact(run_id, "cv_results.json"))  # type: ignore[attr-defined]
    html = client.get(f"/runs/{run_id}").text
    [svg] = _svg(html, "parallel")
    assert svg.count('<polyline class="candidate') == len(cv["candidates"]) == 8
    axes = re.findall(r'<g class="axis axis-(\w+)" data-axis="([^"]+)"', svg)
    kinds = [("ordinal", "model__criterion"), ("log", "model__min_samples_leaf"), ("linear", "mean_test_roc_auc")]
    assert axes == kinds
    assert 'role="img"' in svg and "<title>Parallel coordinates of 8 candidates" in svg
    assert svg.count('class="candidate best"') == 1
    best = max(cv["candidates"], key=lambda c: c["mean_test_roc_auc"])
    title = re.search(r'<polyline class="candidate best"[^>]*><title>([^<]*)</title>', svg).group(1)
    assert f"model__min_samples_leaf={best['params']['model__min_samples_leaf']}" in unescape(title)
    assert f"{best['mean_test_roc_auc']:.4f}" in title
    ticks = re.findall(r'<text class="tick"[^>]*>([^<]*)</text>', svg.split('data-axis="model__criterion"', 1)[1])
    assert ticks[:2] == ["entropy", "gini"]  # the categorical param as an ordinal axis
    # one scatter per varied param, the first shown, the select naming each
    scatters = re.findall(r'<figure class="search-plot scatter" data-scatter-param="([^"]+)"( hidden)?>', html)
    assert scatters == [("model__criterion", ""), ("model__min_samples_leaf", " hidden")]
    assert all(s.count("<circle") == 8 for s in _svg(html, "scatter"))
    assert re.search(r'<select id="search-[0-9a-f]{8}-x" data-scatter-select>', html)


def test_compare_draws_the_search_of_a_selected_run(searched: tuple[TestClient, str, object]) -> None:
    client, run_id, _ = searched
    html = client.get("/compare", params={"run": run_id}).text
    assert "<h2>Search candidates</h2>" in html and len(_svg(html, "parallel")) == 1
    assert "roc_auc" in html.split("<h2>Per-fold scores</h2>", 1)[1]  # the trained run's folds


def test_a_search_of_one_param_has_two_axes(client: TestClient, seeded: Seeded) -> None:
    html = client.get(f"/runs/{seeded.best}").text  # its cv_results.json varies model__C only
    [svg] = _svg(html, "parallel")
    assert svg.count('<polyline class="candidate') == 3 and svg.count('<g class="axis') == 2
