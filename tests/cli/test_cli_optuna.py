"""``skloop train`` with ``search.strategy: optuna`` end to end, and its spec mistakes named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skloop.cli import app

runner = CliRunner()

OPTUNA_SEARCH = """\
search:
  strategy: optuna
  n_trials: 8
  space:
    model__max_depth: {dist: randint, low: 2, high: 12}
    model__min_samples_leaf: {dist: randint, low: 1, high: 20}
  cv:
    folds: 3
  scoring: [roc_auc, accuracy]
  refit: roc_auc
  n_jobs: 1
"""


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    assert invoke("init", "--example", str(tmp_path / "demo"), "--rows", "500").exit_code == 0
    spec = tmp_path / "demo" / "skloop.yaml"
    text = spec.read_text().replace("n_estimators: 60", "n_estimators: 8")
    spec.write_text(text[: text.index("search:")] + OPTUNA_SEARCH)
    monkeypatch.chdir(tmp_path / "demo")
    return tmp_path / "demo"


def test_train_with_optuna_records_trials_and_registers(project_dir: Path) -> None:
    pytest.importorskip("optuna")
    result = invoke("train", "-q")
    assert result.exit_code == 0, result.output
    assert "8 candidates" in result.output and "best params" in result.output
    (run,) = json.loads(invoke("runs", "--json").output)
    assert run["status"] == "finished" and run["params"]["search.strategy"] == "optuna"
    assert any(k.startswith("best.model__max_depth") for k in run["params"])
    models = invoke("models", "--json")
    assert models.exit_code == 0 and "churn" in models.output


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("n_trials: 8", "n_trials: 0", "search.n_trials"),
        ("n_trials: 8", "n_trials: 8\n  timeout: soon", "search.timeout"),
        ("{dist: randint, low: 2, high: 12}", "{dist: randint, low: 2.5, high: 12}", "search.space.model__max_depth"),
        ("strategy: optuna", "strategy: grid", "search"),
    ],
)
def test_a_bad_optuna_spec_is_named_before_any_run(project_dir: Path, old: str, new: str, key: str) -> None:
    spec = project_dir / "skloop.yaml"
    good = spec.read_text()
    spec.write_text(good.replace(old, new))
    result = runner.invoke(app, ["train", "-q"])
    assert result.exit_code != 0
    assert key in result.output, result.output
    spec.write_text(good)
    assert json.loads(invoke("runs", "--json").output) == []  # refused before a run started
