"""The whole loop on every corpus table, through the CLI (issue 10, "The corpus").

The default run takes the FAST tables, which between them cover every task (binary,
multiclass, regression), every label dtype (int, float 0/1, bool, string, category),
CSV and Parquet, and every kind of column of the corpus. Three of them (one per task) run
the whole chain; the other three run it up to serving and monitoring, without the
export, the drifted traffic, the loop and ``validate`` (the loop on their label kinds is
also checked in ``tests/workflows/test_target_kinds.py``). The other tables carry the
``slow`` marker; ``SKLOOP_CORPUS_ALL=1`` (read at import, before the autouse fixture
clears ``SKLOOP_*``) runs every table's whole chain::

    SKLOOP_CORPUS_ALL=1 pytest tests/corpus
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from corpus_chain import run_chain
from corpus_tables import TABLES

ALL = os.environ.get("SKLOOP_CORPUS_ALL", "") not in ("", "0")

FAST = ("loans", "passengers", "census", "tickets", "housing", "wine")
"""Labels float 0/1 (loans), string (passengers), bool (census), category (tickets), int (wine);
binary, multiclass (tickets, wine) and regression (housing); CSV and Parquet."""

WHOLE = ("loans", "tickets", "housing")
"""The FAST tables whose whole chain runs by default: binary, multiclass, regression."""

CASES = [
    pytest.param(name)
    if name in FAST
    else pytest.param(
        name,
        marks=[
            pytest.mark.slow,
            pytest.mark.skipif(not ALL, reason="slow corpus table; set SKLOOP_CORPUS_ALL=1 to run it"),
        ],
    )
    for name in TABLES
]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", CASES)
def test_the_whole_chain(name: str, tmp_path: Path, record_property: pytest.RecordProperty) -> None:
    start = time.perf_counter()
    chain = run_chain(TABLES[name], tmp_path / name, whole=ALL or name in WHOLE)
    record_property("timings", chain.timings)
    total = time.perf_counter() - start
    print(f"\n{name}: {total:.1f}s {chain.timings} {chain.notes}")
