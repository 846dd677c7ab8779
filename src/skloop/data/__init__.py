"""Data: readers, schema inference, fingerprints, profiles, checks and the example table.

Imports nothing from skloop but :mod:`skloop.core`.
"""

from __future__ import annotations

from skloop.data._categories import as_category
from skloop.data._checks import TASKS, check_training_frame, infer_task
from skloop.data._classes import class_name, class_names, positive_class
from skloop.data._columns import ColumnsByName
from skloop.data._example import make_churn, write_example
from skloop.data._fingerprint import fingerprint
from skloop.data._profile import (
    OTHER,
    QUANTILE_LEVELS,
    ColumnProfile,
    DatasetProfile,
    profile,
)
from skloop.data._readers import (
    DEFAULT_BATCH_ROWS,
    batch_datetimes,
    iter_batches,
    parse_datetimes,
    read_table,
    redact_url,
    type_batch,
)
from skloop.data._schema import KINDS, ColumnSchema, Schema, infer_schema
from skloop.data._suspects import (
    Finding,
    coerce_numbers,
    find_dirty_numbers,
    find_id_column,
    find_leaks,
    find_time_column,
    looks_like_id_name,
)

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "KINDS",
    "OTHER",
    "QUANTILE_LEVELS",
    "TASKS",
    "ColumnProfile",
    "ColumnSchema",
    "ColumnsByName",
    "DatasetProfile",
    "Finding",
    "Schema",
    "as_category",
    "batch_datetimes",
    "check_training_frame",
    "class_name",
    "class_names",
    "coerce_numbers",
    "find_dirty_numbers",
    "find_id_column",
    "find_leaks",
    "find_time_column",
    "fingerprint",
    "infer_schema",
    "infer_task",
    "iter_batches",
    "looks_like_id_name",
    "make_churn",
    "parse_datetimes",
    "positive_class",
    "profile",
    "read_table",
    "redact_url",
    "type_batch",
    "write_example",
]
