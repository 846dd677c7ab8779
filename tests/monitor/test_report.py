"""The report: JSON per feature and verdict, round trips, and an HTML file that reads well in Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from skloop.data import infer_schema
from skloop.monitor import MonitorReport, build_report, compare_data, monitor_frame, render_report_html

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]  # fmt: skip
IMPORTANCE = {"tenure_months": {"mean": 0.05}, "contract": {"mean": 0.02}, "age": {"mean": 0.001}}


@pytest.fixture(scope="module")
def report(perf_log: pd.DataFrame, perf_churn_model: tuple) -> MonitorReport:
    model, estimator, train = perf_churn_model
    return monitor_frame(
        perf_log, train, schema=infer_schema(train, target="churned"), window="1d", task="classification",
        classes=model.classes_, reference_metrics={"holdout_accuracy": 0.76, "holdout_roc_auc": 0.7},
        importance=IMPORTANCE, estimator=estimator, model="churn/1", n_boot=100,
        reference_name="training data", current_name="prediction log",
    )  # fmt: skip


def test_json_has_each_feature_and_the_verdict(report: MonitorReport) -> None:
    data = json.loads(report.to_json())
    for feature in data["features"]:
        assert {"name", "method", "statistic", "threshold", "drifted"} <= set(feature)
        assert isinstance(feature["drifted"], bool)
    assert data["drifted"] is True and data["verdict"]["drifted"] is True
    assert data["verdict"]["text"].startswith("Drift detected")
    assert data["format"] == "skloop.monitor.report/1" and data["model"] == "churn/1"
    assert data["performance"]["metrics"][0]["name"] == "accuracy" and data["estimate"]["estimated"] is True
    assert len(data["windows"]["windows"]) == 5
    # importance x drift: the drifted important columns lead the ranking
    assert [r["name"] for r in data["ranking"][:2]] == ["tenure_months", "contract"]


def test_json_round_trips(report: MonitorReport) -> None:
    again = MonitorReport.from_json(report.to_json())
    assert again == report
    assert again.to_dict() == report.to_dict()


def test_verdict_weighs_drift_by_importance(drift_frames) -> None:  # type: ignore[no-untyped-def]
    ref, cur = drift_frames(800, 1), drift_frames(800, 2, shifted=("num_normal",))
    drift = compare_data(ref, cur)
    assert drift.drifted_features == ["num_normal"]
    important = build_report(drift, importance={"num_normal": 0.9, "cat_a": 0.1})
    unimportant = build_report(drift, importance={"num_normal": 0.01, "cat_a": 0.99})
    assert important.weighted_drift == pytest.approx(0.9) and unimportant.weighted_drift == pytest.approx(0.01)
    assert "most important drifted: num_normal" in important.verdict()
    assert important.ranking()[0]["name"] == "num_normal"
    assert unimportant.ranking()[0]["name"] == "num_normal"  # drifted columns come first, by importance


def test_html_is_self_contained(report: MonitorReport) -> None:
    html = render_report_html(report)
    assert html.index("id='verdict'") < html.index("Features, by importance") < html.index("Over time")
    assert html.index("Over time") < html.index("Data quality") < html.index("Performance")
    assert not re.search(r"(?:src|href)\s*=\s*['\"]?(?:https?:)?//", html), "an external reference"
    assert "<script" not in html and "@import" not in html and "url(" not in html
    assert html.count("<svg") >= 7 + 4  # a distribution per feature and the time series
    assert "<script>" not in render_report_html(build_report(report.drift, model="<script>alert(1)</script>"))


def test_html_renders_in_chromium(report: MonitorReport, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); the report cannot be looked at")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the dev extra) is not installed")
    page_file = tmp_path / "report.html"
    page_file.write_text(render_report_html(report), encoding="utf-8")
    errors: list[str] = []
    failed: list[str] = []
    requested: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.on("request", lambda r: requested.append(r.url))
            page.goto(page_file.as_uri())
            verdict = page.locator("#verdict")
            assert verdict.is_visible()
            assert "Drift detected" in verdict.inner_text()
            box = verdict.bounding_box()
            assert box is not None and box["y"] < 200  # the verdict comes first, above the fold
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            n_svg = page.locator("svg").count()
        finally:
            browser.close()
    assert errors == [] and failed == []
    assert requested == [page_file.as_uri()]  # nothing but the file itself
    assert shot.stat().st_size > 10_000 and n_svg >= 11


HOSTILE = "<script>alert(\"x\")</script> & 'q'"
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;q&#39;"


def _sections(page: str) -> dict[str, str]:
    parts = page.split("<h2>")
    return {"head": parts[0], **{p.split("</h2>")[0]: p for p in parts[1:]}}


def test_html_escapes_names_metrics_and_reasons(drift_frames) -> None:  # type: ignore[no-untyped-def]
    from skloop.monitor import MetricResult, PerformanceReport

    ref = drift_frames(400, 1).rename(columns={"cat_a": HOSTILE})
    cur = drift_frames(400, 2, shifted=("cat_a",)).rename(columns={"cat_a": HOSTILE})
    cur.loc[:20, "cat_b"] = HOSTILE  # an unseen category: named in the quality check's detail
    perf = PerformanceReport(task="classification", n_rows=400, metrics=(MetricResult(name=HOSTILE, value=0.5),))
    drift = compare_data(ref, cur)
    report = build_report(
        drift, importance={HOSTILE: 1.0}, performance=perf, model=HOSTILE, reference_name=HOSTILE, current_name="now"
    )
    page = render_report_html(report)
    assert "<script" not in page and "'q'" not in page
    sections = _sections(page)
    assert f"<title>Monitor report — {ESCAPED}</title>" in sections["head"]
    assert f"most important drifted: {ESCAPED}" in sections["head"]  # the verdict
    assert f"<strong>{ESCAPED}</strong>" in sections["Features, by importance × drift"]  # column name
    quality = sections["Data quality"]
    assert f"<td>{ESCAPED}</td>" in quality  # a checked column
    # the reason names the category (by its repr)
    assert "<td>1 unseen values (&#39;&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; " in quality
    assert f"<td>{ESCAPED}</td>" in sections["Performance"]  # metric name
