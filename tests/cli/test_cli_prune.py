"""skloop db prune: monitoring.retention or --older-than, --dry-run, counts per model, clear usage errors."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skloop.cli import app
from skloop.core import Settings, utcnow
from skloop.store import Store
from skloop.workflows import init_example

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in ("SKLOOP_STORE_URL", "SKLOOP_ARTIFACT_ROOT"):
        monkeypatch.delenv(key, raising=False)
    spec = init_example(tmp_path, n_rows=200)
    spec.write_text(spec.read_text() + "monitoring:\n  retention: 30d\n")
    store = Store.open(Settings.from_env(tmp_path))
    now = utcnow()
    try:
        store.predictions.insert_predictions(
            {"request_id": f"r{age}", "row": 0, "time": now - timedelta(days=age, hours=12), "model": "churn",
             "entity_id": f"e{age}", "inputs": {"age": age}}
            for age in range(0, 100, 10)
        )  # fmt: skip
        store.predictions.insert_labels("churn", [{"request_id": "r90", "row": 0, "label": 1}])
    finally:
        store.close()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _count(root: Path) -> int:
    store = Store.open(Settings.from_env(root))
    try:
        return store.predictions.count_predictions()
    finally:
        store.close()


def test_dry_run_counts_and_prune_deletes_by_the_specs_retention(project: Path) -> None:
    dry = runner.invoke(app, ["db", "prune", "--dry-run"], catch_exceptions=False)
    assert dry.exit_code == 0, dry.output
    assert "would delete 7 predictions and 1 labels" in dry.output and "dry run" in dry.output
    assert _count(project) == 10
    done = runner.invoke(app, ["db", "prune"], catch_exceptions=False)
    assert done.exit_code == 0 and "deleted 7 predictions and 1 labels" in done.output and "churn" in done.output
    assert _count(project) == 3
    older = runner.invoke(app, ["db", "prune", "--older-than", "15d", "--json"], catch_exceptions=False)
    assert json.loads(older.output)["models"] == {"churn": 1}


def test_bad_or_missing_ages_are_usage_errors(project: Path) -> None:
    bad = runner.invoke(app, ["db", "prune", "--older-than", "ninety days"])
    assert bad.exit_code == 2 and "--older-than" in bad.output and "30min, 6h, 7d, 2w" in bad.output
    spec = project / "skloop.yaml"
    spec.write_text(spec.read_text().replace("monitoring:\n  retention: 30d\n", ""))
    none = runner.invoke(app, ["db", "prune"])
    assert none.exit_code == 2 and "monitoring.retention" in none.output and _count(project) == 10
