"""The ``skloop`` command line: thin over the Python API."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from skloop.cli._checks import check_n_jobs, check_positive
from skloop.cli._errors import EXIT_FAILURE, handle_errors, report, set_debug
from skloop.cli._progress import RichProgress
from skloop.cli._render import print_json, run_detail, runs_table
from skloop.core import SPEC_FILENAME, Settings, UsageError, redact_url, warm_search_workers

__all__ = ["app", "main"]

app = typer.Typer(
    name="skloop",
    help="skloop runs the whole life of a scikit-learn model: spec, search, tracking, reproduction.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Manage the metadata database.", no_args_is_help=True)
app.add_typer(db_app, name="db")

# no automatic highlighting: its regular expressions take minutes on a long line of user text
console = Console(soft_wrap=True, highlight=False)

SpecOpt = Annotated[Path, typer.Option("--spec", "-s", help="The spec file, or a directory holding skloop.yaml.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
ParentOpt = Annotated[
    int | None,
    typer.Option("--parent", help="The version of the model this one is retrained or derived from (its lineage)."),
]


def _project(spec: Path):  # type: ignore[no-untyped-def]
    from skloop.workflows import Project

    return Project.load(spec)


def _settings_near(spec: Path) -> Settings:
    base = spec if spec.is_dir() else spec.resolve().parent
    settings = Settings.from_env(base)
    if settings.mlflow_uri is None:  # the spec's tracking.mlflow_uri, read only where it may be set
        path = spec / SPEC_FILENAME if spec.is_dir() else spec
        try:
            text = path.read_text(encoding="utf-8") if path.is_file() else ""
        except (OSError, UnicodeDecodeError):
            text = ""  # the command that needs the spec reports it
        if "mlflow_uri" in text:
            from skloop.core import load_spec_head  # the URI alone: no pydantic, unless in doubt

            settings = settings.with_overrides(mlflow_uri=load_spec_head(path).mlflow_uri)
    return settings


def _store(spec: Path):  # type: ignore[no-untyped-def]
    from skloop.store import Store

    settings = _settings_near(spec)
    store = Store.open(settings)
    if store.mirror_target is not None:
        store.on_close(lambda: _kick_mirror(store, settings, spec))
    return store


def _kick_mirror(store, settings: Settings, spec: Path) -> None:  # type: ignore[no-untyped-def]
    """After a command that queued records for the MLflow mirror: a background drainer copies them."""
    if store.mirror.recorded:
        store.mirror.recorded = 0
        from skloop.workflows import start_background_drain

        path = spec / SPEC_FILENAME if spec.is_dir() else spec
        start_background_drain(settings, path if path.is_file() else None)


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug messages.")] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="On an unexpected error, print the traceback (for a bug report).")
    ] = False,
) -> None:
    set_debug(debug)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


@app.command()
@handle_errors
def init(
    directory: Annotated[Path | None, typer.Argument(help="Where to write the example (with --example).")] = None,
    example: Annotated[bool, typer.Option("--example", help="Write the bundled churn example.")] = False,
    data: Annotated[Path | None, typer.Option("--data", help="Your CSV or Parquet file.")] = None,
    target: Annotated[str | None, typer.Option("--target", help="The column to predict (with --data).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write the spec (with --data).")] = Path(SPEC_FILENAME),
    rows: Annotated[int, typer.Option("--rows", help="Rows of example data.")] = 5000,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing spec.")] = False,
    ci: Annotated[
        str | None, typer.Option("--ci", help="Also write a CI workflow (github: .github/workflows/skloop.yml).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write a spec: the bundled example (--example DIR) or one inferred from your data (--data --target).

    With --ci github, also write a GitHub Actions workflow that trains, runs `skloop validate` and
    uploads its JUnit report (alone, --ci writes only the workflow, in DIR or here).

    With --data, the id and time columns, suspected leaks (dropped) and numbers with a few bad
    values (made numeric) are printed as warnings (--json: under "findings") and noted in the spec.
    """
    from skloop.workflows import init_ci, init_example, init_from_data

    if (example and data is not None) or (not example and data is None and ci is None):
        raise UsageError("use either --example [DIR] or --data FILE --target COLUMN (and/or --ci github)")
    if data is not None and target is None:
        raise UsageError("--data needs --target COLUMN")
    if ci is not None:
        root = directory or (Path(".") if data is None else out if out.is_dir() else out.parent)
        workflow = init_ci(root, ci, force=force)
        if not json_out:
            console.print(f"wrote [bold]{workflow}[/] (train, validate, upload the JUnit report)")
    if example:
        spec_path = init_example(directory or Path("."), n_rows=rows, force=force)
        console.print(f"wrote [bold]{spec_path}[/] and {spec_path.parent / 'data' / 'churn.csv'} ({rows} rows)")
        console.print(f"next: [bold]cd {spec_path.parent} && skloop train[/]")
    elif data is not None:
        assert target is not None
        result = init_from_data(data, target, out=out, force=force)
        if json_out:
            print_json(console, result.to_dict())
            return
        for finding in result.findings:
            console.print(f"[yellow]warning:[/] {escape(finding.message)}", highlight=False)
        console.print(
            f"wrote [bold]{escape(str(result.spec_path))}[/]; check the inferred feature kinds, "
            "then run [bold]skloop train[/]"
        )


@app.command()
@handle_errors
def train(
    spec: SpecOpt = Path(SPEC_FILENAME),
    n_jobs: Annotated[
        int | None, typer.Option("--n-jobs", "-j", help="Parallel fits (overrides search.n_jobs).")
    ] = None,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
    register: Annotated[
        bool | None, typer.Option("--register/--no-register", help="Register the model (default: registry.enabled).")
    ] = None,
    parent: ParentOpt = None,
) -> None:
    """Cross-validated hyperparameter search on the spec's data, tracked as a run."""
    check_positive("--parent", parent)
    check_n_jobs(n_jobs)
    warm_search_workers(spec, n_jobs)  # the search's workers start while the spec and data are read
    with _project(spec) as project:
        result = project.train(
            progress=RichProgress(console, quiet=quiet or json_out), n_jobs=n_jobs, register=register,
            parent_version=parent,
        )  # fmt: skip
        if json_out:
            print_json(console, {k: v for k, v in vars(result).items() if k != "model"})
            return
        table = Table(
            title=(
                f"run {result.run_id[:8]} of {project.spec.name}: "
                f"{result.n_candidates} candidates in {result.duration_s:.1f}s"
            ),
            title_justify="left",
        )
        for col in ("metric", "CV mean ± std", "folds", "holdout"):
            table.add_column(col)
        for name, summary in result.cv.items():
            mark = " (refit)" if name == result.refit_metric else ""
            folds = " ".join(f"{s:.3f}" for s in summary["folds"])
            hold = result.holdout.get(name)
            table.add_row(
                name + mark,
                f"{summary['mean']:.4f} ± {summary['std']:.4f}",
                folds,
                "-" if hold is None else f"{hold:.4f}",
            )
        console.print(table)
        console.print("best params: " + (", ".join(f"{k}={v}" for k, v in result.best_params.items()) or "(defaults)"))
        if result.positive_class is not None:
            how = "data.positive_class" if project.spec.data.positive_class is not None else "inferred"
            console.print(
                f"positive class: {result.positive_class!r} ({how}; binary f1, precision, recall and "
                "average_precision are about it)",
                highlight=False,
            )
        console.print(f"dataset {result.dataset_fingerprint[:16]}; run id [bold]{result.run_id}[/]")
        if result.model_version is not None:  # registry.enabled: see skloop.cli._registry_cmds
            if result.gate_failures:
                console.print(
                    f"[red]rejected[/]: {'; '.join(result.gate_failures)} "
                    f"({project.spec.name} v{result.model_version} recorded; promote it only with --force)",
                    highlight=False,
                )
            else:
                console.print(f"[green]registered[/] {project.spec.name} v{result.model_version}", highlight=False)


@app.command()
@handle_errors
def runs(
    spec: SpecOpt = Path(SPEC_FILENAME),
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many runs.")] = 20,
    filter_: Annotated[str | None, typer.Option("--filter", help='e.g. "metrics.cv_roc_auc_mean > 0.8"')] = None,
    order_by: Annotated[
        list[str] | None, typer.Option("--order-by", help='e.g. "metrics.cv_roc_auc_mean DESC"')
    ] = None,
    all_projects: Annotated[bool, typer.Option("--all", help="Runs of every project in the store.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """List runs: id, time, status, best params, CV scores (mean ± std)."""
    check_positive("--limit", limit)
    store = _store(spec)
    try:
        store.runs.reap_stale_runs()
        project = None
        if not all_projects:
            from skloop.core import load_spec_head  # the name alone: no pydantic, unless in doubt

            project = load_spec_head(spec).name
        found = store.runs.search_runs(project, filter=filter_, order_by=order_by or ["start_time DESC"], limit=limit)
        if json_out:
            print_json(console, found)
        else:
            console.print(runs_table(found, title=f"runs of {project or 'all projects'} ({len(found)})"))
            if store.mirror_target is not None:
                from skloop.cli._mirror_cmds import mirror_line

                line = mirror_line(store)
                if line:
                    console.print(f"[yellow]{escape(line)}[/]", highlight=False)
    finally:
        store.close()


@app.command()
@handle_errors
def show(
    run_id: Annotated[str, typer.Argument(help="Run id or a unique prefix of it.")],
    spec: SpecOpt = Path(SPEC_FILENAME),
    json_out: JsonOpt = False,
) -> None:
    """Everything recorded for one run."""
    store = _store(spec)
    try:
        run = store.runs.get_run(run_id)
        if json_out:
            data = {
                "run": run,
                "metric_history": {
                    k: store.runs.get_metric_history(run.id, k) for k in sorted(run.metrics) if k.endswith("_fold")
                },
            }
            print_json(console, data)
        else:
            console.print(
                run_detail(run, {d.fingerprint: store.datasets.get_dataset(d.fingerprint) for d in run.datasets})
            )
    finally:
        store.close()


@app.command()
@handle_errors
def datasets(spec: SpecOpt = Path(SPEC_FILENAME), json_out: JsonOpt = False) -> None:
    """Datasets used by runs: fingerprint, source, rows, columns, first and last use."""
    store = _store(spec)
    try:
        found = store.datasets.list_datasets()
        if json_out:
            print_json(console, found)
            return
        table = Table(title=f"datasets ({len(found)})", title_justify="left")
        for col in ("fingerprint", "source", "rows", "cols", "runs", "first use", "last use"):
            table.add_column(col, overflow="fold")
        for d in found:
            table.add_row(
                d.fingerprint[:16],
                d.source,
                f"{d.n_rows:,}",
                str(d.n_columns),
                str(d.n_runs),
                d.first_used.astimezone().strftime("%Y-%m-%d %H:%M") if d.first_used else "-",
                d.last_used.astimezone().strftime("%Y-%m-%d %H:%M") if d.last_used else "-",
            )
        console.print(table)
    finally:
        store.close()


@app.command()
@handle_errors
def reproduce(
    run_id: Annotated[str, typer.Argument(help="Run id or a unique prefix of it.")],
    spec: SpecOpt = Path(SPEC_FILENAME),
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Rerun a run from its data snapshot, spec snapshot and seed; exit 1 unless every CV score matches."""
    from skloop.workflows import reproduce as do_reproduce

    settings = _settings_near(spec)
    store = _store(spec)
    try:
        result = do_reproduce(run_id, settings, store=store, progress=RichProgress(console, quiet=quiet or json_out))
    finally:
        store.close()
    if json_out:
        print_json(console, result)
    elif result.identical:
        console.print(
            f"[green]reproduced[/]: all {result.compared} CV fold scores of run {result.original_run_id[:8]} "
            f"match exactly (new run {result.new_run_id[:8]})"
        )
    else:
        console.print(f"[red]not reproduced[/]: {len(result.mismatches)} of {result.compared} CV fold scores differ")
        for m in result.mismatches[:20]:
            console.print(f"  {m['metric']} fold {m['fold']}: {m['original']!r} -> {m['reproduced']!r}")
    for what, diff in result.differences.items():
        if not json_out:
            console.print(f"  [yellow]{what} differs[/]: {diff}")
    if not result.identical:
        raise typer.Exit(EXIT_FAILURE)


@app.command()
@handle_errors
def register(
    run_id: Annotated[str, typer.Argument(help="A finished training run (id or unique prefix).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only check the gates; exit 1 when one fails.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Register a run that is already a version, as another version.")
    ] = False,
    spec: SpecOpt = Path(SPEC_FILENAME),
    json_out: JsonOpt = False,
    trust_type: Annotated[
        list[str] | None, typer.Option("--trust-type", help="A dotted type the skops loader may instantiate.")
    ] = None,
    parent: ParentOpt = None,
) -> None:
    """Register a training run's model (after checking the spec's gates), as `skloop train` does.

    A run is registered once: registering it again is an error naming its version, unless --force.
    """
    from skloop.cli._trust import caller_trust
    from skloop.workflows import register_run

    check_positive("--parent", parent)
    if parent is not None and dry_run:
        raise UsageError("--parent is recorded with the version that --dry-run does not make; drop one of them")
    store = _store(spec)
    try:
        outcome = register_run(
            run_id,
            _settings_near(spec),
            store=store,
            dry_run=dry_run,
            force=force,
            trust=caller_trust(spec, False, trust_type),
            parent_version=parent,
        )
    finally:
        store.close()
    if json_out:
        print_json(console, outcome)
    elif dry_run:
        verdict = (
            "[green]all gates pass[/]" if outcome.passed else "[red]gates fail[/]: " + "; ".join(outcome.gate_failures)
        )
        console.print(f"run {outcome.run_id[:8]} of {outcome.name}: {verdict}")
    elif outcome.passed:
        console.print(f"registered {outcome.name} v{outcome.version} from run {outcome.run_id[:8]}")
    else:
        console.print(
            f"[yellow]rejected[/]: {'; '.join(outcome.gate_failures)} ({outcome.name} v{outcome.version} recorded)"
        )
    if dry_run and not outcome.passed:
        raise typer.Exit(EXIT_FAILURE)


@db_app.command("upgrade")
@handle_errors
def db_upgrade(spec: SpecOpt = Path(SPEC_FILENAME)) -> None:
    """Bring the metadata database's schema up to date (Alembic migrations)."""
    from skloop.store import current_revision, upgrade_database

    settings = _settings_near(spec)
    before = current_revision(settings.store_url)
    upgrade_database(settings.store_url)
    console.print(
        f"database {redact_url(settings.store_url)}: {before or 'empty'} -> {current_revision(settings.store_url)}"
    )


@db_app.command("prune")
@handle_errors
def db_prune(
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than", help="Delete predictions older than this (90d, 12w); default: monitoring.retention."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")] = False,
    json_out: JsonOpt = False,
    spec: SpecOpt = Path(SPEC_FILENAME),
) -> None:
    """Delete old logged predictions and their labels, in batches; rows open loop decisions need are kept."""
    from skloop.core import load_spec
    from skloop.workflows import prune_log

    path = spec / SPEC_FILENAME if spec.is_dir() else spec
    project_spec = load_spec(path) if path.is_file() else None
    store = _store(spec)
    try:
        result = prune_log(store, project_spec, older_than=older_than, dry_run=dry_run)
    finally:
        store.close()
    if json_out:
        print_json(console, result.to_dict())
        return
    verb = "would delete" if dry_run else "deleted"
    table = Table(title=f"predictions made before {result.cutoff:%Y-%m-%d %H:%M} UTC")
    table.add_column("model")
    table.add_column(f"predictions {verb}", justify="right")
    for name, n in sorted(result.models.items()):
        table.add_row(escape(name), f"{n:,}")
    if result.models:
        console.print(table)
    console.print(
        f"{verb} {result.predictions:,} predictions and {result.labels:,} labels"
        + (f"; kept {result.kept:,} older ones that open loop decisions read" if result.kept else "")
        + (" (dry run: nothing deleted)" if dry_run else "")
    )


@app.command()
@handle_errors
def demo(
    keep: Annotated[
        Path | None, typer.Option("--dir", help="Run in this directory instead of a temporary one.")
    ] = None,
    rows: Annotated[int, typer.Option("--rows", help="Rows of training data.")] = 4000,
) -> None:
    """The whole loop on the bundled example: train, register, promote, serve, drift, retrain, promote, report."""
    from skloop.workflows import run_demo

    workdir = keep or Path(tempfile.mkdtemp(prefix="skloop-demo-"))
    console.rule("[bold]skloop demo: the whole loop")
    console.print(f"project in [bold]{workdir}[/]")
    old_env = {k: os.environ.pop(k) for k in ("SKLOOP_STORE_URL", "SKLOOP_ARTIFACT_ROOT") if k in os.environ}
    section = [""]

    def tell(where: str, text: str) -> None:
        if where != section[0]:
            console.rule(where)
            section[0] = where
        console.print(f"  {escape(text)}", highlight=False)

    try:
        result = run_demo(workdir, rows=rows, tell=tell, progress=RichProgress(console))
    finally:
        os.environ.update(old_env)
    console.rule("[bold]summary")
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    aucs = result.auc_by_chunk
    table.add_row("first champion", f"v{result.first_version}")
    table.add_row("traffic", f"{result.served_rows} rows served and logged, {result.labelled_rows} labels joined")
    table.add_row("live roc_auc", " → ".join(f"{a:.2f}" for a in aucs) + "  (by chunk, as the data shifted)")
    table.add_row("drifted features", ", ".join(result.drifted_features) or "none")
    table.add_row("decision", f"{result.decision_outcome}: {result.decision_reason}")
    table.add_row("champion now", f"v{result.champion_after}; the server answers with {result.served_after}")
    table.add_row("report", str(result.report_path))
    table.add_row("took", f"{result.seconds:.0f} s")
    console.print(table)
    console.print(f"try: cd {workdir} && skloop runs && skloop models churn && skloop decisions churn")
    if result.decision_outcome != "promoted":
        raise typer.Exit(EXIT_FAILURE)


def main() -> None:
    """Entry point of the ``skloop`` command.

    Every command reports its own errors (``handle_errors``); this catches what happens
    around them (the options callback, Typer itself), so that no error of any kind ends
    in a raw traceback. Only the module and the command that the arguments name are
    loaded and built (:func:`skloop.cli._commands.run`).
    """
    from skloop.cli._commands import run

    try:
        run(app, sys.argv[1:])  # loads and builds only the command named, or all of them
    except SystemExit:
        raise
    except (Exception, KeyboardInterrupt) as exc:
        sys.exit(report(exc))
