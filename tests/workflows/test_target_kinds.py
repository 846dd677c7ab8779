"""Targets the bundled example does not have, through the whole loop: train → serve → log → labels → monitor.

Floats 0.0/1.0, booleans, a pandas category, names (stay/leave) and the iris species:
each is trained from a Parquet file (which keeps the dtype), served over both protocols,
labelled through the labels endpoint, and monitored from the log with realised and
estimated performance about the same positive class training chose.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.metrics import f1_score

from skloop.data import make_churn
from skloop.monitor import render_report_html
from skloop.registry import Registry
from skloop.serve import PredictionLog, create_app, ingest_once
from skloop.store import Store
from skloop.workflows import Project, monitor_model, run_loop

SPEC = """\
name: {name}
seed: 3
data:
  train: data/train.parquet
  target: {target}
  id: row_id
  holdout: 0.25
{extra}pipeline:
  model:
    class: sklearn.ensemble.RandomForestClassifier
    params: {{n_estimators: 20, min_samples_leaf: 3}}
search:
  strategy: none
  cv: {{folds: 2}}
  n_jobs: 1
"""


def _churn(kind: str, n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    df = make_churn(n, seed=seed, shift=shift).rename(columns={"customer_id": "row_id"})
    df["row_id"] = [f"{seed}-{i}" for i in range(n)]
    y = df["churned"]
    df["churned"] = {
        "floats": lambda: y.astype(float),
        "booleans": lambda: y.astype(bool),
        "category": lambda: pd.Categorical(y.map({0: "stay", 1: "leave"})),
        "names": lambda: y.map({0: "stay", 1: "leave"}),
    }[kind]()
    return df


def _iris(seed: int) -> pd.DataFrame:
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame.columns = [c.replace(" (cm)", "").replace(" ", "_") for c in frame.columns]
    frame["species"] = frame["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    frame = frame.drop(columns=["target"]).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    frame["row_id"] = [f"{seed}-{i}" for i in range(len(frame))]
    return frame


# kind → (name, target column, positive class training must choose)
KINDS: dict[str, tuple[str, str, Any]] = {
    "floats": ("churn", "churned", 1.0),
    "booleans": ("churn", "churned", True),
    "category": ("churn", "churned", "leave"),  # the minority class of a target of names
    "names": ("churn", "churned", "leave"),
    "iris": ("iris", "species", None),  # multiclass: no positive class
}


def _data(kind: str, seed: int) -> pd.DataFrame:
    return _iris(seed) if kind == "iris" else _churn(kind, 500, seed)


def _project(root: Path, kind: str, extra: str = "", loop: str = "") -> Project:
    name, target, _ = KINDS[kind]
    (root / "data").mkdir(parents=True, exist_ok=True)
    _data(kind, 0).to_parquet(root / "data" / "train.parquet", index=False)
    (root / "skloop.yaml").write_text(SPEC.format(name=name, target=target, extra=extra) + loop)
    return Project.load(root / "skloop.yaml")


def _serve_and_label(settings: Any, name: str, target: str, new: pd.DataFrame, wal: Path) -> list[Any]:
    """Score ``new`` through the server (both protocols), post its labels, ingest the log; the predictions."""
    from starlette.testclient import TestClient

    X = new.drop(columns=[target])
    log = PredictionLog(wal).start()
    app = create_app(settings, model_name=name, prediction_log=log, poll_seconds=None)
    try:
        with TestClient(app) as client:
            half = len(X) // 2
            answer = client.post("/invocations", json={"dataframe_records": _records(X.iloc[:half])})
            assert answer.status_code == 200, answer.text
            rows = [json.dumps(r) for r in _records(X.iloc[half:])]
            v2 = client.post(
                f"/v2/models/{name}/infer",
                json={"inputs": [{"name": "rows", "datatype": "BYTES", "shape": [len(rows)], "data": rows}]},
            )
            assert v2.status_code == 200, v2.text
            truth = _records(new[["row_id", target]].astype({target: object}))
            posted = client.post(
                f"/v2/models/{name}/labels", json=[{"id": r["row_id"], "label": r[target]} for r in truth]
            )
            assert posted.status_code == 200, posted.text
        assert ingest_once(wal, app.registry.store) == len(X)
    finally:
        log.close()
        app.registry.store.close()
    return list(answer.json()["predictions"] + v2.json()["outputs"][0]["data"])


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records", date_format="iso"))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_loop_holds_on_every_kind_of_target(kind: str, tmp_path: Path) -> None:
    name, target, positive = KINDS[kind]
    with _project(tmp_path, kind) as project:
        result = project.train()
        assert result.model_version is not None and not result.gate_failures, result.gate_failures
        assert result.positive_class == positive
        run = project.store.runs.get_run(result.run_id)
        assert run.params.get("positive_class") == (None if positive is None else str(positive).removesuffix(".0"))
        Registry(project.store).promote(name, result.model_version, reason="test")
        settings = project.settings

    new = _data(kind, 9)
    served = _serve_and_label(settings, name, target, new, tmp_path / "wal")
    with Store.open(settings) as store:
        report = monitor_model(store, f"{name}@champion", settings, from_log=True, n_boot=20)

    realised, estimate = report.performance, report.estimate
    assert realised is not None and estimate is not None
    assert realised.n_rows == len(new)
    assert realised["accuracy"].value > 0.6  # labels joined the predictions under the same class names
    if positive is None:
        assert realised.positive is None
        return
    assert realised.positive == estimate.positive == str(positive).removesuffix(".0")
    assert f"recall of class {realised.positive}" in render_report_html(report)  # the report says which class
    expected = f1_score(
        [str(v) for v in new[target].astype(object)],
        [str(v) for v in pd.Series(served, dtype=object)],
        pos_label=str(positive),
    )
    assert realised["f1"].value == pytest.approx(expected)


def test_a_declared_positive_class_wins_and_a_wrong_one_is_named(tmp_path: Path) -> None:
    from skloop.core import DataError

    with _project(tmp_path / "a", "names", extra="  positive_class: stay\n") as project:
        result = project.train(register=False)
        assert result.positive_class == "stay"
        assert project.store.runs.get_run(result.run_id).params["positive_class"] == "stay"
    wrong = r"data.positive_class: 'churned' is not a class.*\['leave', 'stay'\]"
    with (
        _project(tmp_path / "b", "names", extra="  positive_class: churned\n") as project,
        pytest.raises(DataError, match=wrong),
    ):
        project.train(register=False)
    with (
        _project(tmp_path / "c", "iris", extra="  positive_class: setosa\n") as project,
        pytest.raises(DataError, match="binary target; this one has 3 classes"),
    ):
        project.train(register=False)


LOOP = """\
loop:
  guards: {cooldown: 6h, max_per_day: 3}
  data: {window: 30d, holdout: 0.4, min_rows: 200, include_training: false}
  compare: {margin: 0.0, confidence: 0.9, n_boot: 100}
"""


@pytest.mark.parametrize("kind", ["floats", "names"])
def test_the_loop_retrains_and_compares_on_served_traffic(kind: str, tmp_path: Path) -> None:
    """Drifted traffic, served and labelled: the loop monitors, retrains and compares (floats never retrained)."""
    from datetime import timedelta

    from skloop.core import utcnow

    name, target, positive = KINDS[kind]
    with _project(tmp_path, kind, loop=LOOP) as project:
        result = project.train()
        assert result.model_version is not None
        Registry(project.store).promote(name, result.model_version, reason="first")
        settings, spec = project.settings, project.spec
    _serve_and_label(settings, name, target, _churn(kind, 700, seed=22, shift=1.0), tmp_path / "wal")
    with Store.open(settings) as store:
        decision = run_loop(spec, settings, store=store, now=utcnow() + timedelta(hours=1))
        challenger = store.models.get_model_version(name, 2)
        window = store.runs.get_run(challenger.run_id).spec["data"]
    assert challenger.signature["output"]["positive_class"] == positive  # the champion's, not the window's minority
    assert window.get("positive_class") == positive
    assert "drift" in decision.fired, decision.reason
    assert decision.retrain_run_id is not None and decision.challenger_version == 2, decision.reason
    comparison = decision.comparison
    assert comparison is not None and comparison["n_rows"] > 200, decision.reason
    assert comparison["champion"] is not None and comparison["challenger"] is not None


def test_behaviour_tests_score_the_positive_class_by_default() -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from skloop.core import DirectionalTest
    from skloop.registry import infer_signature
    from skloop.workflows._behaviour import run_behaviour

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=300)})
    y = pd.Series(np.where(X["x"] + rng.normal(scale=0.3, size=300) > 0.6, "leave", "stay"))  # "leave": the minority
    model = LogisticRegression().fit(X, y)
    signature = infer_signature(X, y, task="classification", model=model)
    assert signature.output.positive_class == "leave"
    test = DirectionalTest.model_validate({"kind": "directional", "column": "x", "delta": 1.0, "direction": "increase"})
    passed, message = run_behaviour(test, 0, model, X, signature, seed=0)
    assert passed, message  # a larger x raises P(leave); P(stay), the last class, falls


def test_explain_explains_the_positive_class_or_the_one_asked_for(tmp_path: Path) -> None:
    """``leave`` is the positive class of stay/leave and sorts first: the default must not be the last class."""
    pytest.importorskip("shap", reason="the explain extra (shap) is not installed")
    from skloop.core import DataError
    from skloop.workflows import explain_model

    with _project(tmp_path, "names") as project:
        result = project.train()
        rows = _data("names", 4).head(15).drop(columns=["churned"])
        _, default = explain_model(project.store, f"churn/{result.model_version}", rows)
        assert default.output == "probability of class leave"
        model = Registry(project.store).load_model(f"churn/{result.model_version}")
        leave = list(model.classes_).index("leave")
        expected = model.predict_proba(rows[[str(c) for c in model.feature_names_in_]])[:, leave]
        assert default.predictions == pytest.approx(expected)
        _, stay = explain_model(project.store, f"churn/{result.model_version}", rows, class_="stay")
        assert stay.output == "probability of class stay"
        with pytest.raises(DataError, match=r"class 'gone' is not one of the model's classes \['leave', 'stay'\]"):
            explain_model(project.store, f"churn/{result.model_version}", rows, class_="gone")
