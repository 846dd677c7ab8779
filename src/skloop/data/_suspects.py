"""Columns that need a decision before training: the id, the time, leaks, numbers with bad values.

A table straight from an export rarely trains as it is: it has a row identifier, a
timestamp, sometimes another model's predictions (or a column recorded after the
outcome) that give the answer away, and numbers with a few stray words in them
(``"n/a"``, ``"?"``). The functions here find them the way a careful person would
before writing a spec; ``skloop init`` calls them and reports each as a
:class:`Finding`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "DIRTY_MAX_SHARE",
    "LEAK_MIN_SCORE",
    "Finding",
    "coerce_numbers",
    "find_dirty_numbers",
    "find_id_column",
    "find_leaks",
    "find_time_column",
    "looks_like_id_name",
]

LEAK_MIN_SCORE = 0.95
"""A column alone reaching this cross-validated AUC (classification) or R² (regression) is a suspected leak."""
LEAK_SAMPLE_ROWS = 5000
LEAK_FOLDS = 3
LEAK_TREE_DEPTH = 4
DIRTY_MAX_SHARE = 0.05
"""A text column is numbers with bad values when at most this share of its values are not numbers."""
DIRTY_MIN_NUMBERS = 10
MONOTONE_MIN_SHARE = 0.95
PARSE_SAMPLE_ROWS = 1000
_SHOW = 5

FindingKind = Literal["id", "time", "leak", "dirty_numeric"]

_ID_NAME = re.compile(r"(?:^|[_\W])id(?:$|[_\W])|[a-z0-9]I[dD]$|^I[dD](?:$|[A-Z])", re.UNICODE)
_ID_WORDS = frozenset({"id", "identifier", "uuid", "guid", "key"})
_TIME_EXACT = frozenset({"time", "timestamp", "datetime", "date", "ts", "event_time", "event_timestamp", "event_date"})
_TIME_NAME = re.compile(
    r"^(?:event|created|creation|updated|transaction|order|logged|recorded|occurred)_?(?:at|on|time|timestamp|date|ts)?$"
    r"|_(?:at|time|timestamp|ts)$"
)
_LEAK_TOKENS = frozenset({
    "pred", "preds", "predict", "predicted", "prediction", "predictions", "yhat", "proba", "probas",
    "probability", "probabilities", "prob", "probs", "oof",
})  # fmt: skip


@dataclass(frozen=True)
class Finding:
    """One thing about a column that a spec must decide.

    Attributes
    ----------
    column : str
    kind : {"id", "time", "leak", "dirty_numeric"}
        ``id``: the row identifier (``data.id``); ``time``: the time of each row
        (``data.time``); ``leak``: a column that gives the target away (dropped);
        ``dirty_numeric``: numbers with a few values that are not (made numeric, the
        bad values missing).
    message : str
        One line: what was found, the evidence, what to do.
    evidence : dict
        The numbers behind the message (JSON-able): for a leak, ``name`` (its name gave it away)
        and ``roc_auc`` or ``r2`` (the column alone, cross-validated).
    """

    column: str
    kind: FindingKind
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


def _snake(name: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name))
    return re.sub(r"[^0-9a-z]+", "_", spaced.lower()).strip("_")


def looks_like_id_name(name: str) -> bool:
    """Whether a column name says "identifier": an ``id`` token, ``identifier``, ``uuid``, ``guid``, ``key``.

    Examples
    --------
    >>> [looks_like_id_name(n) for n in ("id", "customer_id", "customerId", "identifier", "idea", "width")]
    [True, True, True, True, False, False]
    """
    if _ID_NAME.search(str(name)):
        return True
    return any(token in _ID_WORDS for token in _snake(name).split("_"))


def _all_distinct(col: pd.Series) -> bool:
    if len(col) < 2 or bool(col.isna().any()) or pd.api.types.is_bool_dtype(col.dtype):
        return False
    if pd.api.types.is_float_dtype(col.dtype) and not np.all(np.mod(col.to_numpy(dtype="float64"), 1) == 0):
        return False  # measurements, not identifiers
    return bool(col.nunique(dropna=False) == len(col))


def find_id_column(df: pd.DataFrame, exclude: Iterable[str] = ()) -> Finding | None:
    """The row identifier: a column named like one whose values are all present and distinct.

    The name rule is :func:`looks_like_id_name`; the values may be of any dtype except
    bool and non-whole floats. A column named ``id``/``identifier``/``uuid`` wins over
    ``customer_id``; otherwise the first in table order. A ``store_id`` that repeats is
    a feature (a foreign key), not the identifier.

    Examples
    --------
    >>> df = pd.DataFrame({"store_id": [1, 1, 2], "customer_id": ["a", "b", "c"], "y": [0, 1, 0]})
    >>> find_id_column(df, exclude=["y"]).column
    'customer_id'
    """
    skip = set(exclude)
    named = [str(c) for c in df.columns if str(c) not in skip and looks_like_id_name(str(c))]
    found = [c for c in named if _all_distinct(df[c])]
    if not found:
        return None
    found.sort(key=lambda c: _snake(c) not in _ID_WORDS)  # stable: table order otherwise
    column = found[0]
    return Finding(
        column,
        "id",
        f"column {column!r} identifies the rows (named like an id, {len(df)} distinct values): "
        "set as data.id, not a feature",
        {"n_unique": len(df)},
    )


def _parse_times(col: pd.Series) -> pd.Series | None:
    """The column as datetimes when it is datetime-typed or every value is a date string."""
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        return col
    if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
        return None
    values = col.dropna()
    if values.empty or isinstance(col.dtype, pd.CategoricalDtype):
        return None
    strings = values.astype(str)
    # a date has separators; plain numbers ("12", "3.5") are not dates
    if not bool(strings.str.contains(r"\d[-/:T ]\d|\d[-/]\w", regex=True).all()):
        return None
    head = strings.iloc[:PARSE_SAMPLE_ROWS]  # parsing every value of a large non-date column is slow
    if pd.to_numeric(head, errors="coerce").notna().any():
        return None
    offsets = bool(strings.str.contains(r"(?:[+-]\d\d:?\d\d|Z)$", regex=True).any())
    try:
        if bool(pd.to_datetime(head, format="mixed", errors="coerce", utc=offsets).isna().any()):
            return None
        parsed = pd.to_datetime(strings, format="mixed", errors="coerce", utc=offsets)
    except (ValueError, TypeError, OverflowError):
        return None
    if bool(parsed.isna().any()):
        return None
    return parsed.reindex(col.index)


def _nanoseconds(times: pd.Series) -> npt.NDArray[np.int64]:
    """Datetimes (naive or tz-aware, in UTC) as int64 nanoseconds; missing values are not handled."""
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times.to_numpy(dtype="datetime64[ns]").astype("int64")


def _monotone_share(times: pd.Series) -> float:
    values = _nanoseconds(times.dropna())
    if values.size < 3:
        return 0.0
    return float(np.mean(np.diff(values) >= 0))


def find_time_column(df: pd.DataFrame, exclude: Iterable[str] = ()) -> Finding | None:
    """The time of each row (``data.time``), by a documented rule.

    Candidates are datetime columns and text columns whose every value parses as a
    date or datetime. Among them:

    1. a column named ``time``, ``timestamp``, ``datetime``, ``date``, ``ts``,
       ``event_time``, ``event_timestamp`` or ``event_date`` (any case, ``eventTime``
       too);
    2. else one named like an event's time: ``created``/``updated``/``order``/...
       with ``_at``/``_on``/``_time``/``_date``, or ending in ``_at``, ``_time``,
       ``_timestamp``, ``_ts``;
    3. else the only candidate, if its values rise in row order (at least 95% of
       consecutive steps not backwards: a log).

    A date of a customer attribute (``signup_date``, ``birth_date``) is neither, and
    stays a feature. Text dates are chosen only when they sort as text in time
    order (ISO-8601), since training orders rows by this column; otherwise a finding
    says to convert them.

    Examples
    --------
    >>> df = pd.DataFrame({"event_time": ["2024-01-02 10:00", "2024-01-03 09:00"], "x": [1, 2]})
    >>> find_time_column(df).column
    'event_time'
    """
    skip = set(exclude)
    candidates: dict[str, pd.Series] = {}
    for c in df.columns:
        name = str(c)
        if name in skip:
            continue
        parsed = _parse_times(df[c])
        if parsed is not None:
            candidates[name] = parsed
    if not candidates:
        return None
    exact = [c for c in candidates if _snake(c) in _TIME_EXACT]
    named = [c for c in candidates if _TIME_NAME.search(_snake(c))]
    if exact or named:
        column, why = (exact or named)[0], "named like a timestamp"
    elif len(candidates) == 1:
        column = next(iter(candidates))
        share = _monotone_share(candidates[column])
        if share < MONOTONE_MIN_SHARE:
            return None
        why = f"the only datetime column, rising in row order ({share:.0%} of steps)"
    else:
        return None
    col = df[column]
    evidence: dict[str, Any] = {
        "dtype": str(col.dtype),
        "min": str(candidates[column].min()),
        "max": str(candidates[column].max()),
    }
    if not pd.api.types.is_datetime64_any_dtype(col.dtype):
        text = col.dropna().astype(str)
        in_time = _nanoseconds(candidates[column].dropna())
        chronological = np.array_equal(
            np.argsort(text.to_numpy(dtype=str), kind="stable"), np.argsort(in_time, kind="stable")
        )
        if not chronological:
            return Finding(
                column,
                "time",
                f"column {column!r} looks like the time of each row ({why}) but its text dates do not sort "
                "in time order; write them as ISO-8601 (2024-01-31 12:00) and set data.time",
                {**evidence, "set": False},
            )
    return Finding(
        column,
        "time",
        f"column {column!r} is the time of each row ({why}; {evidence['min']} to {evidence['max']}): "
        "set as data.time, not a feature",
        {**evidence, "set": True},
    )


def _name_leak(name: str) -> str | None:
    snake = _snake(name)
    tokens = snake.split("_")
    if re.search(r"(?:^|_)y_?(?:pred|hat)", snake) or any(t in _LEAK_TOKENS for t in tokens):
        return "its name says it is a model's output"
    return None


def _encode(col: pd.Series) -> npt.NDArray[np.float64] | None:
    """One column as floats a small tree can split: missing values get their own value."""
    if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
        values = col.to_numpy(dtype="float64", na_value=np.nan)
    elif pd.api.types.is_datetime64_any_dtype(col.dtype):
        missing = col.isna().to_numpy()
        values = np.full(len(col), np.nan)
        values[~missing] = _nanoseconds(col[~missing]).astype("float64")
    else:
        present = col.dropna()
        if present.empty or present.nunique() > max(0.5 * len(present), 50):
            return None  # identifiers and free text: a tree on their codes says nothing
        codes, _ = pd.factorize(col.astype("string"), sort=True)
        values = codes.astype("float64")
        values[codes < 0] = np.nan
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    values = np.where(np.isfinite(values), values, finite.min() - 1.0)
    return values.reshape(-1, 1)


def _single_column_score(x: npt.NDArray[np.float64], y: npt.NDArray[Any], task: str, seed: int) -> float | None:
    """The cross-validated ROC AUC (classification) or R² (regression) of a small tree on ``x`` alone.

    Scores are averaged over folds (pooling the folds' predictions would rank rows of
    different folds against each other); for a binary target the rank AUC of ``x``
    itself, in its better direction, counts too (a monotone link needs no tree).
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    if task == "classification":
        labels, counts = np.unique(y, return_counts=True)
        if len(labels) < 2 or counts.min() < LEAK_FOLDS:
            return None
        tree = DecisionTreeClassifier(max_depth=LEAK_TREE_DEPTH, min_samples_leaf=3, random_state=seed)
        cv = StratifiedKFold(LEAK_FOLDS, shuffle=True, random_state=seed)
        binary = len(labels) == 2
        scores = cross_val_score(tree, x, y, cv=cv, scoring="roc_auc" if binary else "roc_auc_ovr")
        score = float(np.mean(scores))
        if binary:
            rank = float(roc_auc_score(y == labels[1], x[:, 0]))
            score = max(score, rank, 1.0 - rank)
        return score
    tree_r = DecisionTreeRegressor(max_depth=LEAK_TREE_DEPTH, min_samples_leaf=3, random_state=seed)
    scores = cross_val_score(tree_r, x, y, cv=KFold(LEAK_FOLDS, shuffle=True, random_state=seed), scoring="r2")
    return float(np.mean(scores))


def find_leaks(df: pd.DataFrame, target: str, task: str, columns: Sequence[str], *, seed: int = 0) -> list[Finding]:
    """Columns that give the target away: another model's output, or one that alone predicts it.

    A column is a suspected leak when its name says it is a model's output (a token
    ``pred``, ``prediction``, ``proba``, ``probability``, ``prob``, ``yhat``, ``oof``,
    or ``y_pred``/``y_hat``), or when a depth-4 decision tree on that column alone,
    cross-validated (3 folds, at most 5000 sampled rows), reaches a ROC AUC
    (classification; one-vs-rest for several classes) or R² (regression) of at least
    :data:`LEAK_MIN_SCORE`. Legitimate single features rarely do; a column recorded
    after the outcome (a lifeboat number for survival) does.

    Parameters
    ----------
    df : DataFrame
        The training table.
    target : str
        The target column.
    task : {"classification", "regression"}
    columns : sequence of str
        The columns to check (the candidate features).
    seed : int, default=0
        Seeds the sample and the folds.

    Returns
    -------
    list of Finding
        One ``leak`` finding per suspected column, with the evidence.
    """
    sample = df if len(df) <= LEAK_SAMPLE_ROWS else df.sample(LEAK_SAMPLE_ROWS, random_state=seed)
    y_col = sample[target]
    if task == "classification":
        y = y_col.astype("string").to_numpy(dtype=object).astype(str)
    else:
        y = y_col.to_numpy(dtype="float64")
    metric, key = ("ROC AUC", "roc_auc") if task == "classification" else ("R²", "r2")
    found = []
    for column in columns:
        reasons = []
        evidence: dict[str, Any] = {}
        by_name = _name_leak(column)
        if by_name:
            reasons.append(by_name)
            evidence["name"] = True
        x = _encode(sample[column])
        score = None if x is None else _single_column_score(x, y, task, seed)
        if score is not None:
            evidence[key] = round(score, 4)
            if score >= LEAK_MIN_SCORE:
                reasons.append(f"alone it predicts {target!r} with a cross-validated {metric} of {score:.3f}")
        if reasons:
            found.append(
                Finding(
                    column,
                    "leak",
                    f"column {column!r} looks like a leak of the target ({'; '.join(reasons)}): "
                    "dropped (features.drop); keep it only if it is known when predicting",
                    evidence,
                )
            )
    return found


def _bad_numbers(col: pd.Series) -> tuple[pd.Series, npt.NDArray[np.intp]] | None:
    """The values of a text column that are not numbers, when the rest are."""
    if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
        return None
    if pd.api.types.is_datetime64_any_dtype(col.dtype) or isinstance(col.dtype, pd.CategoricalDtype):
        return None
    present = col.dropna()
    if present.empty:
        return None
    numbers = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
    bad = numbers.isna().to_numpy()
    n_bad, n_good = int(bad.sum()), int((~bad).sum())
    if n_bad == 0 or n_good < DIRTY_MIN_NUMBERS or n_bad > DIRTY_MAX_SHARE * len(present):
        return None
    rows = np.flatnonzero(col.index.isin(present.index[bad]))
    return present[bad], rows


def find_dirty_numbers(df: pd.DataFrame, columns: Sequence[str]) -> list[Finding]:
    """Text columns that are numbers but for a few values (at most 5%), such as ``"n/a"`` or ``"?"``.

    Each finding names the bad values, how many rows hold them and the first row
    numbers (0-based); ``skloop init`` declares such a column numeric, and training
    reads the bad values as missing (:func:`coerce_numbers`), which the pipeline imputes.

    Examples
    --------
    >>> df = pd.DataFrame({"x": [str(i) for i in range(30)] + ["?"]})
    >>> find_dirty_numbers(df, ["x"])[0].evidence["rows"]
    [30]
    """
    found = []
    for column in columns:
        bad = _bad_numbers(df[column])
        if bad is None:
            continue
        values, rows = bad
        distinct = [str(v) for v in pd.unique(values.astype(str))]
        shown = ", ".join(repr(v) for v in distinct[:_SHOW]) + (", ..." if len(distinct) > _SHOW else "")
        at = ", ".join(str(int(r)) for r in rows[:_SHOW]) + (", ..." if rows.size > _SHOW else "")
        found.append(
            Finding(
                column,
                "dirty_numeric",
                f"column {column!r} holds numbers but {rows.size} row(s) hold {shown} (rows {at}, 0-based): "
                "made numeric, those values read as missing and imputed; fix the source if they mean something",
                {"values": distinct[:_SHOW], "n_rows": int(rows.size), "rows": [int(r) for r in rows[:_SHOW]]},
            )
        )
    return found


def coerce_numbers(frame: pd.DataFrame, columns: Iterable[str]) -> tuple[pd.DataFrame, dict[str, int]]:
    """``frame`` with the text columns among ``columns`` as floats; values that are not numbers become missing.

    Returns the frame (a copy when anything changed) and, per converted column, how
    many values were not numbers.

    Examples
    --------
    >>> out, bad = coerce_numbers(pd.DataFrame({"x": ["1", "2.5", "n/a"]}), ["x"])
    >>> out["x"].tolist(), bad
    ([1.0, 2.5, nan], {'x': 1})
    """
    converted: dict[str, pd.Series] = {}
    bad: dict[str, int] = {}
    for column in columns:
        col = frame[column]
        if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            continue
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            continue
        numbers = pd.to_numeric(col.astype("string").str.strip(), errors="coerce").astype("float64")
        converted[column] = numbers
        bad[column] = int((numbers.isna() & col.notna()).sum())
    if not converted:
        return frame, {}
    out = frame.copy()
    for column, numbers in converted.items():
        out[column] = numbers
    return out, bad
