"""The monitoring page of a model: stored reports of a real model monitored on shifted data.

A churn forest is trained on the bundled example and monitored twice (see
monitor_helpers): the same population (no drift) and a shifted table in windows of 300
rows. The pages are read with Starlette's TestClient; the expected values come from the
stored reports themselves, read back through the store.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from monitor_helpers import Monitored, monitor_and_store, train_project
from starlette.testclient import TestClient

from skloop.monitor import MonitorReport
from skloop.ui import create_app


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitored]:
    root = tmp_path_factory.mktemp("monitored")
    project = train_project(root)
    try:
        yield monitor_and_store(project, root)
    finally:
        project.close()


@pytest.fixture(scope="module")
def ui(monitored: Monitored) -> Iterator[TestClient]:
    with TestClient(create_app(monitored.project.store, project="churn")) as c:
        yield c


def _report(monitored: Monitored, report_id: str) -> MonitorReport:
    return MonitorReport.from_json(monitored.project.store.reports.load_report(report_id))


def _row(page: str, feature: str) -> str:
    found = re.search(rf'<tr data-feature="{re.escape(feature)}">(.*?)</tr>', page, re.S)
    assert found, f"no heatmap row for {feature}"
    return found.group(1)


def _cells(row: str) -> list[tuple[str, str]]:
    """(class, href) of each tested cell of a heatmap row."""
    return re.findall(r'<td class="([^"]+)"><a href="([^"]+)"', row)


def test_the_latest_verdict_and_the_heatmap_mark_the_drifted_features(ui: TestClient, monitored: Monitored) -> None:
    page = ui.get("/models/churn/monitoring")
    assert page.status_code == 200
    text = page.text
    assert "Latest: Drift detected" in text and "performance alert" in text
    report = _report(monitored, monitored.shifted.id)
    windows = report.windows.windows  # type: ignore[union-attr]
    assert len(windows) == 3
    assert f"{monitored.shifted.n_drifted} / {monitored.shifted.n_features}" in text
    drifted = [f for f in windows[0].features if windows[0].features[f]["drifted"]]
    quiet = [f for f in windows[0].features if not windows[0].features[f]["drifted"]]
    assert drifted and quiet  # the shift moves some features, not all
    for name, expect in ((drifted[0], True), (quiet[0], False)):
        cells = _cells(_row(text, name))
        assert len(cells) == 3  # one per window
        for i, (cls, href) in enumerate(cells):
            assert ("drifted" in cls.split()) == windows[i].features[name]["drifted"]
            assert html.unescape(href).endswith(f"/features/{name}?window={i}")
        assert ("drifted" in cells[0][0].split()) is expect
    first = _row(text, drifted[0])
    assert "● " in first and re.search(r'class="heat-[3-5] drifted"', first)  # coloured past the threshold
    assert re.search(r'class="heat-[0-2]"', _row(text, quiet[0]))
    order = re.findall(r'<tr data-feature="([^"]+)">', text)
    assert order.index(drifted[0]) < order.index(quiet[0])  # drifted, important features first


def test_a_cell_opens_the_two_distributions(ui: TestClient, monitored: Monitored) -> None:
    page = ui.get("/models/churn/monitoring").text
    report = _report(monitored, monitored.shifted.id)
    [cls, href] = next(c for c in _cells(_row(page, "contract")))
    fragment = ui.get(html.unescape(href), headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    body = fragment.text
    assert "<nav" not in body and 'id="feature-distribution"' in body  # the fragment htmx swaps in
    assert '<svg class="chart distribution"' in body and body.count("<rect") >= 4  # two bars per category
    rows = re.findall(r'<tr><td>([^<]+)</td><td class="num">([\d,]+)</td><td class="num">([\d,]+)</td></tr>', body)
    counts = {label: (int(r.replace(",", "")), int(c.replace(",", ""))) for label, r, c in rows}
    window = report.windows.windows[0]  # type: ignore[union-attr]
    assert sum(c for _, c in counts.values()) == window.n_rows  # every row of the window, counted
    assert sum(r for r, _ in counts.values()) == report.drift["contract"].n_reference
    assert set(counts) >= {"month-to-month", "one-year", "two-year"}
    assert ("drifted" in cls.split()) == ("verdict-badge drift" in body)
    full = ui.get(html.unescape(href))
    assert full.status_code == 200 and "<nav" in full.text and "Monitoring of churn" in full.text
    numeric = ui.get(f"/models/churn/monitoring/reports/{monitored.same.id}/features/tenure_months").text
    bins = re.findall(r'<tr><td>([^<]+)</td><td class="num">', numeric)
    assert len(bins) == len(report.drift["tenure_months"].bin_edges) - 1 and "–" in bins[0]  # type: ignore[arg-type]


def test_performance_has_intervals_and_the_estimate_beside_it(ui: TestClient, monitored: Monitored) -> None:
    text = ui.get("/models/churn/monitoring").text
    report = _report(monitored, monitored.shifted.id)
    table = re.search(r'<table class="sk-table performance">(.*?)</table>', text, re.S)
    assert table, "no performance table"
    rows = re.findall(r"<tr><th scope=\"row\"[^>]*>([^<]+)</th>(.*?)</tr>", table.group(1), re.S)
    assert len(rows) == 3
    for (_label, cells), window in zip(rows, report.windows.windows, strict=True):  # type: ignore[union-attr]
        nums = re.findall(r"\[(-?[\d.]+), (-?[\d.]+)\]", cells)
        assert len(nums) == 2  # realised and estimated, each with its interval
        realised = window.performance["roc_auc"]  # type: ignore[index]
        assert f"{realised.value:.3f}" in cells and float(nums[0][0]) <= realised.value <= float(nums[0][1])
        assert f"{window.estimate['roc_auc'].value:.3f}" in cells  # type: ignore[index]
    data = json.loads(re.search(r'<script type="application/json" id="perf-data">(.*?)</script>', text, re.S)[1])  # type: ignore[index]
    assert data["metric"] == "roc_auc" and len(data["labels"]) == 3
    assert data["series"]["realised"]["lower"][0] <= data["series"]["realised"]["value"][0]
    assert data["reference"] == pytest.approx(report.performance["roc_auc"].reference)  # type: ignore[index]
    other = ui.get("/models/churn/monitoring?metric=accuracy").text
    assert "realised accuracy" in other


def test_without_windows_the_columns_are_the_stored_reports(ui: TestClient, monitored: Monitored) -> None:
    text = ui.get(f"/models/churn/monitoring?report={monitored.same.id}").text
    assert "one column per stored report" in text
    cells = _cells(_row(text, "contract"))
    assert len(cells) == 2  # the two stored reports, oldest first
    assert monitored.same.id in cells[0][1] and monitored.shifted.id in cells[1][1]
    for (cls, _), stored in zip(cells, (monitored.same, monitored.shifted), strict=True):
        assert ("drifted" in cls.split()) == stored.summary["features"]["contract"]["drifted"]
    assert "drifted" in cells[1][0].split()  # the shifted table moved the contracts
    assert f'<tr id="r-{monitored.same.id}" class="selected">' in text
    assert "No data-quality flag" in text or '<table class="sk-table quality">' in text


def test_the_stored_reports_open_as_full_html(ui: TestClient, monitored: Monitored) -> None:
    text = ui.get("/models/churn/monitoring").text
    for r in (monitored.same, monitored.shifted):
        assert f'href="/models/churn/monitoring/reports/{r.id}"' in text
    full = ui.get(f"/models/churn/monitoring/reports/{monitored.shifted.id}")
    assert full.status_code == 200
    assert "Drift detected" in full.text and "<svg" in full.text and "Over time (3 windows" in full.text
    assert ui.get(f"/models/churn/monitoring/reports/{monitored.same.id[:8]}").status_code == 200  # a prefix
    model = ui.get("/models/churn").text
    assert 'href="/models/churn/monitoring"' in model


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/models/nope/monitoring", 404),
        ("/models/churn/monitoring/reports/" + "f" * 32, 404),
        ("/models/churn/monitoring/reports/not-an-id", 404),
        ("/models/churn/monitoring?report=" + "f" * 32, 404),
        ("/models/churn/monitoring/reports/{same}/features/no_such_column", 404),
        ("/models/churn/monitoring/reports/{shifted}/features/contract?window=9", 404),
        ("/models/churn/monitoring/reports/{shifted}/features/contract?window=x", 400),
    ],
)
def test_unknown_models_reports_and_features_are_error_pages(
    ui: TestClient, monitored: Monitored, path: str, status: int
) -> None:
    response = ui.get(path.format(same=monitored.same.id, shifted=monitored.shifted.id))
    assert response.status_code == status
    assert "<nav" in response.text and ("Not found" in response.text or "Bad request" in response.text)


def test_a_report_of_another_model_is_not_found(monitored: Monitored, tmp_path: Path) -> None:
    from skloop.store import Store

    with Store.open(f"sqlite:///{tmp_path}/other.db") as other, TestClient(create_app(other)) as c:
        assert c.get(f"/models/churn/monitoring/reports/{monitored.same.id}").status_code == 404


def test_a_model_without_reports_says_how_to_make_one(client: TestClient) -> None:
    page = client.get("/models/churn/monitoring")  # the seeded store: churn has versions, no report
    assert page.status_code == 200
    assert "No monitoring report yet" in page.text and "skloop monitor churn --from-log" in page.text
    assert "--current" in page.text and 'table class="sk-table heatmap"' not in page.text
