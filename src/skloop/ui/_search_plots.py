"""A search's candidates as pictures: parallel coordinates and score against one param.

The geometry is computed here and drawn as inline SVG by the macros of
``templates/ui/_search_plots.html`` (no JavaScript library: uPlot draws lines over an
x axis, not parallel axes). The data is the ``candidates`` table that training writes
to ``cv_results.json``: each candidate's params and its mean test score.

- :func:`search_of` reads the table: the params the search varied (a param with one
  value everywhere is not an axis), the score (the refit scorer's ``mean_test_``) and
  the candidates, best first.
- :func:`parallel_plot`: one vertical axis per varied param, then the score; one
  polyline per candidate, coloured by score (dark is best), the best one thicker.
- :func:`scatter_plot`: the score over one param; a categorical param is an ordinal
  axis whose points are spread sideways (a fixed jitter) so that equal ones stay visible.

Numeric params are linear axes, or logarithmic when every value is positive and they
span two decades or more (``C``, ``alpha``); anything else (text, booleans, ``None``,
a mix) is an ordinal axis of its distinct values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "MAX_AXES",
    "MAX_PLOTTED",
    "Candidate",
    "Search",
    "SearchViews",
    "candidate_rows",
    "parallel_plot",
    "scatter_plot",
    "search_of",
    "search_views",
]

MAX_PLOTTED = 500
"""Candidates drawn (best first); the table and the artifact have them all."""
MAX_AXES = 12
"""Varied params drawn (by name); a search that varied more lists the rest in the table only."""
MAX_TICKS = 8
"""Labelled values of an axis; an ordinal axis with more categories labels every k-th."""
_LABEL_CHARS = 22
_CHAR_WIDTH = 7.0  # of a bold 11 px label, about
# reversed viridis: the worst score pale yellow, the best dark violet
_STOPS = ((0xFD, 0xE7, 0x25), (0x5E, 0xC9, 0x62), (0x21, 0x91, 0x8C), (0x3B, 0x52, 0x8B), (0x44, 0x01, 0x54))
_GOLDEN = 0.6180339887498949


@dataclass(frozen=True)
class Candidate:
    """One candidate of a search: its params (by name), its mean test score and rank."""

    index: int
    params: dict[str, Any]
    score: float
    rank: int | None = None


@dataclass(frozen=True)
class Search:
    """What the plots draw: the varied params, the score's name, the candidates best first."""

    score_key: str
    params: list[str]
    candidates: list[Candidate]
    n_candidates: int
    n_unscored: int = 0

    @property
    def best(self) -> Candidate | None:
        """The candidate with the highest score."""
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True)
class Axis:
    """A scale from values to a fraction of its length (0 bottom or left, 1 top or right)."""

    name: str
    kind: str  # "linear", "log" or "ordinal"
    position: Callable[[Any], float] = field(repr=False)
    ticks: list[tuple[float, str]] = field(default_factory=list)
    size: int = 0  # the number of categories of an ordinal axis

    def label(self, room: float) -> str:
        """The name, shortened to fit ``room`` pixels (the full name is in the SVG title)."""
        return _short(self.name, max(8, int(room / _CHAR_WIDTH)))


def _short(text: str, limit: int = _LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text_of(value: Any) -> str:
    """A param or score value as the plots print it."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    params = row.get("params")
    if not isinstance(params, dict):
        return {(f"params.{k[6:]}" if k.startswith("param_") else k): v for k, v in row.items()}
    out = {f"params.{k}": v for k, v in params.items()}
    out.update((k, v) for k, v in row.items() if k != "params")
    return out


def candidate_rows(cv: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The candidates of a ``cv_results.json`` as rows, params spread into ``params.<name>`` columns.

    Accepts the list of ``{"params": {...}, "mean_test_...": ...}`` that training
    writes and a scikit-learn ``cv_results_``-like ``{column: [values...]}``
    (``param_<name>`` columns); anything else is no rows.
    """
    if not cv:
        return []
    table = cv.get("candidates")
    if isinstance(table, dict) and all(isinstance(v, list) for v in table.values()):
        columns = list(table)
        rows = [dict(zip(columns, values, strict=False)) for values in zip(*table.values(), strict=False)]
    elif isinstance(table, list) and all(isinstance(r, dict) for r in table):
        rows = list(table)
    else:
        return []
    return [_flat(r) for r in rows]


def _score(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _score_key(cv: dict[str, Any], columns: set[str]) -> str | None:
    refit = cv.get("refit")
    if isinstance(refit, str) and f"mean_test_{refit}" in columns:
        return f"mean_test_{refit}"
    if "mean_test_score" in columns:
        return "mean_test_score"
    return next((c for c in sorted(columns) if c.startswith("mean_test_")), None)


def search_of(cv: dict[str, Any] | None, *, max_plotted: int = MAX_PLOTTED) -> Search | None:
    """The search to draw from a run's ``cv_results.json``, or None without a scored candidate."""
    rows = candidate_rows(cv)
    if not rows or cv is None:
        return None
    columns = {k for r in rows for k in r}
    key = _score_key(cv, columns)
    if key is None:
        return None
    names = sorted({c for c in columns if c.startswith("params.")})
    rank_key = f"rank_test_{key[len('mean_test_') :]}"
    candidates, unscored = [], 0
    for i, row in enumerate(rows):
        score = _score(row.get(key))
        if not math.isfinite(score) or row.get("state") == "pruned":  # a pruned trial's mean is of a few folds
            unscored += 1
            continue
        rank = row.get(rank_key)
        params = {n[len("params.") :]: row.get(n) for n in names}
        candidates.append(Candidate(i, params, score, int(rank) if isinstance(rank, int | float) else None))
    if not candidates:
        return None
    # the search's own ranks first: halving's best is the best of its last rung, not the top score
    candidates.sort(key=lambda c: (c.rank is None, c.rank or 0, -c.score, c.index))
    varied = [n[len("params.") :] for n in names if len({repr(c.params[n[7:]]) for c in candidates}) > 1]
    return Search(key, varied, candidates[:max_plotted], len(rows), unscored)


# -- scales ---------------------------------------------------------------------------


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values)


def _nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    if high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def make_axis(name: str, values: Sequence[Any], *, continuous: bool = False) -> Axis:
    """The scale of a param (or the score) over the values the candidates take.

    A numeric axis labels each distinct value when there are few (a grid's), else
    evenly spaced round values; ``continuous`` (the score) always the latter.
    """
    distinct = sorted({v for v in values if _numeric([v])}) if _numeric(values) else []
    if distinct:
        low, high = distinct[0], distinct[-1]
        if low > 0 and high / low >= 100:
            lo, hi = math.log10(low), math.log10(high)
            decades = [10.0**e for e in range(math.ceil(lo), math.floor(hi) + 1)]
            ticks = distinct if len(distinct) <= MAX_TICKS and not continuous else decades or [low, high]
            position = _fraction(lambda v: math.log10(v), lo, hi)
            return Axis(name, "log", position, [(position(t), text_of(t)) for t in ticks])
        ticks = distinct if len(distinct) <= MAX_TICKS and not continuous else _nice_ticks(low, high)
        position = _fraction(float, low, high)
        return Axis(name, "linear", position, [(position(t), text_of(t)) for t in ticks])
    categories = sorted({text_of(v) for v in values}, key=_natural)
    index = {c: i for i, c in enumerate(categories)}
    n = len(categories)

    def ordinal(value: Any) -> float:
        return 0.5 if n == 1 else index[text_of(value)] / (n - 1)

    every = max(1, math.ceil(n / MAX_TICKS))
    labels = [(ordinal(c), _short(c, 14)) for i, c in enumerate(categories) if i % every == 0 or i == n - 1]
    return Axis(name, "ordinal", ordinal, labels, size=n)


def _natural(text: str) -> tuple[float, str]:
    try:
        return float(text), text
    except ValueError:
        return math.inf, text


def _fraction(transform: Callable[[Any], float], low: float, high: float) -> Callable[[Any], float]:
    def position(value: Any) -> float:
        return 0.5 if high == low else (transform(value) - low) / (high - low)

    return position


def colour(t: float) -> str:
    """The colour of a score at fraction ``t`` of the range (0 worst, 1 best)."""
    t = min(max(t, 0.0), 1.0) * (len(_STOPS) - 1)
    i = min(int(t), len(_STOPS) - 2)
    f = t - i
    rgb = (round(a + (b - a) * f) for a, b in zip(_STOPS[i], _STOPS[i + 1], strict=True))
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _describe(c: Candidate, search: Search) -> str:
    params = ", ".join(f"{p}={text_of(c.params[p])}" for p in search.params) or "no varied param"
    rank = f"rank {c.rank}: " if c.rank is not None else ""
    return f"{rank}{params} → {search.score_key} {c.score:.4f}"


# -- the plots --------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """A candidate's polyline (or point) and what its tooltip says."""

    points: str
    colour: str
    title: str
    best: bool
    x: float = 0.0
    y: float = 0.0


@dataclass(frozen=True)
class DrawnAxis:
    """An axis as drawn: where it is, its label, its ticks (coordinate, text)."""

    x1: float
    y1: float
    x2: float
    y2: float
    name: str
    label: str
    kind: str
    ticks: list[tuple[float, str]]


@dataclass(frozen=True)
class Plot:
    """An SVG plot: its size, axes, lines or points, the score's range and its description."""

    width: int
    height: int
    axes: list[DrawnAxis]
    lines: list[Line]
    label: str
    score_key: str
    low: str
    high: str
    param: str = ""
    legend: list[tuple[float, str]] = field(default_factory=list)


def _legend() -> list[tuple[float, str]]:
    return [(i / 10, colour(i / 10)) for i in range(11)]


def parallel_plot(search: Search, *, width: int = 760, height: int = 320) -> Plot | None:
    """Parallel coordinates: an axis per varied param and the score; None if nothing varied."""
    if not search.params:
        return None
    names = [*search.params, search.score_key]
    columns = [[c.params[p] for c in search.candidates] for p in search.params]
    columns.append([c.score for c in search.candidates])
    scales = [make_axis(n, v) for n, v in zip(names[:-1], columns, strict=False)]
    scales.append(make_axis(search.score_key, columns[-1], continuous=True))
    left, right, top, bottom = 90, 90, 34, 26
    span_x, span_y = width - left - right, height - top - bottom
    xs = [left + span_x * i / (len(names) - 1) for i in range(len(names))]
    room = min(span_x / (len(names) - 1), 2 * left)

    def y(f: float) -> float:
        return top + span_y * (1 - f)

    axes = [
        DrawnAxis(x, top, x, top + span_y, a.name, a.label(room), a.kind, [(y(f), t) for f, t in a.ticks])
        for x, a in zip(xs, scales, strict=True)
    ]
    low, high = search.candidates[-1].score, search.candidates[0].score
    lines = []
    for c in reversed(search.candidates):  # the best drawn last, on top
        values = [*(c.params[p] for p in search.params), c.score]
        points = " ".join(f"{x:.1f},{y(a.position(v)):.1f}" for x, a, v in zip(xs, scales, values, strict=True))
        t = 0.5 if high == low else (c.score - low) / (high - low)
        lines.append(Line(points, colour(t), _describe(c, search), c is search.best))
    label = (
        f"Parallel coordinates of {len(search.candidates)} candidates: one axis per varied param "
        f"({', '.join(search.params)}) and {search.score_key}; one line per candidate, darker is a higher score; "
        f"the best, {_describe(search.candidates[0], search)}, is drawn thickest"
    )
    return Plot(width, height, axes, lines, label, search.score_key, text_of(low), text_of(high), legend=_legend())


def scatter_plot(search: Search, param: str, *, width: int = 560, height: int = 300) -> Plot:
    """The score over ``param``: one point per candidate (ordinal params jittered sideways)."""
    if param not in search.params:
        raise KeyError(f"{param!r} is not a param the search varied ({', '.join(search.params) or 'none'})")
    xa = make_axis(param, [c.params[param] for c in search.candidates])
    ya = make_axis(search.score_key, [c.score for c in search.candidates], continuous=True)
    left, right, top, bottom = 70, 20, 16, 44
    span_x, span_y = width - left - right, height - top - bottom
    # an ordinal param's points spread over half the gap between two categories
    band = (0.5 / (xa.size - 1) if xa.size > 1 else 0.2) if xa.kind == "ordinal" else 0.0

    def x(f: float) -> float:
        return left + 12 + (span_x - 24) * f

    def y(f: float) -> float:
        return top + span_y * (1 - f)

    axes = [
        DrawnAxis(left, top + span_y, left + span_x, top + span_y, param, xa.label(span_x - 60), xa.kind,
                  [(x(f), t) for f, t in xa.ticks]),
        DrawnAxis(left, top, left, top + span_y, search.score_key, ya.label(span_y), ya.kind,
                  [(y(f), t) for f, t in ya.ticks]),
    ]  # fmt: skip
    low, high = search.candidates[-1].score, search.candidates[0].score
    points = []
    for c in reversed(search.candidates):
        jitter = ((c.index * _GOLDEN) % 1.0 - 0.5) * band if band else 0.0
        px, py = x(min(max(xa.position(c.params[param]) + jitter, -0.02), 1.02)), y(ya.position(c.score))
        t = 0.5 if high == low else (c.score - low) / (high - low)
        points.append(Line("", colour(t), _describe(c, search), c is search.best, round(px, 1), round(py, 1)))
    label = (
        f"{search.score_key} against {param} ({xa.kind} axis) for {len(search.candidates)} candidates; "
        f"the best: {_describe(search.candidates[0], search)}"
    )
    return Plot(width, height, axes, points, label, search.score_key, text_of(low), text_of(high), param=param)


@dataclass(frozen=True)
class SearchViews:
    """The plots of one search: parallel coordinates (None if nothing varied) and a scatter per param."""

    search: Search
    parallel: Plot | None
    scatters: list[Plot]
    omitted: list[str] = field(default_factory=list)


def search_views(cv: dict[str, Any] | None) -> SearchViews | None:
    """The plots of a run's ``cv_results.json``, or None when it has no scored candidate."""
    search = search_of(cv)
    if search is None:
        return None
    shown = replace(search, params=search.params[:MAX_AXES])
    scatters = [scatter_plot(shown, p) for p in shown.params]
    return SearchViews(search, parallel_plot(shown), scatters, search.params[MAX_AXES:])
