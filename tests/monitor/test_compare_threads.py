"""compare_data_files adds a batch's columns on a few threads: the report is the single thread's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skloop.core import MonitoringSpec
from skloop.monitor import _compare, compare_data_files, reference_summary


def _frame(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    frame = pd.DataFrame(
        {f"num_{i}": rng.normal(shift * (i % 2), 1 + i / 4, n) for i in range(6)}
        | {f"cat_{j}": rng.choice([f"l{k}" for k in range(3 + j)], n) for j in range(3)}
    )
    frame.loc[rng.choice(n, n // 20, replace=False), "num_1"] = np.nan
    frame.loc[rng.choice(n, n // 30, replace=False), "cat_0"] = None
    return frame


@pytest.mark.parametrize("threshold", ["fixed", "learned"])
def test_the_threaded_pass_equals_one_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threshold: str) -> None:
    rng = np.random.default_rng(3)
    summary = reference_summary(_frame(rng, 6000, 0.0))
    current = tmp_path / "current.parquet"
    _frame(rng, 9000, 0.3).to_parquet(current, row_group_size=1000)
    config = MonitoringSpec.model_validate({"drift": {"threshold": "learned"}} if threshold == "learned" else {})
    reports = []
    for threads in (1, 4):
        monkeypatch.setattr(_compare, "COLUMN_THREADS", threads)
        report = compare_data_files(None, current, reference_profile=summary, config=config, batch_rows=700)
        reports.append(json.dumps(report.to_dict(), sort_keys=True, default=str))
    assert reports[0] == reports[1]
    assert "num_0" in reports[0]


def test_an_accumulator_s_error_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def add(self, values: object) -> None:
            raise ValueError(f"cannot add {values}")

    monkeypatch.setattr(_compare, "COLUMN_THREADS", 4)
    columns = _compare._Columns({"a": Broken(), "b": Broken()})  # type: ignore[dict-item]
    with columns as add, pytest.raises(ValueError, match=r"cannot add column (a|b)"):
        add(lambda name: f"column {name}")
