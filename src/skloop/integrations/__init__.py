"""Optional integrations with other engines, each behind an extra and imported lazily.

- :mod:`skloop.integrations._dask`: ``dask.distributed`` clusters for searches and for
  Parquet tables read partition by partition (the ``dask`` extra).
- :mod:`skloop.integrations._mlflow`: an MLflow tracking server that skloop's runs,
  versions and aliases are mirrored to (the ``mlflow`` extra).

Importing this package imports none of them.
"""

from __future__ import annotations

from skloop.integrations._dask import (
    CONNECT_TIMEOUT,
    DASK_EXTRA,
    DEFAULT_LOOKAHEAD,
    DaskCluster,
    connect,
    ordered_partitions,
)
from skloop.integrations._mlflow import MLFLOW_EXTRA, DatasetInfo, MlflowMirror, RunRecord

__all__ = [
    "CONNECT_TIMEOUT",
    "DASK_EXTRA",
    "DEFAULT_LOOKAHEAD",
    "MLFLOW_EXTRA",
    "DaskCluster",
    "DatasetInfo",
    "MlflowMirror",
    "RunRecord",
    "connect",
    "ordered_partitions",
]
