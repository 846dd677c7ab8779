"""Tracking from a plain script: ``skloop.start_run`` and ``skloop.autolog`` (issue 14, item 6).

Two real scripts run in a subprocess, as a user runs them; the rest is checked in this
process against a temporary store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LogisticRegression, Ridge
from starlette.testclient import TestClient
from typer.testing import CliRunner

import skloop
from skloop.cli import app
from skloop.core import Settings, UsageError
from skloop.data import fingerprint
from skloop.registry import load_model
from skloop.store import Store
from skloop.ui import create_app
from skloop.workflows import active_run, autolog, autolog_enabled, start_run
from skloop.workflows._tracking import data_frame

SRC = str(Path(skloop.__file__).resolve().parents[1])


def _run_script(directory: Path, code: str, env: dict[str, str] | None = None) -> str:
    script = directory / "train_script.py"
    script.write_text(textwrap.dedent(code))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SKLOOP_")}
    environ.update(PYTHONPATH=SRC, **(env or {}))
    done = subprocess.run(
        [sys.executable, str(script)], cwd=directory, env=environ, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _houses(n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A regression table unlike churn: house prices from size, rooms, age and a district."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "size_m2": rng.uniform(30, 200, n).round(1),
            "rooms": rng.integers(1, 7, n),
            "age_years": rng.integers(0, 90, n),
            "district": rng.choice(["north", "south", "harbour"], n),
        }
    )
    price = 2.5 * X["size_m2"] + 8 * X["rooms"] - 0.4 * X["age_years"] + (X["district"] == "harbour") * 40
    return X, pd.Series((price + rng.normal(0, 10, n)).round(2), name="price")


HOUSES = """
import numpy as np, pandas as pd
rng = np.random.default_rng(0)
n = 240
X = pd.DataFrame({"size_m2": rng.uniform(30, 200, n).round(1), "rooms": rng.integers(1, 7, n),
                  "age_years": rng.integers(0, 90, n), "district": rng.choice(["north", "south", "harbour"], n)})
price = 2.5 * X["size_m2"] + 8 * X["rooms"] - 0.4 * X["age_years"] + (X["district"] == "harbour") * 40
y = pd.Series((price + rng.normal(0, 10, n)).round(2), name="price")
"""


def test_a_plain_script_records_params_metrics_by_step_artifacts_and_a_registered_model(tmp_path: Path) -> None:
    out = _run_script(
        tmp_path,
        """
        import skloop
        from sklearn.linear_model import LogisticRegression
        X = [[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0], [5.0, 0.0]]
        y = [0, 0, 0, 1, 1, 1]
        with open("notes.txt", "w") as f:
            f.write("first try")
        with skloop.start_run(project="churn", name="baseline", tags={"team": "risk"}) as run:
            run.log_params({"C": 0.5, "solver": "lbfgs"})
            for epoch in range(4):
                run.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
            run.log_metrics({"accuracy": 0.5, "f1": 0.4}, step=3)
            run.set_tags({"stage": "dev"})
            run.log_artifact("notes.txt")
            model = LogisticRegression(C=0.5).fit(X, y)
            run.log_dataset(X, y)
            run.log_model(model, X, y, registered_model_name="churn")
            with skloop.start_run(name="child", nested=True) as child:
                child.log_metric("loss", 0.1)
        print(run.id, run.model_version, child.id)
        """,
    )
    run_id, version, child_id = out.split()
    with Store.open(Settings.from_env(tmp_path, env={})) as store:  # the default store of the directory
        run = store.runs.get_run(run_id)
        assert (run.status, run.kind, run.project, run.name) == ("finished", "script", "churn", "baseline")
        assert run.params == {"C": "0.5", "solver": "lbfgs"}
        assert run.tags["team"] == "risk" and run.tags["stage"] == "dev"
        assert run.tags["source"] == str((tmp_path / "train_script.py").resolve())
        assert run.environment and run.environment["packages"]["scikit-learn"]
        history = store.runs.get_metric_history(run_id, "loss")
        assert [(m.step, m.value) for m in history] == [(i, 1.0 / (i + 1)) for i in range(4)]
        assert run.metrics["accuracy"] == 0.5
        assert store.runs.load_artifact(run_id, "notes.txt") == b"first try"
        model = load_model(store.runs.load_artifact(run_id, "model.skops"))
        grid = [[0.5, 0.5], [4.5, 0.5]]
        expected = LogisticRegression(C=0.5).fit(*_xy()).predict_proba(grid)
        np.testing.assert_allclose(model.predict_proba(grid), expected)
        frame, _ = data_frame(*_xy())
        assert [d.fingerprint for d in run.datasets] == [fingerprint(frame)]
        mv = store.models.get_model_version("churn", int(version))
        assert mv.run_id == run_id and [c["name"] for c in mv.signature["inputs"]] == ["x0", "x1"]
        assert store.runs.get_run(child_id).parent_run_id == run_id
        with TestClient(create_app(store, project="churn", actor="tester")) as client:
            page = client.get(f"/runs/{run_id}")
            assert page.status_code == 200 and "baseline" in page.text and "notes.txt" in page.text
            compare = client.get("/compare", params=[("run", run_id), ("run", child_id)])
            assert compare.status_code == 200 and "loss" in compare.text
    listed = CliRunner().invoke(app, ["runs", "--all", "--spec", str(tmp_path), "--json"], catch_exceptions=False)
    assert listed.exit_code == 0 and {r["id"] for r in json.loads(listed.stdout)} == {run_id, child_id}


def _xy() -> tuple[list[list[float]], list[int]]:
    return [[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0], [5.0, 0.0]], [0, 0, 0, 1, 1, 1]


def test_autolog_records_a_grid_search_of_a_plain_script_once(tmp_path: Path) -> None:
    db = tmp_path / "elsewhere"
    env = {"SKLOOP_STORE_URL": f"sqlite:///{db}/runs.db", "SKLOOP_ARTIFACT_ROOT": str(db / "artifacts")}
    out = _run_script(
        tmp_path,
        HOUSES
        + """
import skloop
from sklearn.compose import make_column_transformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
skloop.autolog(project="houses", eval_set=(X.iloc[:60], y.iloc[:60]))
prep = make_column_transformer((StandardScaler(), ["size_m2", "rooms", "age_years"]), (OneHotEncoder(), ["district"]))
search = GridSearchCV(make_pipeline(prep, Ridge()), {"ridge__alpha": [0.01, 1.0, 100.0]}, cv=3).fit(X, y)
RandomForestRegressor(n_estimators=5, random_state=0).fit(X[["size_m2", "rooms"]], y)
skloop.autolog(disable=True)
Ridge().fit(X[["size_m2"]], y)
""",
        env,
    )
    assert out == ""
    X, y = _houses()
    from sklearn.compose import make_column_transformer
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = make_column_transformer(
        (StandardScaler(), ["size_m2", "rooms", "age_years"]), (OneHotEncoder(), ["district"])
    )
    search = GridSearchCV(make_pipeline(prep, Ridge()), {"ridge__alpha": [0.01, 1.0, 100.0]}, cv=3).fit(X, y)
    with Store.open(env["SKLOOP_STORE_URL"], env["SKLOOP_ARTIFACT_ROOT"]) as store:
        runs = store.runs.search_runs("houses", order_by="start_time")
        # the pipeline's steps, the search's 9 clones and its refit are not runs; the fit after disable is not either
        assert [r.name for r in runs] == ["GridSearchCV", "RandomForestRegressor"]
        assert all(r.status == "finished" and r.kind == "script" for r in runs)
        run = runs[0]
        assert run.params["estimator__ridge__alpha"] == "1.0" and run.params["cv"] == "3"
        assert run.params["best.ridge__alpha"] == str(search.best_params_["ridge__alpha"])
        assert run.tags["estimator_class"] == "sklearn.model_selection._search.GridSearchCV"
        assert run.metrics["best_cv_score"] == pytest.approx(search.best_score_)
        assert run.metrics["cv_score_mean"] == pytest.approx(search.best_score_)
        assert run.metrics["training_r2"] == pytest.approx(search.score(X, y))
        assert run.metrics["eval_r2"] == pytest.approx(search.score(X.iloc[:60], y.iloc[:60]))
        curve = store.runs.get_metric_history(run.id, "cv_score_candidate")
        assert [m.value for m in curve] == pytest.approx(list(search.cv_results_["mean_test_score"]))
        assert [m.step for m in store.runs.get_metric_history(run.id, "cv_score_fold")] == [0, 1, 2]
        table = json.loads(store.runs.load_artifact(run.id, "cv_results.json"))
        assert table["best_index"] == search.best_index_ and table["scoring"] == ["score"]
        assert [c["params"]["ridge__alpha"] for c in table["candidates"]] == [0.01, 1.0, 100.0]
        assert [c["mean_test_score"] for c in table["candidates"]] == pytest.approx(
            list(search.cv_results_["mean_test_score"])
        )
        model = load_model(store.runs.load_artifact(run.id, "model.skops"))
        np.testing.assert_allclose(model.predict(X.iloc[:5]), search.predict(X.iloc[:5]))
        frame, _ = data_frame(X, y)
        assert [d.fingerprint for d in run.datasets] == [fingerprint(frame)]
        assert store.datasets.get_dataset(fingerprint(frame)).n_columns == 5
        signature = json.loads(store.runs.load_artifact(run.id, "signature.json"))
        assert [c["name"] for c in signature["inputs"]] == list(X.columns)
        forest = runs[1]
        assert forest.params["n_estimators"] == "5" and "training_r2" in forest.metrics
        assert not any(k.startswith("eval_") for k in forest.metrics)  # eval_set has other columns: left out
        assert "cv_results.json" not in forest.artifacts and "model.skops" in forest.artifacts


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    yield Settings.from_env(tmp_path, env={})
    autolog(disable=True)
    while (run := active_run()) is not None:
        run.end("killed", "left running by a test")


def test_a_crash_inside_the_with_fails_the_run_and_keeps_what_it_logged(settings: Settings) -> None:
    with pytest.raises(ZeroDivisionError), start_run("houses", settings=settings) as run:
        run.log_metric("loss", 0.5, step=0)
        run.log_metric("loss", 0.25, step=1)
        1 / 0  # noqa: B018
    assert active_run() is None
    with Store.open(settings) as store:
        failed = store.runs.get_run(run.id)
        assert failed.status == "failed" and "ZeroDivisionError: division by zero" in (failed.error or "")
        assert [m.value for m in store.runs.get_metric_history(run.id, "loss")] == [0.5, 0.25]
    with start_run("houses", settings=settings) as again:  # the failed run is no longer active
        again.log_param("after", "crash")
    with pytest.raises(UsageError, match="is still active"), start_run("houses", settings=settings):
        start_run("houses", settings=settings)


def test_a_second_fit_in_one_run_gets_a_child_run_and_a_failing_fit_a_failed_run(settings: Settings) -> None:
    X, y = _houses(60)
    X = X.drop(columns="district")
    autolog(settings=settings, project="houses")
    with start_run("houses", settings=settings, name="outer") as run:
        Ridge(alpha=1.0).fit(X, y)
        Ridge(alpha=2.0).fit(X, y)  # params cannot change: a child run
    with pytest.raises(ValueError, match=r"could not convert|NaN|numeric"):
        Ridge().fit(pd.DataFrame({"a": ["x", "y", "z"]}), [1.0, 2.0, 3.0])
    with Store.open(settings) as store:
        outer = store.runs.get_run(run.id)
        assert outer.params["alpha"] == "1.0" and outer.status == "finished"
        runs = store.runs.search_runs("houses", order_by="start_time")
        child = [r for r in runs if r.parent_run_id == run.id]
        assert [r.params["alpha"] for r in child] == ["2.0"]
        failed = runs[-1]
        assert failed.name == "Ridge" and failed.status == "failed" and "ValueError" in (failed.error or "")


def test_autolog_disable_restores_scikit_learn_and_covers_classes_defined_later(settings: Settings) -> None:
    original = Ridge.__dict__["fit"]
    autolog(settings=settings, project="later")
    assert autolog_enabled() and Ridge.__dict__["fit"] is not original

    class Mean(RegressorMixin, BaseEstimator):  # defined after autolog: still recorded
        def fit(self, X: object, y: object) -> Mean:
            self.mean_ = float(np.mean(np.asarray(y)))
            return self

        def predict(self, X: object) -> np.ndarray:
            return np.full(len(np.asarray(X)), self.mean_)

    Mean().fit([[0.0], [1.0]], [1.0, 3.0])
    autolog(disable=True)
    assert not autolog_enabled() and Ridge.__dict__["fit"] is original and Mean.__dict__["fit"].__name__ == "fit"
    assert "__init_subclass__" not in BaseEstimator.__dict__
    LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    Mean().fit([[0.0], [1.0]], [1.0, 3.0])
    with Store.open(settings) as store:
        runs = store.runs.search_runs("later")
        assert [r.name for r in runs] == ["Mean"] and runs[0].metrics["training_r2"] == 0.0
