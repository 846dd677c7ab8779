"""Training: exact agreement with hand-written scikit-learn, and honest run states."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from small_project import write_small_project

from skloop.core import PipelineError
from skloop.data import read_table
from skloop.pipelines import build_pipeline, resolve_features
from skloop.store import Store
from skloop.workflows import NullProgress, Project, train

HERE = Path(__file__).parent


def test_cv_scores_equal_a_hand_written_grid_search(small_project: Project) -> None:
    progress = NullProgress()
    result = small_project.train(progress=progress)
    spec = small_project.spec

    df = read_table(small_project.settings.base_dir / "data" / "churn.csv")
    y = df["churned"]
    train_idx, _ = train_test_split(np.arange(len(df)), test_size=0.2, random_state=7, stratify=y)
    train_idx = np.sort(train_idx)
    features = resolve_features(spec.features, _inferred(df), {"churned", "customer_id"})
    X = df[list(features.all_columns)].iloc[train_idx]
    search = GridSearchCV(
        build_pipeline(spec, features),
        {"model__max_depth": [4, 8]},
        scoring=["roc_auc", "accuracy"],
        refit="roc_auc",
        cv=StratifiedKFold(3, shuffle=True, random_state=7),
    ).fit(X, y.iloc[train_idx])

    best = search.best_index_
    assert result.best_params == search.best_params_
    for metric in ("roc_auc", "accuracy"):
        expected = [search.cv_results_[f"split{i}_test_{metric}"][best] for i in range(3)]
        assert result.cv[metric]["folds"] == expected
        history = small_project.store.runs.get_metric_history(result.run_id, f"cv_{metric}_fold")
        assert [m.value for m in sorted(history, key=lambda m: m.step)] == expected
    # a tick per (candidate, fold) fit reached the progress, from the workers
    assert progress.advanced == 2 * 3
    run = small_project.run(result.run_id)
    assert run.status == "finished"
    assert run.metrics["cv_roc_auc_mean"] == pytest.approx(np.mean(result.cv["roc_auc"]["folds"]))
    assert "holdout_roc_auc" in run.metrics and run.metrics["holdout_roc_auc"] > 0.7
    assert set(run.artifacts) >= {"model.skops", "cv_results.json", "features.json"}
    assert run.environment["packages"]["scikit-learn"]
    assert run.spec["name"] == "churn"
    assert run.datasets[0].fingerprint == result.dataset_fingerprint


def _inferred(df):
    from skloop.data import infer_schema

    schema = infer_schema(df, target="churned", id_column="customer_id")
    return {k: schema.by_kind(k) for k in ("numeric", "categorical", "boolean", "datetime", "text")}


def test_parallel_search_gives_the_same_scores(small_project: Project) -> None:
    one = small_project.train(n_jobs=1)
    two = small_project.train(n_jobs=2)
    assert one.cv == two.cv


def test_a_search_that_raises_marks_the_run_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))
    spec = write_small_project(tmp_path)
    spec.write_text(
        spec.read_text()
        .replace("sklearn.ensemble.RandomForestClassifier", "slow_estimators.FailingClassifier")
        .replace("{n_estimators: 15}", "{}")
        .replace("model__max_depth: [4, 8]", "model__seconds: [0.0]")
    )
    with Project.load(spec) as project:
        with pytest.raises(PipelineError, match="refused this data on purpose"):
            project.train()
        (run,) = project.runs()
        assert run.status == "failed"
        assert "refused this data on purpose" in run.error
        assert run.end_time is not None


def test_ctrl_c_marks_the_run_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))
    spec = write_small_project(tmp_path)
    spec.write_text(
        spec.read_text()
        .replace("sklearn.ensemble.RandomForestClassifier", "slow_estimators.InterruptingClassifier")
        .replace("{n_estimators: 15}", "{}")
        .replace("model__max_depth: [4, 8]", "model__seconds: [0.0]")
    )
    with Project.load(spec) as project:
        with pytest.raises(KeyboardInterrupt):
            project.train()
        (run,) = project.runs()
        assert run.status == "killed"


def test_sigkill_mid_search_leaves_a_consistent_store(tmp_path: Path) -> None:
    spec = write_small_project(tmp_path)
    spec.write_text(
        spec.read_text()
        .replace("sklearn.ensemble.RandomForestClassifier", "slow_estimators.SleepyClassifier")
        .replace("{n_estimators: 15}", "{seconds: 0.3}")
        .replace("model__max_depth: [4, 8]", "model__seconds: [0.3, 0.31, 0.32]")
    )
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    log = (tmp_path / "stderr.txt").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "skloop.cli", "train", "--spec", str(spec), "-q"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    settings_project = Project.load(spec)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (tmp_path / ".skloop" / "skloop.db").exists():
                runs = settings_project.runs()
                if runs and runs[0].status == "running" and runs[0].datasets:
                    break
            time.sleep(0.2)
        else:
            pytest.fail(f"training never started: {(tmp_path / 'stderr.txt').read_text()}")
        time.sleep(0.5)  # inside the search now
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        settings_project.close()
        with Store.open(settings_project.settings) as store:
            (run,) = store.runs.search_runs("churn")
            assert run.status != "finished"
            store.runs.reap_stale_runs()
            run = store.runs.get_run(run.id)
            assert run.status == "killed"
            assert run.datasets and run.params  # what was written before the kill is intact
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
        settings_project.close()


def test_train_function_with_explicit_store(tmp_path: Path) -> None:
    project = Project.load(write_small_project(tmp_path, rows=600))
    with Store.open(project.settings) as store:
        result = train(project.spec, project.settings, store=store)
        assert store.runs.get_run(result.run_id).status == "finished"


def test_without_snapshot_only_the_fingerprint_is_kept_and_reproduce_reads_the_source(tmp_path: Path) -> None:
    spec = write_small_project(tmp_path, rows=600)
    spec.write_text(spec.read_text().replace("  holdout: 0.2\n", "  holdout: 0.2\n  snapshot: false\n"))
    with Project.load(spec) as project:
        result = project.train()
        record = project.store.datasets.get_dataset(result.dataset_fingerprint)
        assert record.snapshot_sha256 is None and record.n_rows == 600
        assert project.reproduce(result.run_id).identical
        # the source changes: reproduce names the data as what differs
        csv = tmp_path / "data" / "churn.csv"
        lines = csv.read_text().splitlines()
        csv.write_text("\n".join(lines[:-5]) + "\n")
        outcome = project.reproduce(result.run_id)
        assert "data" in outcome.differences


def test_regression_with_a_time_ordered_holdout(tmp_path: Path) -> None:
    spec = write_small_project(
        tmp_path,
        rows=500,
        spec="""\
name: charges
data:
  train: data/churn.csv
  target: monthly_charges_target
  id: customer_id
  time: signup_date
  holdout: 0.25
pipeline:
  model: {class: sklearn.linear_model.Ridge}
search:
  strategy: grid
  space: {model__alpha: [0.1, 10.0]}
  cv: {folds: 3, time_series: true}
""",
    )
    import pandas as pd

    csv = tmp_path / "data" / "churn.csv"
    df = pd.read_csv(csv)
    df["monthly_charges_target"] = df["tenure_months"] * 2.0 + 1.0
    df.to_csv(csv, index=False)
    with Project.load(spec) as project:
        result = project.train()
        assert result.task == "regression"
        assert set(result.cv) == {"neg_root_mean_squared_error", "r2", "neg_mean_absolute_error"}
        run = project.run(result.run_id)
        assert run.params["n_holdout_rows"] == "125"
        assert result.holdout["r2"] > 0.9


def test_the_database_password_of_data_train_is_recorded_nowhere(tmp_path: Path) -> None:
    import json

    from skloop.core import DataError

    spec = write_small_project(tmp_path, rows=400)
    frame = read_table(tmp_path / "data" / "churn.csv")
    url = "postgresql+psycopg://ana:s3cret@db.invalid:5432/sales"
    sql = f'  train: {{url: "{url}", query: "select * from churn"}}\n'
    spec.write_text(spec.read_text().replace("  train: data/churn.csv\n", sql))
    with Project.load(spec) as project:
        result = train(project.spec, project.settings, store=project.store, frame=frame)
        run = project.store.runs.get_run(result.run_id)
        assert run.spec["data"]["train"]["url"] == "postgresql+psycopg://ana:***@db.invalid:5432/sales"
        assert "s3cret" not in project.store.datasets.get_dataset(result.dataset_fingerprint).source
        assert "s3cret" not in json.dumps(project.store.runs.get_run(result.run_id).params)
        # without a data snapshot, the redacted spec cannot be read again: say so, do not try
        spec.write_text(spec.read_text().replace("  holdout: 0.2\n", "  holdout: 0.2\n  snapshot: false\n"))
    with Project.load(spec) as project:
        unsnapped = train(project.spec, project.settings, store=project.store, frame=frame.head(350))
        with pytest.raises(DataError, match=r"hides the password of data\.train\.url .*ana:\*\*\*@db\.invalid"):
            project.reproduce(unsnapped.run_id)
    stored = [p for p in (tmp_path / ".skloop").rglob("*") if p.is_file()]
    assert stored and not [p for p in stored if b"s3cret" in p.read_bytes()]


def test_a_factory_pipeline_signature_has_only_the_columns_it_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from skloop.registry import Registry, Signature, coerce_frame

    (tmp_path / "select_factories.py").write_text(
        "from sklearn.compose import ColumnTransformer\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn.pipeline import Pipeline\n"
        "from sklearn.preprocessing import OneHotEncoder, StandardScaler\n\n"
        "def few():\n"
        "    select = ColumnTransformer([('numbers', StandardScaler(), ['tenure_months', 'age']),\n"
        "                                ('words', OneHotEncoder(handle_unknown='ignore'), ['contract'])])\n"
        "    return Pipeline([('select', select), ('model', LogisticRegression(max_iter=500))])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = write_small_project(tmp_path, rows=500)
    text = spec.read_text().replace(
        "  model:\n    class: sklearn.ensemble.RandomForestClassifier\n    params: {n_estimators: 15}\n",
        "  factory: select_factories:few\n",
    )
    spec.write_text(text.replace("    model__max_depth: [4, 8]\n", "    model__C: [1.0]\n"))
    with Project.load(spec) as project:
        result = project.train()
        version = Registry(project.store).resolve(f"churn/{result.model_version}")
        signature = Signature.from_dict(version.signature)
        frame = read_table(tmp_path / "data" / "churn.csv")
    assert signature.names == ["age", "tenure_months", "contract"]  # in the frame's order, not every feature
    rows = frame.head(50)
    scored = coerce_frame(rows[["age", "tenure_months", "contract"]], signature)
    assert scored.ok
    np.testing.assert_array_equal(result.model.predict(scored.frame), result.model.predict(rows))
