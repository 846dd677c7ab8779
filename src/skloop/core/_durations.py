"""Durations and window lengths written as text (``"6h"``, ``"7d"``, ``"5000 rows"``).

Kept apart from the spec models so that commands parsing an option (``skloop db check --stale-after``)
do not import pydantic.
"""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|min|m|h|d|w)\s*$")
_UNITS = {"s": "seconds", "sec": "seconds", "min": "minutes", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """A positive duration from text such as ``"30min"``, ``"6h"``, ``"7d"``, ``"2w"``.

    Examples
    --------
    >>> parse_duration("6h"), parse_duration("1.5d")
    (datetime.timedelta(seconds=21600), datetime.timedelta(days=1, seconds=43200))
    """
    match = _DURATION.match(str(text).lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration; write a number and a unit: 30min, 6h, 7d, 2w")
    value = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    if value <= timedelta(0):
        raise ValueError(f"a duration must be positive; got {text!r}")
    return value


_ROWS = re.compile(r"^\s*(\d+)\s*(?:rows?)?\s*$")


def parse_window_length(text: str | int) -> timedelta | int:
    """A window's length: a duration (``"1d"``, ``"6h"``) or a number of rows (``"5000 rows"``, ``5000``).

    Examples
    --------
    >>> parse_window_length("1d"), parse_window_length("5000 rows"), parse_window_length(200)
    (datetime.timedelta(days=1), 5000, 200)
    """
    match = _ROWS.match(str(text).lower())
    if match is None:
        try:
            return parse_duration(str(text))
        except ValueError:
            raise ValueError(
                f"{text!r} is neither a duration (30min, 6h, 1d, 2w) nor a number of rows (5000 rows)"
            ) from None
    rows = int(match.group(1))
    if rows < 1:
        raise ValueError(f"a window of rows must hold at least 1 row; got {text!r}")
    return rows
