"""``skloop monitor --shadow``: a served champion and its shadow, compared on the requests the server logged."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from plain_project import PLAIN_SPEC, plain_table, write_plain_project
from scipy import stats
from sklearn.metrics import accuracy_score, roc_auc_score
from starlette.testclient import TestClient
from typer.testing import CliRunner

from skloop.cli import app as cli
from skloop.core import DataError, UsageError
from skloop.registry import Registry
from skloop.serve import create_app
from skloop.store import Store
from skloop.workflows import Project, monitor_model

SLOW_MACHINE = 30.0  # seconds a response may wait for the shadow: the test checks answers, not latency
ROWS = 600


class MemoryLog:
    """A prediction sink in memory: what the server would write to its log."""

    def __init__(self) -> None:
        self.records: list[Mapping[str, Any]] = []

    async def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.records.extend(records)


def _train(project_path: Path, trees: int, leaf: int) -> int:
    text = PLAIN_SPEC.format(loop="").replace("n_estimators: 25, min_samples_leaf: 5",
                                              f"n_estimators: {trees}, min_samples_leaf: {leaf}")  # fmt: skip
    project_path.write_text(text)
    with Project.load(project_path) as project:
        result = project.train()
        assert result.model_version is not None
        return result.model_version


def _serve(root: Path, frame: pd.DataFrame, *, shadow: str | None = "challenger") -> list[Mapping[str, Any]]:
    """Send ``frame`` to a real app serving plain@champion (shadowed by ``shadow``) in requests of 100 rows."""
    from skloop.core import Settings

    log = MemoryLog()
    server = create_app(
        Settings.from_env(root, env={}), model_name="plain", prediction_log=log, poll_seconds=None, onnx=False,
        shadow_alias=shadow, shadow_timeout=SLOW_MACHINE,
    )  # fmt: skip
    sent = frame.drop(columns=["y", "leak", "timestamp"])
    try:
        with TestClient(server) as client:
            for start in range(0, len(sent), 100):
                part = sent.iloc[start : start + 100]
                response = client.post("/invocations", json={"dataframe_records": part.to_dict("records")})
                assert response.status_code == 200, response.text
    finally:
        server.registry.store.close()
    return log.records


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[Mapping[str, Any]], pd.DataFrame]]:
    """plain v1 champion (25 trees), v2 challenger (3 shallow trees), 600 rows served with the shadow, logged."""
    root = tmp_path_factory.mktemp("shadow") / "p"
    path = write_plain_project(root, rows=1200)
    _train(path, 25, 5)
    _train(path, 3, 60)
    with Project.load(path) as project:
        registry = Registry(project.store)
        registry.promote("plain", 1, "champion", reason="test")
        registry.promote("plain", 2, "challenger", reason="test")
    frame = plain_table(ROWS, seed=7, shift=0.3)
    records = _serve(root, frame)
    store = Store.open(Project.load(path).settings)
    try:
        store.predictions.insert_predictions(records)
    finally:
        store.close()
    yield path, records, frame


def _pairs(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The hand computation's input: served and shadow answers per logged row, from the records themselves."""
    return pd.DataFrame({
        "request_id": [r["request_id"] for r in records], "row": [r["row"] for r in records],
        "served": [r["outputs"]["prediction"] for r in records],
        "shadow": [r["outputs"]["shadow"]["prediction"] for r in records],
        "served_p1": [r["outputs"]["probabilities"]["1"] for r in records],
        "shadow_p1": [r["outputs"]["shadow"]["probabilities"]["1"] for r in records],
    })  # fmt: skip


def test_agreement_and_confusion_match_pandas_before_labels(served: Any) -> None:
    path, records, _ = served
    pairs = _pairs(records)
    with Project.load(path) as project:
        report = monitor_model(project.store, "plain", project.settings, from_log=True, shadow=True, n_boot=0,
                               page_size=128)  # fmt: skip
    s = report.shadow
    assert s is not None and s.task == "classification"
    assert s.n_rows == s.n_shadowed == ROWS and s.n_failed == 0
    assert s.served_versions == {"1": ROWS} and s.shadow_versions == {"2": ROWS}
    expected = float((pairs["served"] == pairs["shadow"]).mean())
    assert 0.6 < expected < 0.99  # two different models: some disagreement, mostly agreement
    assert s.agreement == pytest.approx(expected, abs=1e-12)
    assert report.summary()["shadow"]["agreement"] == s.agreement  # what the stored reports list shows
    table = pd.crosstab(pairs["served"].astype(str), pairs["shadow"].astype(str)).reindex(
        index=["0", "1"], columns=["0", "1"], fill_value=0)  # fmt: skip
    assert s.classes == ["0", "1"] and s.confusion == table.to_numpy().tolist()
    # output drift: the monitor's tests of the shadow's outputs against the served ones (exact below 100,000 pairs)
    drift = {f.name: f for f in s.drift}
    assert set(drift) == {"prediction", "probability of 1"}
    assert s.n_drift_rows == ROWS
    ks = stats.ks_2samp(pairs["served_p1"], pairs["shadow_p1"])
    p1 = drift["probability of 1"]
    if p1.method == "ks":
        assert p1.statistic == pytest.approx(ks.statistic, abs=1e-12)
    assert s.n_labelled == 0 and s.comparison is None and "post labels" in (s.comparison_reason or "")
    assert "agrees with the served model (v1)" in s.conclusion() and "No comparison on labels" in s.conclusion()
    again = type(report).from_json(report.to_json())
    assert again.shadow is not None and again.shadow.to_dict() == s.to_dict()


def _delong_by_hand(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """DeLong's test, the O(m·n) textbook way: the difference of AUCs and its standard error."""
    pos, neg = y == 1, y == 0

    def components(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        psi = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (s[pos][:, None] == s[neg][None, :])
        return psi.mean(axis=1), psi.mean(axis=0)

    (v10a, v01a), (v10b, v01b) = components(a), components(b)
    s10 = np.cov(np.vstack([v10a, v10b]))
    s01 = np.cov(np.vstack([v01a, v01b]))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / pos.sum() + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / neg.sum()
    return float(v10b.mean() - v10a.mean()), float(np.sqrt(var))


def test_labels_bring_both_metrics_and_the_loops_paired_test(served: Any, tmp_path: Path) -> None:
    path, records, frame = served
    pairs = _pairs(records)
    y = frame["y"].to_numpy()  # rows were sent in the frame's order, requests of 100
    labelled = np.arange(ROWS) % 3 != 0  # two thirds of the rows get their label
    with Project.load(path) as project:
        project.store.predictions.insert_labels("plain", [
            {"request_id": r["request_id"], "row": r["row"], "label": int(y[i])}
            for i, r in enumerate(records) if labelled[i]
        ])  # fmt: skip
        report = monitor_model(project.store, "plain", project.settings, from_log=True, shadow=True, n_boot=50)
    s = report.shadow
    assert s is not None and s.n_labelled == int(labelled.sum())
    yl, sub = y[labelled], pairs[labelled]
    assert s.served_performance is not None and s.shadow_performance is not None
    assert s.served_performance["accuracy"].value == pytest.approx(accuracy_score(yl, sub["served"]), abs=1e-12)
    assert s.shadow_performance["accuracy"].value == pytest.approx(accuracy_score(yl, sub["shadow"]), abs=1e-12)
    assert s.served_performance["roc_auc"].value == pytest.approx(roc_auc_score(yl, sub["served_p1"]), abs=1e-12)
    c = s.comparison
    assert c is not None and c.metric == "roc_auc" and c.method == "delong"  # the loop's auto, on a binary model
    assert c.champion == pytest.approx(roc_auc_score(yl, sub["served_p1"]), abs=1e-12)
    assert c.challenger == pytest.approx(roc_auc_score(yl, sub["shadow_p1"]), abs=1e-12)
    diff, se = _delong_by_hand(yl, sub["served_p1"].to_numpy(), sub["shadow_p1"].to_numpy())
    assert c.difference == pytest.approx(diff, abs=1e-12)
    assert c.detail["se"] == pytest.approx(se, rel=1e-9)
    assert c.margin == 0.02  # the spec's loop.compare
    assert c.p_value == pytest.approx(stats.norm.sf((diff - 0.02) / se), rel=1e-9)
    assert not s.better  # three shallow trees do not beat the champion
    assert "keep the served model" in s.conclusion()


def test_no_shadow_configured_says_so_and_what_to_do(tmp_path: Path) -> None:
    path = write_plain_project(tmp_path / "p", rows=600)
    _train(path, 5, 5)
    with Project.load(path) as project:
        Registry(project.store).promote("plain", 1, "champion", reason="test")
    records = _serve(tmp_path / "p", plain_table(100, seed=3), shadow=None)
    with Project.load(path) as project:
        project.store.predictions.insert_predictions(records)
        with pytest.raises(DataError, match=r"none of the 100 logged predictions .* carries a shadow output") as err:
            monitor_model(project.store, "plain", project.settings, from_log=True, shadow=True, n_boot=0)
        assert "skloop serve plain --shadow challenger" in str(err.value)
        assert "skloop promote plain VERSION --alias challenger" in str(err.value)  # no challenger yet
        with pytest.raises(UsageError, match="--from-log --shadow"):
            monitor_model(project.store, "plain", project.settings, current=plain_table(10, seed=1), shadow=True)
    result = CliRunner().invoke(cli, ["monitor", "plain", "--shadow", "--spec", str(path), "--no-store"])
    assert result.exit_code != 0 and "carries a shadow output" in result.output
    assert "Traceback" not in result.output


def test_a_shadow_that_always_failed_is_named(served: Any, tmp_path: Path) -> None:
    _, records, _ = served
    failed = [{**r, "request_id": "f-" + r["request_id"],
               "outputs": {**r["outputs"], "shadow": {"version": 2, "error": "timed out after 100 ms"}}}
              for r in records[:50]]  # fmt: skip
    copy = tmp_path / "p"
    write_plain_project(copy, rows=600)
    _train(copy / "skloop.yaml", 5, 5)
    with Project.load(copy / "skloop.yaml") as project:
        Registry(project.store).promote("plain", 1, "champion", reason="test")
        project.store.predictions.insert_predictions(failed)
        with pytest.raises(
            DataError, match=r"failed on all 50 shadowed rows .*timed out after 100 ms.*--shadow-timeout"
        ):
            monitor_model(project.store, "plain", project.settings, from_log=True, shadow=True, n_boot=0)


def test_cli_prints_the_section_and_writes_it_to_json_and_html(served: Any, tmp_path: Path) -> None:
    path, _, _ = served
    out, html = tmp_path / "r.json", tmp_path / "r.html"
    result = CliRunner().invoke(cli, ["monitor", "plain", "--shadow", "--spec", str(path), "--no-store", "--n-boot",
                                      "0", "--json", str(out), "--report", str(html)])  # fmt: skip
    assert result.exit_code in (0, 3), result.output
    assert "shadow against served" in result.output and "served \\ shadow" in result.output
    doc = json.loads(out.read_text())
    assert doc["shadow"]["n_shadowed"] == ROWS and doc["shadow"]["conclusion"].startswith("The shadow (v2)")
    page = html.read_text()
    assert "Shadow against served" in page and "agrees with the served model" in page
    bad = CliRunner().invoke(cli, ["monitor", "plain", "--shadow", "--current", "x.csv", "--spec", str(path)])
    assert bad.exit_code != 0 and "drop --current" in bad.output


def test_cli_shadow_per_day_in_utc_and_in_a_time_zone(served: Any, tmp_path: Path) -> None:
    """600 served rows re-timed every 10 min across Paris' change to summer time; the shadow flipped later on."""
    _, records, _ = served
    t0 = pd.Timestamp("2026-03-27T21:00:00Z")
    rng = np.random.default_rng(3)
    moved = []
    for i, r in enumerate(records):
        when = t0 + pd.Timedelta(minutes=10 * i)
        sh = dict(r["outputs"]["shadow"])
        if when >= pd.Timestamp("2026-03-29T12:00:00Z") and rng.random() < 0.5:
            sh["prediction"] = 1 - int(sh["prediction"])
        moved.append({**r, "time": when.to_pydatetime(), "outputs": {**r["outputs"], "shadow": sh}})
    copy = tmp_path / "p"
    write_plain_project(copy, rows=600)
    _train(copy / "skloop.yaml", 5, 5)
    with Project.load(copy / "skloop.yaml") as project:
        Registry(project.store).promote("plain", 1, "champion", reason="test")
        project.store.predictions.insert_predictions(moved)
    frame = pd.DataFrame({"time": pd.to_datetime([m["time"] for m in moved], utc=True),
                          "agree": [m["outputs"]["prediction"] == m["outputs"]["shadow"]["prediction"]
                                    for m in moved]})  # fmt: skip
    base = ["monitor", "plain", "--shadow", "--spec", str(copy / "skloop.yaml"), "--no-store", "--n-boot", "0"]
    for tz in (None, "Europe/Paris"):
        out, html = tmp_path / f"{tz is None}.json", tmp_path / f"{tz is None}.html"
        args = [*base, "--period", "day", "--json", str(out), "--report", str(html)] + (["--tz", tz] if tz else [])
        result = CliRunner().invoke(cli, args)
        assert result.exit_code in (0, 3), result.output
        assert "shadow against served per day" in result.output
        doc = json.loads(out.read_text())
        days = frame["time"].dt.tz_convert(tz or "UTC").dt.floor("D")
        expected = frame.groupby(days)["agree"].mean()
        shadow = doc["shadow"]["windows"]["windows"]
        assert [w["agreement"] for w in shadow] == pytest.approx(expected.tolist(), abs=1e-12)
        assert [w["start"] for w in shadow] == [d.isoformat() for d in expected.index]
        normal = doc["windows"]["windows"]  # the monitor's own windows: the same bounds and partial marks
        assert [(w["start"], w["end"], w["partial"]) for w in shadow] == [
            (w["start"], w["end"], w["partial"]) for w in normal
        ]
        assert shadow[0]["partial"] and min(expected.iloc[:2]) > max(expected.iloc[-2:])
        assert "Agreement of the shadow per window" in html.read_text()
    assert shadow[2]["start"] == "2026-03-29T00:00:00+01:00" and shadow[2]["end"] == "2026-03-30T00:00:00+02:00"
    bad = CliRunner().invoke(cli, [*base, "--period", "day", "--tz", "Paris/Nowhere"])
    assert bad.exit_code == 2 and "--tz" in bad.output and "Europe/Paris" in bad.output
    alone = CliRunner().invoke(cli, [*base, "--window", "1d", "--tz", "Europe/Paris"])
    assert alone.exit_code == 2 and "--period" in alone.output
