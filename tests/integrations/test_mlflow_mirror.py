"""The MLflow mirror and import against a real ``mlflow server`` on 127.0.0.1.

One server for the module (it takes up to a minute to start on a loaded machine): a
trained project is mirrored in the background and read back with ``MlflowClient``
(params, metric histories by step, tags, dataset, a model ``mlflow.pyfunc`` loads and
that predicts the same, registered versions and alias moves); a server that cannot be
reached while training gets the run once it is back (``skloop mirror retry``); and a
model logged by a plain MLflow script is imported and served by skloop's app.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from skloop.cli import app
from skloop.core import Settings
from skloop.registry import Registry
from skloop.store import Store
from skloop.workflows import Project, init_example

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402
from mlflow_server import MlflowServer, Relay  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    # MLflow's own deprecation noise on pandas 3 / its pydantic models, not skloop's
    "ignore::DeprecationWarning:mlflow.*",
    "ignore::FutureWarning:mlflow.*",
)

SPEC = """\
name: churn
seed: 7
data: {{train: data/churn.csv, target: churned, id: customer_id, holdout: 0.2}}
pipeline:
  model: {{class: sklearn.ensemble.RandomForestClassifier, params: {{n_estimators: 10}}}}
search:
  strategy: grid
  space: {{model__max_depth: [4]}}
  cv: {{folds: 3}}
  scoring: [roc_auc, accuracy]
  refit: roc_auc
tracking:
  mlflow_uri: {uri}
"""


def write_small_project(root: Path, *, rows: int, uri: str) -> Path:
    init_example(root, n_rows=rows, force=True)
    path = root / "skloop.yaml"
    path.write_text(SPEC.format(uri=uri))
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    srv = MlflowServer(tmp_path_factory.mktemp("mlflow-server"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _wait_mirrored(store: Store, seconds: float = 240.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = store.mirror.status()
        if status.pending == 0 and status.done > 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"not mirrored within {seconds} s: {store.mirror.items()}")


def _mirrored_run(client: MlflowClient, experiment: str, run_id: str) -> object:
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    runs = client.search_runs([found.experiment_id], f"tags.`skloop.run_id` = '{run_id}'")
    assert len(runs) == 1
    return runs[0]


def test_a_trained_project_its_versions_and_aliases_are_mirrored(
    tmp_path: Path, server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)  # where mlflow.pyfunc reads runs:/ URIs
    write_small_project(tmp_path, rows=500, uri=server.uri)
    client = MlflowClient(server.uri, registry_uri=server.uri)
    with Project.load(tmp_path) as project:
        started = time.perf_counter()
        result = project.train()
        assert time.perf_counter() - started < 600
        assert project._drainer is not None  # copied by a background process, not by train()
        _wait_mirrored(project.store)
        run = project.run(result.run_id)
        mirrored = _mirrored_run(client, "churn", result.run_id)
        assert mirrored.data.params == run.params
        assert mirrored.info.status == "FINISHED"
        assert mirrored.data.tags["skloop.kind"] == "train"
        assert mirrored.data.tags["skloop.dataset_fingerprint"] == result.dataset_fingerprint
        for key in ("cv_roc_auc_fold", "cv_accuracy_fold"):
            ours = [(m.step, m.value) for m in project.store.runs.get_metric_history(run.id, key)]
            theirs = sorted((m.step, m.value) for m in client.get_metric_history(mirrored.info.run_id, key))
            assert theirs == ours and len(ours) == 3
        assert mirrored.data.metrics["holdout_roc_auc"] == pytest.approx(run.metrics["holdout_roc_auc"])
        [dataset] = mirrored.inputs.dataset_inputs
        assert dataset.dataset.digest == result.dataset_fingerprint[:36]
        assert json.loads(dataset.dataset.source)["uri"].endswith("churn.csv")

        rows = pd.read_csv(tmp_path / "data" / "churn.csv").head(40).drop(columns=["churned", "customer_id"])
        served = mlflow.pyfunc.load_model(f"runs:/{mirrored.info.run_id}/model")
        np.testing.assert_array_equal(np.asarray(served.predict(rows)), result.model.predict(rows))

        [v1] = client.search_model_versions("name = 'churn'")
        assert v1.tags["skloop.version"] == "1" and v1.run_id == mirrored.info.run_id

        project.promote(1, reason="first")
        second = project.register(result.run_id, force=True)  # a second version of the same run
        assert second.version == 2
        project.promote(2, reason="second")
        assert project.mirror(wait=120).pending == 0
        assert client.get_model_version_by_alias("churn", "champion").tags["skloop.version"] == "2"
        project.rollback(reason="back")
        assert project.mirror(wait=120).pending == 0
        assert client.get_model_version_by_alias("churn", "champion").tags["skloop.version"] == "1"
        assert len(client.search_runs([client.get_experiment_by_name("churn").experiment_id])) == 1  # no copies


def test_a_server_down_during_training_gets_the_run_once_it_is_back(tmp_path: Path, server: MlflowServer) -> None:
    relay = Relay(server.port)  # not started: the mirror's URI refuses connections, as a server that is down
    spec = write_small_project(tmp_path, rows=400, uri=f"http://127.0.0.1:{relay.port}")
    runner = CliRunner()
    trained = runner.invoke(app, ["train", "--spec", str(spec), "--quiet", "--json"])
    assert trained.exit_code == 0, trained.output
    run_id = json.loads(trained.output)["run_id"]
    store = Store.open(Settings.from_env(tmp_path, env={}))
    try:
        deadline = time.monotonic() + 240
        while store.mirror.status().failing == 0 and time.monotonic() < deadline:
            time.sleep(0.5)  # the background drainer tries, fails and waits
        assert store.mirror.status().failing > 0
        listed = runner.invoke(app, ["runs", "--spec", str(spec)])
        assert listed.exit_code == 0 and "MLflow mirror:" in listed.output and "failing" in listed.output
        shown = runner.invoke(app, ["mirror", "status", "--spec", str(spec), "--json"])
        status = json.loads(shown.output)
        assert status["failing"] > 0
        errors = [i["last_error"] for i in status["items"] if i["attempts"]]
        assert errors and all("MLflow server" in e for e in errors)

        relay.start()  # the server is back
        retried = runner.invoke(app, ["mirror", "retry", "--spec", str(spec), "--wait", "120"])
        assert retried.exit_code == 0, retried.output
        assert store.mirror.status().pending == 0
    finally:
        store.close()
        relay.stop()
    client = MlflowClient(server.uri, registry_uri=server.uri)
    mirrored = _mirrored_run(client, "churn", run_id)
    assert mirrored.data.params["search.strategy"] == "grid"
    assert client.search_model_versions("name = 'churn'")  # and the version registered meanwhile


PLAIN_SCRIPT = """\
import json, sys
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

mlflow.set_tracking_uri(sys.argv[1])
rng = np.random.default_rng(0)
X = pd.DataFrame({"tenure": rng.integers(1, 72, 300).astype("int64"), "charges": rng.normal(70, 20, 300),
                  "plan": rng.choice(["basic", "plus", "pro"], 300)})
y = ((X["charges"] > 75) ^ (X["plan"] == "pro")).astype("int64")
pipe = Pipeline([("prep", ColumnTransformer([("num", StandardScaler(), ["tenure", "charges"]),
                                             ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"])])),
                 ("model", LogisticRegression(C=0.5))]).fit(X, y)
with mlflow.start_run() as run:
    mlflow.log_params({"C": 0.5, "solver": "lbfgs"})
    for step, loss in enumerate([0.9, 0.6, 0.4]):
        mlflow.log_metric("loss", loss, step=step)
    mlflow.sklearn.log_model(pipe, name="model", signature=infer_signature(X, pipe.predict(X)),
                             registered_model_name="plain-churn")
X.head(20).to_csv(sys.argv[2], index=False)
print(json.dumps({"run_id": run.info.run_id, "predictions": pipe.predict(X.head(20)).tolist()}))
"""


def test_a_model_from_a_plain_mlflow_script_is_imported_and_served(
    tmp_path: Path, server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "plain.py"
    script.write_text(PLAIN_SCRIPT)
    rows_csv = tmp_path / "rows.csv"
    done = subprocess.run([sys.executable, str(script), server.uri, str(rows_csv)], capture_output=True, text=True,
                          timeout=600, check=True)  # fmt: skip
    logged = json.loads(done.stdout.strip().splitlines()[-1])
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    runner = CliRunner()
    result = runner.invoke(app, ["import-mlflow", f"runs:/{logged['run_id']}/model", "--name", "plain",
                                 "--tracking-uri", server.uri, "--spec", str(tmp_path), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    imported = json.loads(result.stdout)
    assert imported["signature_from"] == "mlflow signature" and imported["version"] == 1
    by_name = runner.invoke(app, ["import-mlflow", "models:/plain-churn/1", "--tracking-uri", server.uri,
                                  "--spec", str(tmp_path), "--json"])  # fmt: skip
    assert by_name.exit_code == 0, by_name.output
    assert json.loads(by_name.stdout)["model"] == "plain-churn"

    settings = Settings.from_env(tmp_path, env={})
    with Store.open(settings) as store:
        version = store.models.get_model_version("plain", 1)
        assert [c["name"] for c in version.signature["inputs"]] == ["tenure", "charges", "plan"]
        assert [c["dtype"] for c in version.signature["inputs"]] == ["int64", "float64", "string"]
        run = store.runs.get_run(version.run_id)
        assert run.kind == "import" and run.params == {"C": "0.5", "solver": "lbfgs"}
        assert [(m.step, m.value) for m in store.runs.get_metric_history(run.id, "loss")] == [
            (0, 0.9), (1, 0.6), (2, 0.4)]  # fmt: skip
        assert run.tags["mlflow.run_id"] == logged["run_id"]
        rows = pd.read_csv(rows_csv)
        body = {"dataframe_split": {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}}
        with TestClient(create_app(settings, store)) as client:
            answer = client.post("/invocations", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == logged["predictions"]


def create_app(settings: Settings, store: Store) -> object:
    from skloop.serve import create_app as make

    return make(settings, model_name="plain", alias=None, version=1, registry=Registry(store), poll_seconds=None)
