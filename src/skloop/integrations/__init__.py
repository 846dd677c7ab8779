"""Optional integrations with other engines, each behind an extra and imported lazily.

- :mod:`skloop.integrations._dask`: ``dask.distributed`` clusters for searches and for
  Parquet tables read partition by partition (the ``dask`` extra).

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

__all__ = [
    "CONNECT_TIMEOUT",
    "DASK_EXTRA",
    "DEFAULT_LOOKAHEAD",
    "DaskCluster",
    "connect",
    "ordered_partitions",
]
