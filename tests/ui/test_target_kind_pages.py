"""Every UI page over a regression model, a multiclass model and string labels (corpus tables).

Per kind, one project (module-scoped): trained from a corpus table (diabetes: a float
target; wine: three int classes; breast cancer: the strings ``malignant`` /
``benign``), promoted, served through the real server (predictions logged and
ingested), labelled, monitored from the log with the report stored. Then each page
answers 200 with the kind's own content: runs, run, compare, models, model, lineage,
monitoring (and the stored report), loop, serving.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from starlette.testclient import TestClient

from skloop.registry import Registry
from skloop.serve import PredictionLog, ingest_once
from skloop.serve import create_app as serve_app
from skloop.store import Store
from skloop.ui import create_app
from skloop.workflows import Project, monitor_model, save_report

SPEC = """\
name: {name}
seed: 3
data:
  train: data/train.parquet
  target: {target}
  holdout: 0.25
pipeline:
  model:
    class: {estimator}
    params: {{n_estimators: 10, min_samples_leaf: 3}}
search:
  strategy: none
  cv: {{folds: 2}}
  n_jobs: 1
"""

# kind -> (corpus table, estimator)
KINDS = {
    "regression": ("diabetes", "sklearn.ensemble.RandomForestRegressor"),
    "multiclass": ("wine", "sklearn.ensemble.RandomForestClassifier"),
    "string-labels": ("breast_cancer", "sklearn.ensemble.RandomForestClassifier"),
}


@dataclass(frozen=True)
class Trained:
    kind: str
    name: str
    target: str
    run_ids: list[str]
    report_id: str
    client: TestClient


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return list(json.loads(frame.to_json(orient="records", date_format="iso")))


@pytest.fixture(scope="module", params=sorted(KINDS))
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    kind = request.param
    table_name, estimator = KINDS[kind]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "corpus"))
    from corpus_tables import TABLES

    table = TABLES[table_name]
    root = tmp_path_factory.mktemp(kind)
    (root / "data").mkdir()
    table.make(200, seed=0).to_parquet(root / "data" / "train.parquet", index=False)
    name = table_name.replace("_", "-")
    (root / "skloop.yaml").write_text(SPEC.format(name=name, target=table.target, estimator=estimator))
    with Project.load(root / "skloop.yaml") as project:
        first = project.train()
        second = project.train()  # two runs to compare
        assert first.model_version is not None, first.gate_failures
        Registry(project.store).promote(name, first.model_version, reason="first")
        settings = project.settings
    traffic = table.make(80, seed=9, shift=0.5)
    log = PredictionLog(root / "wal").start()
    app = serve_app(settings, model_name=name, prediction_log=log, poll_seconds=None)
    try:
        with TestClient(app) as client:
            rows = _records(traffic.drop(columns=[table.target]))
            answer = client.post("/invocations", json={"dataframe_records": rows})
            assert answer.status_code == 200, answer.text
        assert ingest_once(root / "wal", app.registry.store) == len(traffic)
    finally:
        log.close()
        app.registry.store.close()
    store = Store.open(settings)
    try:
        logged = store.predictions.query_predictions(name)
        truth = traffic[table.target].astype(object).tolist()
        store.predictions.insert_labels(name, [{"request_id": p.request_id, "row": p.row, "label": str(truth[p.row])}
                                               for p in logged])  # fmt: skip
        report = monitor_model(store, f"{name}@champion", settings, from_log=True, n_boot=0)
        stored = save_report(store, report, source_kind="log", source=name)
        with TestClient(create_app(store)) as ui:
            yield Trained(kind, name, table.target, [first.run_id, second.run_id], stored.id, ui)
    finally:
        store.close()


def _page(trained: Trained, url: str, *texts: str) -> str:
    response = trained.client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.text[:2000])
    html = response.text
    for text in texts:
        assert text in html, (url, text)
    return html


def test_runs_run_and_compare_pages(trained: Trained) -> None:
    a, b = trained.run_ids
    runs = _page(trained, f"/projects/{trained.name}/runs", a[:8], b[:8])
    assert "Traceback" not in runs
    main = "r2" if trained.kind == "regression" else "accuracy"
    _page(trained, f"/runs/{a}", a, main)
    _page(trained, f"/compare?run={a}&run={b}", a[:8], b[:8], main)


def test_models_model_and_lineage_pages(trained: Trained) -> None:
    _page(trained, "/models", trained.name)
    _page(trained, f"/models/{trained.name}", "champion")
    lineage = _page(trained, f"/models/{trained.name}/1/lineage", trained.run_ids[0][:8])
    assert re.search(r"dataset", lineage, re.I)
    _page(trained, f"/models/{trained.name}/1/card", trained.name)


def test_monitoring_loop_and_serving_pages(trained: Trained) -> None:
    monitoring = _page(trained, f"/models/{trained.name}/monitoring", trained.name)
    assert "drift" in monitoring.lower()
    _page(trained, f"/models/{trained.name}/monitoring/reports/{trained.report_id}", trained.name)
    _page(trained, f"/models/{trained.name}/loop", trained.name)
    serving = _page(trained, f"/models/{trained.name}/serving", trained.name)
    assert re.search(r"\b80\b", serving), "the 80 logged rows"
