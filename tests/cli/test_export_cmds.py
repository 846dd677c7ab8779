"""``skloop export`` and ``skloop predict`` end to end on the example project."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from skloop.cli import app
from skloop.workflows import read_prediction_metadata

runner = CliRunner()

FAST = {
    "n_estimators: 60": "n_estimators: 10",
    "folds: 5": "folds: 3",
    "model__max_depth: [6, 12]": "model__max_depth: [6]",
}


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export") / "demo"
    assert invoke("init", "--example", str(root), "--rows", "900").exit_code == 0
    spec = root / "skloop.yaml"
    text = spec.read_text()
    for old, new in FAST.items():
        text = text.replace(old, new)
    spec.write_text(text)
    result = invoke("train", "-q", "--spec", str(spec))
    assert result.exit_code == 0, result.output
    return root


def test_predict_writes_parquet_with_the_model_version(project: Path) -> None:
    out = project / "scores.parquet"
    spec = str(project / "skloop.yaml")
    data = str(project / "data" / "churn.csv")
    result = invoke("predict", "churn", "--version", "1", "--data", data, "--out", str(out), "--spec", spec, "-q")
    assert result.exit_code == 0, result.output
    assert "scored 900 rows with churn v1" in result.output
    assert len(pd.read_parquet(out)) == 900
    meta = read_prediction_metadata(out)
    assert meta["skloop.model_ref"] == "churn/1" and meta["skloop.model_version"] == "1"
    assert len(meta["skloop.model_sha256"]) == 64

    both = runner.invoke(app, ["predict", "churn", "--alias", "champion", "--version", "1", "--data", data, "--out",
                               str(out), "--spec", spec])  # fmt: skip
    assert both.exit_code == 2 and "not both" in both.output
    no_champion = runner.invoke(app, ["predict", "churn", "--data", data, "--out", str(out), "--spec", spec])
    assert no_champion.exit_code == 1 and "champion" in no_champion.output, no_champion.output


def test_predict_sets_bad_rows_aside_or_fails_with_strict(project: Path) -> None:
    spec = str(project / "skloop.yaml")
    frame = pd.read_csv(project / "data" / "churn.csv")
    frame["age"] = frame["age"].astype(object)
    frame.loc[[3, 70], "age"] = "old"  # cannot be typed: refused whatever the pipeline fills in
    data = project / "some_bad.csv"
    frame.to_csv(data, index=False)
    out = project / "partial.parquet"
    args = ("predict", "churn", "--version", "1", "--data", str(data), "--out", str(out), "--spec", spec, "-q")
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert f"scored 898 rows, 2 rejected → {project / 'partial.rejected.csv'}" in flat
    assert "first rejected: row 3, column 'age'" in flat
    assert len(pd.read_parquet(out)) == 898
    rejected = pd.read_csv(project / "partial.rejected.csv")
    assert rejected["row"].tolist() == [3, 70] and rejected["reason"].str.contains("'old' is not a number").all()

    strict_out = project / "strict.parquet"
    strict = runner.invoke(app, [*args[:6], "--out", str(strict_out), "--spec", spec, "--strict"])
    assert strict.exit_code == 1
    assert "row 3, column 'age'" in " ".join(strict.output.split())
    assert not strict_out.exists() and not (project / "strict.rejected.csv").exists()


def test_export_onnx_mlflow_kubeflow(project: Path) -> None:
    pytest.importorskip("skl2onnx", reason="the onnx extra is not installed")
    pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
    pytest.importorskip("kfp", reason="the kubeflow extra is not installed")
    spec = str(project / "skloop.yaml")
    onnx = invoke("export", "churn", "1", "--format", "onnx", "--out", str(project / "m.onnx"), "--spec", spec)
    assert onnx.exit_code == 0, onnx.output
    assert "probabilities max |Δ| = " in onnx.output and "(atol 1e-05)" in onnx.output and "(rtol 1e-05)" in onnx.output
    assert (project / "m.onnx").is_file()
    mlf = invoke("export", "churn", "1", "--format", "mlflow", "--out", str(project / "mlf"), "--spec", spec)
    assert mlf.exit_code == 0, mlf.output
    assert (project / "mlf" / "MLmodel").is_file()
    kfp = invoke("export", "--format", "kubeflow", "--out", str(project / "p.yaml"), "--spec", spec)
    assert kfp.exit_code == 0, kfp.output
    assert (project / "p.yaml").is_file()


def test_missing_extra_names_the_install_command(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kfp", None)  # import kfp now raises ImportError
    monkeypatch.setitem(sys.modules, "kfp.dsl", None)
    result = runner.invoke(app, ["export", "--format", "kubeflow", "--out", "p.yaml", "--spec", str(project)])
    assert result.exit_code == 1
    assert "pip install 'skloop[kubeflow]'" in result.output


def test_predict_writes_the_format_its_out_names_and_says_where_the_flags_are(project: Path) -> None:
    spec = str(project / "skloop.yaml")
    frame = pd.read_csv(project / "data" / "churn.csv").head(50)
    frame.loc[[1, 2, 3], "region"] = "atlantis"  # unseen in training: scored and flagged
    frame.loc[[4], "age"] = 400  # beyond the training range: flagged
    data = project / "flagged.csv"
    frame.to_csv(data, index=False)
    args = ("predict", "churn", "--version", "1", "--data", str(data), "--spec", spec, "-q")
    for name in ("scores.csv", "scores.csv.gz"):
        result = invoke(*args, "--out", str(project / name))
        assert result.exit_code == 0, result.output
        scored = pd.read_csv(project / name)  # a CSV, not Parquet under a .csv name
        assert len(scored) == 50 and {"prediction", "customer_id"} <= set(scored.columns)
        assert "4 rows flagged (region 3, age 1)" in " ".join(result.output.split())
    parquet = invoke(*args, "--out", str(project / "scores.parquet"))
    assert parquet.exit_code == 0
    csv_rows = pd.read_csv(project / "scores.csv")
    pd.testing.assert_frame_equal(csv_rows, pd.read_parquet(project / "scores.parquet"), check_dtype=False)
    wrong = runner.invoke(app, [*args, "--out", str(project / "scores.xlsx")])
    assert wrong.exit_code == 2 and "a file ending in .parquet, .pq, .csv, .csv.gz" in " ".join(wrong.output.split())
