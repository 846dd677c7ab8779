"""A regressor monitored without labels: DLE's estimated MAE and RMSE, or the reason there are none."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
from small_project import write_small_project
from typer.testing import CliRunner

from skloop.cli import app
from skloop.monitor import ReferenceSummary
from skloop.workflows import Project, monitor_model
from skloop.workflows._monitor import PREDATES_LOSS_MODELS
from skloop.workflows._train import LOSS_MODEL_ARTIFACT, NO_HOLDOUT, REFERENCE_ARTIFACT

SPEC = """\
name: charges
seed: 3
data:
  train: data/churn.csv
  target: charges_target
  id: customer_id
  holdout: {holdout}
pipeline:
  model: {{class: sklearn.linear_model.Ridge}}
search:
  strategy: grid
  space: {{model__alpha: [1.0]}}
  cv: {{folds: 3}}
monitoring:
  performance: {{threshold: learned}}
"""


def _project(root: Path, holdout: float) -> Path:
    spec = write_small_project(root, rows=900, spec=SPEC.format(holdout=holdout))
    csv = root / "data" / "churn.csv"
    df = pd.read_csv(csv)
    noise = (df["customer_id"].astype(str).str[-2:].map(lambda s: int(s) if s.isdigit() else 0) - 50) / 10
    df["charges_target"] = df["tenure_months"] * 2.0 + noise * (1 + df["tenure_months"] / 24)
    df.to_csv(csv, index=False)
    return spec


def test_regressor_gets_estimated_mae_and_rmse(tmp_path: Path) -> None:
    spec = _project(tmp_path, 0.3)
    with Project.load(spec) as project:
        result = project.train()
        summary = ReferenceSummary.from_json(
            project.store.runs.load_artifact(result.run_id, REFERENCE_ARTIFACT).decode()
        )
        assert summary.loss_model == LOSS_MODEL_ARTIFACT and summary.loss_reason is None
        current = pd.read_csv(tmp_path / "data" / "churn.csv").drop(columns="charges_target").head(400)
        report = monitor_model(project.store, "charges", project.settings, current=current, window=200, n_boot=0)
    assert report.estimate is not None and report.estimate_reason is None
    assert report.estimate.names == ["mae", "rmse"] and report.estimate.estimated
    mae = report.estimate["mae"]
    assert mae.lower < mae.value < mae.upper and mae.band is not None
    assert all(w.estimate is not None for w in report.windows.windows)
    assert report.to_dict()["estimate_reason"] is None
    runner = CliRunner()
    out = runner.invoke(app, ["monitor", "charges", "--version", "1", "--current", str(tmp_path / "data" / "churn.csv"),
                              "--spec", str(spec)])  # fmt: skip
    assert "estimated (" in out.output and "mae" in out.output, out.output


def test_reasons_when_there_is_no_loss_model(tmp_path: Path, monkeypatch) -> None:
    import skloop.workflows._monitor as monitor_module

    spec = _project(tmp_path, 0.0)
    with Project.load(spec) as project:
        result = project.train()
        current = pd.read_csv(tmp_path / "data" / "churn.csv").drop(columns="charges_target").head(300)
        report = monitor_model(project.store, "charges", project.settings, current=current, n_boot=0)
        assert report.estimate is None and report.estimate_reason == NO_HOLDOUT
        assert "No performance estimate: no holdout" in report.verdict()
        # a version trained before loss models: its reference (the JSON of an older skloop, which a
        # finished run cannot be given) names neither a loss model nor a reason
        stored = ReferenceSummary.from_json(
            project.store.runs.load_artifact(result.run_id, REFERENCE_ARTIFACT).decode()
        )
        older = ReferenceSummary.from_dict({k: v for k, v in stored.to_dict().items() if not k.startswith("loss")})
        assert older == replace(stored, loss_reason=None)
        monkeypatch.setattr(monitor_module, "_stored_reference", lambda store, version: older)
        again = monitor_model(project.store, "charges", project.settings, current=current, n_boot=0)
    assert again.estimate is None and again.estimate_reason == PREDATES_LOSS_MODELS
    runner = CliRunner()
    out = runner.invoke(app, ["monitor", "charges", "--version", "1", "--current", str(tmp_path / "data" / "churn.csv"),
                              "--spec", str(spec)])  # fmt: skip
    assert "estimated: not available: the model version predates loss models" in " ".join(out.output.split())
