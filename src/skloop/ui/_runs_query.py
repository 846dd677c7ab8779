"""The state of the runs table (filter, statuses, sort, page, columns) as URL parameters.

Every view of the table is a plain GET URL, so it can be bookmarked, shared and
restored by the browser's back button; htmx only swaps the part that changed.
Values that make no sense (a page of ``"x"``, an unknown status) fall back to the
default instead of failing: a URL is user input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlencode

from skloop.store import RUN_STATUSES, Run

__all__ = ["DEFAULT_PER_PAGE", "MAX_AUTO_COLUMNS", "RunsQuery", "auto_columns", "tag_clause"]

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_AUTO_COLUMNS = 6
MAX_COLUMNS = 20
#: the attribute columns of the table, always shown, each sortable
ATTRIBUTE_COLUMNS = (("name", "run"), ("status", "status"), ("kind", "kind"), ("start_time", "started"))
_PREFIXES = ("metrics.", "params.", "tags.")
_BARE_KEY = re.compile(r"[\w.\-/:]+")
_AND = " and "


def _int(text: str | None, default: int, low: int, high: int) -> int:
    try:
        value = int(text) if text is not None else default
    except ValueError:
        return default
    return min(max(value, low), high)


@dataclass(frozen=True)
class RunsQuery:
    """One view of a project's runs table."""

    filter: str = ""
    statuses: tuple[str, ...] = ()
    sort: str = "start_time"
    descending: bool = True
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    columns: tuple[str, ...] = ()
    count_all: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, str], statuses: Sequence[str]) -> RunsQuery:
        """The view named by a request's query parameters (``statuses``: every ``status`` value)."""
        sort = (params.get("sort") or "start_time").strip()
        chosen = [c.strip() for c in (params.get("cols") or "").split(",")]
        columns = tuple(c for c in chosen if c.startswith(_PREFIXES))[:MAX_COLUMNS]
        return cls(
            filter=(params.get("q") or "").strip(),
            statuses=tuple(s for s in RUN_STATUSES if s in statuses),
            sort=sort,
            descending=(params.get("dir") or "desc").lower() != "asc",
            page=_int(params.get("page"), 1, 1, 10**9),
            per_page=_int(params.get("per"), DEFAULT_PER_PAGE, 1, MAX_PER_PAGE),
            columns=columns,
            count_all=params.get("count") == "all",
        )

    @property
    def offset(self) -> int:
        """How many runs come before this page."""
        return (self.page - 1) * self.per_page

    @property
    def order_by(self) -> list[str]:
        """The store's ordering for this view."""
        return [f"{self.sort} {'DESC' if self.descending else 'ASC'}"]

    def params(self, **changes: Any) -> dict[str, Any]:
        """The query parameters of this view with ``changes``, defaults left out."""
        q = replace(self, **changes)
        out: dict[str, Any] = {}
        if q.filter:
            out["q"] = q.filter
        if q.statuses:
            out["status"] = list(q.statuses)
        if (q.sort, q.descending) != ("start_time", True):
            out["sort"], out["dir"] = q.sort, "desc" if q.descending else "asc"
        if q.page != 1:
            out["page"] = q.page
        if q.per_page != DEFAULT_PER_PAGE:
            out["per"] = q.per_page
        if q.columns:
            out["cols"] = ",".join(q.columns)
        if q.count_all:
            out["count"] = "all"
        return out

    def url(self, project: str, **changes: Any) -> str:
        """The URL of the runs page of ``project`` in this view with ``changes``."""
        query = urlencode(self.params(**changes), doseq=True)
        return f"/projects/{quote(project, safe='')}/runs" + (f"?{query}" if query else "")

    def with_clause(self, clause: str) -> str:
        """The filter narrowed by ``clause``: ``and``-ed to the box's filter (in parentheses if it has an ``or``)."""
        if not self.filter:
            return clause
        current = f"({self.filter})" if re.search(r"\bor\b", self.filter, re.IGNORECASE) else self.filter
        return current + _AND + clause

    def without_clause(self, clause: str) -> str | None:
        """The filter without ``clause`` as :meth:`with_clause` added it, or None if it is not there."""
        if self.filter == clause:
            return ""
        if self.filter.endswith(_AND + clause):
            rest = self.filter[: -len(_AND + clause)]
            return rest[1:-1] if rest.startswith("(") and rest.endswith(")") and re.search(r"\bor\b", rest) else rest
        if self.filter.startswith(clause + _AND):
            return self.filter[len(clause + _AND) :]
        return None

    def count_url(self, project: str, **changes: Any) -> str:
        """The URL of the count of the runs in this view (a fragment, see ``runs_count``)."""
        query = urlencode(self.params(**changes), doseq=True)
        return f"/projects/{quote(project, safe='')}/runs/count" + (f"?{query}" if query else "")

    def sort_url(self, project: str, field: str) -> str:
        """Sort by ``field``: descending first, ascending when it is already sorted descending."""
        descending = not (self.sort == field and self.descending)
        return self.url(project, sort=field, descending=descending, page=1)


def tag_clause(key: str, value: str) -> str | None:
    """``tags.<key> = '<value>'`` in the filter language (a key in backticks if it needs them).

    None for a key the language cannot name (one with a backtick).
    """
    if _BARE_KEY.fullmatch(key):
        field = f"tags.{key}"
    elif "`" not in key and key.strip():
        field = f"tags.`{key}`"
    else:
        return None
    return f"{field} = '{value.replace(chr(39), chr(39) * 2)}'"


def _rank(key: str) -> tuple[int, str]:
    if key.startswith("cv_") and key.endswith("_mean"):
        return 0, key
    if key.startswith("holdout_"):
        return 1, key
    return 2, key


def auto_columns(runs: Sequence[Run], query: RunsQuery) -> list[str]:
    """The columns to show: the chosen ones, or the page's main metrics (CV means, holdout first)."""
    if query.columns:
        columns = list(query.columns)
    else:
        keys = {k for run in runs for k in run.metrics if not k.endswith("_fold") and not k.endswith("_std")}
        columns = [f"metrics.{k}" for k in sorted(keys, key=_rank)[:MAX_AUTO_COLUMNS]]
    if query.sort.startswith(_PREFIXES) and query.sort not in columns:
        columns.append(query.sort)
    return columns


def cell(run: Run, column: str) -> tuple[str, bool]:
    """The text of ``column`` for ``run`` and whether it is a number (right-aligned)."""
    entity, _, key = column.partition(".")
    if entity == "metrics":
        value = run.metrics.get(key)
        return ("–" if value is None else f"{value:.4g}", True)
    source = run.params if entity == "params" else run.tags
    return (source.get(key, "–"), False)
