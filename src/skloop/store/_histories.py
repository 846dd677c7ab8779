"""Metric histories of several runs at once: ``store.histories``.

:meth:`RunStore.get_metric_history` reads one key of one run. A page that compares
runs (their per-fold scores, their loss curves) needs every stepped key of up to a
few dozen runs: reading them one by one is a round trip per (run, key). Here they are
one statement over the ``(run_id, key, step)`` index, and a long history is thinned in
SQL to at most ``max_points`` evenly spaced points (the first and the last kept), so
a run that logged a million steps costs the page what a run of ``max_points`` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, func, or_, select

from skloop.core import StoreError
from skloop.store import _reads as reads
from skloop.store._entities import Metric
from skloop.store._schema import SqlMetric

if TYPE_CHECKING:
    from skloop.store._database import Database

__all__ = ["DEFAULT_MAX_POINTS", "MAX_RUNS", "MetricHistories"]

METRICS = SqlMetric
DEFAULT_MAX_POINTS = 1_000
"""Points kept per (run, key) history unless the caller says otherwise."""
MAX_RUNS = 500
"""The most runs one read may name (a compare page names ten)."""
_MAX_KEYS = 500


class MetricHistories:
    """Histories of metrics across runs, read in one statement: ``store.histories``.

    Parameters
    ----------
    db : Database
        The shared database (its buffered metrics are written before a read).

    Examples
    --------
    >>> import tempfile
    >>> from skloop.store import Store
    >>> d = tempfile.mkdtemp()
    >>> with Store.open(f"sqlite:///{d}/skloop.db", f"{d}/artifacts") as store:
    ...     with store.runs.start_run("demo") as run:
    ...         for step, loss in enumerate([0.9, 0.5, 0.3]):
    ...             store.runs.log_metric(run.id, "loss", loss, step=step)
    ...     curves = store.histories.read([run.id], stepped=True)
    ...     [(m.step, m.value) for m in curves[run.id]["loss"]]
    [(0, 0.9), (1, 0.5), (2, 0.3)]
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def read(
        self,
        run_ids: Iterable[str],
        keys: Sequence[str] | None = None,
        *,
        stepped: bool = False,
        max_points: int = DEFAULT_MAX_POINTS,
    ) -> dict[str, dict[str, list[Metric]]]:
        """The histories of ``keys`` (default: every key) of the runs, by run then key.

        Parameters
        ----------
        run_ids : iterable of str
            Full run ids (at most :data:`MAX_RUNS`); unknown ones are left out.
        keys : sequence of str, optional
            The metric keys to read; every key the runs logged when not given.
        stepped : bool
            Keep only the histories logged at more than one step (a curve, per-fold
            scores), not the keys logged once.
        max_points : int
            Points kept per (run, key): a longer history is thinned to ``max_points``
            evenly spaced values in SQL, plus its last value.

        Returns
        -------
        dict
            ``{run_id: {key: [Metric, ...]}}``, each history by step then time; a run
            without a (matching) history is absent.

        Raises
        ------
        StoreError
            For more than :data:`MAX_RUNS` runs, too many keys, or a ``max_points`` below 2.
        """
        wanted = list(dict.fromkeys(str(r).strip().lower() for r in run_ids))
        if len(wanted) > MAX_RUNS:
            raise StoreError(f"read the histories of at most {MAX_RUNS} runs at a time, given {len(wanted)}")
        chosen = None if keys is None else list(dict.fromkeys(str(k) for k in keys))
        if chosen is not None and len(chosen) > _MAX_KEYS:
            raise StoreError(f"read at most {_MAX_KEYS} metric keys at a time, given {len(chosen)}")
        if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 2:
            raise StoreError(f"max_points is the number of points kept per history, 2 or more; given {max_points!r}")
        if not wanted or chosen == []:
            return {}
        self._db.flush()
        out: dict[str, dict[str, list[Metric]]] = {}
        with self._db.session(f"reading the metric histories of {len(wanted)} runs", read=True) as conn:
            for row in conn.execute(_statement(wanted, chosen, stepped=stepped, max_points=max_points)):
                out.setdefault(row.run_id, {}).setdefault(row.key, []).append(reads.metric_entity(row))
        return {run_id: out[run_id] for run_id in wanted if run_id in out}


def _statement(run_ids: list[str], keys: list[str] | None, *, stepped: bool, max_points: int) -> Select[Any]:
    c = METRICS.c
    series = (c.run_id, c.key)
    where = [c.run_id.in_(run_ids)]
    if keys is not None:
        where.append(c.key.in_(keys))
    ranked = (
        select(
            c.run_id,
            c.key,
            c.value,
            c.is_nan,
            c.step,
            c.timestamp,
            c.id,
            func.row_number().over(partition_by=series, order_by=(c.step, c.timestamp, c.id)).label("rn"),
            func.count().over(partition_by=series).label("n"),
            func.min(c.step).over(partition_by=series).label("first_step"),
            func.max(c.step).over(partition_by=series).label("last_step"),
        )
        .where(and_(*where))
        .subquery("ranked")
    )
    r = ranked.c
    # rows i = rn - 1 with (i * M) mod n < M are M evenly spaced rows of the n (exactly M when n > M)
    kept = or_(r.n <= max_points, ((r.rn - 1) * max_points) % r.n < max_points, r.rn == r.n)
    conditions = [kept]
    if stepped:
        conditions.append(r.last_step > r.first_step)
    return (
        select(r.run_id, r.key, r.value, r.is_nan, r.step, r.timestamp)
        .where(and_(*conditions))
        .order_by(r.run_id, r.key, r.step, r.timestamp, r.id)
    )
