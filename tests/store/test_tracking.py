"""Round trips of every record kind through the tracking API."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from skloop.core import NotFoundError, StoreError
from skloop.store import ArtifactRef, DatasetRecord, Metric, Run, RunInput, Store


def test_run_round_trip(store: Store) -> None:
    parent = store.runs.create_run("proj", "train")
    run = store.runs.create_run(
        "proj",
        "reproduce",
        name="again",
        spec={"name": "proj", "search": {"n_iter": 3}},
        code_commit="abc123",
        code_dirty=True,
        environment={"scikit-learn": "1.6.1"},
        seed=42,
        parent_run_id=parent.id,
        tags={"team": "risk"},
    )
    assert isinstance(run, Run) and run.status == "running" and len(run.id) == 32
    store.runs.log_param(run.id, "model__max_depth", 8)
    store.runs.log_params(run.id, {"model__n_estimators": 100, "scaler": "standard"})
    store.runs.set_tag(run.id, "note", "first")
    store.runs.set_tag(run.id, "note", "second")
    store.runs.log_metric(run.id, "loss", 0.5, step=0)
    store.runs.log_metrics(run.id, {"loss": 0.25, "acc": 0.75}, step=1)
    store.runs.log_batch(run.id, [("auc", 0.9, 0)], params={"cv": 5}, tags={"stage": "cv"})
    ref = store.runs.log_artifact(run.id, "model.skops", b"model bytes", media_type="application/x-skops")
    store.runs.finish_run(run.id)

    got = store.runs.get_run(run.id)
    assert got.project == "proj" and got.kind == "reproduce" and got.name == "again"
    assert got.status == "finished" and got.end_time is not None and got.error is None
    assert got.start_time.tzinfo is not None and got.end_time >= got.start_time
    assert got.spec == {"name": "proj", "search": {"n_iter": 3}}
    assert (got.code_commit, got.code_dirty, got.seed) == ("abc123", True, 42)
    assert got.environment == {"scikit-learn": "1.6.1"}
    assert got.parent_run_id == parent.id and got.pid and got.hostname
    assert got.params == {
        "model__max_depth": "8", "model__n_estimators": "100", "scaler": "standard", "cv": "5"
    }  # fmt: skip
    assert got.tags == {"team": "risk", "note": "second", "stage": "cv"}
    assert got.metrics == {"loss": 0.25, "acc": 0.75, "auc": 0.9}
    assert got.artifacts == {"model.skops": ref}
    assert ref == ArtifactRef(ref.sha256, 11, "model.skops", "application/x-skops")
    assert got.duration is not None and not got.is_active
    assert store.runs.load_artifact(run.id, "model.skops") == b"model bytes"


def test_metric_history_and_latest(store: Store) -> None:
    run = store.runs.create_run("proj")
    when = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    store.runs.log_metric(run.id, "loss", 3.0, step=2, timestamp=when)
    store.runs.log_metric(run.id, "loss", 9.0, step=1)  # an older step logged later is not latest
    store.runs.log_metric(run.id, "loss", float("nan"), step=0)
    store.runs.log_metric(run.id, "loss", float("inf"), step=3)
    history = store.runs.get_metric_history(run.id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3]
    assert math.isnan(history[0].value) and history[1].value == 9.0
    assert history[2] == Metric("loss", 3.0, 2, when)
    assert store.runs.get_run(run.id).metrics["loss"] == math.inf
    store.runs.log_metric(run.id, "loss", float("nan"), step=4)
    assert math.isnan(store.runs.get_run(run.id).metrics["loss"])
    assert store.runs.get_metric_history(run.id, "missing") == []


def test_params_are_immutable(store: Store) -> None:
    run = store.runs.create_run("proj")
    store.runs.log_param(run.id, "alpha", 1)
    store.runs.log_param(run.id, "alpha", "1")  # the same value again is fine
    with pytest.raises(StoreError, match=r"param 'alpha'.*already '1'.*immutable"):
        store.runs.log_param(run.id, "alpha", 2)
    with pytest.raises(StoreError, match=r"already"):
        store.runs.log_batch(run.id, params={"beta": 1, "alpha": 3})
    assert store.runs.get_run(run.id).params == {"alpha": "1"}  # the failed batch wrote nothing


def test_ended_runs_are_read_only(store: Store) -> None:
    run = store.runs.create_run("proj")
    store.runs.finish_run(run.id, "failed", error="ValueError: boom")
    got = store.runs.get_run(run.id)
    assert got.status == "failed" and got.error == "ValueError: boom"
    for call in (
        lambda: store.runs.log_metric(run.id, "x", 1.0),
        lambda: store.runs.log_param(run.id, "x", 1),
        lambda: store.runs.log_batch(run.id, [("x", 1.0, 0)]),
        lambda: store.runs.finish_run(run.id),
    ):
        with pytest.raises(StoreError, match=f"run {run.id} is failed"):
            call()
    store.runs.set_tag(run.id, "reviewed", "yes")  # tags may still be added
    assert store.runs.get_run(run.id).tags == {"reviewed": "yes"}


def test_bad_inputs(store: Store) -> None:
    run = store.runs.create_run("proj")
    with pytest.raises(StoreError, match=r"metric 'x' must be a number"):
        store.runs.log_metric(run.id, "x", "high")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match=r"names must be non-empty"):
        store.runs.log_metric(run.id, "", 1.0)
    with pytest.raises(StoreError, match=r"a run ends as one of"):
        store.runs.finish_run(run.id, "done")
    with pytest.raises(StoreError, match=r"project must be"):
        store.runs.create_run("")
    with pytest.raises(NotFoundError, match=r"parent run"):
        store.runs.create_run("proj", parent_run_id="0" * 32)


def test_get_run_by_prefix(store: Store) -> None:
    runs = [store.runs.create_run("proj") for _ in range(40)]
    target = runs[0]
    assert store.runs.get_run(target.id[:12]).id == target.id
    assert store.runs.get_run(target.id.upper()).id == target.id
    with pytest.raises(NotFoundError, match=r"'f00d' does not exist|is ambiguous") as info:
        store.runs.get_run("f00d" if not any(r.id.startswith("f00d") for r in runs) else "zz")
    assert info.type is NotFoundError or "ambiguous" in str(info.value)
    with pytest.raises(NotFoundError, match=r"run 'not-an-id' does not exist"):
        store.runs.get_run("not-an-id")
    first = {r.id[0] for r in runs}
    prefix = next(c for c in "0123456789abcdef" if sum(r.id[0] == c for r in runs) >= 2)
    assert prefix in first
    with pytest.raises(StoreError, match=f"prefix '{prefix}' is ambiguous, it matches: ") as info:
        store.runs.get_run(prefix)
    assert not isinstance(info.value, NotFoundError)
    with pytest.raises(NotFoundError, match=r"does not exist"):
        store.runs.log_metric("0" * 32, "x", 1.0)


def test_datasets(store: Store) -> None:
    fp1, fp2 = "a1" * 32, "b2" * 32
    first = store.runs.create_run("proj")
    second = store.runs.create_run("proj")
    record = DatasetRecord(fp1, "data/train.csv", 100, 5, {"x": "float"}, {"x": {"mean": 1.0}})
    stored = store.datasets.log_dataset(first.id, record, "train")
    assert stored.created is not None and stored.schema == {"x": "float"}
    store.datasets.log_dataset(first.id, DatasetRecord(fp2, "data/holdout.csv", 20, 5), "holdout")
    again = store.datasets.log_dataset(second.id, DatasetRecord(fp1, "moved.csv", 100, 5, snapshot_sha256="c" * 64))
    assert again.source == "data/train.csv" and again.snapshot_sha256 == "c" * 64

    assert store.runs.get_run(first.id).datasets == (RunInput(fp1, "train"), RunInput(fp2, "holdout"))
    assert store.datasets.get_dataset(fp1[:10]) == again
    summaries = {s.fingerprint: s for s in store.datasets.list_datasets()}
    assert summaries[fp1].n_runs == 2 and summaries[fp2].n_runs == 1
    assert summaries[fp1].first_used <= summaries[fp1].last_used  # type: ignore[operator]
    assert (summaries[fp1].n_rows, summaries[fp1].n_columns) == (100, 5)
    assert [r.id for r in store.datasets.runs_for_dataset(fp1)] == [first.id, second.id]
    with pytest.raises(NotFoundError, match=r"dataset 'ffff' does not exist"):
        store.datasets.get_dataset("ffff")
    with pytest.raises(StoreError, match=r"needs a DatasetRecord"):
        store.datasets.log_dataset(first.id, {"fingerprint": fp1}, "train")  # type: ignore[arg-type]


def test_artifacts_through_the_store(store: Store, tmp_path) -> None:
    run = store.runs.create_run("proj")
    path = tmp_path / "report.html"
    path.write_bytes(b"<html></html>")
    ref = store.runs.log_artifact(run.id, "report.html", path, media_type="text/html")
    assert store.runs.log_artifact(run.id, "report.html", path).sha256 == ref.sha256  # idempotent
    with pytest.raises(StoreError, match=r"already has a different artifact 'report.html'"):
        store.runs.log_artifact(run.id, "report.html", b"other")
    assert store.runs.artifact_path(run.id, "report.html").read_bytes() == b"<html></html>"
    with pytest.raises(NotFoundError, match=r"has no artifact .nope. \(it has: report.html\)"):
        store.runs.load_artifact(run.id, "nope")


def test_import_runs(store: Store) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ids = store.runs.import_runs(
        Run(
            id="",
            project="imp",
            kind="train",
            status="finished",
            start_time=start,
            params={"a": str(i)},
            tags={"src": "mlflow"},
            metrics={"auc": i / 10},
        )
        for i in range(5)
    )
    assert len(ids) == 5 and store.runs.count_runs("imp") == 5
    got = store.runs.get_run(ids[3])
    assert got.params == {"a": "3"} and got.metrics == {"auc": 0.3} and got.tags == {"src": "mlflow"}
    assert len(store.runs.get_metric_history(ids[3], "auc")) == 1
