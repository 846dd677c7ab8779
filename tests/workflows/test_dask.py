"""Search, scoring and monitoring on a dask.distributed cluster give what a local run gives.

One ``LocalCluster`` of two worker processes on 127.0.0.1 serves the whole module (a
start costs seconds); the local and the dask runs use the same seeds and data.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from small_project import write_small_project

from skloop.data import make_churn
from skloop.integrations import DaskCluster, connect
from skloop.workflows import Project, TrainResult

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    ) as local:
        yield local


@pytest.fixture(scope="module")
def dask(cluster: Any) -> Iterator[DaskCluster]:
    with connect(cluster.scheduler_address) as client:
        yield client


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, TrainResult]]:
    """The project, trained (and registered) locally."""
    project = Project.load(write_small_project(tmp_path_factory.mktemp("dask") / "p", rows=600))
    result = project.train()
    assert result.model_version is not None
    project.promote(result.model_version, force=True)
    yield project, result
    project.close()


@pytest.fixture(scope="module")
def project(trained: tuple[Project, TrainResult]) -> Project:
    return trained[0]


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shifted churn table in several row groups (one partition each), with two rows no model can score."""
    frame = make_churn(2600, seed=11, shift=0.6).drop(columns="churned")
    frame["age"] = frame["age"].astype(str)
    frame.loc[[5, 1900], "age"] = "not a number"
    path = tmp_path_factory.mktemp("table") / "new.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=700)
    assert pq.ParquetFile(path).metadata.num_row_groups == 4
    return path


def test_search_on_the_cluster_scores_like_the_local_search(
    trained: tuple[Project, TrainResult], cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, local = trained
    monkeypatch.setenv("SKLOOP_DASK_SCHEDULER", cluster.scheduler_address)
    on_dask = Project.load(project.settings.base_dir / "skloop.yaml")
    try:
        remote = on_dask.train(register=False)
        params = on_dask.run(remote.run_id).params
    finally:
        on_dask.close()
    assert remote.cv == local.cv  # every fold's score, exactly: same folds, same seeds
    assert remote.best_params == local.best_params and remote.holdout == local.holdout
    assert params["search.backend"] == "dask" and params["search.scheduler"] == cluster.scheduler_address
    assert project.run(local.run_id).params["search.backend"] == "local"


def test_scoring_by_partition_writes_the_local_output(
    project: Project, dask: DaskCluster, table: Path, tmp_path: Path
) -> None:
    local = project.predict_file(table, tmp_path / "local.parquet", keep_columns=("region",))
    remote = project.predict_file(table, tmp_path / "dask.parquet", keep_columns=("region",), dask=dask)
    pd.testing.assert_frame_equal(pd.read_parquet(remote.out_path), pd.read_parquet(local.out_path))
    assert pq.ParquetFile(remote.out_path).metadata.num_row_groups == 4  # written partition by partition
    assert (
        (remote.rows, remote.rejected, remote.flagged)
        == (local.rows, local.rejected, local.flagged)
        == (2598, 2, local.flagged)
    )
    assert remote.bad_rows == local.bad_rows and [b.row for b in remote.bad_rows] == [5, 1900]
    assert remote.flagged_columns == local.flagged_columns and remote.flagged > 0
    assert remote.rejected_path is not None and local.rejected_path is not None
    assert remote.rejected_path.read_text() == local.rejected_path.read_text()


def _report(project: Project, table: Path, **kwargs: Any) -> dict[str, Any]:
    report = project.monitor(table, n_boot=30, **kwargs).to_dict()
    report.pop("created")
    return report


def test_monitoring_by_partition_reports_what_the_local_monitor_reports(
    project: Project, dask: DaskCluster, table: Path
) -> None:
    clean = table.with_name("clean.parquet")
    frame = make_churn(2600, seed=12, shift=0.6)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), clean, row_group_size=650)
    local, remote = _report(project, clean), _report(project, clean, dask=dask)
    assert remote == local  # drift statistics, quality, performance and the verdict
    assert remote["features"] and remote["verdict"]["drifted"] is True
    assert remote["performance"] is not None and remote["estimate"] is not None  # labels scored, CBPE estimated
