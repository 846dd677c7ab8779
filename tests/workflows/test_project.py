"""``Project`` drives the loop with the project's store and model: references, logging, serving, trust.

The happy path of every method runs in docs/python-api.md (test_python_api_doc.py);
these are the behaviours the page does not show.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from small_project import write_small_project
from starlette.testclient import TestClient

from skloop.core import ModelNotFoundError, UsageError
from skloop.data import make_churn
from skloop.workflows import Project


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    # one training for the module; each test promotes what it needs
    project = Project.load(write_small_project(tmp_path_factory.mktemp("project")))
    run = project.train()
    assert run.model_version == 1 and not run.gate_failures
    yield project
    project.close()


def test_refs_default_to_the_champion_and_take_numbers(trained: Project) -> None:
    if "champion" in trained.registry.aliases("churn"):
        trained.registry.delete_alias("churn", "champion")
    with pytest.raises(ModelNotFoundError, match="has no alias 'champion'"):
        trained.model()  # nothing promoted yet: the default is the champion, never "the latest"
    assert trained.model(1).ref == "churn/1"
    assert trained.model("churn").ref == trained.registry.versions("churn")[-1].ref  # a bare name: the newest
    trained.promote(1, reason="first")
    assert trained.model().version == 1 and trained.model("churn@champion").version == 1


def test_predict_with_log_lands_in_the_store_with_entity_ids(trained: Project) -> None:
    trained.promote(1, reason="first")
    rows = make_churn(40, seed=5).drop(columns="churned")
    scored = trained.predict(rows, log=True, keep_id=False)
    assert scored.logged == 40 and scored.request_id is not None
    assert "customer_id" not in scored.predictions.columns  # keep_id=False: logged by id all the same
    logged = trained.store.predictions.query_predictions("churn")  # the only test that logs
    assert len(logged) == 40 and {p.request_id for p in logged} == {scored.request_id}
    assert sorted(p.entity_id for p in logged) == sorted(rows["customer_id"])
    assert all(p.version == 1 for p in logged)


def test_predict_file_keeps_columns(trained: Project, tmp_path: Path) -> None:
    data = tmp_path / "new.csv"
    make_churn(30, seed=6).to_csv(data, index=False)
    result = trained.predict_file(data, tmp_path / "out.parquet", ref=1, keep_columns=("region",))
    out = pd.read_parquet(result.out_path)
    assert result.rows == 30 and list(out.columns[:3]) == ["row", "customer_id", "region"]


def test_serve_app_pins_a_version_and_checks_its_options(trained: Project) -> None:
    app = trained.serve_app(version=1, poll_seconds=None)
    rows = json.loads(make_churn(2, seed=8).drop(columns="churned").to_json(orient="records", date_format="iso"))
    with TestClient(app) as client:
        answer = client.post("/invocations", json={"dataframe_records": rows})
        assert answer.status_code == 200 and len(answer.json()["predictions"]) == 2
        assert client.get("/v2/models/churn").json()["versions"] == ["1"]
    with pytest.raises(UsageError, match="token_required_for_predict needs a token"):
        trained.serve_app(version=1, token_required_for_predict=True)


def test_validate_a_run_and_register_dry(trained: Project) -> None:
    run = trained.train(register=False)
    report = trained.validate(run_id=run.run_id)
    assert report.version is None and report.run_id == run.run_id
    dry = trained.register(run.run_id, dry_run=True)
    assert dry.dry_run and dry.version is None and dry.passed
    assert [v.version for v in trained.registry.versions("churn")] == [1]


def test_serve_app_follows_the_alias_on_the_project_store(trained: Project) -> None:
    # the app reads the project's own store from its poller thread; a promotion is served without a restart
    import time

    later = trained.train()
    trained.promote(1, reason="first")
    app = trained.serve_app(poll_seconds=0.05)
    with TestClient(app) as client:
        assert client.get("/v2/models/churn").json()["versions"] == ["1"]
        trained.promote(later.model_version, reason="newer")
        deadline = time.monotonic() + 10
        while client.get("/v2/models/churn").json()["versions"] != [str(later.model_version)]:
            assert time.monotonic() < deadline, "the app did not follow the alias"
            time.sleep(0.05)
