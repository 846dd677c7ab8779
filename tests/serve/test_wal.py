"""The prediction log: group commit, torn tails, rotation, locking, write failures, encoding."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skloop.core import StoreError, UsageError
from skloop.serve import PredictionLog, read_segment, segments
from skloop.serve import _wal as wal
from skloop.serve._wal import encode_records, is_locked, scan_segment


def _all_records(directory: Path) -> list[dict[str, Any]]:
    return [r for seg in segments(directory) for _, r in read_segment(seg)]


def test_concurrent_appends_share_fsyncs_and_are_all_durable(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path).start()

    async def main() -> None:
        await asyncio.gather(*(log.append([{"request_id": f"r{i}", "row": j} for j in range(3)]) for i in range(500)))

    try:
        asyncio.run(main())
        assert log.appends == 500
        assert log.records == 1500
        assert 1 <= log.fsyncs < log.appends  # group commit: many appends per fsync
    finally:
        log.close()
    records = _all_records(tmp_path)
    assert len(records) == 1500
    assert {(r["request_id"], r["row"]) for r in records} == {(f"r{i}", j) for i in range(500) for j in range(3)}


def test_appends_from_threads_are_all_durable(tmp_path: Path) -> None:
    with PredictionLog(tmp_path) as log:

        def worker(k: int) -> None:
            for i in range(50):
                log.append_sync([{"request_id": f"t{k}-{i}", "row": 0}])

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert log.fsyncs <= log.appends == 400
    assert len(_all_records(tmp_path)) == 400


def test_a_torn_tail_is_skipped_and_never_appended_after(tmp_path: Path) -> None:
    with PredictionLog(tmp_path) as log:
        log.append_sync([{"request_id": "a", "row": 0}, {"request_id": "b", "row": 0}])
        first = log.segment
    assert first is not None
    with first.open("ab") as fh:  # a crash in the middle of a write
        fh.write(b'{"request_id":"c","ro')
    assert [r["request_id"] for _, r in read_segment(first)] == ["a", "b"]
    with PredictionLog(tmp_path) as log:
        assert log.segment != first  # a restart never appends after a possibly torn line
        log.append_sync([{"request_id": "d", "row": 0}])
    assert [r["request_id"] for r in _all_records(tmp_path)] == ["a", "b", "d"]


def test_a_corrupt_complete_line_is_skipped_with_its_offset(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    seg = tmp_path / "wal-00000001.jsonl"
    seg.write_bytes(b'{"a":1}\n\x00\x00garbage\n[1,2]\n{"a":2}\n')
    scanned = list(scan_segment(seg))
    assert [r for _, r in scanned] == [{"a": 1}, None, None, {"a": 2}]
    assert scanned[-1][0] == seg.stat().st_size
    assert [r for _, r in read_segment(seg, scanned[0][0])] == [{"a": 2}]
    assert "not a JSON object" in caplog.text


def test_segments_rotate_at_the_size_limit(tmp_path: Path) -> None:
    with PredictionLog(tmp_path, segment_bytes=1_000) as log:
        for i in range(100):
            log.append_sync([{"request_id": f"r{i:03d}", "row": 0, "pad": "x" * 40}])
    files = segments(tmp_path)
    assert len(files) > 5
    assert all(f.stat().st_size < 1_000 + 100 for f in files)
    assert [r["request_id"] for r in _all_records(tmp_path)] == [f"r{i:03d}" for i in range(100)]


def test_the_segment_being_written_is_locked_and_empty_ones_are_removed(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path).start()
    seg = log.segment
    assert seg is not None and is_locked(seg)
    log.close()
    assert not seg.exists()  # nothing was written: no empty file left behind
    with PredictionLog(tmp_path) as log:
        log.append_sync([{"request_id": "a", "row": 0}])
        seg = log.segment
        assert seg is not None and is_locked(seg)
    assert seg.exists() and not is_locked(seg)
    assert not list(tmp_path.glob(".wal-*.tmp"))


def test_two_writers_in_one_folder_get_distinct_segments(tmp_path: Path) -> None:
    with PredictionLog(tmp_path) as one, PredictionLog(tmp_path) as two:
        assert one.segment != two.segment
        one.append_sync([{"request_id": "a", "row": 0}])
        two.append_sync([{"request_id": "b", "row": 0}])
    assert sorted(r["request_id"] for r in _all_records(tmp_path)) == ["a", "b"]


def test_a_failed_write_is_reported_and_the_next_goes_to_a_new_segment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    calls = {"n": 0}

    def flaky_write(fd: int, data: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:  # the second batch: half written, then the disk is full
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(wal.os, "write", flaky_write)
    with PredictionLog(tmp_path) as log:
        log.append_sync([{"request_id": "ok1", "row": 0}])
        first = log.segment
        with pytest.raises(StoreError, match="No space left"):
            log.append_sync([{"request_id": "lost", "row": 0, "pad": "y" * 100}])
        log.append_sync([{"request_id": "ok2", "row": 0}])
        assert log.segment != first
    ids = [r["request_id"] for r in _all_records(tmp_path)]
    assert ids == ["ok1", "ok2"]  # the failed one was never acknowledged; the next is intact


def test_short_writes_are_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    monkeypatch.setattr(wal.os, "write", lambda fd, data: real_write(fd, bytes(data[:7])))
    with PredictionLog(tmp_path) as log:
        log.append_sync([{"request_id": f"r{i}", "row": 0} for i in range(20)])
    assert len(_all_records(tmp_path)) == 20


def test_append_needs_a_started_log(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path)
    with pytest.raises(UsageError, match="not started"):
        log.append_sync([{"a": 1}])
    assert not tmp_path.joinpath("x").exists()  # the constructor created nothing
    with pytest.raises(UsageError, match="whole lines"):
        log.start().append_bytes(b'{"a":1}', lambda e: None)
    log.close()
    log.close()  # closing twice is harmless


def test_a_cancelled_waiter_does_not_stop_the_writer(tmp_path: Path) -> None:
    async def main(log: PredictionLog) -> None:
        task = asyncio.ensure_future(log.append([{"request_id": "gone", "row": 0}]))
        await asyncio.sleep(0)
        task.cancel()
        await log.append([{"request_id": "next", "row": 0}])

    with PredictionLog(tmp_path) as log:
        asyncio.run(main(log))
    assert {r["request_id"] for r in _all_records(tmp_path)} >= {"next"}


@pytest.mark.parametrize("fast", [True, False])
def test_encoding_is_strict_json_for_server_types(fast: bool) -> None:
    record = {
        "i": np.int64(3),
        "f": np.float32(0.5),
        "nan": float("nan"),
        "inf": [float("inf"), 1.5],
        "t": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        "arr": np.array([1, 2]),
        "s": "NaN is text",
        "u": "é",
        "nested": {"x": float("-inf")},
    }
    line = encode_records([record], fast=fast)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    decoded = json.loads(line, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert decoded == {
        "i": 3, "f": 0.5, "nan": None, "inf": [None, 1.5], "t": "2025-01-02T03:04:05+00:00",
        "arr": [1, 2], "s": "NaN is text", "u": "é", "nested": {"x": None},
    }  # fmt: skip


def test_fast_and_standard_encodings_read_back_equal() -> None:
    records = [{"request_id": "r", "row": i, "inputs": {"a": i * 0.1, "b": None, "c": True}} for i in range(20)]
    assert [json.loads(x) for x in encode_records(records).splitlines()] == [
        json.loads(x) for x in encode_records(records, fast=False).splitlines()
    ]


def test_an_unencodable_record_is_a_usage_error(tmp_path: Path) -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(UsageError, match="cannot be encoded"):
        encode_records([loop], fast=False)


def test_segments_ignores_other_files(tmp_path: Path) -> None:
    for name in ("wal-00000002.jsonl", "wal-00000010.jsonl", "wal-x.jsonl", "checkpoint.json", ".wal-abc.tmp"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in segments(tmp_path)] == ["wal-00000002.jsonl", "wal-00000010.jsonl"]
    assert segments(tmp_path / "missing") == []


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_a_refused_append_leaves_none_of_its_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    real_write, real_fsync = os.write, os.fsync
    full = {"on": False}

    def write(fd: int, data: Any) -> int:
        if full["on"] and where == "write":  # 70% of the request's lines get out, then the disk is full
            real_write(fd, bytes(data[: len(data) * 7 // 10]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    def fsync(fd: int) -> None:
        if full["on"] and where == "fsync":  # everything written, but it cannot be made durable
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(wal.os, "write", write)
    monkeypatch.setattr(wal.os, "fsync", fsync)
    with PredictionLog(tmp_path) as log:
        log.append_sync([{"request_id": "ok1", "row": 0}])
        full["on"] = True
        with pytest.raises(StoreError, match="No space left"):
            log.append_sync([{"request_id": "refused", "row": i} for i in range(20)])
        full["on"] = False
        log.append_sync([{"request_id": "ok2", "row": 0}])
    assert [r["request_id"] for r in _all_records(tmp_path)] == ["ok1", "ok2"]


def test_the_writer_survives_an_unexpected_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fsync = os.fsync
    calls = {"n": 0}

    def fsync(fd: int) -> None:
        calls["n"] += stat.S_ISREG(os.fstat(fd).st_mode)  # segments, not the folder
        if calls["n"] == 2:  # not an OSError: a bug, a broken file object, ...
            raise RuntimeError("unexpected")
        real_fsync(fd)

    monkeypatch.setattr(wal.os, "fsync", fsync)

    async def main(log: PredictionLog) -> None:
        await asyncio.wait_for(log.append([{"request_id": "ok1", "row": 0}]), 10)
        with pytest.raises(StoreError, match="unexpected"):
            await asyncio.wait_for(log.append([{"request_id": "refused", "row": 0}]), 10)
        await asyncio.wait_for(log.append([{"request_id": "ok2", "row": 0}]), 10)  # the writer is still there

    with PredictionLog(tmp_path) as log:
        asyncio.run(main(log))
    assert [r["request_id"] for r in _all_records(tmp_path)] == ["ok1", "ok2"]


class _Fatal(BaseException):
    """Something no commit survives."""


def test_a_stopped_writer_refuses_appends_instead_of_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def fsync(fd: int) -> None:
        raise _Fatal("the writer cannot go on")

    log = PredictionLog(tmp_path).start()
    monkeypatch.setattr(wal.os, "fsync", fsync)

    async def main() -> None:
        with pytest.raises(StoreError, match=r"writer .* stopped"):
            await asyncio.wait_for(log.append([{"request_id": "a", "row": 0}]), 10)

    try:
        asyncio.run(main())
        with pytest.raises(StoreError, match="stopped"):
            log.append_sync([{"request_id": "b", "row": 0}])
        assert any(r.levelno == logging.CRITICAL for r in caplog.records)
    finally:
        monkeypatch.undo()
        log.close()
