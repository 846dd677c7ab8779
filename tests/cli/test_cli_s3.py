"""The whole CLI with its artifacts in an S3 bucket (moto's server on 127.0.0.1, through s3fs).

``SKLOOP_ARTIFACT_ROOT=s3://bucket/prefix``: train, register, promote, serve and predict
read and write every artifact there and nothing under the project's own folder; a model
object tampered with in the bucket is refused by name and hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from s3_server import S3, s3  # noqa: F401  (the session fixture)
from skloop.cli import app
from skloop.core import Settings
from skloop.store import Store

runner = CliRunner()

FAST = {
    "n_estimators: 60": "n_estimators: 10",
    "model__max_depth: [6, 12]": "model__max_depth: [6]",
    "model__min_samples_leaf: [1, 5]": "model__min_samples_leaf: [5]",
    "folds: 5": "folds: 3",
}


def _fast_project(root: Path) -> Path:
    result = runner.invoke(app, ["init", "--example", str(root), "--rows", "400"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    spec = root / "skloop.yaml"
    text = spec.read_text()
    for old, new in FAST.items():
        assert old in text
        text = text.replace(old, new)
    spec.write_text(text)
    return root


def _model_key(base: Path, env: dict[str, str]) -> tuple[str, str]:
    """The bucket key and hash of churn v1's model artifact, read from the store."""
    store = Store.open(Settings.from_env(base, env=env))
    try:
        version = store.models.get_model_version("churn", 1)
        sha = version.artifact_sha256
    finally:
        store.close()
    prefix = env["SKLOOP_ARTIFACT_ROOT"].split("/", 3)[3]
    return f"{prefix}/sha256/{sha[:2]}/{sha[2:]}", sha


@pytest.mark.long  # a minute of training; the default run checks the store on S3 (tests/store/test_object_store.py)
def test_train_promote_serve_predict_on_s3(tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    bucket = s3.new_bucket()
    env = {"SKLOOP_ARTIFACT_ROOT": f"s3://{bucket}/team/churn", "SKLOOP_ARTIFACT_OPTIONS": json.dumps(s3.options)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    base = _fast_project(tmp_path / "p")
    monkeypatch.chdir(base)

    def invoke(*args: str) -> Any:
        return runner.invoke(app, list(args))

    trained = invoke("train", "-q")
    assert trained.exit_code == 0, trained.output
    assert "registered churn v1" in trained.output
    promoted = invoke("promote", "churn", "1", "--reason", "first on S3")
    assert promoted.exit_code == 0, promoted.output
    scored = invoke("predict", "churn", "--data", "data/churn.csv", "--out", str(tmp_path / "scores.parquet"))
    assert scored.exit_code == 0, scored.output
    assert len(pd.read_parquet(tmp_path / "scores.parquet")) == 400

    from starlette.testclient import TestClient

    from skloop.serve import create_app

    served = create_app(Settings.from_env(base), model_name="churn", poll_seconds=None, onnx=False)
    try:
        row = pd.read_csv(base / "data" / "churn.csv").drop(columns=["churned"]).head(3)
        body = {"dataframe_split": json.loads(row.to_json(orient="split", index=False, date_format="iso"))}
        with TestClient(served) as client:
            answer = client.post("/invocations", json=body)
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 3
    finally:
        served.registry.store.close()

    assert not (base / ".skloop" / "artifacts").exists()  # every artifact went to the bucket
    keys = s3.keys(bucket)
    assert keys and all(k.startswith("team/churn/sha256/") and "/.tmp-" not in k for k in keys)
    key, sha = _model_key(base, env)
    assert key in keys

    forged = b"\x00" * len(s3.client.get_object(Bucket=bucket, Key=key)["Body"].read())
    s3.client.put_object(Bucket=bucket, Key=key, Body=forged)
    refused = invoke("predict", "churn", "--data", "data/churn.csv", "--out", str(tmp_path / "again.parquet"))
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    message = " ".join(refused.output.split())
    assert f"s3://{bucket}/{key} does not match its hash" in message, message
    assert sha in message and hashlib.sha256(forged).hexdigest() in message
    assert not (tmp_path / "again.parquet").exists()


@pytest.mark.long  # four processes of the real entry point, each importing everything
def test_the_cli_reaches_s3_through_the_aws_variables_alone(tmp_path: Path, s3: S3) -> None:  # noqa: F811
    bucket = s3.new_bucket()
    base = _fast_project(tmp_path / "p")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SKLOOP_", "AWS_"))},
        **s3.env(),
        "SKLOOP_ARTIFACT_ROOT": f"s3://{bucket}/prefix",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }

    def skloop(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "skloop.cli", *args]
        return subprocess.run(command, cwd=base, env=env, capture_output=True, text=True, timeout=600)

    for args in (
        ("train", "-q"),
        ("promote", "churn", "1", "--reason", "s3"),
        ("predict", "churn", "--data", "data/churn.csv", "--out", "scores.parquet"),
        ("runs", "--json"),
    ):
        done = skloop(*args)
        assert done.returncode == 0, done.stderr
    assert len(pd.read_parquet(base / "scores.parquet")) == 400
    assert not (base / ".skloop" / "artifacts").exists()
    key, _ = _model_key(base, env)
    assert key in s3.keys(bucket)
