"""Micro-batching: requests share inference calls, and a bad request fails alone."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from serve_helpers import project_settings

from skloop.serve import PredictionLog, Prepared, create_app
from skloop.serve._batcher import MicroBatcher
from skloop.serve._errors import BadRequestError


class _Doubler:
    """A working stand-in for a served model: doubles ``x``, and cannot take a negative value."""

    session = None

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, rows: Prepared) -> tuple[np.ndarray, None]:
        self.calls.append(rows.n)
        x = rows.columns["x"]
        if (x < 0).any():
            raise ValueError("x must not be negative")
        return x * 2, None


def _rows(*values: float) -> Prepared:
    return Prepared(n=len(values), columns={"x": np.array(values, dtype=float)})


def test_a_bad_request_fails_alone_and_the_others_are_scored() -> None:
    model = _Doubler()
    batcher = MicroBatcher()
    values = [[float(i), float(i) + 0.5] for i in range(16)]
    poison = {3, 11}
    for i in poison:
        values[i][1] = -1.0

    async def main() -> list[Any]:
        calls = [batcher.predict(model, _rows(*v)) for v in values]  # type: ignore[arg-type]
        return list(await asyncio.gather(*calls, return_exceptions=True))

    results = asyncio.run(main())
    assert model.calls[0] == 32  # one merged call first: they were batched
    for i, result in enumerate(results):
        if i in poison:
            assert isinstance(result, BadRequestError) and "x must not be negative" in str(result)
        else:
            predictions, proba = result
            assert predictions.tolist() == [2 * v for v in values[i]] and proba is None
    assert len(model.calls) < 2 * len(values)  # halves, not one call per request


def test_a_lone_request_that_fails_is_not_scored_twice() -> None:
    model = _Doubler()

    async def main() -> None:
        with pytest.raises(BadRequestError, match="negative"):
            await MicroBatcher().predict(model, _rows(-1.0))  # type: ignore[arg-type]

    asyncio.run(main())
    assert model.calls == [1]


def test_poison_requests_do_not_fail_concurrent_good_ones(
    srv_project: Path, tmp_path: Path, srv_row: dict[str, Any]
) -> None:
    # a lone surrogate makes the model raise while encoding text: it used to fail every
    # request of its micro-batch with a 500
    log = PredictionLog(tmp_path / "wal").start()
    app = create_app(project_settings(srv_project), model_name="churn", prediction_log=log, poll_seconds=None)
    good = json.dumps({"dataframe_records": [srv_row]})
    poison = json.dumps({"dataframe_records": [{**srv_row, "region": "\ud800"}]})
    kinds = ["poison" if i % 5 == 0 else "good" for i in range(40)]

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            headers = {"content-type": "application/json"}
            sends = [
                client.post("/invocations", content=poison if k == "poison" else good, headers=headers) for k in kinds
            ]
            return list(await asyncio.gather(*sends))

    try:
        answers = asyncio.run(main())
    finally:
        log.close()
        app.registry.store.close()
    for kind, answer in zip(kinds, answers, strict=True):
        if kind == "good":
            assert answer.status_code == 200, answer.text
        else:
            assert answer.status_code == 400, answer.text
            assert answer.json()["error_code"] == "BAD_REQUEST"
