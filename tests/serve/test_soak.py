"""Soak: the log and the ingestor under steady load, with zero errors and bounded memory.

The default run is short (~10 s); set ``SKLOOP_SOAK_SECONDS`` (read at import, before
the autouse fixture clears ``SKLOOP_*``) for the long, ``slow``-marked run.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from serve_helpers import rss_mb

from skloop.serve import Ingestor, PredictionLog, segments
from skloop.store import Store

LONG_SECONDS = float(os.environ.get("SKLOOP_SOAK_SECONDS") or 0)
RATE = 800  # records per second, in requests of 1-4 rows


def _soak(tmp_path: Path, seconds: float) -> None:
    log_dir = tmp_path / "log"
    errors: list[BaseException] = []
    samples: list[float] = []
    sent = 0
    with Store.open(f"sqlite:///{tmp_path}/skloop.db") as store:
        log = PredictionLog(log_dir, segment_bytes=1 << 20).start()
        ingestor = Ingestor(log_dir, store, interval=0.2).start()

        async def client(k: int, per_second: float) -> None:
            nonlocal sent
            i = 0
            start = time.monotonic()
            while (now := time.monotonic()) - start < seconds:
                n = 1 + (i % 4)
                rows = [{"request_id": f"c{k}-{i}", "row": r, "time": "2025-03-01T12:00:00+00:00",
                         "model": "churn", "version": 1, "inputs": {"x": i, "plan": "basic"},
                         "outputs": {"prediction": "no", "probabilities": {"no": 0.9, "yes": 0.1}},
                         "flags": []} for r in range(n)]  # fmt: skip
                try:
                    await log.append(rows)
                    sent += n
                except Exception as exc:
                    errors.append(exc)
                i += 1
                await asyncio.sleep(max(0.0, start + i * 2.5 / per_second - now))

        async def sampler() -> None:
            start = time.monotonic()
            while time.monotonic() - start < seconds:
                samples.append(rss_mb())
                await asyncio.sleep(0.5)

        async def main() -> None:
            await asyncio.gather(sampler(), *(client(k, RATE / 16) for k in range(16)))

        try:
            asyncio.run(main())
        finally:
            log.close()
            ingestor.close()
        assert not errors, errors[:3]
        assert ingestor.last_error is None
        assert store.predictions.count_predictions("churn") == sent > RATE * seconds * 0.5
    assert segments(log_dir) == []
    warm = samples[len(samples) // 4 :]  # after imports, caches and the first segments
    assert max(warm) - min(warm) < 60, f"RSS grew from {min(warm):.0f} to {max(warm):.0f} MB"


def test_soak_short(tmp_path: Path) -> None:
    _soak(tmp_path, 10.0)


@pytest.mark.slow
@pytest.mark.skipif(not LONG_SECONDS, reason="set SKLOOP_SOAK_SECONDS (e.g. 60) for the long soak")
def test_soak_long(tmp_path: Path) -> None:
    _soak(tmp_path, LONG_SECONDS)
