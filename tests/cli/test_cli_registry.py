"""The registry commands end to end: train twice, promote, roll back, history, lineage, card."""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skloop.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def _trained_twice_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project trained twice, once per module (each test gets a copy)."""
    root = tmp_path_factory.mktemp("registry")
    assert invoke("init", "--example", str(root / "p"), "--rows", "700").exit_code == 0
    spec = root / "p" / "skloop.yaml"
    text = spec.read_text().replace("n_estimators: 60", "n_estimators: 10").replace("folds: 5", "folds: 3")
    text = text.replace("model__max_depth: [6, 12]", "model__max_depth: [6]")
    text = text.replace("model__min_samples_leaf: [1, 5]", "model__min_samples_leaf: [5]")
    spec.write_text(text + "gates:\n  min: {holdout_roc_auc: 0.5}\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root / "p")
        for _ in range(2):
            result = invoke("train", "-q")
            assert result.exit_code == 0, result.output
            assert "registered churn v" in result.output
    return root / "p"


@pytest.fixture
def trained_twice(_trained_twice_once: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(_trained_twice_once, tmp_path / "p")
    monkeypatch.chdir(tmp_path / "p")
    return tmp_path / "p"


def test_models_promote_rollback_history_lineage_card(trained_twice: Path) -> None:
    models = json.loads(invoke("models", "--json").output)
    assert [(m["name"], m["latest_version"], m["n_versions"]) for m in models] == [("churn", 2, 2)]
    versions = json.loads(invoke("models", "churn", "--json").output)
    assert {v["version"] for v in versions} == {1, 2} and all(v["status"] == "registered" for v in versions)

    assert invoke("promote", "churn", "1", "--alias", "champion", "--reason", "first").exit_code == 0
    before_v2 = datetime.now(UTC)
    time.sleep(0.05)
    assert invoke("promote", "churn", "2", "--alias", "champion", "--reason", "beats v1").exit_code == 0
    assert invoke("models").exit_code == 0
    assert json.loads(invoke("models", "--json").output)[0]["aliases"] == {"champion": 2}

    rolled = invoke("rollback", "churn", "--alias", "champion", "--reason", "v2 misbehaves")
    assert rolled.exit_code == 0, rolled.output
    history = json.loads(invoke("aliases", "churn", "--alias", "champion", "--json").output)["history"]
    assert [(e["from_version"], e["to_version"], e["action"]) for e in history] == [
        (None, 1, "set"),
        (1, 2, "set"),
        (2, 1, "rollback"),
    ]
    at = invoke("aliases", "churn", "--alias", "champion", "--at", before_v2.isoformat(), "--json")
    assert at.exit_code == 0, at.output
    assert json.loads(at.output)["version"] == 1

    unexplained = invoke("promote", "churn", "2", "--alias", "challenger")  # no --reason: a default one is kept
    assert unexplained.exit_code == 0, unexplained.output
    (event,) = json.loads(invoke("aliases", "churn", "--alias", "challenger", "--json").output)["history"]
    assert event["to_version"] == 2 and "no reason given" in event["reason"] and event["actor"] in event["reason"]

    lineage = json.loads(invoke("lineage", "churn@champion", "--json").output)
    text = json.dumps(lineage)
    assert "churn" in text and versions[0]["dataset_fingerprint"][:12] in text
    back = invoke("lineage", versions[0]["dataset_fingerprint"][:12])
    assert back.exit_code == 0 and "churn" in back.output

    card_md = invoke("card", "churn", "1")
    assert card_md.exit_code == 0, card_md.output
    assert "churn" in card_md.output and "roc_auc" in card_md.output
    out = trained_twice / "card.html"
    assert invoke("card", "churn@champion", "--out", str(out)).exit_code == 0
    page = out.read_text()
    assert page.lstrip().lower().startswith("<!doctype html") and "http://" not in page and "https://" not in page


def test_registry_errors_have_exit_codes_and_name_what_exists(trained_twice: Path) -> None:
    missing = invoke("promote", "churn", "9", "--alias", "champion", "--reason", "x")
    assert missing.exit_code == 1 and "9" in missing.output
    unknown = invoke("lineage", "nosuch@champion")
    assert unknown.exit_code == 1 and "churn" in unknown.output  # names the known models
    no_previous = invoke("rollback", "churn", "--alias", "champion")
    assert no_previous.exit_code == 1


def test_a_version_failing_its_gates_is_rejected_and_needs_force(trained_twice: Path) -> None:
    spec = trained_twice / "skloop.yaml"
    spec.write_text(spec.read_text().replace("holdout_roc_auc: 0.5", "holdout_roc_auc: 0.999"))
    result = invoke("train", "-q")
    assert result.exit_code == 0
    assert "rejected" in result.output and "holdout_roc_auc" in result.output
    refused = invoke("promote", "churn", "3", "--alias", "champion", "--reason", "try")
    assert refused.exit_code == 1 and "force" in refused.output
    forced = invoke("promote", "churn", "3", "--alias", "champion", "--reason", "try", "--force")
    assert forced.exit_code == 0


def test_train_without_registering_then_register_the_run(trained_twice: Path) -> None:
    result = invoke("train", "-q", "--no-register", "--json")
    assert result.exit_code == 0
    run_id = json.loads(result.output)["run_id"]
    assert json.loads(invoke("models", "--json").output)[0]["latest_version"] == 2  # nothing registered
    dry = invoke("register", run_id, "--dry-run")
    assert dry.exit_code == 0 and "all gates pass" in dry.output
    unknown = invoke("register", run_id, "--parent", "9")
    assert unknown.exit_code == 1 and "parent version 9: model 'churn' has no version 9; its versions are 1, 2" in (
        unknown.output
    )
    both = invoke("register", run_id, "--parent", "2", "--dry-run")
    assert both.exit_code == 2 and "--parent" in both.output and "--dry-run" in both.output
    assert invoke("register", run_id, "--parent", "0").exit_code == 2
    done = invoke("register", run_id, "--parent", "2", "--json")  # derived from v2: its lineage says so
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["version"] == 3
    version = json.loads(invoke("models", "churn", "--json").output)
    v3 = next(v for v in version if v["version"] == 3)
    assert v3["run_id"] == run_id and v3["signature"] and v3["importance"] and v3["parent_version"] == 2
    assert [v["parent_version"] for v in version] == [None, None, 2]
    table = invoke("models", "churn").output
    assert "parent" in table and re.search(r"^\S*\s*3\s.*\bv2\b", table, re.M), table
    lineage = invoke("lineage", "churn/3")
    assert lineage.exit_code == 0 and "parent churn/2" in lineage.output
    assert json.loads(invoke("lineage", "churn/3", "--json").output)["children"][1]["id"] == "churn/2"
    assert "| Parent version | churn/2 |" in invoke("card", "churn", "3").output
    again = invoke("register", run_id)
    assert again.exit_code == 1 and f"run {run_id} is already registered as churn/3" in again.output
    forced = invoke("register", run_id, "--force", "--json")
    assert forced.exit_code == 0 and json.loads(forced.output)["version"] == 4
    no_version = invoke("train", "-q", "--no-register", "--parent", "1")
    assert no_version.exit_code == 2 and "not registered" in no_version.output
    missing = invoke("train", "-q", "--parent", "8")  # refused before the search, not after
    assert missing.exit_code == 1 and "no version 8" in missing.output
    assert len(json.loads(invoke("runs", "--json").output)) == 3  # neither trained: two, and the one above
    trained = invoke("train", "-q", "--parent", "4", "--json")
    assert trained.exit_code == 0, trained.output
    v5 = json.loads(invoke("models", "churn", "--json").output)[-1]
    assert (v5["version"], v5["parent_version"]) == (json.loads(trained.output)["model_version"], 4)
    spec = trained_twice / "skloop.yaml"
    spec.write_text(spec.read_text().replace("holdout_roc_auc: 0.5", "holdout_roc_auc: 0.999"))
    # the gates of the run's own spec snapshot apply, not today's file
    assert invoke("register", run_id, "--dry-run").exit_code == 0
