"""The rows of a batch the model's signature refuses: why (:class:`BadRow`), and the side file.

:func:`check_chunk` types a chunk like the signature and splits it into the rows to score
and those refused, with their reasons; :class:`RejectedWriter` writes the refused rows,
as read, to a CSV next to the output (atomically), keeping the first
:data:`MAX_BAD_ROWS_KEPT` reasons for the result. Shared by local scoring
(:mod:`skloop.workflows._predict`) and scoring on dask (:mod:`skloop.workflows._predict_dask`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import DataError

__all__ = [
    "MAX_BAD_ROWS_KEPT",
    "MAX_REPORTED_ERRORS",
    "BadRow",
    "Checked",
    "RejectedWriter",
    "as_signature",
    "check_chunk",
]

MAX_REPORTED_ERRORS = 5
"""Refused rows named in an error or a warning."""

MAX_BAD_ROWS_KEPT = 1000
"""Refused rows listed in :attr:`PredictResult.bad_rows` (the side file holds them all)."""


@dataclass(frozen=True)
class BadRow:
    """One reason a row of the input was not scored.

    Attributes
    ----------
    row : int
        The row's 0-based position in the input (the ``row`` of the output).
    column : str
        The column at fault.
    reason : str
        What is wrong with its value (or that the column is absent).
    """

    row: int
    column: str
    reason: str


def as_signature(signature: Any) -> Any:
    if signature is None:
        return None
    from skloop.registry import Signature

    return signature if isinstance(signature, Signature) else Signature.from_dict(signature)


@dataclass
class Checked:
    """A chunk typed like the signature: the rows to score, and those refused."""

    X: pd.DataFrame
    good: np.ndarray  # positions in the chunk of the rows to score
    bad: np.ndarray  # positions in the chunk of the refused rows
    reasons: dict[int, list[tuple[str, str]]]  # chunk position -> [(column, problem)]
    issues: int
    flagged: int
    flagged_columns: dict[str, int]


def check_chunk(
    chunk: pd.DataFrame,
    signature: Any,
    start: int,
    source: str,
    flags: dict[int | None, list[dict[str, Any]]],
    *,
    strict: bool,
) -> Checked:
    """The chunk typed like the signature, split into rows to score and rows refused.

    The flags of the scored rows are put in ``flags`` by row of the chunk (``None``:
    every row).

    Raises
    ------
    DataError
        With ``strict``, when a row is refused (naming the first ones).
    """
    from skloop.registry import coerce_frame

    result = coerce_frame(chunk, signature, max_issues=None if not strict else MAX_REPORTED_ERRORS)
    if result.errors and strict:
        shown = "; ".join(
            f"row {start + i.row if i.row is not None else '-'}, column {i.column!r}: {i.problem}"
            for i in result.errors[:MAX_REPORTED_ERRORS]
        )
        more = len(result.error_rows) - min(len(result.error_rows), MAX_REPORTED_ERRORS)
        raise DataError(
            f"{source}: {len(result.error_rows)} row(s) from row {start} cannot be scored: {shown}"
            + (f" (and {more} more rows)" if more > 0 else "")
            + "; fix the data or retrain on data like it (without --strict, the other rows are scored)"
        )
    bad = np.asarray(result.error_rows, dtype=np.int64)
    reasons: dict[int, list[tuple[str, str]]] = {int(r): [] for r in bad}
    whole = [(i.column, i.problem) for i in result.errors if i.row is None]  # a missing column: every row
    for i in result.errors:
        if i.row is not None:
            reasons[i.row].append((i.column, i.problem))
    for r in reasons:
        reasons[r] = whole + reasons[r]
    is_bad = np.zeros(len(chunk), dtype=bool)
    is_bad[bad] = True
    good = np.flatnonzero(~is_bad)
    flagged_rows = {i.row for i in result.flags if i.row is not None and not is_bad[i.row]}
    for i in result.flags:
        if i.row is not None and is_bad[i.row]:
            continue
        row = None if i.row is None else start + i.row
        flags.setdefault(i.row, []).append({"row": row, "column": i.column, "problem": i.problem, "severity": "flag"})
    issues = sum(1 for i in result.flags if i.row is None or not is_bad[i.row])
    by_column: dict[str, set[int]] = {}
    for i in result.flags:  # flags of the whole chunk (an extra column, ignored) flag no row
        if i.row is not None and not is_bad[i.row]:
            by_column.setdefault(i.column, set()).add(i.row)
    X = result.frame.iloc[good].reset_index(drop=True) if bad.size else result.frame
    return Checked(X, good, bad, reasons, issues, len(flagged_rows), {c: len(r) for c, r in by_column.items() if r})


class RejectedWriter:
    """The refused rows as read, with their position and reasons, in a CSV written atomically.

    Without a ``path`` (:func:`predict_table`), the rows are only counted and their
    reasons kept.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.tmp = None if path is None else path.with_name(f".{path.name}.tmp")
        self.rows = 0
        self.kept: list[BadRow] = []
        self._header = True

    def write(self, chunk: pd.DataFrame, checked: Checked, start: int) -> None:
        if checked.bad.size == 0:
            return
        self.write_rows(chunk.iloc[checked.bad].reset_index(drop=True), checked.bad, checked.reasons, start)

    def write_rows(
        self, part: pd.DataFrame, bad: np.ndarray, reasons: Mapping[int, list[tuple[str, str]]], start: int
    ) -> None:
        """The refused rows ``part`` as read, at positions ``bad`` of a chunk starting at row ``start``."""
        texts = []
        for r in bad.tolist():
            texts.append("; ".join(f"column {c!r}: {p}" for c, p in reasons[r]))
            if self.rows + len(texts) <= MAX_BAD_ROWS_KEPT:
                self.kept += [BadRow(start + r, c, p) for c, p in reasons[r]]
        self.rows += len(part)
        if self.tmp is None:
            return
        part.insert(0, "reason", texts)
        part.insert(0, "row", bad + start)
        part.to_csv(self.tmp, mode="w" if self._header else "a", header=self._header, index=False)
        self._header = False

    def commit(self) -> Path | None:
        """Move the file in place (or remove an earlier run's when none was refused)."""
        if self.path is None or self.tmp is None:
            return None
        if self.rows == 0:
            self.path.unlink(missing_ok=True)
            return None
        os.replace(self.tmp, self.path)
        return self.path

    def discard(self) -> None:
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)
