"""compare_data_files(..., multivariate=window): univariate and multivariate drift of a file in one pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skloop.core import DataError, MultivariateSpec
from skloop.monitor import DriftReport, MultivariateReference, MultivariateWindow, compare_data_files, reference_summary
from skloop.monitor._multivariate import compare_window, sampling_keys


def _frame(n: int, seed: int, rho: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ab = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], n)
    frame = pd.DataFrame({"a": ab[:, 0], "b": ab[:, 1], "n": rng.integers(0, 9, n)})
    frame["c"] = pd.Series(np.where(rng.random(n) < 0.6, "x", rng.choice(["y", "z"], n)), dtype="str")
    frame.loc[rng.random(n) < 0.05, "a"] = np.nan
    frame.loc[rng.random(n) < 0.05, "c"] = None
    return frame


def _two_passes(fitted: MultivariateReference, spec: MultivariateSpec, current: pd.DataFrame) -> Any:
    """What the benchmark did before: the file read again, in pages, into a window of its own."""
    window = MultivariateWindow(fitted, spec)
    for start in range(0, len(current), 500):
        page = current.iloc[start : start + 500]
        window.add(page, sampling_keys(np.arange(start, start + len(page))))
    return window.result()


def _same_report(one: DriftReport, other: DriftReport) -> None:
    assert one.to_dict() == other.to_dict()


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_one_pass_equals_two_passes(tmp_path: Path, suffix: str) -> None:
    ref, current = _frame(2000, 0, 0.9), _frame(1000, 1, -0.9)  # the same marginals, the correlation flipped
    path = tmp_path / f"current{suffix}"
    current.to_parquet(path) if suffix == ".parquet" else current.to_csv(path, index=False)
    read = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    summary = reference_summary(ref)
    fitted = MultivariateReference(ref)
    for spec in (MultivariateSpec(), MultivariateSpec(max_rows=300)):  # the whole window, and a reservoir
        window = MultivariateWindow(fitted, spec)
        report = compare_data_files(None, path, reference_profile=summary, batch_rows=256, multivariate=window)
        _same_report(report, compare_data_files(None, path, reference_profile=summary, batch_rows=256))
        assert not report.drifted and report.drifted_features == []
        one, two = window.result(), _two_passes(fitted, spec, read)
        assert one is not None and two is not None and one.drifted and two.drifted
        assert one.classifier is not None and two.classifier is not None
        assert one.classifier.auc == two.classifier.auc and one.classifier.fold_aucs == two.classifier.fold_aucs
        assert one.classifier.n_current == min(spec.max_rows, 1000) and one.n_current == two.n_current == 1000
        assert one.reconstruction is not None and two.reconstruction is not None
        assert one.reconstruction.error == pytest.approx(two.reconstruction.error, rel=1e-12)
        assert (one.reconstruction.lower, one.reconstruction.upper) == (two.reconstruction.lower,
                                                                         two.reconstruction.upper)  # fmt: skip
        if spec.max_rows >= len(current):  # every row in the reservoir: the result of the whole frame
            whole = compare_window(fitted, read, spec).classifier
            assert whole is not None and one.classifier.auc == whole.auc


def test_columns_the_report_does_not_test_are_read_and_missing_ones_named(tmp_path: Path) -> None:
    ref, current = _frame(800, 2, 0.9), _frame(400, 3, 0.9)
    path = tmp_path / "current.parquet"
    current.to_parquet(path)
    fitted = MultivariateReference(ref)
    window = MultivariateWindow(fitted, MultivariateSpec())
    report = compare_data_files(None, path, reference_profile=reference_summary(ref), columns=["a", "b"],
                                multivariate=window)  # fmt: skip
    assert [f.name for f in report.features] == ["a", "b"]
    result = window.result()
    assert result is not None and result.columns == ("a", "b", "n", "c") and not result.drifted
    current.drop(columns="n").to_parquet(path)
    with pytest.raises(DataError, match=r"lacks column\(s\) \['n'\]"):
        compare_data_files(None, path, reference_profile=reference_summary(ref),
                           multivariate=MultivariateWindow(fitted, MultivariateSpec()))  # fmt: skip


def test_arrow_batches_encode_as_their_pandas_frames() -> None:
    rng = np.random.default_rng(4)
    n = 400
    ref = pd.DataFrame({
        "f": rng.normal(size=n), "i": rng.integers(0, 50, n), "b": rng.random(n) < 0.4,
        "s": pd.Series(rng.choice(["u", "v", "w"], n), dtype="str"),
        "k": pd.Series(rng.choice([1, 2, 3], n), dtype=object),  # categories that are not strings
        "t": rng.normal(size=n),
    })  # fmt: skip
    fitted = MultivariateReference(ref, ["f", "i", "b", "s", "k", "t"])
    strings = pa.array(rng.choice(["u", "v", "w", "new"], n)).to_pylist()
    strings[::9] = [None] * len(strings[::9])
    ints = pa.array([None if j % 7 == 0 else int(v) for j, v in enumerate(rng.integers(0, 50, n))], pa.int64())
    floats = rng.normal(size=n)
    floats[::5] = np.nan  # NaN and nulls: both missing
    columns = {
        "f": pa.array([None if j % 6 == 0 else v for j, v in enumerate(floats)], pa.float64()), "i": ints,
        "b": pa.array(rng.random(n) < 0.5),
        "s": pa.array(strings).dictionary_encode(), "k": pa.array(rng.choice(["1", "2"], n)),
        "t": pa.array([None if j % 4 == 0 else str(v) for j, v in enumerate(rng.normal(size=n))]),  # numbers as text
    }  # fmt: skip
    batch = pa.RecordBatch.from_pydict(columns)
    np.testing.assert_array_equal(fitted.encode(batch), fitted.encode(batch.to_pandas()))
    for kind in (pa.string(), pa.large_string()):  # plain (not dictionary) strings
        plain = batch.set_column(3, "s", pa.array(strings, kind))
        np.testing.assert_array_equal(fitted.encode(plain), fitted.encode(plain.to_pandas()))
    with pytest.raises(DataError, match="lacks column"):
        fitted.encode(batch.drop_columns(["t"]))


def test_a_streamed_file_of_parquet_row_groups(tmp_path: Path) -> None:
    # several row groups and batches that do not divide them: the positions still key the rows
    ref, current = _frame(2000, 5, 0.9), _frame(2300, 6, 0.9)
    path = tmp_path / "groups.parquet"
    pq.write_table(pa.Table.from_pandas(current, preserve_index=False), path, row_group_size=700)
    fitted = MultivariateReference(ref)
    spec = MultivariateSpec(max_rows=500)
    window = MultivariateWindow(fitted, spec)
    compare_data_files(None, path, reference_profile=reference_summary(ref), batch_rows=300, multivariate=window)
    one, two = window.result(), _two_passes(fitted, spec, current)
    assert one is not None and two is not None and one.classifier is not None and two.classifier is not None
    assert one.classifier.auc == two.classifier.auc and not one.drifted
