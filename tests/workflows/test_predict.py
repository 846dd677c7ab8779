"""Batch scoring: chunked input, streamed Parquet output, model metadata, row errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from skloop.core import DataError
from skloop.data import make_churn, read_table
from skloop.pipelines import FeatureSets, build_preprocessor
from skloop.registry import infer_signature
from skloop.workflows import NullProgress, predict_batch, predict_table, read_prediction_metadata

FEATURES = FeatureSets(
    numeric=("age", "tenure_months", "support_calls", "monthly_charges", "total_charges"),
    categorical=("contract", "payment_method", "region"),
    boolean=("has_partner", "paperless_billing"),
)


@pytest.fixture(scope="module")
def fitted() -> tuple[Pipeline, object]:
    frame = make_churn(600, seed=1)
    X = frame[list(FEATURES.all_columns)]
    pipe = Pipeline([("preprocess", build_preprocessor(FEATURES)), ("model", LogisticRegression(max_iter=1000))])
    pipe.fit(X, frame["churned"])
    return pipe, infer_signature(X, frame["churned"], task="classification", model=pipe)


def test_multi_chunk_csv_writes_every_row_with_metadata(fitted: tuple[Pipeline, object], tmp_path: Path) -> None:
    pipe, signature = fitted
    data = tmp_path / "new.csv"
    make_churn(2500, seed=7, shift=0.5).to_csv(data, index=False)
    progress = NullProgress()
    result = predict_batch(
        pipe,
        signature,
        data,
        tmp_path / "out" / "scores.parquet",
        model_ref="churn@champion",
        model_version=3,
        model_sha256="ab" * 32,
        batch_rows=700,
        keep_columns=["customer_id"],
        progress=progress,
    )
    assert result.rows == 2500 and result.out_path.is_file()
    assert progress.advanced == 2500
    # The shifted data has an unseen region: flagged, not refused.
    assert result.flagged > 0 and result.issues_count >= 1
    parquet = pq.ParquetFile(result.out_path)
    assert parquet.metadata.num_row_groups == 4  # streamed: one row group per chunk
    meta = read_prediction_metadata(result.out_path)
    assert meta["skloop.model_ref"] == "churn@champion"
    assert meta["skloop.model_version"] == "3"
    assert meta["skloop.model_sha256"] == "ab" * 32
    scores = pd.read_parquet(result.out_path)
    assert list(scores.columns) == ["row", "customer_id", "prediction", "proba_0", "proba_1"]
    assert scores["row"].tolist() == list(range(2500))
    raw = read_table(data)
    expected = pipe.predict_proba(raw[list(FEATURES.all_columns)])
    np.testing.assert_allclose(scores[["proba_0", "proba_1"]].to_numpy(), expected, atol=1e-12)
    assert scores["customer_id"].tolist() == raw["customer_id"].tolist()


def test_parquet_input_without_signature(fitted: tuple[Pipeline, object], tmp_path: Path) -> None:
    pipe, _ = fitted
    data = tmp_path / "new.parquet"
    make_churn(300, seed=2).to_parquet(data)
    result = predict_batch(pipe, None, data, tmp_path / "s.parquet", model_ref="churn/1", batch_rows=128)
    assert result.rows == 300 and result.issues_count == 0
    assert len(pd.read_parquet(result.out_path)) == 300


def test_strict_bad_rows_are_named_and_nothing_is_written(fitted: tuple[Pipeline, object], tmp_path: Path) -> None:
    pipe, signature = fitted
    frame = make_churn(900, seed=4)
    frame["age"] = frame["age"].astype(str)
    frame.loc[650, "age"] = "old"
    # Parquet: iter_batches leaves a CSV reader open when the caller stops early
    # (a ResourceWarning, reported to the data owner).
    data = tmp_path / "bad.parquet"
    frame.to_parquet(data)
    out = tmp_path / "scores.parquet"
    with pytest.raises(DataError, match=r"row 650, column 'age'"):
        predict_batch(pipe, signature, data, out, model_ref="churn/1", batch_rows=300, strict=True)
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
    # without strict: the other rows are scored, row 650 is set aside with its reason
    result = predict_batch(pipe, signature, data, out, model_ref="churn/1", batch_rows=300)
    assert (result.rows, result.rejected) == (899, 1) and result.bad_rows[0].row == 650
    assert "'old' is not a number" in result.bad_rows[0].reason


def test_predict_table_matches_the_parquet_file(fitted: tuple[Pipeline, object], tmp_path: Path) -> None:
    # one scoring pass behind both: a DataFrame in memory equals the file, chunk boundaries and all
    pipe, signature = fitted
    frame = make_churn(1300, seed=7, shift=0.5)
    frame.to_parquet(tmp_path / "new.parquet")
    written = predict_batch(
        pipe, signature, tmp_path / "new.parquet", tmp_path / "scores.parquet", model_ref="churn/3",
        batch_rows=500, id_column="customer_id",
    )  # fmt: skip
    progress = NullProgress()
    kept = predict_table(
        pipe, signature, frame, model_ref="churn/3", model_version=3, batch_rows=500, id_column="customer_id",
        progress=progress,
    )  # fmt: skip
    assert kept.rows == written.rows == 1300 and progress.advanced == 1300
    assert (kept.flagged, kept.issues_count) == (written.flagged, written.issues_count) and kept.flagged > 0
    assert kept.model_ref == "churn/3" and kept.model_version == 3
    pd.testing.assert_frame_equal(kept.predictions, pd.read_parquet(written.out_path))
    from_file = predict_table(pipe, signature, tmp_path / "new.parquet", model_ref="churn/3")
    assert from_file.predictions["prediction"].tolist() == kept.predictions["prediction"].tolist()


def test_predict_table_refuses_what_predict_batch_refuses(fitted: tuple[Pipeline, object]) -> None:
    pipe, signature = fitted
    frame = make_churn(50, seed=3)
    with pytest.raises(DataError, match="no rows to score"):
        predict_table(pipe, signature, frame.iloc[:0], model_ref="churn/1")
    bad = frame.astype({"age": object})
    bad.loc[7, "age"] = "old"
    with pytest.raises(DataError, match=r"row 7, column 'age'"):
        predict_table(pipe, signature, bad, model_ref="churn/1", batch_rows=5, strict=True)
    lenient = predict_table(pipe, signature, bad, model_ref="churn/1", batch_rows=5)
    assert (lenient.rows, lenient.rejected) == (49, 1) and lenient.bad_rows[0].row == 7
    assert 7 not in lenient.predictions["row"].tolist()
    with pytest.raises(DataError, match=r"--keep column\(s\) \['nope'\]"):
        predict_table(pipe, signature, frame, model_ref="churn/1", keep_columns=["nope"])
