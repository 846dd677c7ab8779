"""The step runner: order, records, resumption, the cache across decisions, stops and failures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from skloop.core import SkloopError
from skloop.store import Store
from skloop.workflows._steps import Step, hash_inputs, run_steps

NOW = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(f"sqlite:///{tmp_path}/s.db", tmp_path / "art")
    yield s
    s.close()


def _steps(calls: list[str], *, stop: bool = False, fail: bool = False) -> list[Step]:
    def make(name: str, value: int):  # type: ignore[no-untyped-def]
        def run(outputs):  # type: ignore[no-untyped-def]
            calls.append(name)
            if fail and name == "b":
                raise SkloopError("b broke")
            return {"value": value + sum(o["value"] for o in outputs.values()), "stop": stop and name == "b"}

        return run

    return [  # given out of order: the runner sorts them
        Step("c", make("c", 100), after=("b",)),
        Step("a", make("a", 1)),
        Step("b", make("b", 10), after=("a",)),
    ]


def test_steps_run_in_order_and_are_recorded(store: Store) -> None:
    calls: list[str] = []
    d = store.loop.create_decision("m", evaluated_at=NOW)
    result = run_steps(_steps(calls), store=store, decision_id=d.id, name="m")
    assert calls == ["a", "b", "c"] and result.outputs["c"]["value"] == 100 + 1 + 11
    assert result.events == {"a": "ran", "b": "ran", "c": "ran"}
    records = store.loop.list_steps(d.id)
    assert [(r.step, r.status) for r in records] == [("a", "finished"), ("b", "finished"), ("c", "finished")]
    assert records[0].inputs_hash == hash_inputs({"step": "a", "inputs": {}})


def test_a_finished_step_is_resumed_and_an_unchanged_one_cached(store: Store) -> None:
    calls: list[str] = []
    d = store.loop.create_decision("m", evaluated_at=NOW)
    run_steps(_steps(calls), store=store, decision_id=d.id, name="m")
    again = run_steps(_steps(calls), store=store, decision_id=d.id, name="m")  # the same decision: resumed
    assert again.events == {"a": "resumed", "b": "resumed", "c": "resumed"} and calls == ["a", "b", "c"]
    other = store.loop.create_decision("m", evaluated_at=NOW)
    cached = run_steps(_steps(calls), store=store, decision_id=other.id, name="m")
    assert set(cached.events.values()) == {"cached"} and calls == ["a", "b", "c"]
    assert {r.cached_from for r in store.loop.list_steps(other.id)} == {d.id}
    uncached = [Step(s.name, s.run, after=s.after, cache=False) for s in _steps(calls)]
    third = store.loop.create_decision("m", evaluated_at=NOW)
    assert set(run_steps(uncached, store=store, decision_id=third.id, name="m").events.values()) == {"ran"}


def test_a_stop_skips_the_rest_and_a_failure_is_recorded(store: Store) -> None:
    calls: list[str] = []
    d = store.loop.create_decision("m", evaluated_at=NOW)
    result = run_steps(_steps(calls, stop=True), store=store, decision_id=d.id, name="m")
    assert result.stopped_at == "b" and result.events["c"] == "skipped" and calls == ["a", "b"]
    failing = store.loop.create_decision("other", evaluated_at=NOW)
    with pytest.raises(SkloopError, match="b broke"):
        run_steps(_steps([], fail=True), store=store, decision_id=failing.id, name="other")
    records = {r.step: r for r in store.loop.list_steps(failing.id)}
    assert records["b"].status == "failed" and "b broke" in (records["b"].error or "") and "c" not in records


def test_bad_graphs_are_refused(store: Store) -> None:
    d = store.loop.create_decision("m", evaluated_at=NOW)
    loop = [Step("a", lambda o: {}, after=("b",)), Step("b", lambda o: {}, after=("a",))]
    with pytest.raises(SkloopError, match="cycle"):
        run_steps(loop, store=store, decision_id=d.id, name="m")
    with pytest.raises(SkloopError, match="not a step"):
        run_steps([Step("a", lambda o: {}, after=("zzz",))], store=store, decision_id=d.id, name="m")
