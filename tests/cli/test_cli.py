"""The CLI end to end in a temporary directory, through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skloop.cli import app

runner = CliRunner()

FAST = {
    "n_estimators: 60": "n_estimators: 10",
    "model__max_depth: [6, 12]": "model__max_depth: [4, 8]",
    "folds: 5": "folds: 3",
}


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    result = invoke("init", "--example", str(tmp_path / "demo"), "--rows", "900")
    assert result.exit_code == 0, result.output
    spec = tmp_path / "demo" / "skloop.yaml"
    text = spec.read_text()
    for old, new in FAST.items():
        assert old in text
        text = text.replace(old, new)
    spec.write_text(text)
    monkeypatch.chdir(tmp_path / "demo")
    return tmp_path / "demo"


def test_init_train_runs_show_datasets_reproduce(project_dir: Path) -> None:
    result = invoke("train", "-q")
    assert result.exit_code == 0, result.output
    assert "roc_auc (refit)" in result.output and "best params" in result.output
    assert "positive class: 1 (inferred;" in result.output  # the summary says which class f1 is about

    listing = invoke("runs", "--json")
    assert listing.exit_code == 0
    (run,) = json.loads(listing.output)
    assert run["status"] == "finished" and run["kind"] == "train"
    assert run["metrics"]["cv_roc_auc_mean"] > 0.6

    table = invoke("runs")
    assert run["id"][:8] in table.output and "±" in table.output

    shown = invoke("show", run["id"][:10])
    assert shown.exit_code == 0 and run["id"] in shown.output and "model.skops" in shown.output
    detail = json.loads(invoke("show", run["id"], "--json").output)
    assert len(detail["metric_history"]["cv_roc_auc_fold"]) == 3

    datasets = json.loads(invoke("datasets", "--json").output)
    assert len(datasets) == 1 and datasets[0]["n_rows"] == 900
    assert invoke("datasets").exit_code == 0

    rep = invoke("reproduce", run["id"], "--json", "-q")
    assert rep.exit_code == 0, rep.output
    outcome = json.loads(rep.output)
    assert outcome["identical"] is True and outcome["compared"] == 9 and outcome["mismatches"] == []

    listing = json.loads(invoke("runs", "--json").output)
    assert {r["kind"] for r in listing} == {"train", "reproduce"}


def test_reproduce_fails_with_exit_1_when_scores_differ(project_dir: Path) -> None:
    # an unseeded forest is not reproducible: the user pinned random_state to null
    spec = project_dir / "skloop.yaml"
    spec.write_text(spec.read_text().replace("n_jobs: 1\n", "n_jobs: 1\n      random_state: null\n", 1))
    assert invoke("train", "-q").exit_code == 0
    (run,) = json.loads(invoke("runs", "--json").output)
    rep = invoke("reproduce", run["id"], "-q")
    assert rep.exit_code == 1
    assert "not reproduced" in rep.output and "fold" in rep.output


def test_init_from_data_infers_a_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke("init", "--example", "ex", "--rows", "300").exit_code == 0
    result = invoke("init", "--data", "ex/data/churn.csv", "--target", "churned", "--out", "mine.yaml")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "mine.yaml").read_text()
    assert "RandomForestClassifier" in text and "customer_id" in text  # the id column is dropped
    again = invoke("init", "--data", "ex/data/churn.csv", "--target", "churned", "--out", "mine.yaml")
    assert again.exit_code == 2 and "--force" in again.output


def test_init_from_data_warns_about_what_it_decided(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    from skloop.data import make_churn

    monkeypatch.chdir(tmp_path)
    df = make_churn(300, seed=0)
    df["churn_proba"] = df["churned"] * 0.9 + 0.05  # another model's output
    df.to_csv("table.csv", index=False)
    result = invoke("init", "--data", "table.csv", "--target", "churned")
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "'churn_proba'" in result.output and "leak" in result.output
    assert "'customer_id'" in result.output and "data.id" in result.output
    out = invoke("init", "--data", "table.csv", "--target", "churned", "--force", "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    kinds = {(f["column"], f["kind"]) for f in data["findings"]}
    assert {("customer_id", "id"), ("churn_proba", "leak")} <= kinds
    leak = next(f for f in data["findings"] if f["column"] == "churn_proba")
    assert leak["evidence"]["name"] is True and leak["evidence"]["roc_auc"] == 1.0
    assert data["task"] == "classification" and data["spec"] == "skloop.yaml"


def test_spec_error_exits_2_with_the_key(project_dir: Path) -> None:
    spec = project_dir / "skloop.yaml"
    spec.write_text(spec.read_text().replace("strategy: grid", "strategy: gird"))
    result = invoke("train")
    assert result.exit_code == 2
    assert "search.strategy" in result.output and "'gird'" in result.output


def test_missing_target_column_exits_1(project_dir: Path) -> None:
    spec = project_dir / "skloop.yaml"
    spec.write_text(spec.read_text().replace("target: churned", "target: churn"))
    result = invoke("train")
    assert result.exit_code == 1
    assert "churn" in result.output and "churned" in result.output


def test_unknown_run_exits_1(project_dir: Path) -> None:
    result = invoke("show", "deadbeef")
    assert result.exit_code == 1 and "deadbeef" in result.output


def test_usage_errors_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke("init").exit_code == 2
    assert invoke("train", "--no-such-flag").exit_code == 2


def test_every_command_has_help() -> None:
    for command in (
        [],
        ["init"],
        ["train"],
        ["runs"],
        ["show"],
        ["datasets"],
        ["reproduce"],
        ["demo"],
        ["db"],
        ["db", "upgrade"],
    ):
        result = invoke(*command, "--help")
        assert result.exit_code == 0 and "Usage" in result.output


def test_console_script_runs() -> None:
    exe = Path(sys.executable).parent / "skloop"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"})
    assert out.returncode == 0 and "reproduce" in out.stdout
