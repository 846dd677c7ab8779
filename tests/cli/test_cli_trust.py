"""Every command that loads a model refuses a pickle unless the person running it trusts it.

A version whose joblib artifact creates a marker file when unpickled is registered next
to a real joblib model; each command is run on it without trust (a one-line refusal
naming ``--trust``, which the command has, and no marker), and the real model is
served and batch-scored with ``--trust`` / ``SKLOOP_TRUST=1``.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import joblib
import pandas as pd
import pytest
import skops.io as sio
from starlette.testclient import TestClient
from typer.testing import CliRunner

from skloop.cli import app
from skloop.core import Settings, utcnow
from skloop.data import make_churn
from skloop.registry import Registry, Trust, TrustedPickleWarning
from skloop.serve import create_app
from skloop.store import Store
from skloop.workflows import Project

runner = CliRunner()

SPEC = """\
name: churn
seed: 3
data:
  train: data/churn.csv
  target: churned
  holdout: 0.2
pipeline:
  model:
    class: sklearn.tree.DecisionTreeClassifier
    params: {max_depth: 4}
search:
  strategy: none
  cv: {folds: 2}
  scoring: [roc_auc]
  refit: roc_auc
  n_jobs: 1
registry:
  format: joblib
"""

PAYLOAD_DIR = Path(__file__).parents[1] / "registry"


class Touch:
    """Unpickling it creates ``path``: what a malicious model artifact does."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (f"open({self.path!r}, 'w').close()",))


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project trained once with ``registry.format: joblib``: churn v1 is a real joblib model."""
    root = tmp_path_factory.mktemp("trust")
    (root / "data").mkdir()
    frame = make_churn(300, seed=0)
    frame.to_csv(root / "data" / "churn.csv", index=False)
    frame.drop(columns=["churned"]).head(20).to_csv(root / "rows.csv", index=False)
    frame.head(50).to_csv(root / "labelled.csv", index=False)
    (root / "skloop.yaml").write_text(SPEC)
    with Project.load(root / "skloop.yaml", Settings.from_env(root, env={})) as p:
        result = p.train()
    assert result.model_version == 1
    return root


@pytest.fixture
def store(project: Path) -> Iterator[Store]:
    s = Store.open(Settings.from_env(project, env={}))
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def evil(project: Path, store: Store, tmp_path: Path) -> tuple[int, Path]:
    """A new version of churn whose joblib artifact creates a marker when unpickled (signature and data of v1)."""
    marker = tmp_path / f"marker-{uuid.uuid4().hex[:6]}"
    buf = io.BytesIO()
    joblib.dump(Touch(marker), buf)
    v1 = store.models.get_model_version("churn", 1)
    trained = store.runs.get_run(v1.run_id)
    with store.runs.start_run("churn", spec=trained.spec) as run:
        store.datasets.log_dataset(run.id, store.datasets.get_dataset(v1.dataset_fingerprint), role="train")
        store.runs.log_artifact(run.id, "model.joblib", buf.getvalue())
    version = Registry(store).register(run.id, "churn", format="joblib", signature=v1.signature)
    return version.version, marker


def _refused(result, ref: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code != 0, result.output
    lines = [line for line in result.output.splitlines() if "refusing to load" in line]
    assert len(lines) == 1, result.output
    assert f"the model artifact of {ref}" in lines[0] and "pass --trust" in lines[0], lines[0]


@pytest.fixture
def no_uvicorn(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """``skloop serve`` hands its app to this instead of listening."""
    import uvicorn

    served: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(app))
    return served


def test_every_model_loading_command_has_the_trust_options() -> None:
    commands = [["serve"], ["predict"], ["export"], ["monitor"], ["explain"], ["card"], ["validate"],
                ["loop", "run"], ["loop", "watch"]]  # fmt: skip
    for command in commands:
        text = invoke(*command, "--help").output
        assert "--trust " in text and "--trust-type" in text, command
    assert "--trust-type" in invoke("register", "--help").output


COMMANDS = {
    "predict": ["predict", "churn", "--version", "{v}", "--data", "{root}/rows.csv", "--out", "{tmp}/p.parquet", "-q"],
    "export-mlflow": ["export", "churn", "{v}", "--format", "mlflow", "--out", "{tmp}/mlflow"],
    "export-onnx": ["export", "churn", "{v}", "--format", "onnx", "--out", "{tmp}/m.onnx"],
    "monitor": ["monitor", "churn", "--version", "{v}", "--current", "{root}/labelled.csv"],
    "explain": ["explain", "churn", "--version", "{v}", "--data", "{root}/rows.csv"],
    "card": ["card", "churn", "{v}"],
    "validate": ["validate", "--model", "churn/{v}"],
    "serve": ["serve", "churn", "--version", "{v}", "--no-log"],
}


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_command_refuses_the_pickle_without_trust(
    command: list[str], project: Path, evil: tuple[int, Path], tmp_path: Path, no_uvicorn: list[object]
) -> None:
    version, marker = evil
    args = [a.format(v=version, root=project, tmp=tmp_path) for a in command]
    _refused(invoke(*args, "--spec", project / "skloop.yaml"), f"churn/{version}")
    assert not marker.exists()
    assert not no_uvicorn


def _traffic(store: Store, version: int) -> None:
    """Promote ``version`` to champion and log a few of its predictions after it took over."""
    Registry(store).promote("churn", version, reason="test", force=True)
    now = utcnow()
    store.predictions.insert_predictions(
        [{"request_id": uuid.uuid4().hex, "row": i, "time": now, "model": "churn", "version": version,
          "inputs": {"tenure": 1.0}, "outputs": {"prediction": 0}} for i in range(5)]
    )  # fmt: skip


def test_loop_run_and_watch_refuse_a_pickled_champion_whatever_its_recorded_format(
    project: Path, store: Store, evil: tuple[int, Path]
) -> None:
    version, marker = evil
    _traffic(store, version)
    spec = project / "skloop.yaml"
    _refused(invoke("loop", "run", "--spec", spec, "-q"), f"churn/{version}")
    assert not marker.exists()
    watch = invoke("loop", "watch", "--spec", spec, "--every", "1s", "--max-iterations", "1", "-q")
    assert "refusing to load the model artifact of churn/" in watch.output and "--trust" in watch.output
    assert not marker.exists()
    # proof that the refusal mattered: with the caller's --trust the loop unpickles it
    with pytest.warns(TrustedPickleWarning):
        invoke("loop", "run", "--spec", spec, "-q", "--trust")
    assert marker.exists()


def test_register_ignores_the_trust_a_runs_own_spec_snapshot_claims(
    project: Path, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(PAYLOAD_DIR))
    from registry_payload import SideEffect

    marker = tmp_path / "marker"
    v1 = store.models.get_model_version("churn", 1)
    snapshot = dict(store.runs.get_run(v1.run_id).spec or {})
    snapshot["registry"] = {"format": "skops", "trusted_types": ["registry_payload.SideEffect"]}
    with store.runs.start_run("churn", spec=snapshot) as run:
        store.datasets.log_dataset(run.id, store.datasets.get_dataset(v1.dataset_fingerprint), role="train")
        store.runs.log_artifact(run.id, "model.skops", sio.dumps(SideEffect(str(marker))))
    result = invoke("register", run.id, "--spec", project / "skloop.yaml")
    assert result.exit_code != 0
    assert (
        "registry_payload.SideEffect" in result.output and "--trust-type registry_payload.SideEffect" in result.output
    )
    assert not marker.exists()


def test_serve_scores_a_joblib_model_with_trust(project: Path, store: Store, no_uvicorn: list[object]) -> None:
    rows = pd.read_csv(project / "rows.csv").head(3)
    body = {
        "dataframe_split": {
            "columns": list(rows.columns),
            "data": rows.astype(object).where(rows.notna(), None).values.tolist(),
        }
    }
    with pytest.warns(TrustedPickleWarning):
        served = invoke("serve", "churn", "--version", "1", "--no-log", "--no-onnx", "--trust",
                        "--spec", project / "skloop.yaml")  # fmt: skip
    assert served.exit_code == 0, served.output
    assert "serving churn/1" in served.output and len(no_uvicorn) == 1
    with TestClient(no_uvicorn[0]) as client:  # type: ignore[arg-type]
        answer = client.post("/invocations", json=body)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 3
    no_uvicorn[0].registry.store.close()  # type: ignore[attr-defined]
    # the Python API: the same policy object
    settings = Settings.from_env(project, env={})
    with pytest.warns(TrustedPickleWarning):
        server = create_app(settings, model_name="churn", version=1, registry=Registry(store),
                            trust=Trust(pickle=True), poll_seconds=None, onnx=False)  # fmt: skip
    with TestClient(server) as client:
        assert client.post("/invocations", json=body).status_code == 200


def test_predict_batch_scores_a_joblib_model_with_trust(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = project / "skloop.yaml"
    args = ["predict", "churn", "--version", "1", "--data", project / "rows.csv", "--spec", spec, "-q"]
    with pytest.warns(TrustedPickleWarning):
        flagged = invoke(*args, "--out", tmp_path / "flag.parquet", "--trust")
    assert flagged.exit_code == 0, flagged.output
    assert len(pd.read_parquet(tmp_path / "flag.parquet")) == 20
    _refused(invoke(*args, "--out", tmp_path / "none.parquet"), "churn/1")
    monkeypatch.setenv("SKLOOP_TRUST", "1")
    with pytest.warns(TrustedPickleWarning):
        env = invoke(*args, "--out", tmp_path / "env.parquet")
    assert env.exit_code == 0, env.output
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "env.parquet"), pd.read_parquet(tmp_path / "flag.parquet"))


def test_card_of_a_joblib_model_with_trust(project: Path) -> None:
    with pytest.warns(TrustedPickleWarning):
        card = invoke("card", "churn", "1", "--trust", "--spec", project / "skloop.yaml")
    assert card.exit_code == 0, card.output
    assert "DecisionTreeClassifier" in card.output
