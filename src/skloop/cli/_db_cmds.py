"""``skloop db check``: the store's integrity, schema revision, artifacts and leftover uploads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from skloop.cli._app import JsonOpt, SpecOpt, _settings_near, console, db_app
from skloop.cli._errors import EXIT_FAILURE, handle_errors
from skloop.cli._render import print_json
from skloop.core import SPEC_FILENAME, UsageError, parse_duration

__all__: list[str] = []


@db_app.command("check")
@handle_errors
def db_check(
    deep: Annotated[
        bool, typer.Option("--deep", help="Hash every artifact again; SQLite's full integrity_check.")
    ] = False,
    fix: Annotated[
        bool, typer.Option("--fix", help="Remove leftover .tmp-* uploads older than --stale-after.")
    ] = False,
    stale_after: Annotated[
        str, typer.Option("--stale-after", help="A leftover upload this old is stale (30min, 2h); younger: left alone.")
    ] = "1h",
    json_out: JsonOpt = False,
    spec: SpecOpt = Path(SPEC_FILENAME),
) -> None:
    """Check the store: database integrity, WAL, schema revision, artifacts; exit 1 on a problem."""
    from skloop.store import ArtifactStore, check_store

    try:
        age = parse_duration(stale_after)
    except ValueError as exc:
        raise UsageError(f"--stale-after: {exc}") from None
    settings = _settings_near(spec)
    artifacts = ArtifactStore(settings.artifact_root, dict(settings.artifact_options or {}))
    report = check_store(settings.store_url, artifacts, deep=deep, fix=fix, stale_after=age)
    if json_out:
        print_json(console, report.to_dict())
    else:
        journal = ", ".join(f"{k} {v}" for k, v in report.journal.items() if v is not None)
        console.print(f"database   {escape(report.database)} ({report.dialect}{', ' + journal if journal else ''})")
        console.print(f"integrity  {escape(report.integrity)}{' (full)' if deep else ''}")
        console.print(f"schema     revision {report.revision or 'none'} (head {report.head})")
        console.print(
            f"artifacts  {report.referenced:,} named, {report.stored:,} stored in {escape(report.artifact_root)}"
            f"{'; every hash verified' if deep and not report.corrupt and not report.missing else ''}"
        )
        for item in report.leftovers:
            age_text = "age unknown" if item.age_seconds is None else f"{item.age_seconds / 60:,.0f} min old"
            state = "removed" if item.removed else "left"
            console.print(f"  leftover upload {escape(item.path)} ({item.size:,} bytes, {age_text}): {state}")
        for sha in report.missing[:20]:
            console.print(f"  [red]missing[/] {sha}")
        for what in report.corrupt[:20]:
            console.print(f"  [red]corrupt[/] {escape(what)}")
        for text in report.warnings:
            console.print(f"[yellow]warning[/]: {escape(text)}")
        for text in report.problems:
            console.print(f"[red]problem[/]: {escape(text)}")
        console.print("[green]the store is whole[/]" if report.ok else f"[red]{len(report.problems)} problem(s)[/]")
    if not report.ok:
        raise typer.Exit(EXIT_FAILURE)
