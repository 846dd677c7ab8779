"""How a log is cut into windows: by rows, by a fixed duration, or by calendar period.

A :class:`Cut` is one of three:

- ``window=500`` (or ``"500 rows"``): consecutive rows in time order;
- ``window="6h"`` / ``"1d"`` / ``"7d"``: fixed lengths aligned on multiples of the
  length since the Unix epoch, in UTC (``1d`` runs from midnight to midnight; ``7d``
  from a Thursday, the epoch's weekday: use ``period="week"`` for Monday weeks). The
  alignment does not depend on the data, so two reports, or two pages of one log, cut
  the same windows;
- ``period="month"`` (``hour``, ``day``, ``week``, ``month``, ``quarter``, ``year``, or a
  pandas period alias such as ``W-SUN``, ``Q-JUN``): calendar periods in UTC, as
  :meth:`pandas.Series.dt.to_period` cuts them (NannyML's ``chunk_period``); a
  ``week`` is Monday to Sunday. With a time zone (``tz="Europe/Paris"``) the periods
  are that zone's calendar days, weeks, ... (a day across a change of clock lasts 23
  or 25 hours) and their bounds carry its offset (``2024-03-31T00:00:00+01:00``).

Times are read as UTC: timezone-aware values are converted, naive ones taken as UTC.

A time window is *partial* when the data observe less than :data:`FULL_COVERAGE` of
it: the observed span runs from the first row's time (or the given start, such as
``--since``) to the last row's time plus the mean gap between the rows of the last
window (or the given end: the log's "now", since it holds every prediction up to
then). Only the first and the last window can be partial. A row window is partial
when it holds fewer rows than its length (the last one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from skloop.core import DataError

__all__ = [
    "FULL_COVERAGE",
    "PERIOD_NAMES",
    "Cut",
    "WindowSpan",
    "parse_period",
    "parse_tz",
    "parse_window",
    "span_of",
    "window_cut",
    "window_times",
]

FULL_COVERAGE = 0.99
"""A time window observed over less than this share of its length is partial."""
PERIOD_NAMES = {"hour": "h", "day": "D", "week": "W-SUN", "month": "M", "quarter": "Q-DEC", "year": "Y-DEC"}
"""Calendar periods by name, as pandas period aliases (``W-SUN``: weeks ending on Sunday)."""
EPOCH = pd.Timestamp(0, tz="UTC")
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_ALIASES = {
    "h": "h", "D": "D", "W": "W-SUN", "M": "M", "Q": "Q-DEC", "Y": "Y-DEC",
    **{f"W-{d}": f"W-{d}" for d in _WEEKDAYS}, **{f"Q-{m}": f"Q-{m}" for m in _MONTHS},
    **{f"Y-{m}": f"Y-{m}" for m in _MONTHS},
}  # fmt: skip
_NAMES_OF = {freq: name for name, freq in PERIOD_NAMES.items()}
_UNITS = {
    "s": "seconds", "sec": "seconds", "min": "minutes", "m": "minutes", "h": "hours", "d": "days", "w": "weeks",
}  # fmt: skip
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*")


def parse_window(window: str | int | timedelta) -> timedelta | int:
    """A window length: a duration (``"1d"``, ``"12h"``, ``"30min"``, ``"2w"``) or a row count.

    Examples
    --------
    >>> parse_window("1d"), parse_window("500"), parse_window("5000 rows"), parse_window(250)
    (datetime.timedelta(days=1), 500, 5000, 250)
    """
    if isinstance(window, timedelta):
        if window <= timedelta(0):
            raise DataError(f"a window must be positive; got {window}")
        return window
    if isinstance(window, int) and not isinstance(window, bool):
        if window < 1:
            raise DataError(f"a window of rows must hold at least 1 row; got {window}")
        return window
    text = str(window).strip().lower()
    rows = re.fullmatch(r"(\d+)\s*rows?", text)
    if rows is not None:
        text = rows.group(1)
    if text.isdigit():
        return parse_window(int(text))
    match = _DURATION.fullmatch(text)
    if match is None or match.group(2) not in _UNITS:
        hint = " (calendar periods: --period month)" if text in PERIOD_NAMES or text in ("1y", "1mo") else ""
        raise DataError(
            f"window {window!r} is neither a duration such as 1d, 12h, 30min, 2w nor a number of rows such as 500 "
            f"(or '500 rows'){hint}"
        )
    return parse_window(timedelta(**{_UNITS[match.group(2)]: float(match.group(1))}))


def parse_period(period: str, *, option: str = "period") -> str:
    """The pandas period alias of a calendar period: a name (``"month"``) or an alias (``"M"``, ``"W-MON"``).

    Parameters
    ----------
    period : str
    option : str, default="period"
        What the error calls the setting (the CLI says ``--period``).

    Raises
    ------
    DataError
        Not a period: the message lists the names and aliases allowed.

    Examples
    --------
    >>> parse_period("month"), parse_period("Week"), parse_period("W"), parse_period("Q-JUN")
    ('M', 'W-SUN', 'W-SUN', 'Q-JUN')
    """
    text = str(period).strip()
    if text.lower() in PERIOD_NAMES:
        return PERIOD_NAMES[text.lower()]
    if text in _ALIASES:
        return _ALIASES[text]
    if text.upper() in _ALIASES and text.upper() not in ("H", "M"):  # "m"/"H" would be minutes/hours in pandas
        return _ALIASES[text.upper()]
    raise DataError(
        f"{option} {period!r} is not a calendar period; use one of {', '.join(PERIOD_NAMES)} "
        "or a pandas period alias: h, D, W, W-MON … W-SUN, M, Q, Q-JAN … Q-DEC, Y, Y-JAN … Y-DEC "
        "(fixed lengths such as 6h or 7d are windows: --window 7d)"
    )


@dataclass(frozen=True)
class Cut:
    """How windows are cut: ``rows`` consecutive rows, a fixed ``length``, or a calendar ``freq``.

    Exactly one of the three is set; ``label`` is what the report calls the windows
    (``"500 rows"``, ``"1d"``, ``"month"``, ``"day (Europe/Paris)"``). ``tz``: the time
    zone whose calendar a ``freq`` follows (``None``: UTC).
    """

    label: str
    rows: int | None = None
    length: timedelta | None = None
    freq: str | None = None
    tz: str | None = None

    @property
    def by_time(self) -> bool:
        """Whether the windows are cut by time (a duration or a period)."""
        return self.rows is None

    def keys(self, times: pd.Series | None, offset: int, n: int) -> np.ndarray:
        """The window of each of ``n`` rows: row windows count from ``offset``; time windows read ``times`` (UTC)."""
        if self.rows is not None:
            return (offset + np.arange(n)) // self.rows
        assert times is not None
        if self.length is not None:
            return ((times - EPOCH) // pd.Timedelta(self.length)).to_numpy(dtype=np.int64)
        local = times.dt.tz_convert(self.tz) if self.tz is not None else times
        return np.asarray(pd.PeriodIndex(local.dt.tz_localize(None), freq=self.freq).asi8, dtype=np.int64)

    def bounds(self, key: int) -> tuple[pd.Timestamp, pd.Timestamp, str | None]:
        """A time window's ``start`` (included), ``end`` (excluded) and label (a period's name, ``"2024-03"``)."""
        if self.length is not None:
            start = EPOCH + int(key) * pd.Timedelta(self.length)
            return start, start + pd.Timedelta(self.length), None
        period = pd.PeriodIndex.from_ordinals([int(key)], freq=self.freq)[0]  # type: ignore[attr-defined]
        zone = self.tz or "UTC"
        # a zone whose clock jumps at midnight: the day starts at the first instant it has
        start, end = (
            p.start_time.tz_localize(zone, ambiguous=True, nonexistent="shift_forward") for p in (period, period + 1)
        )
        return start, end, str(period)


def parse_tz(tz: str, *, option: str = "tz") -> str:
    """An IANA time zone name, checked (``"Europe/Paris"``, ``"America/New_York"``, ``"UTC"``).

    Raises
    ------
    DataError
        Not a zone this machine's time zone database knows: the message names
        ``option`` and gives valid examples.

    Examples
    --------
    >>> parse_tz("Europe/Paris")
    'Europe/Paris'
    """
    text = str(tz).strip()
    try:
        if not text or text.startswith(("/", ".")) or ".." in text:
            raise ValueError(text)
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise DataError(
            f"{option} {tz!r} is not a time zone; give an IANA name such as Europe/Paris, America/New_York or UTC"
        ) from None
    return text


def window_cut(
    window: str | int | timedelta | None = None, period: str | None = None, *, tz: str | None = None
) -> Cut | None:
    """The :class:`Cut` of a ``window`` (rows or duration) or a calendar ``period``; ``None`` for neither.

    ``tz`` (an IANA name) cuts calendar periods of a day or longer in that zone; fixed
    windows stay aligned on the Unix epoch, so it applies to periods only.

    Examples
    --------
    >>> window_cut("1d").length, window_cut(500).label, window_cut(period="month").freq
    (datetime.timedelta(days=1), '500 rows', 'M')
    >>> window_cut(period="day", tz="Europe/Paris").label
    'day (Europe/Paris)'
    """
    if window is not None and period is not None:
        raise DataError(f"give a window ({window!r}) or a calendar period ({period!r}), not both")
    if tz is not None:
        zone = parse_tz(tz)
        if period is None:
            raise DataError(
                f"a time zone ({tz!r}) applies to calendar periods (period='day', 'week', 'month', ...); "
                "fixed windows such as 1d are aligned on the Unix epoch in UTC"
            )
        freq = parse_period(period)
        if freq == "h":
            raise DataError(
                f"a time zone ({tz!r}) applies to periods of a day or longer (the hour a clock repeats would be "
                "one window); hours are cut in UTC: drop the time zone, or use period='day'"
            )
        if zone.upper() != "UTC":
            return Cut(label=f"{_NAMES_OF.get(freq, freq)} ({zone})", freq=freq, tz=zone)
    if period is not None:
        freq = parse_period(period)
        return Cut(label=_NAMES_OF.get(freq, freq), freq=freq)
    if window is None:
        return None
    length = parse_window(window)
    if isinstance(length, int):
        return Cut(label=f"{length} rows", rows=length)
    return Cut(label=str(window) if isinstance(window, str) else _short(length), length=length)


def _short(length: timedelta) -> str:
    for unit, seconds in (("w", 604800), ("d", 86400), ("h", 3600), ("min", 60)):
        if length.total_seconds() % seconds == 0:
            return f"{int(length.total_seconds() // seconds)}{unit}"
    return f"{length.total_seconds():g}s"


def window_times(values: pd.Series, column: str) -> pd.Series:
    """A time column as UTC timestamps (``NaT`` where missing): aware values converted, naive ones taken as UTC.

    Raises
    ------
    DataError
        The column holds numbers, or values that are not ISO 8601 times (the message
        names the column and the first such value).

    Examples
    --------
    >>> window_times(pd.Series(["2024-03-01T10:00:00+02:00", "2024-03-01 09:00", None]), "event_ts").tolist()
    [Timestamp('2024-03-01 08:00:00+0000', tz='UTC'), Timestamp('2024-03-01 09:00:00+0000', tz='UTC'), NaT]
    """
    dtype = values.dtype
    if not values.notna().any():
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if isinstance(dtype, pd.DatetimeTZDtype):
        return cast("pd.Series", values.dt.tz_convert("UTC"))
    if pd.api.types.is_datetime64_dtype(dtype):
        return cast("pd.Series", values.dt.tz_localize("UTC"))
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        raise DataError(
            f"the time column {column!r} holds numbers ({dtype}); time windows need datetimes or ISO 8601 strings "
            "such as 2024-03-01T10:00:00Z"
        )
    present = values.notna()
    texts = values[present]
    if all(isinstance(v, datetime) for v in texts):
        return pd.to_datetime(values, utc=True)
    try:
        parsed = pd.to_datetime(texts.astype(str), utc=True, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        parsed = pd.to_datetime(texts.astype(str), utc=True, format="ISO8601", errors="coerce")
        bad = texts[parsed.isna()]
        raise DataError(
            f"the time column {column!r} holds values that are not ISO 8601 times, e.g. {bad.iloc[0]!r} "
            f"(row {bad.index[0]!r}); write them as 2024-03-01T10:00:00Z, 2024-03-01 10:00+02:00 or 2024-03-01"
        ) from None
    return parsed.reindex(values.index).astype("datetime64[ns, UTC]")


@dataclass(frozen=True)
class WindowSpan:
    """Where a window lies: its bounds, label, and how much of it the data observe.

    ``start``/``end`` are the bounds of a time window (``end`` excluded), the first and
    last time of a row window (``None`` without a time column).
    """

    start: pd.Timestamp | None
    end: pd.Timestamp | None
    label: str | None
    coverage: float
    partial: bool

    def to_dict(self) -> dict[str, Any]:
        """``start``/``end`` in ISO 8601, ``label``, ``coverage``, ``partial``."""
        return {"start": None if self.start is None else self.start.isoformat(),
                "end": None if self.end is None else self.end.isoformat(),
                "label": self.label, "coverage": self.coverage, "partial": self.partial}  # fmt: skip


def span_of(
    cut: Cut,
    key: int,
    n_rows: int,
    first: pd.Timestamp | None,
    last: pd.Timestamp | None,
    *,
    observed_from: pd.Timestamp | None,
    observed_until: pd.Timestamp | None,
    is_first: bool,
    is_last: bool,
) -> WindowSpan:
    """The :class:`WindowSpan` of the window ``key`` holding ``n_rows`` rows from ``first`` to ``last``.

    Parameters
    ----------
    observed_from : Timestamp or None
        Where the observation starts (``--since``); ``None``: the time of the data's first row.
    observed_until : Timestamp or None
        Where it ends (the log's "now"); ``None``: for the last window, its last row's
        time plus the mean gap between its rows.
    is_first, is_last : bool
        Whether this is the first, the last window (the others lie inside the observed span).
    """
    if cut.rows is not None:
        coverage = min(1.0, n_rows / cut.rows)
        return WindowSpan(first, last, None, round(coverage, 6), n_rows < cut.rows)
    start, end, label = cut.bounds(key)
    assert first is not None and last is not None
    lo = first if observed_from is None else min(observed_from, first)
    lo = lo if is_first else start
    if not is_last:
        hi = end
    elif observed_until is not None:
        hi = max(observed_until, last)
    else:
        hi = last + ((last - first) / (n_rows - 1) if n_rows > 1 else pd.Timedelta(0))
    coverage = (min(end, hi) - max(start, lo)) / (end - start)
    coverage = float(min(1.0, max(0.0, coverage)))
    return WindowSpan(start, end, label, round(coverage, 6), coverage < FULL_COVERAGE)
