"""``skloop validate`` exit codes and JUnit report, and ``skloop init --ci github``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from junitparser import Failure, JUnitXml
from typer.testing import CliRunner

from skloop.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example project, made small, trained once by ``skloop train`` (v1, registered)."""
    root = tmp_path_factory.mktemp("cli_validate") / "p"
    assert invoke("init", "--example", str(root), "--rows", "700").exit_code == 0
    spec = root / "skloop.yaml"
    text = spec.read_text().replace("n_estimators: 60", "n_estimators: 10").replace("folds: 5", "folds: 3")
    text = text.replace("model__max_depth: [6, 12]", "model__max_depth: [6]")
    text = text.replace("model__min_samples_leaf: [1, 5]", "model__min_samples_leaf: [5]")
    text = text.replace("n_jobs: -1", "n_jobs: 1")  # no process pool to start for one candidate
    text += "gates:\n  min: {holdout_roc_auc: 0.6}\n"
    spec.write_text(text)
    result = invoke("train", "-q", "--spec", str(spec))
    assert result.exit_code == 0 and "registered churn v1" in result.output, result.output
    return root


def _variant(root: Path, name: str, extra: str) -> Path:
    """Another spec file next to skloop.yaml (same store), with ``extra`` appended."""
    path = root / name
    path.write_text((root / "skloop.yaml").read_text() + extra)
    return path


def test_validate_passes_with_exit_0_and_writes_a_junit_report(trained: Path) -> None:
    report = trained / "reports" / "report.xml"
    spec = _variant(
        trained,
        "ok.yaml",
        "validate:\n  behaviour:\n"
        "    - {kind: invariance, column: has_partner, values: [true, false], max_delta: 0.9}\n",
    )
    result = invoke("validate", "--spec", str(spec), "--junit", str(report))
    assert result.exit_code == 0, result.output
    assert "all checks pass" in result.output and "churn/1" in result.output
    xml = JUnitXml.fromfile(str(report))
    assert [s.name for s in xml] == ["gates", "champion", "behaviour", "contract"]
    assert xml.failures == 0 and xml.tests >= 5
    as_json = json.loads(invoke("validate", "--spec", str(spec), "--json").output)
    assert as_json["passed"] is True and as_json["version"] == 1
    assert {c["family"] for c in as_json["checks"]} == {"gates", "champion", "behaviour", "contract"}


def test_a_failing_gate_or_behavioural_test_exits_1_and_the_report_names_it(trained: Path) -> None:
    report = trained / "failing.xml"
    spec = _variant(
        trained,
        "failing.yaml",
        "validate:\n  behaviour:\n"
        "    - {kind: invariance, name: tenure is ignored, column: tenure_months, values: [0, 70], max_delta: 0.001}\n",
    )
    spec.write_text(spec.read_text().replace("holdout_roc_auc: 0.6", "holdout_roc_auc: 0.999"))
    result = invoke("validate", "--spec", str(spec), "--model", "churn/1", "--junit", str(report))
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and "checks fail" in result.output
    xml = JUnitXml.fromfile(str(report))
    failed = {case.name: case.result[0] for suite in xml for case in suite if case.result}
    failed = {name: r for name, r in failed.items() if isinstance(r, Failure)}
    assert set(failed) == {
        "recorded holdout_roc_auc >= 0.999",
        "holdout holdout_roc_auc >= 0.999",
        "tenure is ignored",
    }
    assert "max_delta 0.001" in failed["tenure is ignored"].message
    assert xml.failures == 3


@pytest.mark.parametrize(
    "extra",
    [
        "validate:\n  behaviours: []\n",  # an unknown key
        "validate:\n  behaviour:\n    - {kind: invariance, column: no_such_column, values: [1]}\n",
        "validate:\n  behaviour:\n    - {kind: sideways, column: age}\n",
    ],
    ids=["unknown-key", "unknown-column", "unknown-kind"],
)
def test_a_bad_spec_exits_2(trained: Path, extra: str) -> None:
    result = invoke("validate", "--spec", str(_variant(trained, "bad.yaml", extra)))
    assert result.exit_code == 2, result.output


def test_model_and_run_together_exit_2(trained: Path) -> None:
    result = invoke("validate", "--spec", str(trained / "skloop.yaml"), "--model", "churn/1", "--run", "abc")
    assert result.exit_code == 2 and "not both" in result.output


def test_init_ci_github_writes_a_workflow_that_trains_validates_and_uploads(tmp_path: Path) -> None:
    result = invoke("init", "--example", str(tmp_path / "repo"), "--rows", "200", "--ci", "github")
    assert result.exit_code == 0, result.output
    workflow = tmp_path / "repo" / ".github" / "workflows" / "skloop.yml"
    doc = yaml.safe_load(workflow.read_text())
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert set(on) == {"push", "pull_request"}
    steps = doc["jobs"]["validate"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    assert runs == [
        "pip install skloop",
        "skloop train --spec skloop.yaml --quiet",
        "skloop validate --spec skloop.yaml --junit report.xml",
    ]
    uses = [s["uses"].split("@")[0] for s in steps if "uses" in s]
    assert uses == ["actions/checkout", "actions/setup-python", "actions/upload-artifact"]
    upload = steps[-1]
    assert upload["with"]["path"] == "report.xml" and "always()" in upload["if"]
    assert (tmp_path / "repo" / "skloop.yaml").exists()

    # alone, --ci writes only the workflow; it refuses to overwrite without --force
    again = invoke("init", str(tmp_path / "repo"), "--ci", "github")
    assert again.exit_code == 2 and "--force" in again.output
    assert invoke("init", str(tmp_path / "repo"), "--ci", "github", "--force").exit_code == 0
    assert invoke("init", str(tmp_path / "other"), "--ci", "gitlab").exit_code == 2
    assert invoke("init").exit_code == 2
