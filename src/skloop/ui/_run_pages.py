"""One run: everything recorded about it (a search's candidates drawn too), and its artifacts' bytes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import yaml
from starlette.requests import Request
from starlette.responses import Response

from skloop.ui import _queries as q
from skloop.ui._context import context_of, render
from skloop.ui._runs_pages import duration, when
from skloop.ui._search_plots import candidate_rows, search_views

__all__ = ["artifact_download", "run_page"]

MAX_CANDIDATES = 100
"""Candidates shown on a run page (best first); the artifact has them all."""


def _candidates(cv: dict[str, Any] | None) -> tuple[list[str], list[list[Any]], int]:
    """The header and rows of the search's candidates, best ranked first, and how many there are."""
    table = candidate_rows(cv)
    if not table:
        return [], [], 0
    columns = list(dict.fromkeys(str(k) for r in table for k in r))
    rows = [[r.get(c) for c in columns] for r in table]
    rank = next((i for i, c in enumerate(columns) if c.startswith("rank_test_")), None)
    if rank is not None:
        rows.sort(key=lambda r: (r[rank] is None, r[rank] if isinstance(r[rank], int | float) else 0))
    return columns, rows[:MAX_CANDIDATES], len(rows)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return "–" if value is None else str(value)


async def run_page(request: Request) -> Response:
    """``/runs/{id}``: params, metrics, folds, candidates, artifacts, data, code, environment, spec."""
    ctx = context_of(request)
    run = q.get_run(ctx.store, request.path_params["run_id"])
    folds = q.fold_scores(ctx.store, run)
    cv = q.cv_candidates(ctx.store, run)
    columns, rows, n_candidates = _candidates(cv)
    fingerprints = [d.fingerprint for d in run.datasets]
    records = q.datasets(ctx.store, fingerprints)
    spec_text = yaml.safe_dump(run.spec, sort_keys=False, allow_unicode=True) if run.spec else None
    environment = sorted((run.environment or {}).items())
    artifacts = [
        (name, ref, f"/runs/{run.id}/artifacts/{quote(name, safe='')}") for name, ref in sorted(run.artifacts.items())
    ]
    return render(
        request, "run.html", title=f"Run {run.name or run.id[:8]}", run=run, folds=folds,
        candidate_columns=columns, candidates=rows, n_candidates=n_candidates, search=search_views(cv),
        datasets=records, spec_text=spec_text, environment=environment, artifacts=artifacts, text=_text, when=when,
        duration=duration, project=run.project,
        metrics=sorted((k, v) for k, v in run.metrics.items() if not k.endswith("_fold")),
    )  # fmt: skip


async def artifact_download(request: Request) -> Response:
    """The artifact's bytes, read through the store (SHA-256 verified), as a download."""
    ctx = context_of(request)
    run_id, name = request.path_params["run_id"], request.path_params["name"]
    run = q.get_run(ctx.store, run_id)
    data = q.artifact_bytes(ctx.store, run.id, name)  # unknown name → NotFoundError → 404
    ref = run.artifacts[name]
    filename = name.rsplit("/", 1)[-1]
    return Response(
        data,
        media_type=ref.media_type or "application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
            "ETag": f'"{ref.sha256}"',
            "X-Content-SHA256": ref.sha256,
            "X-Content-Type-Options": "nosniff",
        },
    )
