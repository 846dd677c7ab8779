"""Ingestion parse benchmark: the standard library's ``json.loads`` against ``orjson.loads``.

Ingestion (:func:`skloop.serve.ingest_once`) reads the prediction log one line at a time
and parses each line before storing it; this measures that parse alone, on the same
lines, the ones the server writes (:func:`skloop.serve._wal.encode_records` of records
shaped like a served row: request id, time, model, version, 12 inputs, outputs, flags).
The best of ``--repeat`` passes is reported as records per second, with the ratio.

Usage::

    python benchmarks/bench_ingest.py [--records 50000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from skloop.serve._wal import encode_records


def _records(n: int) -> list[dict[str, Any]]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        {
            "request_id": f"req-{i:08d}",
            "row": i % 4,
            "time": (start + timedelta(milliseconds=i)).isoformat(),
            "model": "churn",
            "version": 3,
            "inputs": {
                **{f"num_{j}": (i * 7 + j) % 1000 / 7 for j in range(8)},
                **{f"cat_{j}": f"level_{(i + j) % 13}" for j in range(3)},
                "signup": "2025-06-01T00:00:00+00:00",
            },
            "outputs": {"prediction": "yes" if i % 3 else "no", "probabilities": [0.25, 0.75]},
            "flags": [],
        }
        for i in range(n)
    ]


def _rate(parse: Callable[[bytes], Any], lines: list[bytes], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for line in lines:
            parse(line)
        best = min(best, time.perf_counter() - t0)
    return len(lines) / best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    lines = encode_records(_records(args.records)).splitlines(keepends=True)
    assert all(json.loads(line) == orjson.loads(line) for line in lines[:1000])  # the same records either way
    size = sum(map(len, lines)) / len(lines)
    stdlib = _rate(json.loads, lines, args.repeat)
    fast = _rate(orjson.loads, lines, args.repeat)
    print(f"{len(lines):,} log lines of {size:.0f} bytes each, best of {args.repeat}")
    print(f"{'parser':<12} {'records/s':>12}")
    print(f"{'json.loads':<12} {stdlib:>12,.0f}")
    print(f"{'orjson.loads':<12} {fast:>12,.0f}")
    print(f"orjson / json: {fast / stdlib:.1f}x")


if __name__ == "__main__":
    main()
