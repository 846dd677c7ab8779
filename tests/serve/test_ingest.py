"""Ingestion: checkpointed, idempotent, resumable; segments deleted only when sealed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from skloop.serve import CHECKPOINT_FILE, Ingestor, PredictionLog, ingest_once, read_checkpoint, segments
from skloop.serve._ingest import REJECTED_FILE
from skloop.store import PredictionStore, Store

Record = Callable[..., dict[str, Any]]


def test_ingestion_stores_each_record_once_and_deletes_sealed_segments(
    tmp_path: Path, wal_store: Store, wal_record: Record
) -> None:
    log_dir = tmp_path / "log"
    with PredictionLog(log_dir, segment_bytes=2_000) as log:
        for i in range(30):
            log.append_sync([wal_record(f"r{i}", j) for j in range(2)])
    assert len(segments(log_dir)) > 1
    assert ingest_once(log_dir, wal_store, batch_size=7) == 60
    assert wal_store.predictions.count_predictions("churn") == 60
    assert segments(log_dir) == []  # every segment was sealed and fully ingested
    assert read_checkpoint(log_dir) == {}
    assert ingest_once(log_dir, wal_store) == 0


def test_the_segment_being_written_is_kept_and_resumed_from_its_offset(
    tmp_path: Path, wal_store: Store, wal_record: Record
) -> None:
    log_dir = tmp_path / "log"
    with PredictionLog(log_dir) as log:
        log.append_sync([wal_record("a", 0), wal_record("a", 1)])
        assert ingest_once(log_dir, wal_store) == 2
        seg = log.segment
        assert seg is not None and seg.exists()  # still being written: kept
        assert read_checkpoint(log_dir) == {seg.name: seg.stat().st_size}
        log.append_sync([wal_record("b", 0)])
        assert ingest_once(log_dir, wal_store) == 1  # from the checkpoint, not from the start
    assert ingest_once(log_dir, wal_store) == 0
    assert not seg.exists()  # sealed by close, then deleted
    assert wal_store.predictions.count_predictions() == 3


def test_a_lost_checkpoint_replays_without_duplicates(tmp_path: Path, wal_store: Store, wal_record: Record) -> None:
    log_dir = tmp_path / "log"
    with PredictionLog(log_dir) as log:
        log.append_sync([wal_record(f"r{i}") for i in range(10)])
        assert ingest_once(log_dir, wal_store) == 10
        (log_dir / CHECKPOINT_FILE).unlink()  # a crash before the checkpoint was written
        assert ingest_once(log_dir, wal_store) == 0
        (log_dir / CHECKPOINT_FILE).write_text("{not json")
        assert ingest_once(log_dir, wal_store) == 0
    assert wal_store.predictions.count_predictions() == 10


def test_a_failing_store_leaves_the_checkpoint_and_the_next_run_resumes(
    tmp_path: Path, wal_store: Store, wal_record: Record, monkeypatch: pytest.MonkeyPatch
) -> None:
    from skloop.core import StoreError

    log_dir = tmp_path / "log"
    with PredictionLog(log_dir) as log:
        log.append_sync([wal_record(f"r{i}") for i in range(25)])
    real = PredictionStore.insert_predictions
    calls = {"n": 0}

    def flaky(self: PredictionStore, records: Any, **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise StoreError("the database went away")
        return real(self, records, **kwargs)

    monkeypatch.setattr(PredictionStore, "insert_predictions", flaky)
    with pytest.raises(StoreError, match="went away"):
        ingest_once(log_dir, wal_store, batch_size=10)
    assert wal_store.predictions.count_predictions() == 10
    assert len(segments(log_dir)) == 1  # not deleted: not fully ingested
    assert ingest_once(log_dir, wal_store, batch_size=10) == 15
    assert wal_store.predictions.count_predictions() == 25 and segments(log_dir) == []


def test_torn_tails_and_bad_records_do_not_stop_ingestion(tmp_path: Path, wal_store: Store, wal_record: Record) -> None:
    log_dir = tmp_path / "log"
    with PredictionLog(log_dir) as log:
        log.append_sync([wal_record("good", 0), {"request_id": "no-model", "row": 0, "time": "2025-01-01T00:00:00Z"}])
        seg = log.segment
    assert seg is not None
    with seg.open("ab") as fh:
        fh.write(b"\x00\x00\x00" + json.dumps(wal_record("torn")).encode()[:30])  # a crash mid-write
    assert ingest_once(log_dir, wal_store) == 1
    assert [p.request_id for p in wal_store.predictions.query_predictions("churn")] == ["good"]
    rejected = [json.loads(x) for x in (log_dir / REJECTED_FILE).read_text().splitlines()]
    assert rejected[0]["record"]["request_id"] == "no-model" and "'model' is missing" in rejected[0]["error"]
    assert segments(log_dir) == []


def test_the_entity_id_comes_from_the_record_or_the_models_id_column(
    tmp_path: Path, wal_store: Store, wal_record: Record
) -> None:
    log_dir = tmp_path / "log"
    with_id = wal_record("a", 0)
    with_id["inputs"]["customer_id"] = 17
    with PredictionLog(log_dir) as log:
        log.append_sync([wal_record("e", 0, entity=42.0), with_id, wal_record("n", 0)])
    assert ingest_once(log_dir, wal_store, id_columns={"churn": "customer_id"}) == 3
    got = {p.request_id: p.entity_id for p in wal_store.predictions.query_predictions("churn")}
    assert got == {"e": "42", "a": "17", "n": None}


def test_the_ingestor_thread_ingests_while_appending_and_drains_on_close(
    tmp_path: Path, wal_store: Store, wal_record: Record
) -> None:
    log_dir = tmp_path / "log"
    log = PredictionLog(log_dir, segment_bytes=5_000).start()
    ingestor = Ingestor(log_dir, wal_store, interval=0.05).start()
    try:
        for i in range(200):
            log.append_sync([wal_record(f"r{i}")])
            if i == 100:
                ingestor.wake()
    finally:
        log.close()
        ingestor.close()
    assert ingestor.last_error is None and ingestor.passes >= 1
    assert wal_store.predictions.count_predictions() == 200 == ingestor.ingested
    assert segments(log_dir) == []


def test_ingesting_a_missing_folder_does_nothing(tmp_path: Path, wal_store: Store) -> None:
    assert ingest_once(tmp_path / "nothing", wal_store) == 0
    assert not (tmp_path / "nothing").exists()
