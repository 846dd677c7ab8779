"""The prediction log's folder on a real full file system (a 2 MB tmpfs), not a simulated one.

While the disk is full the server answers 503 with Retry-After and logs nothing of those
requests; once space returns it acknowledges again, and exactly the acknowledged
predictions are ingested.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from serve_helpers import project_settings

from skloop.serve import PredictionLog, create_app, ingest_once
from small_disk import SmallDisk, small_disk  # noqa: F401  (the fixture)


def test_a_full_log_disk_gets_503_then_recovers(
    srv_project: Path,
    small_disk: SmallDisk,  # noqa: F811
    wal_store: Any,
    srv_row: dict[str, Any],
) -> None:
    log = PredictionLog(small_disk.path / "wal").start()
    app = create_app(project_settings(srv_project), model_name="churn", prediction_log=log, poll_seconds=None)
    body = {"dataframe_records": [srv_row] * 20}

    async def send(client: httpx.AsyncClient, tag: str) -> httpx.Response:
        return await client.post("/invocations", json=body, headers={"X-Request-ID": tag})

    async def main() -> tuple[list[httpx.Response], list[httpx.Response], list[httpx.Response]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            before = list(await asyncio.gather(*(send(client, f"ok-a{i}") for i in range(4))))
            small_disk.fill(leave=0)
            refused = list(await asyncio.gather(*(send(client, f"refused-{i}") for i in range(6))))
            small_disk.free()
            after = list(await asyncio.gather(*(send(client, f"ok-b{i}") for i in range(4))))
            return before, refused, after

    try:
        before, refused, after = asyncio.run(main())
        assert [r.status_code for r in before + after] == [200] * 8, [r.text for r in before + after]
        for answer in refused:
            assert answer.status_code == 503, answer.text
            assert int(answer.headers["retry-after"]) > 0
            doc = answer.json()
            assert doc["error_code"] == "LOG_UNAVAILABLE" and "No space left on device" in doc["error"], doc
        log.close()
        ingest_once(log.directory, wal_store)
        by_client: dict[str, int] = {}
        for p in wal_store.predictions.query_predictions("churn"):
            by_client[str(p.correlation_id)] = by_client.get(str(p.correlation_id), 0) + 1
        assert by_client == {f"ok-{s}{i}": 20 for s in "ab" for i in range(4)}  # all acknowledged, none refused
    finally:
        log.close()
        app.registry.store.close()
