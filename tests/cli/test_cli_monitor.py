"""skloop monitor (exit 0 without drift, 3 with it; HTML and JSON; served traffic per window) and skloop explain."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from skloop.cli import app
from skloop.data import make_churn

runner = CliRunner()


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained, promoted churn model in a project folder, and new data files beside it."""
    root = tmp_path_factory.mktemp("monitor")
    with pytest.MonkeyPatch.context() as mp:
        for key in ("SKLOOP_STORE_URL", "SKLOOP_ARTIFACT_ROOT"):
            mp.delenv(key, raising=False)
        mp.chdir(root)
        assert invoke("init", "--example", "p", "--rows", "1200").exit_code == 0
        spec = root / "p" / "skloop.yaml"
        text = spec.read_text().replace("n_estimators: 60", "n_estimators: 15").replace("folds: 5", "folds: 3")
        text = text.replace("model__max_depth: [6, 12]", "model__max_depth: [6]")
        spec.write_text(text.replace("model__min_samples_leaf: [1, 5]", "model__min_samples_leaf: [5]"))
        mp.chdir(root / "p")
        result = invoke("train", "-q")
        assert result.exit_code == 0, result.output
        assert invoke("promote", "churn", "1", "--alias", "champion", "--reason", "first").exit_code == 0
    make_churn(600, seed=5).to_csv(root / "p" / "same.csv", index=False)
    make_churn(600, seed=6, shift=1.0).to_csv(root / "p" / "shifted.csv", index=False)
    make_churn(12, seed=7).drop(columns=["churned"]).to_csv(root / "p" / "rows.csv", index=False)
    return root / "p"


@pytest.fixture
def project(champion: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(champion)
    return champion


def test_no_drift_exits_0_and_writes_reports(project: Path) -> None:
    result = invoke("monitor", "churn", "--alias", "champion", "--current", "same.csv",
                    "--report", "out/same.html", "--json", "out/same.json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "No dataset drift" in result.output
    data = json.loads((project / "out" / "same.json").read_text())
    assert data["drifted"] is False and data["model"] == "churn/1"
    assert {"name", "method", "statistic", "threshold", "drifted"} <= set(data["features"][0])
    assert data["performance"]["n_rows"] == 600  # the file has the target column: realised performance
    assert data["estimate"]["estimated"] is True
    assert "holdout" in data["verdict"]["text"]
    html = (project / "out" / "same.html").read_text()
    assert "No dataset drift" in html and "<svg" in html


def test_drift_exits_3(project: Path) -> None:
    result = invoke("monitor", "churn", "--current", "shifted.csv", "--json", "-")
    assert result.exit_code == 3, result.output
    data = json.loads(result.output)
    assert data["drifted"] is True and data["verdict"]["weighted_drift"] > 0.5
    acc = next(m for m in data["performance"]["metrics"] if m["name"] == "accuracy")
    assert acc["change"] < 0  # worse than on the training holdout


def test_reference_file_and_usage_errors(project: Path) -> None:
    result = invoke("monitor", "churn", "--current", "shifted.csv", "--reference", "shifted.csv")
    assert result.exit_code == 0, result.output  # the same data: no drift
    assert invoke("monitor", "churn").exit_code == 2
    assert invoke("monitor", "churn", "--current", "same.csv", "--from-log").exit_code == 2
    missing = runner.invoke(app, ["monitor", "nope", "--current", "same.csv"])
    assert missing.exit_code == 1 and "nope" in missing.output


def test_from_log_per_window(project: Path) -> None:
    from skloop.core import Settings
    from skloop.registry import Registry
    from skloop.store import Store

    store = Store.open(Settings.from_env(project))
    try:
        model = Registry(store).load_model("churn@champion")
        now = datetime.now(UTC)
        records, labels = [], []
        for day, shift in enumerate((0.0, 0.0, 1.0)):
            rows = make_churn(150, seed=30 + day, shift=shift)
            X = rows.drop(columns=["churned"])
            proba = model.predict_proba(X[list(model.feature_names_in_)])
            inputs = X.astype(object).where(X.notna(), None).to_dict("records")
            for i, row in enumerate(inputs):
                row["signup_date"] = str(row["signup_date"])
                request = f"req-{day}"
                records.append({
                    "request_id": request, "row": i, "model": "churn", "version": 1,
                    "time": (now - timedelta(days=2 - day, hours=1)).isoformat(), "inputs": row,
                    "outputs": {"prediction": int(proba[i].argmax()),
                                "probabilities": {"0": float(proba[i, 0]), "1": float(proba[i, 1])}},
                })  # fmt: skip
                if day == 0:
                    labels.append({"request_id": request, "row": i, "label": int(rows["churned"].iloc[i])})
        assert store.predictions.insert_predictions(records) == 450
        store.predictions.insert_labels("churn", labels)
    finally:
        store.close()
    result = invoke("monitor", "churn", "--from-log", "--since", "7d", "--window", "1d",
                    "--report", "weekly.html", "--json", "weekly.json")  # fmt: skip
    assert result.exit_code in (0, 3), result.output
    data = json.loads((project / "weekly.json").read_text())
    windows = data["windows"]["windows"]
    assert sum(w["n_rows"] for w in windows) == 450 and len(windows) >= 3
    assert windows[0]["performance"] is not None and windows[-1]["performance"] is None
    assert all(w["estimate"] is not None for w in windows)
    assert windows[-1]["drift_share"] > windows[0]["drift_share"]
    assert "Over time" in (project / "weekly.html").read_text()
    assert data["multivariate"] is None and windows[0]["multivariate"] is None  # off unless asked for
    # --multivariate: each streamed window gets its AUC and reconstruction error, and the summary a line
    result = invoke("monitor", "churn", "--from-log", "--since", "7d", "--window", "1d", "--multivariate",
                    "--no-store", "--json", "mv.json", "--report", "mv.html")  # fmt: skip
    assert result.exit_code in (0, 3), result.output
    assert "multivariate: " in result.output and "windows" in result.output
    data = json.loads((project / "mv.json").read_text())
    mvs = [w["multivariate"] for w in data["windows"]["windows"]]
    assert all(m is not None and m["classifier"]["auc"] is not None and m["reconstruction"] is not None for m in mvs)
    assert sum(m["n_current"] for m in mvs) == 450 and data["multivariate"]["n_current"] == 450
    assert "Multivariate drift" in (project / "mv.html").read_text()
    empty = runner.invoke(app, ["monitor", "churn", "--from-log", "--since", "1min"])
    assert empty.exit_code == 1 and "no logged prediction" in empty.output


def test_explain(project: Path) -> None:
    from skloop.core import MissingExtraError
    from skloop.monitor._explain import _shap

    try:
        _shap()
    except MissingExtraError:
        pytest.skip("the explain extra (shap) is not installed")
    table = invoke("explain", "churn", "--alias", "champion", "--data", "rows.csv", "--top", "3")
    assert table.exit_code == 0, table.output
    assert "probability of class 1" in table.output
    result = invoke("explain", "churn", "--data", "rows.csv", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["model"] == "churn/1" and len(data["rows"]) == 12
    assert "contract" in data["columns"] and not any("__" in c for c in data["columns"])
    row = data["rows"][0]
    assert row["prediction"] == pytest.approx(data["expected_value"] + sum(row["contributions"].values()))


TIMED_SPEC = """\
name: timed
seed: 1
data: {train: train.csv, target: y, time: timestamp, holdout: 0.25}
features: {drop: [note]}
pipeline:
  model: {class: sklearn.linear_model.LogisticRegression}
search: {strategy: none, cv: {folds: 2}, scoring: [roc_auc], refit: roc_auc, n_jobs: 1}
"""


def _timed(n: int, seed: int, start: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = (x[:, 0] + rng.normal(size=n) > 0).astype(int)
    stamps = pd.date_range(start, periods=n, freq="h").strftime("%Y-%m-%dT%H:%M:%S")
    return pd.DataFrame({"timestamp": stamps, "a": x[:, 0], "b": x[:, 1], "note": rng.normal(size=n), "y": y})


def test_time_windows_of_a_file_cut_by_the_specs_time_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("SKLOOP_STORE_URL", "SKLOOP_ARTIFACT_ROOT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "skloop.yaml").write_text(TIMED_SPEC)
    _timed(400, 0, "2024-01-01").to_csv(tmp_path / "train.csv", index=False)
    current = _timed(24 * 60, 1, "2024-03-01")  # 60 days, one row an hour
    current["note"] = current["note"] * 100  # not read by the model: no drift of it is reported
    current.to_csv(tmp_path / "new.csv", index=False)
    assert invoke("train", "-q").exit_code == 0
    assert invoke("promote", "timed", "1", "--alias", "champion", "--reason", "first").exit_code == 0
    result = invoke("monitor", "timed", "--current", "new.csv", "--window", "30d", "--json", "out.json")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out.json").read_text())
    windows = data["windows"]["windows"]
    assert data["windows"]["window"] == "30d" and len(windows) in (2, 3)
    assert sum(w["n_rows"] for w in windows) == len(current)
    assert [f["name"] for f in data["features"]] == ["a", "b"]


def _stored(project: Path) -> list:  # type: ignore[type-arg]
    from skloop.core import Settings
    from skloop.store import Store

    store = Store.open(Settings.from_env(project))
    try:
        return store.reports.list_reports("churn")
    finally:
        store.close()


def test_monitor_stores_its_report_unless_no_store(project: Path) -> None:
    before = _stored(project)
    result = invoke("monitor", "churn", "--current", "shifted.csv", "--window", "200", "--json", "out/stored.json")
    assert result.exit_code == 3, result.output
    after = _stored(project)
    assert len(after) == len(before) + 1
    stored = after[-1]
    assert f"stored as report {stored.id[:8]}" in result.output and "/models/churn/monitoring" in result.output
    assert (stored.ref, stored.source_kind, stored.source, stored.window) == ("churn/1", "file", "shifted.csv",
                                                                             "200 rows")  # fmt: skip
    written = json.loads((project / "out" / "stored.json").read_text())
    assert stored.drifted is True and stored.n_drifted == len([f for f in written["features"] if f["drifted"]])
    from skloop.core import Settings
    from skloop.store import Store

    store = Store.open(Settings.from_env(project))
    try:
        kept = json.loads(store.reports.load_report(stored))
    finally:
        store.close()
    assert kept["features"] == written["features"] and len(kept["windows"]["windows"]) == 3
    result = invoke("monitor", "churn", "--current", "same.csv", "--no-store")
    assert result.exit_code == 0, result.output
    assert "stored as report" not in result.output and len(_stored(project)) == len(after)


@pytest.fixture(scope="module")
def event_ts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model whose spec's data.time is event_ts, and new rows 10 March - 19 May with New York offsets."""
    root = tmp_path_factory.mktemp("periods")
    (root / "skloop.yaml").write_text(TIMED_SPEC.replace("time: timestamp", "time: event_ts"))
    _timed(400, 0, "2024-01-01").rename(columns={"timestamp": "event_ts"}).to_csv(root / "train.csv", index=False)
    current = _timed(24 * 70, 1, "2024-03-10 06:00").rename(columns={"timestamp": "event_ts"})
    stamps = pd.to_datetime(current["event_ts"]).dt.tz_localize("UTC")
    current["event_ts"] = stamps.dt.tz_convert("America/New_York").map(lambda t: t.isoformat())
    current.to_csv(root / "new.csv", index=False)
    current.rename(columns={"event_ts": "when"}).to_csv(root / "renamed.csv", index=False)
    stamps.dt.tz_localize(None).to_frame("utc").to_csv(root / "utc_times.csv", index=False)
    with pytest.MonkeyPatch.context() as mp:
        for key in ("SKLOOP_STORE_URL", "SKLOOP_ARTIFACT_ROOT"):
            mp.delenv(key, raising=False)
        mp.chdir(root)
        assert invoke("train", "-q").exit_code == 0
        assert invoke("promote", "timed", "1", "--alias", "champion", "--reason", "first").exit_code == 0
    return root


@pytest.fixture
def in_event_ts(event_ts: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in ("SKLOOP_STORE_URL", "SKLOOP_ARTIFACT_ROOT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(event_ts)
    return event_ts


def test_calendar_periods_of_a_file_by_its_own_time_column(in_event_ts: Path) -> None:
    """data.time named event_ts, written with a timezone: --period month cuts by it, partial months marked."""
    result = invoke("monitor", "timed", "--current", "new.csv", "--period", "month", "--json", "out.json",
                    "--report", "out.html", "--no-store")  # fmt: skip
    assert result.exit_code == 0, result.output
    windows = json.loads((in_event_ts / "out.json").read_text())["windows"]["windows"]
    utc = pd.to_datetime(pd.read_csv(in_event_ts / "utc_times.csv")["utc"])
    expected = utc.dt.to_period("M").value_counts().sort_index()  # the independent cut
    assert [w["label"] for w in windows] == [str(p) for p in expected.index] == ["2024-03", "2024-04", "2024-05"]
    assert [w["n_rows"] for w in windows] == expected.tolist()
    assert [w["partial"] for w in windows] == [True, False, True] and not windows[0]["judged"]
    assert windows[0]["coverage"] == pytest.approx((31 - 9.25) / 31, abs=1e-6)  # from 10 March 06:00 UTC
    assert "windows (month): 3, " in result.output and "partial (not judged): 2024-03 (70%), 2024-05 (" in result.output
    assert "(not judged)" in (in_event_ts / "out.html").read_text()


def test_judge_partial_judges_them(in_event_ts: Path) -> None:
    judged = invoke("monitor", "timed", "--current", "new.csv", "--period", "month", "--judge-partial",
                    "--json", "-", "--no-store")  # fmt: skip
    windows = json.loads(judged.output)["windows"]["windows"]
    assert [w["partial"] for w in windows] == [True, False, True] and all(w["judged"] for w in windows)


def test_a_file_without_the_specs_time_column(in_event_ts: Path) -> None:
    missing = runner.invoke(app, ["monitor", "timed", "--current", "renamed.csv", "--period", "week", "--no-store"])
    assert missing.exit_code == 1
    text = " ".join(missing.output.split())
    assert "'event_ts' (data.time of the spec timed/1 was trained with)" in text and "'when'" in text
    assert "--time-column" in text
    by_name = invoke("monitor", "timed", "--current", "renamed.csv", "--period", "week", "--time-column", "when",
                     "--json", "-", "--no-store")  # fmt: skip
    weeks = json.loads(by_name.output)["windows"]["windows"]
    assert by_name.exit_code == 0 and sum(w["n_rows"] for w in weeks) == 24 * 70 and len(weeks) == 11
    assert {pd.Timestamp(w["start"]).day_name() for w in weeks} == {"Monday"}


def test_bad_period_options_are_usage_errors(in_event_ts: Path) -> None:
    bad = runner.invoke(app, ["monitor", "timed", "--current", "new.csv", "--period", "fortnight"])
    text = " ".join(bad.output.split())
    assert bad.exit_code == 2 and "--period 'fortnight' is not a calendar period; use one of hour, day, week" in text
    both = runner.invoke(app, ["monitor", "timed", "--current", "new.csv", "--period", "month", "--window", "7d"])
    assert both.exit_code == 2 and "not both" in both.output
    log = runner.invoke(app, ["monitor", "timed", "--from-log", "--period", "day", "--time-column", "when"])
    assert log.exit_code == 2 and "--time-column applies to --current" in log.output
