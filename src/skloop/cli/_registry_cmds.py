"""Registry commands: ``models``, ``promote``, ``rollback``, ``aliases``, ``lineage``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from skloop.cli._app import JsonOpt, SpecOpt, _store, app, console
from skloop.cli._checks import MAX_REASON_CHARS, check_out_file, check_reason
from skloop.cli._errors import handle_errors
from skloop.cli._render import print_json
from skloop.cli._trust import TrustOpt, TrustTypeOpt, caller_trust
from skloop.core import SPEC_FILENAME, UsageError

__all__: list[str] = []

AliasOpt = Annotated[str, typer.Option("--alias", "-a", help="The alias.")]


@contextmanager
def _registry(spec: Path) -> Iterator[Any]:
    from skloop.registry import Registry

    store = _store(spec)
    try:
        yield Registry(store)
    finally:
        store.close()


def _when(ts: datetime | None) -> str:
    return ts.astimezone().strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def _key_metrics(metrics: dict[str, float], n: int = 3) -> str:
    keys = [k for k in sorted(metrics) if k.startswith("holdout_")] + [
        k for k in sorted(metrics) if k.startswith("cv_") and k.endswith("_mean")
    ]
    return " ".join(f"{k}={metrics[k]:.4f}" for k in keys[:n]) or "-"


@app.command()
@handle_errors
def models(
    name: Annotated[str | None, typer.Argument(help="A model: list its versions.")] = None,
    spec: SpecOpt = Path(SPEC_FILENAME),
    json_out: JsonOpt = False,
) -> None:
    """Registered models (latest version, aliases, key metrics), or the versions of NAME."""
    with _registry(spec) as registry:
        if name is None:
            found = registry.models()
            if json_out:
                print_json(console, found)
                return
            table = Table(title=f"models ({len(found)})", title_justify="left")
            for col in ("name", "latest", "versions", "aliases", "metrics", "created", "run", "dataset"):
                table.add_column(col, overflow="fold")
            for m in found:
                table.add_row(
                    m.name,
                    f"v{m.latest_version}" + (" [red](rejected)[/]" if m.latest_status == "rejected" else ""),
                    str(m.n_versions),
                    ", ".join(f"{a}→v{v}" for a, v in m.aliases.items()) or "-",
                    _key_metrics(m.metrics),
                    _when(m.created),
                    m.run_id[:8],
                    (m.dataset_fingerprint or "-")[:12],
                )
            console.print(table)
            return
        versions = registry.versions(name)
        if json_out:
            print_json(console, versions)
            return
        table = Table(title=f"versions of {name} ({len(versions)})", title_justify="left")
        for col in ("version", "status", "aliases", "parent", "metrics", "created", "run", "dataset", "artifact"):
            table.add_column(col, overflow="fold")
        for v in versions:
            status = (
                "[green]registered[/]" if not v.is_rejected else f"[red]rejected[/]: {escape(str(v.rejection_reason))}"
            )
            table.add_row(
                str(v.version),
                status,
                ", ".join(v.aliases) or "-",
                "-" if v.parent_version is None else f"v{v.parent_version}",
                _key_metrics(v.metrics),
                _when(v.created),
                v.run_id[:8],
                (v.dataset_fingerprint or "-")[:12],
                f"{v.artifact_format}:{v.artifact_sha256[:12]}",
            )
        console.print(table)


@app.command()
@handle_errors
def promote(
    name: Annotated[str, typer.Argument(help="The model.")],
    version: Annotated[int, typer.Argument(help="The version to point the alias at.")],
    alias: AliasOpt = "champion",
    reason: Annotated[
        str | None, typer.Option("--reason", "-r", help="Why (kept in the alias history; default: 'no reason given').")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Promote a version that failed its gates.")] = False,
    spec: SpecOpt = Path(SPEC_FILENAME),
    json_out: JsonOpt = False,
) -> None:
    """Point an alias (default: champion) at a version, recording who and why."""
    if not reason:  # the history still says who moved the alias, and that no reason was given
        from skloop.registry import default_actor

        reason = f"promoted by {default_actor()} via the CLI (no reason given)"
    check_reason("--reason", reason)
    with _registry(spec) as registry:
        event = registry.promote(name, version, alias, reason=reason, force=force)
    if json_out:
        print_json(console, event)
        return
    before = "nothing" if event.from_version is None else f"v{event.from_version}"
    console.print(
        f"{name}@{alias}: {before} -> [bold]v{event.to_version}[/] ({escape(f'{event.actor}: {event.reason}')})"
    )


@app.command()
@handle_errors
def rollback(
    name: Annotated[str, typer.Argument(help="The model.")],
    alias: AliasOpt = "champion",
    reason: Annotated[str | None, typer.Option("--reason", "-r", help="Why.")] = None,
    spec: SpecOpt = Path(SPEC_FILENAME),
    json_out: JsonOpt = False,
) -> None:
    """Move an alias back to the version that held it before."""
    check_reason("--reason", reason)
    with _registry(spec) as registry:
        event = registry.rollback(name, alias, reason=reason)
    if json_out:
        print_json(console, event)
        return
    console.print(f"{name}@{alias}: v{event.from_version} -> [bold]v{event.to_version}[/] (rollback)")


def _parse_time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--at {text!r} is not an ISO time; use e.g. 2025-03-01T12:00 or 2025-03-01") from None
    try:
        return when.astimezone(UTC) if when.tzinfo is None else when  # naive means local time
    except (ValueError, OverflowError):  # 0001-01-01 local is before the year 1 in UTC east of Greenwich
        raise UsageError(f"--at {text!r} is out of range; give a time between the years 2 and 9998") from None


@app.command()
@handle_errors
def aliases(
    name: Annotated[str, typer.Argument(help="The model.")],
    alias: Annotated[str | None, typer.Option("--alias", "-a", help="Only this alias.")] = None,
    at: Annotated[str | None, typer.Option("--at", help="ISO time: which version the alias held then.")] = None,
    spec: SpecOpt = Path(SPEC_FILENAME),
    json_out: JsonOpt = False,
) -> None:
    """The history of a model's aliases, or (with --at) which version an alias held at a time."""
    with _registry(spec) as registry:
        if at is not None:
            when = _parse_time(at)
            held = registry.alias_at(name, alias or "champion", when)
            if json_out:
                print_json(console, {"name": name, "alias": alias or "champion", "at": when, "version": held})
            else:
                shown = "nothing" if held is None else f"v{held}"
                console.print(f"{name}@{alias or 'champion'} at {_when(when)}: [bold]{shown}[/]")
            return
        current = registry.aliases(name)
        events = registry.history(name, alias)
    if json_out:
        print_json(console, {"current": current, "history": events})
        return
    console.print(", ".join(f"{a} → v{v}" for a, v in current.items()) or "no aliases set")
    table = Table(title=f"alias history of {name} ({len(events)})", title_justify="left")
    for col in ("time", "alias", "action", "from", "to", "actor", "reason"):
        table.add_column(col, overflow="fold")
    for e in events:
        table.add_row(
            _when(e.time), e.alias, e.action,
            "-" if e.from_version is None else f"v{e.from_version}",
            "-" if e.to_version is None else f"v{e.to_version}",
            escape(e.actor), escape(_clip(e.reason or "")),
        )  # fmt: skip
    console.print(table)


def _clip(text: str) -> str:
    """Free text as shown in a table: a reason recorded through the API may be any length."""
    if len(text) <= MAX_REASON_CHARS:
        return text
    return text[:MAX_REASON_CHARS] + f"... ({len(text) - MAX_REASON_CHARS:,} more characters; --json shows all)"


def _label(node: Any) -> str:
    a = node.attrs
    if node.kind == "model_version":
        reason = escape(str(a["rejection_reason"]))
        status = "[green]registered[/]" if a["status"] == "registered" else f"[red]rejected[/] ({reason})"
        tags = escape(f" [{', '.join(a['aliases'])}]") if a["aliases"] else ""
        return f"[bold]{node.id}[/]{tags} {status} {_key_metrics(a['metrics'])} created {_when(a['created'])}"
    if node.kind == "run":
        commit = (a["code_commit"] or "-")[:10] + (" (dirty)" if a["code_dirty"] else "")
        return f"run [bold]{node.id[:8]}[/] {a['kind']} {a['status']} {_when(a['start_time'])} code {commit}"
    if node.kind == "parent":
        return f"parent [bold]{node.id}[/] {a['status']} (retrained or derived from it) run {a['run_id'][:8]}"
    if node.kind == "decision":
        fired = escape(", ".join(a["fired"]) or "nothing fired")
        outcome = a["outcome"] or a["status"]
        return (
            f"decision [bold]{node.id[:8]}[/] {_when(a['evaluated_at'])} {fired} → {outcome}: "
            f"{escape(_clip(a['reason'] or '-'))}"
        )
    role = f"{a['role']} " if "role" in a else ""
    return f"dataset {role}[bold]{node.id[:16]}[/] {escape(str(a['source']))} ({a['n_rows']:,} rows)"


def _tree(node: Any, parent: Tree | None = None) -> Tree:
    branch = Tree(_label(node)) if parent is None else parent.add(_label(node))
    if node.kind == "run":
        if node.attrs["params"]:
            branch.add("params: " + escape(", ".join(f"{k}={v}" for k, v in sorted(node.attrs["params"].items()))))
        if node.attrs["metrics"]:
            branch.add("metrics: " + _key_metrics(node.attrs["metrics"], n=6))
    for child in node.children:
        _tree(child, branch)
    return branch


@app.command()
@handle_errors
def lineage(
    ref: Annotated[str, typer.Argument(help="NAME@ALIAS, NAME/VERSION, NAME, or a dataset fingerprint (prefix).")],
    spec: SpecOpt = Path(SPEC_FILENAME),
    json_out: JsonOpt = False,
) -> None:
    """What made a model version (run, code, data), or which versions a dataset trained."""
    with _registry(spec) as registry:
        tree = registry.lineage(ref)
    if json_out:
        print_json(console, tree.to_dict())
    else:
        console.print(_tree(tree))


@app.command()
@handle_errors
def card(
    name: Annotated[str, typer.Argument(help="Model name, or a reference like churn@champion or churn/3.")],
    version: Annotated[int | None, typer.Argument(help="Version number (default: as NAME says, else latest).")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file; .html gives the self-contained page.")
    ] = None,
    html: Annotated[bool, typer.Option("--html", help="HTML instead of Markdown (on stdout without --out).")] = False,
    spec: SpecOpt = Path(SPEC_FILENAME),
    trust: TrustOpt = False,
    trust_type: TrustTypeOpt = None,
) -> None:
    """The model card of a version: task, data, features, pipeline, search, metrics, importance, limits, lineage."""
    from skloop.registry import render_html, render_markdown, version_card

    check_out_file("--out", out, "card.md")
    ref = f"{name}/{version}" if version is not None else name
    with _registry(spec) as registry:
        model_card = version_card(registry, ref, trust=caller_trust(spec, trust, trust_type))
    as_html = html or (out is not None and out.suffix.lower() in (".html", ".htm"))
    text = render_html(model_card) if as_html else render_markdown(model_card)
    if out is None:
        console.file.write(text if text.endswith("\n") else text + "\n")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote the card of {model_card.name} v{model_card.version} to [bold]{out}[/]")
