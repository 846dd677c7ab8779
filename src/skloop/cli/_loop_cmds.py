"""The continuous-training loop: ``loop run``, ``loop watch`` and ``decisions``."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from skloop.cli._app import JsonOpt, QuietOpt, SpecOpt, _project, app, console
from skloop.cli._errors import handle_errors
from skloop.cli._progress import RichProgress
from skloop.cli._render import print_json
from skloop.cli._trust import TrustOpt, TrustTypeOpt, caller_trust
from skloop.core import SPEC_FILENAME, SkloopError, SpecError, UsageError

if TYPE_CHECKING:
    from skloop.registry import Trust

__all__: list[str] = []

loop_app = typer.Typer(help="Retrain, compare and promote by the spec's loop: policy.", no_args_is_help=True)
app.add_typer(loop_app, name="loop")

#: Test hook: ``STEP:SECONDS`` makes ``loop run`` sleep that long after STEP finishes (to kill it there).
PAUSE_ENV = "SKLOOP_LOOP_PAUSE_AFTER"

_STYLE = {"promoted": "bold green", "rolled_back": "bold red", "kept": "yellow", "blocked": "yellow", "none": "dim",
          "failed": "bold red"}  # fmt: skip


def _pause_hook() -> Any:
    text = os.environ.get(PAUSE_ENV)
    if not text:
        return None
    step, _, seconds = text.partition(":")

    def hook(name: str, event: str, outputs: dict[str, Any]) -> None:
        if name == step and event != "skipped":
            time.sleep(float(seconds or 3600))

    return hook


def _value(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _story(decision: Any) -> None:
    """What the loop saw and did, for people."""
    when = decision.evaluated_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    console.print(
        f"[bold]{decision.name}[/] decision {decision.id[:8]} at {when} (champion v{decision.champion_version})"
    )
    if decision.triggers:
        table = Table(title="triggers", title_justify="left")
        for col in ("trigger", "fired", "value", "threshold", "detail"):
            table.add_column(col)
        for t in decision.triggers:
            fired = "[bold red]yes[/]" if t["fired"] else "no"
            table.add_row(t["name"], fired, _value(t["value"]), _value(t["threshold"]), escape(t["detail"]))
        console.print(table)
    if decision.retrain_run_id:
        window = decision.details.get("window") or {}
        console.print(
            f"retrained: run {decision.retrain_run_id[:8]} -> v{decision.challenger_version} on "
            f"{window.get('train_rows', '?')} labelled rows of the last window "
            f"(held out the newest {window.get('holdout_rows', '?')} to compare)"
        )
    style = _STYLE.get(decision.outcome or "", "")
    outcome = f"[{style}]{decision.outcome}[/]" if style else str(decision.outcome)
    console.print(f"{outcome}: {escape(decision.reason or '')}")


def _run_once(spec: Path, name: str | None, *, quiet: bool, json_out: bool, trust: Trust) -> Any:
    from skloop.workflows import run_loop

    with _project(spec) as project:
        if name is not None and name != project.spec.name:
            raise UsageError(
                f"the spec {spec} is for model {project.spec.name!r}, not {name!r}; "
                f"pass the spec of {name!r} with --spec"
            )
        decision = run_loop(
            project.spec, project.settings, store=project.store, name=name,
            progress=RichProgress(console, quiet=quiet or json_out), on_step=_pause_hook(), trust=trust,
        )  # fmt: skip
    if json_out:
        print_json(console, decision.to_dict())
    else:
        _story(decision)
    return decision


@loop_app.command("run")
@handle_errors
def loop_run(
    name: Annotated[str | None, typer.Argument(help="The model (default: the spec's name).")] = None,
    spec: SpecOpt = Path(SPEC_FILENAME),
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
    trust: TrustOpt = False,
    trust_type: TrustTypeOpt = None,
) -> None:
    """Evaluate the loop policy once: monitor, decide, maybe retrain, compare, maybe promote or roll back."""
    _run_once(spec, name, quiet=quiet, json_out=json_out, trust=caller_trust(spec, trust, trust_type))


@loop_app.command("watch")
@handle_errors
def loop_watch(
    name: Annotated[str | None, typer.Argument(help="The model (default: the spec's name).")] = None,
    every: Annotated[str, typer.Option("--every", help="Time between evaluations (30min, 1h, 1d).")] = "1h",
    max_iterations: Annotated[
        int | None, typer.Option("--max-iterations", min=1, help="Stop after this many evaluations.")
    ] = None,
    spec: SpecOpt = Path(SPEC_FILENAME),
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
    trust: TrustOpt = False,
    trust_type: TrustTypeOpt = None,
) -> None:
    """Evaluate the loop policy every --every; its state lives in the store, so a restart carries on.

    A failed evaluation is recorded and reported, and the next one runs on time.
    """
    from skloop.core import parse_duration
    from skloop.store import LoopLockedError

    try:
        pause = parse_duration(every).total_seconds()
    except ValueError as exc:
        raise UsageError(f"--every: {exc}") from None
    done = 0
    while max_iterations is None or done < max_iterations:
        try:
            _run_once(spec, name, quiet=quiet, json_out=json_out, trust=caller_trust(spec, trust, trust_type))
        except (SpecError, UsageError):
            raise
        except LoopLockedError as exc:
            console.print(f"[yellow]waiting:[/] {escape(str(exc))}")
        except SkloopError as exc:  # recorded as a failed decision; the next tick tries again
            console.print(f"[bold red]error:[/] {escape(str(exc))}")
        done += 1
        if max_iterations is not None and done >= max_iterations:
            break
        time.sleep(pause)


@app.command("decisions")
@handle_errors
def decisions(
    name: Annotated[str | None, typer.Argument(help="The model (default: the spec's name).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="Only the newest N.")] = None,
    spec: SpecOpt = Path(SPEC_FILENAME),
    json_out: JsonOpt = False,
) -> None:
    """The loop's decisions for model NAME, oldest first: triggers, challenger, comparison, outcome, reason."""
    with _project(spec) as project:
        found = project.store.loop.list_decisions(name or project.spec.name, limit=limit)
    if json_out:
        print_json(console, [d.to_dict() for d in found])
        return
    if not found:
        console.print(f"no loop decisions for {name or '(the spec)'} yet; run [bold]skloop loop run[/]")
        return
    table = Table(title=f"loop decisions of {found[0].name}", title_justify="left")
    for col in ("id", "evaluated", "champion", "fired", "challenger", "comparison", "outcome", "reason"):
        table.add_column(col, overflow="fold", no_wrap=col in ("id", "outcome"))
    for d in found:
        c = d.comparison or {}
        comparison = (
            f"{c['metric']} {c['champion']:.3f} -> {c['challenger']:.3f} (p={c['p_value']:.3g})"
            if c.get("champion") is not None and c.get("challenger") is not None and c.get("p_value") is not None
            else "-"
        )
        outcome = d.outcome if d.status != "running" else "running"
        style = _STYLE.get(outcome or "", "")
        table.add_row(
            d.id[:8], d.evaluated_at.astimezone().strftime("%Y-%m-%d %H:%M"), _value(d.champion_version),
            ", ".join(d.fired) or "-", _value(d.challenger_version), comparison,
            f"[{style}]{outcome}[/]" if style else str(outcome), escape(d.reason or "-"),
        )  # fmt: skip
    console.print(table)
