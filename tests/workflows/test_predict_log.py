"""Batch scoring with --log: rows go to the prediction log, are ingested, and join labels by id."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from typer.testing import CliRunner

from skloop.cli import app
from skloop.core import Settings
from skloop.data import make_churn
from skloop.pipelines import FeatureSets, build_preprocessor
from skloop.registry import Registry, infer_signature, save_model
from skloop.serve import default_log_dir, ingest_label_file, ingest_once, segments
from skloop.store import Store
from skloop.workflows import predict_batch, read_prediction_metadata

FEATURES = FeatureSets(
    numeric=("age", "tenure_months", "support_calls", "monthly_charges", "total_charges"),
    categorical=("contract", "payment_method", "region"),
    boolean=("has_partner", "paperless_billing"),
)


@pytest.fixture(scope="module")
def fitted() -> tuple[Pipeline, object]:
    frame = make_churn(600, seed=1)
    X = frame[list(FEATURES.all_columns)]
    pipe = Pipeline([("preprocess", build_preprocessor(FEATURES)), ("model", LogisticRegression(max_iter=1000))])
    pipe.fit(X, frame["churned"])
    return pipe, infer_signature(X, frame["churned"], task="classification", model=pipe)


def test_predict_batch_logs_every_row_once_with_ids(fitted: tuple[Pipeline, object], tmp_path: Path) -> None:
    pipe, signature = fitted
    data = tmp_path / "new.csv"
    frame = make_churn(1500, seed=7, shift=0.5)
    frame.to_csv(data, index=False)
    log_dir = tmp_path / "log"
    result = predict_batch(
        pipe, signature, data, tmp_path / "scores.parquet", model_ref="churn@champion", model_version=3,
        batch_rows=400, log_dir=log_dir, id_column="customer_id",
    )  # fmt: skip
    assert result.logged == 1500 and result.request_id is not None
    with Store.open(f"sqlite:///{tmp_path}/skloop.db") as store:
        assert ingest_once(log_dir, store) == 1500
        assert segments(log_dir) == []
        logged = store.predictions.query_predictions("churn")
        assert [p.row for p in logged] == list(range(1500))
        assert {p.request_id for p in logged} == {result.request_id} and {p.version for p in logged} == {3}
        scores = pd.read_parquet(result.out_path)
        assert [p.prediction for p in logged] == [str(v) for v in scores["prediction"]]
        assert [p.entity_id for p in logged] == [str(v) for v in frame["customer_id"]]
        assert any(p.flags for p in logged)  # the shifted data raised flags, logged per row
        assert set(logged[0].outputs["probabilities"]) == {str(c) for c in pipe.classes_}
        # labels arrive later, by customer id
        labels = tmp_path / "labels.csv"
        frame[["customer_id", "churned"]].head(300).to_csv(labels, index=False)
        output = signature.output  # type: ignore[attr-defined]
        n = ingest_label_file(store, "churn", labels, id_column="customer_id", label_column="churned", output=output)
        assert n == 300
        labeled = store.predictions.query_predictions("churn", labeled=True)
        assert len(labeled) == 300
        truth = dict(zip(frame["customer_id"].astype(str), frame["churned"].astype(str), strict=True))
        assert all(p.label == truth[p.entity_id] for p in labeled)


def _register(base: Path, pipe: Pipeline, signature: object) -> None:
    store = Store.open(Settings.from_env(base, env={}))
    try:
        spec = {"name": "churn", "data": {"train": "x.csv", "target": "churned", "id": "customer_id"}}
        with store.runs.start_run("churn", spec=spec) as run:
            store.runs.log_artifact(run.id, "model.skops", save_model(pipe, "skops"), media_type="application/x-skops")
        registry = Registry(store)
        version = registry.register(run.id, "churn", signature=signature.to_dict())  # type: ignore[attr-defined]
        registry.promote("churn", version.version, "champion", reason="test")
    finally:
        store.close()


def test_cli_predict_log_then_labels_ingest(fitted: tuple[Pipeline, object], tmp_path: Path) -> None:
    pipe, signature = fitted
    _register(tmp_path, pipe, signature)
    frame = make_churn(200, seed=3)
    frame.drop(columns=["churned"]).to_csv(tmp_path / "new.csv", index=False)
    runner = CliRunner()
    args = ["predict", "churn", "--alias", "champion", "--data", str(tmp_path / "new.csv"), "--out",
            str(tmp_path / "scores.parquet"), "--spec", str(tmp_path), "--log", "-q"]  # fmt: skip
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "logged 200 predictions" in result.output and "200 new in the store" in result.output
    assert segments(default_log_dir(Settings.from_env(tmp_path, env={}))) == []
    frame[["customer_id", "churned"]].to_parquet(tmp_path / "labels.parquet")
    result = runner.invoke(
        app,
        [
            "labels",
            "ingest",
            str(tmp_path / "labels.parquet"),
            "--model",
            "churn",
            "--id-column",
            "customer_id",
            "--label-column",
            "churned",
            "--spec",
            str(tmp_path),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "stored 200 labels" in result.output and "200 logged predictions now have a label" in result.output
    result = runner.invoke(app, ["logs", "ingest", "--spec", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0 and "ingested 0 new predictions" in result.output
    with Store.open(Settings.from_env(tmp_path, env={})) as store:
        assert store.predictions.count_predictions("churn", labeled=True) == 200


def test_cli_predict_defaults_to_the_champion_and_writes_the_request_id_for_labels(
    fitted: tuple[Pipeline, object], tmp_path: Path
) -> None:
    """Without --alias/--version predict scores with the champion; --log adds request_id, the labels' key."""
    pipe, signature = fitted
    _register(tmp_path, pipe, signature)
    frame = make_churn(120, seed=4).drop(columns=["customer_id"])  # no id column: labels join by request and row
    frame.drop(columns=["churned"]).to_csv(tmp_path / "new.csv", index=False)
    runner = CliRunner()
    out = tmp_path / "scores.parquet"
    args = ["predict", "churn", "--data", str(tmp_path / "new.csv"), "--out", str(out), "--spec", str(tmp_path), "-q"]
    result = runner.invoke(app, [*args, "--log"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "with churn v1" in result.output  # the champion
    scored = pd.read_parquet(out)
    assert list(scored.columns[:2]) == ["request_id", "row"] and scored["request_id"].nunique() == 1
    assert read_prediction_metadata(out)["skloop.model_ref"] == "churn@champion"
    labels = pd.DataFrame({"request_id": scored["request_id"], "row": scored["row"], "churned": frame["churned"]})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    ingest = ["labels", "ingest", str(tmp_path / "labels.csv"), "--request-id-column", "request_id", "--row-column",
              "row", "--label-column", "churned", "--model", "churn", "--spec", str(tmp_path)]  # fmt: skip
    result = runner.invoke(app, ingest, catch_exceptions=False)
    assert result.exit_code == 0 and "120 logged predictions now have a label" in result.output, result.output
    # without --log there is no request to name
    assert runner.invoke(app, args, catch_exceptions=False).exit_code == 0
    assert "request_id" not in pd.read_parquet(out).columns
    both = runner.invoke(app, [*args, "--alias", "champion", "--version", "1"])
    assert both.exit_code == 2 and "not both" in both.output


def test_cli_labels_ingest_defaults_to_the_spec_model_and_refuses_an_unknown_one(
    fitted: tuple[Pipeline, object], tmp_path: Path
) -> None:
    pipe, signature = fitted
    _register(tmp_path, pipe, signature)
    (tmp_path / "skloop.yaml").write_text("name: churn\ndata: {train: x.csv, target: churned, id: customer_id}\n")
    make_churn(50, seed=3)[["customer_id", "churned"]].to_csv(tmp_path / "labels.csv", index=False)
    runner = CliRunner()
    args = ["labels", "ingest", str(tmp_path / "labels.csv"), "--id-column", "customer_id",
            "--label-column", "churned", "--spec", str(tmp_path)]  # fmt: skip
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "stored 50 labels for churn" in result.output
    unknown = runner.invoke(app, [*args, "--model", "nope"], catch_exceptions=False)
    assert unknown.exit_code == 1
    assert "'nope'" in unknown.output and "churn" in unknown.output and "stored" not in unknown.output


def test_cli_predict_keeps_the_spec_id_column(fitted: tuple[Pipeline, object], tmp_path: Path) -> None:
    pipe, signature = fitted
    _register(tmp_path, pipe, signature)  # its spec snapshot has data.id: customer_id
    frame = make_churn(120, seed=4)
    frame.drop(columns=["churned"]).to_csv(tmp_path / "new.csv", index=False)
    runner = CliRunner()
    args = ["predict", "churn", "--alias", "champion", "--data", str(tmp_path / "new.csv"), "--spec", str(tmp_path),
            "-q", "--out"]  # fmt: skip
    result = runner.invoke(app, [*args, str(tmp_path / "scores.parquet")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    assert list(scores.columns[:3]) == ["row", "customer_id", "prediction"]
    assert scores["customer_id"].astype(str).tolist() == frame["customer_id"].astype(str).tolist()
    result = runner.invoke(app, [*args, str(tmp_path / "bare.parquet"), "--no-keep-id"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "customer_id" not in pd.read_parquet(tmp_path / "bare.parquet").columns
