"""The registry tables of the store: version numbering, alias moves and their log."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from skloop.core import ModelNotFoundError, NotFoundError, StoreError
from skloop.core._clock import utcnow
from skloop.store import AliasEvent, DatasetRecord, ModelVersion, Store

FP = "ab" * 32


def _run(store: Store, fingerprint: str = FP) -> str:
    with store.runs.start_run("churn") as run:
        store.datasets.log_dataset(
            run.id, DatasetRecord(fingerprint=fingerprint, source="data.csv", n_rows=10, n_columns=3)
        )
    return run.id


def _version(store: Store, run_id: str, name: str = "churn", **kwargs: object) -> ModelVersion:
    return store.models.create_model_version(name, run_id=run_id, artifact_sha256="cd" * 32, **kwargs)  # type: ignore[arg-type]


def test_versions_are_numbered_per_name(store: Store) -> None:
    run_id = _run(store)
    assert [_version(store, run_id).version for _ in range(3)] == [1, 2, 3]
    other = _version(store, run_id, "fraud", metrics={"holdout_roc_auc": 0.9}, status="rejected", rejection_reason="x")
    assert (other.version, other.status, other.metrics) == (1, "rejected", {"holdout_roc_auc": 0.9})
    assert store.models.get_model_version("fraud", 1) == other
    assert [v.version for v in store.models.list_model_versions("churn")] == [1, 2, 3]
    assert store.models.model_names() == ["churn", "fraud"]
    summary = {m.name: m for m in store.models.list_models()}
    assert (summary["churn"].latest_version, summary["churn"].n_versions) == (3, 3)


def test_concurrent_version_numbers_are_distinct(store: Store) -> None:
    run_id = _run(store)
    with ThreadPoolExecutor(4) as pool:
        numbers = list(pool.map(lambda _: _version(store, run_id).version, range(12)))
    assert sorted(numbers) == list(range(1, 13))


def test_unknown_run_and_version_are_named(store: Store) -> None:
    with pytest.raises(NotFoundError, match=r"run '0+' does not exist"):
        _version(store, "0" * 32)
    _version(store, _run(store))
    with pytest.raises(ModelNotFoundError, match=r"model 'fraud' is not in the registry; known models: churn"):
        store.models.get_model_version("fraud", 1)
    with pytest.raises(ModelNotFoundError, match=r"model 'churn' has no version 7; its versions are 1"):
        store.models.get_model_version("churn", 7)
    with pytest.raises(StoreError, match="status is one of registered, rejected"):
        _version(store, _run(store), status="maybe")


def test_a_version_records_its_parent_version(store: Store) -> None:
    run_id = _run(store)
    first = _version(store, run_id)
    assert first.parent_version is None
    child = _version(store, run_id, parent_version=1)
    assert child.parent_version == 1 and child.version == 2
    assert store.models.get_model_version("churn", 2).parent_version == 1
    assert [v.parent_version for v in store.models.list_model_versions("churn")] == [None, 1]
    assert [v.parent_version for v in store.models.versions_for_dataset(FP)] == [None, 1]
    assert _version(store, run_id, parent_version=2).parent_version == 2  # a chain: v3 from v2 from v1


def test_a_parent_version_must_exist_in_the_same_model(store: Store) -> None:
    run_id = _run(store)
    _version(store, run_id)
    with pytest.raises(ModelNotFoundError, match=r"parent version 4 is not a version of 'churn' \(its versions: 1\)"):
        _version(store, run_id, parent_version=4)
    with pytest.raises(ModelNotFoundError, match=r"parent version 1 is not a version of 'fraud' \(its versions: none"):
        _version(store, run_id, "fraud", parent_version=1)  # a parent is a version of the same model
    for bad in (0, -1, True, "1"):
        with pytest.raises(StoreError, match=r"a parent version is a version number \(1, 2, ...\), given"):
            _version(store, run_id, parent_version=bad)
    assert [v.version for v in store.models.list_model_versions("churn")] == [1]  # nothing half-written
    assert store.models.list_model_versions("fraud") == []


def test_alias_moves_are_logged_with_the_holder(store: Store) -> None:
    run_id = _run(store)
    for _ in range(3):
        _version(store, run_id)
    t0 = utcnow()
    first = store.models.set_alias("churn", "champion", 1, actor="ann", reason="first")
    store.models.set_alias("churn", "champion", 2, actor="bob", reason="better")
    last = store.models.set_alias("churn", "champion", 1, actor="ann", action="rollback", expected_current=2)
    assert isinstance(first, AliasEvent) and (first.from_version, first.to_version) == (None, 1)
    assert (last.from_version, last.to_version, last.action) == (2, 1, "rollback")
    history = store.models.alias_history("churn", "champion")
    assert [(e.from_version, e.to_version, e.action, e.actor) for e in history] == [
        (None, 1, "set", "ann"),
        (1, 2, "set", "bob"),
        (2, 1, "rollback", "ann"),
    ]
    assert store.models.get_aliases("churn") == {"champion": 1}
    assert store.models.get_model_version("churn", 1).aliases == ("champion",)
    assert store.models.alias_at("churn", "champion", t0 - timedelta(seconds=1)) is None
    assert store.models.alias_at("churn", "champion", history[1].time) == 2
    assert store.models.alias_at("churn", "champion", utcnow()) == 1
    with pytest.raises(StoreError, match=r"holds version 1, not version 3 as expected"):
        store.models.set_alias("churn", "champion", 3, actor="cy", expected_current=3)
    with pytest.raises(ModelNotFoundError, match="its versions are 1, 2, 3"):
        store.models.set_alias("churn", "champion", 9, actor="cy")
    store.models.set_alias("churn", "champion", None, actor="cy", reason="retired")
    assert store.models.get_aliases("churn") == {}
    assert store.models.alias_history("churn")[-1].action == "delete"
    assert store.models.alias_at("churn", "champion", utcnow()) is None
    with pytest.raises(ModelNotFoundError, match="no alias 'champion' to delete"):
        store.models.set_alias("churn", "champion", None, actor="cy")


def test_versions_for_dataset_by_prefix(store: Store) -> None:
    a, b = _run(store, FP), _run(store, "ef" * 32)
    _version(store, a, dataset_fingerprint=FP)
    _version(store, b)
    _version(store, a, "fraud")
    assert [v.ref for v in store.models.versions_for_dataset(FP[:10])] == ["churn/1", "fraud/1"]
    assert [v.ref for v in store.models.versions_for_dataset("ef" * 32)] == ["churn/2"]
    with pytest.raises(NotFoundError, match="dataset '00' does not exist"):
        store.models.versions_for_dataset("00")


def test_a_version_artifact_is_kept_once_and_read_back_verified(store: Store) -> None:
    _version(store, _run(store))
    assert store.models.get_version_artifact("churn", 1, "onnx:test") is None
    kept = store.models.put_version_artifact("churn", 1, "onnx:test", b"graph", {"parity": {"max_abs_diff": 0.0}})
    assert kept.sha256 is not None and store.artifacts.get_bytes(kept.sha256) == b"graph"
    late = store.models.put_version_artifact("churn", 1, "onnx:test", b"another graph")  # a racing second caller
    assert late == kept == store.models.get_version_artifact("churn", 1, "onnx:test")
    refused = store.models.put_version_artifact("churn", 1, "onnx:other", None, {"refusal": "no converter"})
    assert (refused.sha256, refused.size, refused.meta) == (None, None, {"refusal": "no converter"})
    with pytest.raises(ModelNotFoundError, match="has no version 2"):
        store.models.put_version_artifact("churn", 2, "onnx:test", b"graph")
