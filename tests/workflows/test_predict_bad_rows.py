"""Batch scoring fills in what the pipeline imputes, scores good rows, sets bad ones aside (issue 10, item 6)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from passenger_data import ID, fit_passengers, passengers
from skloop.core import DataError
from skloop.registry import MISSING_IMPUTED, infer_signature
from skloop.workflows import MAX_BAD_ROWS_KEPT, predict_batch, rejected_path


@pytest.fixture(scope="module")
def raw_pclass() -> tuple[object, object]:
    """The pipeline that cannot score a missing ``Pclass``, and its signature."""
    pipe, X, y = fit_passengers(impute_pclass=False)
    return pipe, infer_signature(X, y, task="classification", model=pipe)


def _new_passengers(tmp_path: Path, n: int = 1000) -> tuple[Path, pd.DataFrame]:
    """1000 rows: 20 with ``Pclass`` missing (refused), some with ``Fare``/``Sex`` missing (filled in)."""
    frame, _ = passengers(n=n, seed=3)
    frame["Fare"] = frame["Fare"].astype(object)
    frame.loc[[5, 17, 400], "Fare"] = None
    frame.loc[[6, 401], "Sex"] = None
    frame["Pclass"] = frame["Pclass"].astype("Int64")
    bad = list(range(100, 1000, 45))[:20]
    frame.loc[bad, "Pclass"] = None
    frame.loc[bad[0], "Fare"] = None  # a refused row may be filled in elsewhere too
    data = tmp_path / "new.csv"
    frame.to_csv(data, index=False)
    return data, frame


def test_good_rows_are_scored_and_bad_rows_set_aside(raw_pclass: tuple[object, object], tmp_path: Path) -> None:
    pipe, signature = raw_pclass
    data, frame = _new_passengers(tmp_path)
    bad = frame.index[frame["Pclass"].isna()].tolist()
    out = tmp_path / "scores.parquet"
    result = predict_batch(
        pipe, signature, data, out, model_ref="titanic/1", batch_rows=300, id_column=ID, log_dir=tmp_path / "wal"
    )
    assert (result.rows, result.rejected) == (980, 20)
    assert [(b.row, b.column) for b in result.bad_rows] == [(r, "Pclass") for r in bad]
    assert all("missing value" in b.reason for b in result.bad_rows)

    scores = pd.read_parquet(out)
    good = [r for r in range(1000) if r not in set(bad)]
    assert scores["row"].tolist() == good  # the positions in the input, gaps where rows were refused
    assert scores[ID].tolist() == frame.loc[good, ID].tolist()
    filled = frame.loc[[5, 6, 17]].astype(object).where(frame.loc[[5, 6, 17]].notna(), None)
    expected = pipe.predict_proba(
        pd.DataFrame(filled.drop(columns=[ID]).to_dict("records")).astype({"Fare": "float64", "Pclass": "float64"})
    )
    got = scores.set_index("row").loc[[5, 6, 17], ["proba_0", "proba_1"]].to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-9)

    assert result.rejected_path == rejected_path(out) == tmp_path / "scores.rejected.csv"
    rejected = pd.read_csv(result.rejected_path, dtype={ID: str})
    assert rejected["row"].tolist() == bad
    assert rejected[ID].tolist() == frame.loc[bad, ID].tolist()  # the rows as read, to fix and score again
    assert rejected["reason"].str.startswith("column 'Pclass': missing value").all()

    # the filled-in values are flagged in the log, the refused rows are not logged
    lines = [json.loads(line) for f in sorted((tmp_path / "wal").rglob("*")) if f.is_file() for line in _lines(f)]
    assert sorted(r["row"] for r in lines) == good
    imputed = {(r["row"], f["column"]) for r in lines for f in r["flags"] if f["problem"] == MISSING_IMPUTED}
    assert imputed == {(5, "Fare"), (17, "Fare"), (400, "Fare"), (6, "Sex"), (401, "Sex")}
    assert result.flagged >= 5


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        return []
    return [line for line in text.splitlines() if line.startswith("{")]


def test_a_clean_run_removes_an_earlier_rejected_file(raw_pclass: tuple[object, object], tmp_path: Path) -> None:
    pipe, signature = raw_pclass
    frame, _ = passengers(n=50, seed=4)
    data = tmp_path / "clean.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "scores.parquet"
    rejected_path(out).write_text("row,reason\n0,stale\n")
    result = predict_batch(pipe, signature, data, out, model_ref="titanic/1")
    assert (result.rows, result.rejected, result.rejected_path) == (50, 0, None)
    assert not rejected_path(out).exists()


def test_strict_fails_on_the_first_bad_rows_and_writes_nothing(
    raw_pclass: tuple[object, object], tmp_path: Path
) -> None:
    pipe, signature = raw_pclass
    data, _ = _new_passengers(tmp_path)
    out = tmp_path / "scores.parquet"
    with pytest.raises(DataError, match=r"row 100, column 'Pclass': missing value"):
        predict_batch(pipe, signature, data, out, model_ref="titanic/1", batch_rows=300, strict=True)
    assert not out.exists() and not rejected_path(out).exists() and not list(tmp_path.glob(".*.tmp"))


def test_only_bad_rows_is_an_error_naming_them(raw_pclass: tuple[object, object], tmp_path: Path) -> None:
    pipe, signature = raw_pclass
    frame, _ = passengers(n=30, seed=5)
    data = tmp_path / "nopclass.csv"
    frame.drop(columns=["Pclass"]).to_csv(data, index=False)
    out = tmp_path / "scores.parquet"
    with pytest.raises(DataError, match=r"none of its 30 rows can be scored \(row 0, column 'Pclass': missing column"):
        predict_batch(pipe, signature, data, out, model_ref="titanic/1")
    assert not out.exists()
    assert pd.read_csv(rejected_path(out))["row"].tolist() == list(range(30))


def test_bad_rows_kept_in_the_result_are_capped(raw_pclass: tuple[object, object], tmp_path: Path) -> None:
    pipe, signature = raw_pclass
    frame, _ = passengers(n=MAX_BAD_ROWS_KEPT + 60, seed=6)
    frame["Pclass"] = frame["Pclass"].astype("Int64")
    frame.loc[frame.index[10:], "Pclass"] = None
    data = tmp_path / "many.parquet"
    frame.to_parquet(data)
    result = predict_batch(pipe, signature, data, tmp_path / "s.parquet", model_ref="titanic/1", batch_rows=400)
    assert (result.rows, result.rejected) == (10, MAX_BAD_ROWS_KEPT + 50)
    assert len(result.bad_rows) == MAX_BAD_ROWS_KEPT
    assert len(pd.read_csv(result.rejected_path)) == MAX_BAD_ROWS_KEPT + 50
