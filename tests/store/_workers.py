"""Code run in other processes by the store tests (spawned, or as a script)."""

from __future__ import annotations

import sys
import time

from skloop.store import Store

N_METRICS = 300
N_PARAMS = 20


def log_from_process(url: str, artifact_root: str, worker: int) -> str:
    """Log a known number of records to a new run; small buffer so flushes contend."""
    store = Store.open(url, artifact_root, buffer_size=25)
    try:
        run = store.runs.create_run("concurrent", name=f"worker-{worker}")
        store.runs.log_params(run.id, {f"p{i}": i for i in range(N_PARAMS)})
        for step in range(N_METRICS):
            store.runs.log_metric(run.id, "loss", 1.0 / (step + 1), step=step)
            if step % 50 == 0:
                store.runs.log_batch(run.id, [("acc", step / N_METRICS, step)], tags={"w": worker})
        store.runs.finish_run(run.id)
        return run.id
    finally:
        store.close()


def log_until_killed(url: str, artifact_root: str) -> None:
    store = Store.open(url, artifact_root, buffer_size=20, buffer_age=0.05)
    run = store.runs.create_run("victim")
    store.runs.log_metric(run.id, "loss", 1.0, step=0)
    store.flush()
    print(run.id, flush=True)
    step = 1
    while True:
        store.runs.log_metric(run.id, "loss", 1.0 / (step + 1), step=step)
        step += 1
        if step % 100 == 0:
            time.sleep(0.001)


def log_and_exit(url: str, artifact_root: str, n: int) -> None:
    # never flushes or closes: the exit hook must write the buffer
    store = Store.open(url, artifact_root, buffer_size=10**9, buffer_age=10**9)
    run = store.runs.create_run("exiting")
    for step in range(n):
        store.runs.log_metric(run.id, "loss", float(step), step=step)
    print(run.id, flush=True)


if __name__ == "__main__":
    what, url, root, *rest = sys.argv[1:]
    if what == "kill":
        log_until_killed(url, root)
    elif what == "exit":
        log_and_exit(url, root, int(rest[0]))
