"""Reading runs back: one run, many, a search, a page, counts and facets (``store.runs``).

:class:`~skloop.store._runs.RunStore` inherits these; they flush the metric buffer
first, so that a read sees what the same process logged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, select

from skloop.core import NotFoundError, StoreError
from skloop.store import _pages as pages
from skloop.store import _reads as reads
from skloop.store._database import Database
from skloop.store._entities import RUN_STATUSES, Run
from skloop.store._schema import SqlRun

__all__ = ["RunQueries"]

RUNS = SqlRun


class RunQueries:
    """The read side of ``store.runs`` (see :class:`~skloop.store._runs.RunStore`)."""

    _db: Database

    def flush(self) -> None:
        """Write buffered writes, so that a read sees them (the run store's buffer)."""

    def get_run(self, run_id: str) -> Run:
        """The run with this id or unique id prefix, with everything recorded about it.

        Raises
        ------
        NotFoundError
            When no run matches.
        StoreError
            When a prefix matches several runs (the message lists them).
        """
        self.flush()
        text = str(run_id).strip().lower()
        if not text or any(c not in "0123456789abcdef" for c in text) or len(text) > 32:
            raise NotFoundError(f"run {run_id!r} does not exist: run ids are 32 hex digits")

        def read(conn: Connection) -> Run:
            cond = RUNS.c.id == text if len(text) == 32 else RUNS.c.id.like(f"{text}%")
            rows = conn.execute(select(RUNS).where(cond).limit(11)).all()
            if not rows:
                raise NotFoundError(f"run {run_id!r} does not exist; list runs with 'skloop runs'")
            if len(rows) > 1:
                shown = ", ".join(r.id for r in rows[:10]) + (", ..." if len(rows) > 10 else "")
                raise StoreError(f"run id prefix {run_id!r} is ambiguous, it matches: {shown}; give more characters")
            return reads.load_runs(conn, [rows[0].id])[0]

        return self._db.transact(f"reading run {run_id}", read, read=True)

    def get_runs(self, run_ids: Iterable[str]) -> list[Run]:
        """The runs with these full ids, in that order (unknown ones left out), read together.

        Like :meth:`get_run` for each, without a round trip per run (no prefixes).
        """
        self.flush()
        wanted = list(dict.fromkeys(str(r).strip().lower() for r in run_ids))
        if not wanted:
            return []
        return self._db.transact(f"reading {len(wanted)} runs", lambda conn: reads.load_runs(conn, wanted), read=True)

    def search_runs(
        self,
        project: str | None = None,
        *,
        filter: str | None = None,
        order_by: Sequence[str] | str | None = None,
        limit: int | None = 100,
        status: str | Sequence[str] | None = None,
    ) -> list[Run]:
        """Runs matching a filter, in order (newest first by default).

        Parameters
        ----------
        project : str, optional
            Only this project's runs.
        filter : str, optional
            E.g. ``"metrics.cv_roc_auc > 0.8 and params.model__max_depth = '8'"``;
            see :mod:`skloop.store._filter` for the language.
        order_by : list of str, optional
            E.g. ``["metrics.cv_roc_auc DESC", "start_time"]``.
        limit : int or None
            At most this many runs (``None``: all).
        status : str or list of str, optional
            Only runs with these statuses.

        Raises
        ------
        StoreError
            For a filter or ordering that cannot be parsed, naming the token.
        """
        if filter is not None and not isinstance(filter, str):
            raise StoreError(f"a search filter is a string, given {type(filter).__name__}")
        order = (order_by,) if isinstance(order_by, str) else tuple(order_by or ())
        statuses = (status,) if isinstance(status, str) else tuple(status) if status else None
        for s in statuses or ():
            if s not in RUN_STATUSES:
                raise StoreError(f"unknown status {s!r}; use one of {', '.join(RUN_STATUSES)}")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise StoreError(f"limit must be a positive integer or None, given {limit!r}")
        stmt = reads.cached_search(project, filter, order, statuses, limit)
        self.flush()
        return self._db.transact(
            "searching runs", lambda conn: reads.runs_from_rows(conn, conn.execute(stmt).all()), read=True
        )

    def count_runs(
        self,
        project: str | None = None,
        *,
        filter: str | None = None,
        status: str | Sequence[str] | None = None,
        up_to: int | None = None,
    ) -> int:
        """How many runs (of ``project``) match ``filter`` and ``status`` (as for :meth:`search_runs`).

        With ``up_to``, counting stops after ``up_to + 1`` matches: a result above
        ``up_to`` means "more than ``up_to``" (a filter true for most runs is then
        counted in a few milliseconds). A filter that is not selective in the
        ``(key, value)`` index of a metric visits every match otherwise.

        Raises
        ------
        SearchFilterError
            For a filter that cannot be parsed.
        StoreError
            For an unknown status or a negative ``up_to``.
        """
        return pages.count_runs(self._db, project, filter=filter, status=status, up_to=up_to)

    def search_runs_page(
        self,
        project: str | None = None,
        *,
        filter: str | None = None,
        order_by: Sequence[str] | str | None = None,
        status: str | Sequence[str] | None = None,
        limit: int = 50,
        offset: int = 0,
        count_up_to: int | None = None,
    ) -> pages.RunsPage:
        """One page of the runs :meth:`search_runs` would return, and their total.

        ``OFFSET`` is applied in SQL (a later page never reads the earlier ones); the
        search is planned so that a page costs about the same whatever the filter (see
        :mod:`skloop.store._pages`), and the total is a ``COUNT`` without the
        ordering's joins (skipped on the last page, whose end is the total).

        Parameters
        ----------
        project, filter, order_by, status
            As for :meth:`search_runs`.
        limit : int
            Runs per page, 1 to 500.
        offset : int
            How many matching runs come before the page.
        count_up_to : int or None
            ``None``: count every match. ``0``: do not count (``total`` is ``None``
            unless this is the last page; :meth:`count_runs` later). ``n``: stop after
            ``max(n, offset + limit)`` matches (``total_exact`` is then false: more runs
            than ``total`` match).

        Raises
        ------
        SearchFilterError
            For a filter or ordering that cannot be parsed (the message names the token).
        StoreError
            For an unknown status or a limit or offset out of range.
        """
        return pages.search_runs_page(
            self._db, project, filter=filter, order_by=order_by, status=status, limit=limit, offset=offset,
            count_up_to=count_up_to,
        )  # fmt: skip

    def facets(
        self,
        project: str | None = None,
        *,
        tags: int = 0,
        tag_values: int = 5,
        tag_runs: int | None = None,
        exact_alone: bool = False,
    ) -> pages.RunFacets:
        """The projects that have runs, how many runs (of ``project``) have each status, and tag facets.

        With ``tags=N`` the facets also hold the ``N`` tag keys most runs carry, each
        with its ``tag_values`` most common values and their counts (one ``GROUP BY``
        in SQL; see :class:`TagFacet`), over the newest ``tag_runs`` runs when given,
        over every run when ``exact_alone`` and ``project`` is the only project with runs
        (counted from the tag indexes; another project's presence makes every tag row's
        run a lookup, 8 s at 100,000 runs on SQLite, hence the sample then).
        """
        return pages.facets(
            self._db, project, tags=tags, tag_values=tag_values, tag_runs=tag_runs, exact_alone=exact_alone
        )
