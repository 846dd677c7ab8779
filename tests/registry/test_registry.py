"""The registry: gates, aliases with history and rollback, resolving refs, lineage, loading."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event

from skloop.core import GateError, GatesSpec, ModelNotFoundError, RegistryError
from skloop.core._clock import utcnow
from skloop.registry import Registry, check_gates, parse_ref
from skloop.store import DatasetRecord, Store

GATES = GatesSpec(min={"holdout_roc_auc": 0.75})


@pytest.fixture
def registry(reg_store: Store) -> Registry:
    return Registry(reg_store)


def _versions(registry: Registry, make_run: Callable[..., str], aucs: list[float]) -> list[int]:
    return [registry.register(make_run(auc), "churn", gates=GATES).version for auc in aucs]


def test_register_records_metrics_dataset_and_artifact(registry: Registry, reg_make_run: Callable[..., str]) -> None:
    run_id = reg_make_run(0.8)
    v = registry.register(run_id, "churn", gates=GATES, signature={"inputs": []}, card="# churn")
    assert (v.version, v.status, v.run_id, v.rejection_reason) == (1, "registered", run_id, None)
    assert v.metrics == {"holdout_roc_auc": 0.8, "cv_roc_auc_mean": 0.8}  # no per-fold values
    assert v.dataset_fingerprint == "ab" * 32 and v.signature == {"inputs": []} and v.card == "# churn"
    run = registry.store.runs.get_run(run_id)
    assert v.artifact_sha256 == run.artifacts["model.skops"].sha256
    assert registry.load("churn/1") == registry.store.runs.load_artifact(run_id, "model.skops")
    model = registry.load_model("churn")
    assert model.predict([[3.0]]).tolist() == [1]


def test_failing_gates_reject_and_block_promotion(registry: Registry, reg_make_run: Callable[..., str]) -> None:
    v = registry.register(reg_make_run(0.61), "churn", gates=GATES)
    assert v.status == "rejected" and v.rejection_reason == "holdout_roc_auc 0.61 < 0.75"
    with pytest.raises(GateError, match=r"churn/1 failed its gates \(holdout_roc_auc 0.61 < 0.75\).*--force"):
        registry.promote("churn", 1, reason="try")
    assert registry.aliases("churn") == {}
    event = registry.promote("churn", 1, reason="hotfix", force=True, actor="ann")
    assert event.to_version == 1 and "forced past failed gates: holdout_roc_auc 0.61 < 0.75" in (event.reason or "")
    assert event.reason.startswith("hotfix")  # type: ignore[union-attr]


def test_gates_name_missing_metrics_and_max_bounds() -> None:
    gates = GatesSpec(min={"holdout_f1": 0.5}, max={"latency": 2.0})
    failures = check_gates(gates, {"latency": 3.5, "holdout_roc_auc": 0.9})
    assert failures == [
        "holdout_f1 was not recorded by the run (gates.min; recorded: holdout_roc_auc, latency)",
        "latency 3.5 > 2",
    ]
    assert check_gates(None, {}) == []


def test_register_refuses_runs_without_a_model(registry: Registry, reg_make_run: Callable[..., str]) -> None:
    run_id = reg_make_run(artifact="other.bin")
    with pytest.raises(RegistryError, match=r"no skops model artifact 'model.skops' \(it has: other.bin\)"):
        registry.register(run_id, "churn")


def test_registering_a_run_twice_names_its_version_unless_forced(
    registry: Registry, reg_make_run: Callable[..., str]
) -> None:
    run_id = reg_make_run(0.8)
    assert registry.register(run_id, "churn").version == 1
    with pytest.raises(RegistryError, match=rf"run {run_id} is already registered as churn/1; .*--force"):
        registry.register(run_id, "churn")
    assert [v.version for v in registry.versions("churn")] == [1]
    assert registry.register(run_id, "churn", force=True).version == 2  # deliberately
    assert registry.register(run_id, "churn-copy").version == 1  # another model may take the same run
    with pytest.raises(RegistryError, match=r"already registered as churn/1, churn/2"):
        registry.register(run_id, "churn")


def test_alias_moves_rollback_and_history(registry: Registry, reg_make_run: Callable[..., str]) -> None:
    _versions(registry, reg_make_run, [0.8, 0.85, 0.9])
    registry.promote("churn", 1, reason="first", actor="ann")
    registry.promote("churn", 2, reason="better", actor="bob")
    registry.promote("churn", 3, reason="best", actor="bob")
    registry.promote("churn", 3, "challenger", reason="shadow", actor="cy")
    assert registry.resolve("churn@champion").version == 3
    assert registry.resolve("churn/2").aliases == ()
    assert registry.resolve("churn/3").aliases == ("challenger", "champion")

    back = registry.rollback("churn", reason="v3 misbehaves", actor="ann")
    assert (back.from_version, back.to_version, back.action) == (3, 2, "rollback")
    assert registry.rollback("churn").to_version == 1  # rollbacks walk further back
    with pytest.raises(RegistryError, match=r"churn@champion has no earlier holder.*holds version 1"):
        registry.rollback("churn")
    assert registry.aliases("churn") == {"challenger": 3, "champion": 1}

    history = registry.history("churn", "champion")
    assert [(e.from_version, e.to_version, e.action) for e in history] == [
        (None, 1, "set"), (1, 2, "set"), (2, 3, "set"), (3, 2, "rollback"), (2, 1, "rollback"),
    ]  # fmt: skip
    assert history[0].actor == "ann" and history[0].reason == "first"
    assert "@" in history[-1].actor  # default actor is user@host
    with pytest.raises(ModelNotFoundError, match="never had alias 'staging'; its aliases are: challenger, champion"):
        registry.rollback("churn", "staging")


def test_alias_at_a_time_follows_the_log(registry: Registry, reg_make_run: Callable[..., str]) -> None:
    _versions(registry, reg_make_run, [0.8, 0.9])
    before = utcnow() - timedelta(seconds=1)
    first = registry.promote("churn", 1, reason="a")
    second = registry.promote("churn", 2, reason="b")
    assert registry.alias_at("churn", "champion", before) is None
    assert registry.alias_at("churn", "champion", first.time) == 1
    assert registry.alias_at("churn", "champion", second.time) == 2
    assert registry.alias_at("churn", "champion", second.time + timedelta(days=1)) == 2
    registry.delete_alias("churn", "champion", reason="retired")
    assert registry.alias_at("churn", "champion", utcnow() + timedelta(seconds=1)) is None
    assert registry.alias_at("churn", "champion", second.time) == 2


def test_resolve_errors_name_what_exists(registry: Registry, reg_make_run: Callable[..., str]) -> None:
    with pytest.raises(ModelNotFoundError, match=r"model 'churn' is not in the registry; known models: none"):
        registry.resolve("churn")
    _versions(registry, reg_make_run, [0.8, 0.6])
    registry.promote("churn", 1, reason="ok")
    with pytest.raises(ModelNotFoundError, match=r"model 'fraud' is not in the registry; known models: churn"):
        registry.resolve("fraud@champion")
    with pytest.raises(ModelNotFoundError, match=r"has no version 5; its versions are 1, 2"):
        registry.resolve("churn/5")
    with pytest.raises(ModelNotFoundError, match=r"no alias 'staging'; its aliases are: champion -> 1"):
        registry.resolve("churn@staging")
    with pytest.raises(ModelNotFoundError, match="not a model reference"):
        registry.resolve("churn/latest")
    assert registry.resolve("churn").version == 1  # latest *registered*: v2 was rejected
    assert registry.resolve("churn/v2").status == "rejected"
    assert parse_ref("a@b") == ("a", None, "b")


def test_lineage_both_directions(registry: Registry, reg_make_run: Callable[..., str]) -> None:
    fp = "cd" * 32
    run_a = reg_make_run(0.8, fingerprint=fp)
    run_b = reg_make_run(0.9, fingerprint=fp)
    registry.register(run_a, "churn")
    registry.register(run_b, "churn")
    registry.register(reg_make_run(0.9, fingerprint="ef" * 32), "churn")
    registry.promote("churn", 2, reason="best")

    tree = registry.lineage("churn@champion")
    assert (tree.kind, tree.id, tree.attrs["aliases"]) == ("model_version", "churn/2", ["champion"])
    (run,) = tree.children
    assert (run.kind, run.id, run.attrs["code_commit"]) == ("run", run_b, "c0ffee")
    assert run.attrs["params"] == {"model": "LogisticRegression"} and run.attrs["spec"] == {"name": "churn"}
    assert "cv_roc_auc_fold" not in run.attrs["metrics"] and run.attrs["environment"] == {"x": "1"}
    (data,) = run.children
    assert (data.kind, data.id, data.attrs["source"], data.attrs["n_rows"], data.attrs["role"]) == (
        "dataset", fp, "data/churn.csv", 100, "train",
    )  # fmt: skip

    back = registry.lineage(fp[:12])
    assert (back.kind, back.id) == ("dataset", fp)
    assert [c.id for c in back.children] == ["churn/1", "churn/2"]
    assert [n.id for n in back.walk("run")] == [run_a, run_b]
    assert back.to_dict()["children"][0]["children"][0]["kind"] == "run"
    with pytest.raises(ModelNotFoundError, match="neither a model nor a known dataset fingerprint; known models: chu"):
        registry.lineage("0000ffff")


@contextmanager
def _statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements run on the store's engine inside the block."""
    seen: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    engines = {id(e): e for e in (store.db.engine, store.db.reader)}.values()  # SQLite files read on their own engine
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


def test_lineage_reads_do_not_grow_with_the_versions(registry: Registry, reg_make_run: Callable[..., str]) -> None:
    # one query per kind of record (runs, datasets, aliases), never one per version or model
    fp, counts = "cd" * 32, []
    for n in (1, 2, 5):
        while (k := len(registry.store.models.model_names())) < n:  # one version of each of n models
            v = registry.register(reg_make_run(0.8, fingerprint=fp), f"model{k}")
            registry.promote(v.name, v.version, reason="first")
        with _statements(registry.store) as seen:
            tree = registry.lineage(fp)
        assert len(tree.children) == n and all(c.attrs["aliases"] == ["champion"] for c in tree.children)
        counts.append(len(seen))
    assert counts[0] == counts[1] == counts[2], counts


def test_version_lineage_reads_do_not_grow_with_the_datasets(registry: Registry, reg_store: Store) -> None:
    counts = []
    for n in (1, 3):
        with reg_store.runs.start_run("churn") as run:
            for i in range(n):
                record = DatasetRecord(fingerprint=f"{n}{i}" * 32, source=f"d{i}.csv", n_rows=10, n_columns=2)
                reg_store.datasets.log_dataset(run.id, record, role=("train", "test", "holdout")[i])
            reg_store.runs.log_artifact(run.id, "model.skops", b"not loaded here")
        v = registry.register(run.id, f"m{n}")
        with _statements(reg_store) as seen:
            tree = registry.lineage(v.ref)
        assert [d.attrs["source"] for d in tree.walk("dataset")] == [f"d{i}.csv" for i in range(n)]
        counts.append(len(seen))
    assert counts[0] == counts[1], counts


def test_lineage_of_a_retrained_version(registry: Registry, reg_make_run: Callable[..., str]) -> None:
    """The parent version and the decision that retrained it, each one read whatever the history."""
    v1 = registry.register(reg_make_run(0.8), "churn").version
    v2 = registry.register(reg_make_run(0.9), "churn", parent_version=v1)
    assert v2.parent_version == 1
    loop = registry.store.loop
    counts = []
    for quiet in (0, 20):  # decisions that produced nothing do not add reads
        for _ in range(quiet):
            d = loop.create_decision("churn", evaluated_at=utcnow())
            loop.finish_decision(d.id, outcome="none", reason="no trigger fired")
        with _statements(registry.store) as seen:
            tree = registry.lineage("churn/2")
        counts.append(len(seen))
        assert [c.kind for c in tree.children] == ["run", "parent"]
    assert counts[0] == counts[1], counts
    d = loop.create_decision("churn", evaluated_at=utcnow())
    comparison = {"metric": "roc_auc", "champion": 0.8, "challenger": 0.9, "p_value": 0.01}
    triggers = [{"name": "drift", "fired": True}, {"name": "schedule", "fired": False}]
    loop.update_decision(
        d.id, champion_version=1, challenger_version=2, fired=["drift"], triggers=triggers, comparison=comparison
    )
    loop.finish_decision(d.id, outcome="promoted", reason="v2 beats v1")
    tree = registry.lineage("churn/2")
    _, parent, decision = tree.children
    assert (parent.kind, parent.id, parent.attrs["version"], parent.attrs["parent_version"]) == (
        "parent", "churn/1", 1, None,
    )  # fmt: skip
    assert (decision.kind, decision.id) == ("decision", d.id)
    a = decision.attrs
    assert (a["outcome"], a["reason"], a["fired"], a["triggers"]) == ("promoted", "v2 beats v1", ["drift"],
                                                                       ["drift", "schedule"])  # fmt: skip
    assert (a["metric"], a["champion_score"], a["challenger_score"], a["champion_version"]) == ("roc_auc", 0.8, 0.9, 1)
    assert tree.to_dict()["children"][2]["kind"] == "decision" and tree.attrs["parent_version"] == 1
    assert [c.kind for c in registry.lineage("churn/1").children] == ["run"]  # v1: trained from scratch
    with pytest.raises(ModelNotFoundError, match=r"parent version 5 is not a version of 'churn'"):
        registry.register(reg_make_run(0.9), "churn", parent_version=5)
