"""Turning records into tables and JSON. Only the CLI renders."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

__all__ = ["cv_summary", "print_json", "run_detail", "runs_table", "to_plain"]

_STATUS_STYLE = {"finished": "green", "running": "cyan", "failed": "red", "killed": "yellow"}


def to_plain(obj: Any) -> Any:
    """Entities, dates and paths as JSON-able plain data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.repr}
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, (Path, Enum)):
        return str(obj.value if isinstance(obj, Enum) else obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return obj.item()
    return obj


def print_json(console: Console, obj: Any) -> None:
    """Print ``obj`` as JSON, plainly (no colour), so scripts can parse it."""
    console.file.write(json.dumps(to_plain(obj), indent=2, default=str) + "\n")


def _when(ts: datetime | None) -> str:
    return ts.astimezone().strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def _duration(run: Any) -> str:
    if run.start_time and run.end_time:
        return f"{(run.end_time - run.start_time).total_seconds():.1f}s"
    return "-"


def cv_summary(metrics: dict[str, float]) -> list[tuple[str, float, float | None]]:
    """(metric, mean, std) for every ``cv_<name>_mean`` metric, in a stable order."""
    out = []
    for key in sorted(metrics):
        if key.startswith("cv_") and key.endswith("_mean"):
            name = key[3:-5]
            out.append((name, metrics[key], metrics.get(f"cv_{name}_std")))
    return out


def _fmt_score(mean: float, std: float | None) -> str:
    return f"{mean:.4f} ± {std:.4f}" if std is not None else f"{mean:.4f}"


def runs_table(runs: list[Any], title: str = "runs") -> Table:
    """One row per run: id, time, status, best params and CV scores."""
    table = Table(title=title, title_justify="left", show_lines=False)
    for col in ("run", "started", "kind", "status", "best params", "CV (mean ± std)", "holdout", "took"):
        table.add_column(col, overflow="fold")
    for run in runs:
        best = {k.removeprefix("best."): v for k, v in run.params.items() if k.startswith("best.")}
        cv = "\n".join(f"{n}: {_fmt_score(m, s)}" for n, m, s in cv_summary(run.metrics))
        hold = "\n".join(
            f"{k.removeprefix('holdout_')}: {v:.4f}" for k, v in sorted(run.metrics.items()) if k.startswith("holdout_")
        )
        style = _STATUS_STYLE.get(run.status, "")
        table.add_row(
            run.id[:8],
            _when(run.start_time),
            run.kind,
            f"[{style}]{run.status}[/]",
            "\n".join(f"{k}={v}" for k, v in best.items()) or "-",
            cv or "-",
            hold or "-",
            _duration(run),
        )
    return table


def run_detail(run: Any, datasets: dict[str, Any] | None = None) -> Tree:
    """Everything recorded for one run, as a tree."""
    style = _STATUS_STYLE.get(run.status, "")
    tree = Tree(f"[bold]run {run.id}[/]  [{style}]{run.status}[/]  ({run.kind} of {run.project})")
    info = tree.add("[bold]when[/]")
    info.add(f"started {_when(run.start_time)}, ended {_when(run.end_time)}, took {_duration(run)}")
    if run.error:
        tree.add(f"[bold red]error[/] {run.error}")
    if run.parent_run_id:
        tree.add(f"[bold]parent run[/] {run.parent_run_id}")
    code = tree.add("[bold]code[/]")
    code.add(f"commit {run.code_commit or '(not in a git repository)'}" + (" (dirty)" if run.code_dirty else ""))
    env = run.environment or {}
    e = tree.add(f"[bold]environment[/] python {env.get('python', '?')} on {env.get('platform', '?')}")
    for name, version in (env.get("packages") or {}).items():
        e.add(f"{name} {version}")
    tree.add(f"[bold]seed[/] {run.seed}")
    params = tree.add("[bold]params[/]")
    for k, v in sorted(run.params.items()):
        params.add(f"{k} = {v}")
    metrics = tree.add("[bold]metrics[/]")
    for name, mean, std in cv_summary(run.metrics):
        metrics.add(f"cv {name}: {_fmt_score(mean, std)}")
    for k, v in sorted(run.metrics.items()):
        if not (k.startswith("cv_") and (k.endswith("_mean") or k.endswith("_std") or k.endswith("_fold"))):
            metrics.add(f"{k} = {v:.6g}")
    data = tree.add("[bold]datasets[/]")
    for d in run.datasets:
        rec = (datasets or {}).get(d.fingerprint)
        if rec is None:
            data.add(f"{d.role}: {d.fingerprint[:16]}")
            continue
        snap = f"snapshot {rec.snapshot_sha256[:12]}" if rec.snapshot_sha256 else "no snapshot"
        data.add(
            f"{d.role}: {d.fingerprint[:16]}  {rec.n_rows} rows x {rec.n_columns} cols  from {rec.source}  ({snap})"
        )
    arts = tree.add("[bold]artifacts[/]")
    for name, a in sorted(run.artifacts.items()):
        arts.add(f"{name}  {a.size:,} bytes  sha256 {a.sha256[:16]}")
    if run.tags:
        tags = tree.add("[bold]tags[/]")
        for k, v in sorted(run.tags.items()):
            tags.add(f"{k} = {v}")
    return tree


def print_table(console: Console, table: Table) -> None:
    console.print(table)
