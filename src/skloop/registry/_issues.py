"""What validation reports: one :class:`ValidationIssue` per row, column and problem.

Messages show the offending value (:func:`brief`) and are capped per column and problem
(:data:`MAX_ISSUES_PER_PROBLEM`), so that a bad column of a million rows answers with a
short body that still names the first rows to fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from skloop.registry._signature import _py

__all__ = ["MAX_ISSUES_PER_PROBLEM", "HasIssues", "Severity", "ValidationIssue", "brief", "row_issues"]

MAX_ISSUES_PER_PROBLEM = 20
"""Row-level issues reported per column and problem; the rest are summed up in one."""

_SHOWN_CHARS = 60

Severity = Literal["error", "flag"]


@dataclass(frozen=True)
class ValidationIssue:
    """One problem found in incoming data.

    Attributes
    ----------
    row : int or None
        Position of the row (0-based) in the data given, or ``None`` for a problem
        of the whole column (missing or extra column, or a count of further rows).
    column : str
    problem : str
        What is wrong, with the value when there is one.
    severity : {"error", "flag"}
        ``error``: the row cannot be scored as given. ``flag``: it is scored, but the
        value lies outside what the model saw (an unknown category, a value out of the
        training range) or an extra column was dropped.
    """

    row: int | None
    column: str
    problem: str
    severity: Severity

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {"row": self.row, "column": self.column, "problem": self.problem, "severity": self.severity}


class HasIssues:
    """The ``errors`` and ``flags`` views of a result's ``issues`` (validation results share them)."""

    issues: tuple[ValidationIssue, ...]

    @property
    def errors(self) -> list[ValidationIssue]:
        """The issues of severity ``error``."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def flags(self) -> list[ValidationIssue]:
        """The issues of severity ``flag``."""
        return [i for i in self.issues if i.severity == "flag"]


def brief(value: Any) -> str:
    """A value as a message shows it: its repr, cut to a few dozen characters.

    Examples
    --------
    >>> brief("abc"), brief({"a": 1}), brief(np.float64(2.5)), brief("x" * 100)[-5:]
    ("'abc'", 'an object', '2.5', 'xx...')
    """
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple | set):
        return "a list"
    text = repr(_py(value))
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def row_issues(
    mask: np.ndarray,
    raw: Sequence[Any],
    column: str,
    problem: str,
    severity: Severity,
    show_value: bool = True,
    limit: int | None = MAX_ISSUES_PER_PROBLEM,
) -> list[ValidationIssue]:
    """One issue per row of ``mask`` (up to ``limit``, then one that counts the rest; ``None``: every row).

    Only the rows reported are looked at in ``raw`` (a list or a Series of the values
    as given), so a check costs nothing per valid value.
    """
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return []
    shown = (rows if limit is None else rows[:limit]).tolist()
    if not show_value:
        issues = [ValidationIssue(r, column, problem, severity) for r in shown]
    else:  # the values of the rows shown, taken at once (one lookup a row costs ~50x more on a Series)
        values = raw.iloc[shown].tolist() if hasattr(raw, "iloc") else [raw[r] for r in shown]
        pairs = zip(shown, values, strict=True)
        issues = [ValidationIssue(r, column, f"{brief(v)} {problem}", severity) for r, v in pairs]
    if rows.size > len(shown):
        issues.append(ValidationIssue(None, column, f"{rows.size - len(shown)} more rows: {problem}", severity))
    return issues
