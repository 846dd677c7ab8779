"""Two processes registering and moving the same alias at once.

Version numbers must come out distinct and gap-free, and every alias move must be
logged, starting from where the previous move left the alias, with one holder at the end.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Callable
from pathlib import Path

import _registry_workers as workers

from skloop.registry import Registry
from skloop.store import Store


def test_concurrent_registration_and_promotion(
    reg_store: Store, reg_store_url: str, reg_artifact_root: Path, reg_make_run: Callable[..., str]
) -> None:
    run_id = reg_make_run(0.8)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [
        ctx.Process(
            target=workers.register_then_promote,
            args=(reg_store_url, str(reg_artifact_root), run_id, w, barrier),
        )
        for w in (1, 2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]

    registry = Registry(reg_store)
    assert [v.version for v in registry.versions("churn")] == list(range(1, 2 * workers.REGISTRATIONS + 1))
    events = registry.history("churn", "champion")
    assert len(events) == 2 * workers.ROUNDS
    assert sorted(e.reason or "" for e in events) == sorted(f"round {r}" for r in range(workers.ROUNDS) for _ in "ab")
    assert events[0].from_version is None
    for before, after in itertools.pairwise(events):
        assert after.from_version == before.to_version  # no lost update
        assert (after.time, after.id) > (before.time, before.id)
    assert registry.aliases("churn") == {"champion": events[-1].to_version}
    holders = {e.actor: e.to_version for e in events}
    assert sorted(holders) == ["worker-1", "worker-2"] and len(set(holders.values())) == 2
