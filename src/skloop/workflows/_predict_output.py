"""Where batch predictions go: the output file by its name, and the refused rows' side file.

:func:`skloop.workflows.predict_batch` writes chunk by chunk into a temporary file that
is moved in place only when the whole run succeeds, so a failed run leaves no partial
output (and an earlier run's file stands).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from skloop.core import UsageError

__all__ = ["OUTPUT_FORMATS", "OutputWriter", "output_format", "read_prediction_metadata", "rejected_path"]


def rejected_path(out_path: str | os.PathLike[str]) -> Path:
    """The side file of the rows :func:`predict_batch` refused: ``scores.parquet`` → ``scores.rejected.csv``."""
    out = Path(out_path)
    return out.with_name(f"{out.stem}.rejected.csv")


OUTPUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".csv.gz": "csv"}
"""The predictions file's format by the ending of its name."""


def output_format(path: str | os.PathLike[str]) -> str:
    """``parquet`` or ``csv`` by the name of the predictions file.

    Raises
    ------
    UsageError
        Any other ending (the predictions would otherwise be Parquet under a ``.csv`` name).
    """
    name = os.fspath(path).lower()
    for ending, kind in OUTPUT_FORMATS.items():
        if name.endswith(ending):
            return kind
    raise UsageError(f"--out {path}: write predictions to a file ending in {', '.join(OUTPUT_FORMATS)}")


class OutputWriter:
    """The predictions, chunk by chunk, into a temporary file moved in place at the end.

    Parquet carries the run's ``skloop.*`` metadata in its schema (see
    :func:`read_prediction_metadata`); a CSV has no place for it, so it is only logged.
    """

    def __init__(self, path: Path, kind: str, metadata: Mapping[str, str]) -> None:
        self.path, self.kind, self.metadata = path, kind, metadata
        self.tmp = path.with_name(f".{path.name}.tmp")
        self._parquet: pq.ParquetWriter | None = None
        self._schema = pa.schema([])  # the output's arrow schema, set with the writer: each batch is cast to it
        self.started = False

    def write(self, scored: pd.DataFrame) -> None:
        if self.kind == "csv":
            compression: Literal["gzip"] | None = "gzip" if self.path.name.lower().endswith(".gz") else None
            # appending gzip members makes one valid gzip stream
            scored.to_csv(self.tmp, mode="a" if self.started else "w", header=not self.started, index=False,
                          compression=compression)  # fmt: skip
            self.started = True
            return
        table = pa.Table.from_pandas(scored, preserve_index=False)
        if self._parquet is None:
            schema = table.schema.with_metadata({**(table.schema.metadata or {}), **self.metadata})
            self._parquet, self._schema = pq.ParquetWriter(self.tmp, schema), schema
        self._parquet.write_table(table.cast(self._schema))
        self.started = True

    def commit(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        self.tmp.unlink(missing_ok=True)


def read_prediction_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The skloop key-value metadata of a predictions file written by :func:`predict_batch`."""
    raw = pq.read_schema(os.fspath(path)).metadata or {}
    return {k.decode(): v.decode() for k, v in raw.items() if k.decode().startswith("skloop.")}
