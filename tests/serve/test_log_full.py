"""A full disk: requests the log cannot keep get 503 with Retry-After, and none of their rows is ingested."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_helpers import project_settings

from skloop.serve import PredictionLog, create_app, ingest_once
from skloop.serve import _wal as wal


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_requests_refused_by_a_full_disk_leave_no_row(
    srv_project: Path,
    tmp_path: Path,
    wal_store: Any,
    srv_row: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    log = PredictionLog(tmp_path / "wal").start()
    app = create_app(project_settings(srv_project), model_name="churn", prediction_log=log, poll_seconds=None)
    real_write, real_fsync = os.write, os.fsync
    full = {"on": False}

    def is_segment(fd: int) -> bool:
        segment = log.segment
        return segment is not None and os.fstat(fd).st_ino == os.stat(segment).st_ino

    def write(fd: int, data: Any) -> int:
        if full["on"] and where == "write" and is_segment(fd):  # part of the bytes get out, then ENOSPC
            real_write(fd, bytes(data[: len(data) * 7 // 10]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    def fsync(fd: int) -> None:
        if full["on"] and where == "fsync" and is_segment(fd):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(wal.os, "write", write)
    monkeypatch.setattr(wal.os, "fsync", fsync)
    body = {"dataframe_records": [srv_row] * 20}

    async def send(client: httpx.AsyncClient, tag: str) -> httpx.Response:
        return await client.post("/invocations", json=body, headers={"X-Request-ID": tag})

    async def main() -> tuple[list[httpx.Response], list[httpx.Response]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            acked = list(await asyncio.gather(*(send(client, f"ok-a{i}") for i in range(4))))
            full["on"] = True  # concurrent requests: several share one failed commit
            refused = list(await asyncio.gather(*(send(client, f"refused-{i}") for i in range(6))))
            full["on"] = False
            acked += await asyncio.gather(*(send(client, f"ok-b{i}") for i in range(4)))
            return acked, refused

    try:
        acked, refused = asyncio.run(main())
        assert [r.status_code for r in acked] == [200] * 8, [r.text for r in acked]
        for answer in refused:
            assert answer.status_code == 503, answer.text
            assert int(answer.headers["retry-after"]) > 0
            doc = answer.json()
            assert doc["error_code"] == "LOG_UNAVAILABLE" and "No space left on device" in doc["error"]
        log.close()
        ingest_once(log.directory, wal_store)
        rows = wal_store.predictions.query_predictions("churn")
        by_client: dict[str, int] = {}
        for p in rows:
            by_client[str(p.correlation_id)] = by_client.get(str(p.correlation_id), 0) + 1
        assert by_client == {f"ok-{s}{i}": 20 for s in "ab" for i in range(4)}  # all of these, none refused
    finally:
        monkeypatch.undo()
        log.close()
        app.registry.store.close()
