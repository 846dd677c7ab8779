"""Hot swap under load: promoting a new version while requests flow fails none of them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from serve_helpers import project_settings, register_churn

from skloop.serve import PredictionLog, create_app


def test_promotion_swaps_the_served_version_without_failing_a_request(
    srv_fresh_project: Path, srv_row: dict[str, Any], srv_uvicorn: Callable[[Any], str], tmp_path: Path
) -> None:
    settings = project_settings(srv_fresh_project)
    log = PredictionLog(tmp_path / "wal").start()
    app = create_app(settings, model_name="churn", prediction_log=log, poll_seconds=0.1)
    url = srv_uvicorn(app)
    statuses: list[int] = []
    served: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            while not stop.is_set():
                r = client.post("/invocations", json={"dataframe_records": [srv_row]})
                statuses.append(r.status_code)
                served.append(r.headers.get("x-skloop-model", ""))

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        register_churn(settings, seed=1)  # version 2, promoted champion
        deadline = time.monotonic() + 30
        with httpx.Client(base_url=url) as client:
            while client.get("/v2/models/churn").json()["versions"] != ["2"]:
                assert time.monotonic() < deadline, "the server never swapped to version 2"
                time.sleep(0.05)
            time.sleep(0.5)
            assert client.get("/v2/models/churn/versions/2/ready").json()["ready"] is True
            assert (
                'skloop_model_info{name="churn",runtime="onnxruntime",version="2"} 1.0' in client.get("/metrics").text
            )
    finally:
        stop.set()
        for t in threads:
            t.join()
        log.close()
    assert statuses and all(s == 200 for s in statuses), sorted(set(statuses))
    assert {"churn/1", "churn/2"} <= set(served)
    assert served[-1] == "churn/2"


def test_pinned_version_does_not_follow_the_alias(srv_fresh_project: Path) -> None:
    import asyncio

    settings = project_settings(srv_fresh_project)
    app = create_app(settings, model_name="churn", version=1, poll_seconds=0.1)
    register_churn(settings, seed=2)
    assert asyncio.run(app.reload()).version == 1
    followed = create_app(settings, model_name="churn", poll_seconds=None)
    assert followed.model.version == 2
    app.registry.store.close()
    followed.registry.store.close()
