"""Selected runs side by side: params and metrics (differences highlighted), per-fold
scores, metric curves by step, and the candidates of the runs that are searches.

The page reads the runs together, every stepped history in one batched read (folds
and curves alike, thinned to :data:`~skloop.ui._curves.MAX_POINTS` per history),
and the ``cv_results.json`` of each run that has one.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from skloop.core import UsageError
from skloop.store import Run, Store
from skloop.ui import _queries as q
from skloop.ui._context import context_of, render
from skloop.ui._curves import MAX_POINTS, curves_of, folds_of, run_labels
from skloop.ui._runs_pages import duration, when
from skloop.ui._search_plots import SearchViews, search_views

__all__ = ["MAX_COMPARED", "compare_page", "read_runs", "searches_of"]

MAX_COMPARED = 10
_FULL_ID = 32


def _differs(values: list[object]) -> bool:
    return len({repr(v) for v in values}) > 1


def read_runs(store: Store, ids: list[str]) -> list[Run]:
    """The runs named by full ids (read together) or prefixes (one by one); unknown → ``NotFoundError``."""
    full = [i.lower() for i in ids if len(i) == _FULL_ID]
    found = {r.id: r for r in q.get_runs(store, full)} if full else {}
    return [found.get(i.lower()) or q.get_run(store, i) for i in ids]


def searches_of(store: Store, runs: list[Run]) -> list[tuple[Run, SearchViews]]:
    """The plots of each run that recorded a search's candidates."""
    out = []
    for run in runs:
        if q.CV_RESULTS_ARTIFACT in run.artifacts:
            views = search_views(q.cv_candidates(store, run))
            if views is not None:
                out.append((run, views))
    return out


async def compare_page(request: Request) -> Response:
    """``/compare?run=...&run=...``: the selected runs, up to :data:`MAX_COMPARED`."""
    ctx = context_of(request)
    ids = list(dict.fromkeys(i.strip() for i in request.query_params.getlist("run") if i.strip()))
    if len(ids) < 1:
        raise UsageError("select at least one run to compare (tick the boxes in the runs table)")
    if len(ids) > MAX_COMPARED:
        raise UsageError(f"{len(ids)} runs were selected; compare at most {MAX_COMPARED} at a time")
    runs = read_runs(ctx.store, ids)  # a prefix works too; unknown → 404
    labels = run_labels(runs)
    param_keys = sorted({k for r in runs for k in r.params})
    params = [(k, [r.params.get(k) for r in runs]) for k in param_keys]
    metric_keys = sorted({k for r in runs for k in r.metrics if not k.endswith(q.FOLD_SUFFIX)})
    metrics = [(k, [r.metrics.get(k) for r in runs]) for k in metric_keys]
    histories = q.metric_histories(ctx.store, [r.id for r in runs], max_points=MAX_POINTS)
    folds = [folds_of(histories, r) for r in runs]
    scorers = sorted({s for f in folds for s in f})
    fold_tables = []
    for scorer in scorers:
        n = max(len(f.get(scorer, [])) for f in folds)
        rows = [(i, [f[scorer][i] if i < len(f.get(scorer, [])) else None for f in folds]) for i in range(n)]
        fold_tables.append((scorer, rows))
    chart = {"labels": labels, "scorers": {s: [f.get(s, []) for f in folds] for s in scorers}}
    curves, undrawn = curves_of(histories, runs)
    curve_data = {"labels": labels, "curves": {c.key: c.data() for c in curves}}
    return render(
        request, "compare.html", title="Compare runs", runs=runs, labels=labels, params=params, metrics=metrics,
        fold_tables=fold_tables, chart=chart, curves=curves, undrawn=undrawn, curve_data=curve_data,
        searches=searches_of(ctx.store, runs), differs=_differs, when=when, duration=duration,
        project=runs[0].project,
    )  # fmt: skip
