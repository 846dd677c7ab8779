"""The MLflow mirror and import commands: ``mirror status``, ``mirror retry``, ``mirror drain``, ``import-mlflow``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from skloop.cli._app import JsonOpt, QuietOpt, SpecOpt, _settings_near, _store, app, console
from skloop.cli._errors import EXIT_FAILURE, handle_errors
from skloop.cli._render import print_json
from skloop.cli._trust import TrustOpt, TrustTypeOpt, caller_trust
from skloop.core import SPEC_FILENAME, UsageError

__all__: list[str] = []

mirror_app = typer.Typer(
    help="The MLflow mirror (tracking.mlflow_uri / SKLOOP_MLFLOW_URI): what is queued, failing, done.",
    no_args_is_help=True,
)
app.add_typer(mirror_app, name="mirror")

WaitOpt = Annotated[
    float, typer.Option("--wait", help="Seconds to keep trying records that fail (after their backoff).")
]


def _when(ts: Any) -> str:
    return ts.astimezone().strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def mirror_line(store: Any) -> str | None:
    """One line on the mirror's backlog for ``skloop runs`` (``None`` when nothing waits)."""
    status = store.mirror.status()
    if status.pending == 0:
        return None
    failing = f", {status.failing} failing" if status.failing else ""
    return (
        f"MLflow mirror: {status.pending} record(s) waiting{failing}, next try {_when(status.next_attempt)}; "
        "see 'skloop mirror status', retry now with 'skloop mirror retry'"
    )


@mirror_app.command("status")
@handle_errors
def status(
    spec: SpecOpt = Path(SPEC_FILENAME),
    limit: Annotated[int, typer.Option("--limit", "-n", help="Rows shown.")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """Records waiting for the MLflow server (attempts, next try, last error), and the latest mirrored."""
    store = _store(spec)
    try:
        counts = store.mirror.status()
        rows = store.mirror.items(status="pending", limit=limit) + store.mirror.items(status="done", limit=limit)
        if json_out:
            print_json(console, {"target": store.mirror.target, **counts.to_dict(), "items": rows})
            return
        target = store.mirror.target or "none configured (tracking.mlflow_uri / SKLOOP_MLFLOW_URI)"
        console.print(
            f"mirror to {escape(target)}: {counts.pending} waiting ({counts.failing} failing), {counts.done} mirrored",
            highlight=False,
        )
        if not rows:
            return
        table = Table(title_justify="left")
        for col in ("kind", "record", "status", "attempts", "next try / done", "MLflow", "last error"):
            table.add_column(col)
        for item in rows:
            state = "failing" if item.failing else item.status
            when = _when(item.done_at if item.status == "done" else item.next_attempt)
            table.add_row(item.kind, escape(item.key), state, str(item.attempts), when, escape(item.remote_id or "-"),
                          escape((item.last_error or "")[:200]))  # fmt: skip
        console.print(table)
    finally:
        store.close()


def _drain(spec: Path, trust: bool, trust_type: list[str] | None, wait: float, *, reset: bool) -> Any:
    from skloop.workflows import drain

    if wait < 0:
        raise UsageError(f"--wait is a number of seconds >= 0, given {wait}")
    store = _store(spec)
    try:
        if reset:
            store.mirror.retry_now()
        return drain(store, trust=caller_trust(spec, trust, trust_type), wait=wait)
    finally:
        store.mirror.recorded = 0  # drained here: no background drainer at exit
        store.close()


@mirror_app.command("retry")
@handle_errors
def retry(
    spec: SpecOpt = Path(SPEC_FILENAME),
    wait: WaitOpt = 0.0,
    trust: TrustOpt = False,
    trust_type: TrustTypeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Try every waiting record now (ignoring its backoff), in this process; exit 1 if some still wait."""
    result = _drain(spec, trust, trust_type, wait, reset=True)
    if json_out:
        print_json(console, result.to_dict())
    else:
        console.print(
            f"mirrored {result.done}, failed {result.failed}, still waiting {result.pending}", highlight=False
        )
        for error in result.errors:
            console.print(f"  [red]{escape(error)}[/]", highlight=False)
    if result.pending:
        raise typer.Exit(EXIT_FAILURE)


@mirror_app.command("drain")
@handle_errors
def drain_cmd(
    spec: SpecOpt = Path(SPEC_FILENAME),
    wait: WaitOpt = 0.0,
    trust: TrustOpt = False,
    trust_type: TrustTypeOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Copy the records that are due (what the background drainer started after a command runs)."""
    result = _drain(spec, trust, trust_type, wait, reset=False)
    if not quiet:
        console.print(
            f"mirrored {result.done}, failed {result.failed}, still waiting {result.pending}", highlight=False
        )


@app.command("import-mlflow")
@handle_errors
def import_mlflow_cmd(
    uri: Annotated[
        str, typer.Argument(help="runs:/RUN_ID/PATH, models:/NAME/VERSION, models:/NAME@ALIAS or a folder.")
    ],
    name: Annotated[str | None, typer.Option("--name", help="The skloop model name (default: MLflow's).")] = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option("--tracking-uri", help="The MLflow server (default: the mirror's, MLFLOW_TRACKING_URI)."),
    ] = None,
    reference: Annotated[
        Path | None,
        typer.Option("--reference", help="A CSV/Parquet table like the training data: the monitor's reference."),
    ] = None,
    spec: SpecOpt = Path(SPEC_FILENAME),
    trust: TrustOpt = False,
    trust_type: TrustTypeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Register an MLflow scikit-learn model (signature, params and metrics of its run) as a skloop version.

    Pickle and cloudpickle models are refused unless --trust: unpickling runs any code they hold.
    """
    import os

    from skloop.workflows import import_mlflow

    settings = _settings_near(spec)
    where = tracking_uri or settings.mlflow_uri or os.environ.get("MLFLOW_TRACKING_URI") or None
    frame = None
    if reference is not None:
        from skloop.data import read_table

        frame = read_table(str(reference), base_dir=None)
    store = _store(spec)
    try:
        result = import_mlflow(uri, store, name=name, trust=caller_trust(spec, trust, trust_type), tracking_uri=where,
                               reference=frame)  # fmt: skip
    finally:
        store.close()
    if json_out:
        print_json(console, result.to_dict())
        return
    v = result.version
    console.print(
        f"[green]imported[/] {escape(uri)} as {escape(v.name)} v{v.version} (run {result.run_id[:8]}, signature from "
        f"{result.signature_from}); serve it with: skloop serve {escape(v.name)} --version {v.version}",
        highlight=False,
    )
