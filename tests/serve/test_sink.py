"""The prediction sink: the file-backed log and an in-memory one meet at one Protocol.

The app hands a :class:`LineSink` the lines it encoded itself and calls ``append`` on any
other sink; which path it takes follows the sink the app holds, even when replaced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from serve_helpers import project_settings
from starlette.testclient import TestClient

from skloop.core import StoreError
from skloop.serve import LineSink, PredictionLog, PredictionSink, create_app
from skloop.serve._sink import Done


class MemorySink:
    """Records in memory: a PredictionSink, not a LineSink."""

    def __init__(self) -> None:
        self.records: list[Mapping[str, Any]] = []

    async def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.records.extend(records)


class MemoryLines(MemorySink):
    """Lines in memory: a LineSink, whose ``append`` the app must not call."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[bytes] = []

    async def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        raise AssertionError("a LineSink is handed lines, not records")

    def append_bytes(self, lines: bytes, done: Done) -> None:
        self.lines.append(lines)
        done(None)


def test_the_logs_are_sinks(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "wal")
    assert isinstance(log, PredictionSink) and isinstance(log, LineSink)
    assert isinstance(MemorySink(), PredictionSink) and not isinstance(MemorySink(), LineSink)
    assert isinstance(MemoryLines(), LineSink)
    assert not isinstance(object(), PredictionSink)


def test_the_app_appends_records_or_lines_to_the_sink_it_holds(srv_project: Path, srv_row: dict[str, Any]) -> None:
    records = MemorySink()
    app = create_app(project_settings(srv_project), model_name="churn", prediction_log=records, poll_seconds=None)
    try:
        with TestClient(app) as client:
            assert client.post("/invocations", json={"dataframe_records": [srv_row, srv_row]}).status_code == 200
            assert [r["row"] for r in records.records] == [0, 1]

            lines = MemoryLines()
            app.prediction_log = lines  # replaced: the line path follows the new sink
            answer = client.post("/invocations", json={"dataframe_records": [srv_row]})
            assert answer.status_code == 200
            assert app.prediction_log is lines
            (chunk,) = lines.lines
            (record,) = [orjson.loads(line) for line in chunk.splitlines()]
            assert record["request_id"] == answer.headers["x-skloop-request-id"]
            assert len(records.records) == 2  # the former sink got nothing more

            app.prediction_log = None
            assert client.post("/invocations", json={"dataframe_records": [srv_row]}).status_code == 200
            assert lines.lines == [chunk]
    finally:
        app.registry.store.close()


class RefusingSink(MemorySink):
    async def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        raise StoreError("disk full")


class RefusingLines(MemoryLines):
    def append_bytes(self, lines: bytes, done: Done) -> None:
        done(StoreError("disk full"))


@pytest.mark.parametrize("sink", [RefusingSink, RefusingLines])
def test_a_refused_append_is_a_503(srv_project: Path, srv_row: dict[str, Any], sink: type[MemorySink]) -> None:
    app = create_app(project_settings(srv_project), model_name="churn", prediction_log=sink(), poll_seconds=None)
    try:
        assert isinstance(app.prediction_log, LineSink) is (sink is RefusingLines)
        with TestClient(app) as client:
            answer = client.post("/invocations", json={"dataframe_records": [srv_row]})
        assert answer.status_code == 503
        assert "cannot be written" in answer.json()["message"]
    finally:
        app.registry.store.close()
