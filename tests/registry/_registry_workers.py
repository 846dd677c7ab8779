"""Code run in spawned processes by the registry concurrency tests (importable by path)."""

from __future__ import annotations

from typing import Any

ROUNDS = 25
REGISTRATIONS = 8


def register_then_promote(url: str, artifact_root: str, run_id: str, worker: int, barrier: Any) -> None:
    """Register versions of churn, then promote the last one once per round, in lockstep."""
    from skloop.registry import Registry
    from skloop.store import Store

    with Store.open(url, artifact_root) as store:
        registry = Registry(store)
        barrier.wait(timeout=60)  # both processes have imported and connected
        # one run, registered again and again on purpose (force): the numbering is what is tested
        mine = [registry.register(run_id, "churn", force=True).version for _ in range(REGISTRATIONS)]
        for round_ in range(ROUNDS):
            barrier.wait(timeout=60)
            registry.promote("churn", mine[-1], reason=f"round {round_}", actor=f"worker-{worker}")
