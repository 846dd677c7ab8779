"""The server's ingestion runs in a child process: records reach the store, and it stops cleanly."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from skloop.serve import IngestProcess, PredictionLog
from skloop.store import Store


def test_child_process_ingests_while_running_and_on_close(tmp_path: Path, wal_record: Any) -> None:
    url, artifacts = f"sqlite:///{tmp_path}/meta/skloop.db", str(tmp_path / "artifacts")
    Store.open(url, artifacts).close()  # the embedded database exists before the child opens it
    log = PredictionLog(tmp_path / "wal").start()
    ingest = IngestProcess(log.directory, url, artifacts, interval=0.2).start()
    try:
        log.append_sync([wal_record("r1", 0), wal_record("r1", 1)])
        deadline = time.monotonic() + 30
        with Store.open(url, artifacts) as store:
            while store.predictions.count_predictions("churn") < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert store.predictions.count_predictions("churn") == 2  # while serving
        log.append_sync([wal_record("r2", 0)])
    finally:
        log.close()
        ingest.close()
    with Store.open(url, artifacts) as store:
        assert store.predictions.count_predictions("churn") == 3  # the last pass on close
