"""``skloop validate``: the CI gate — gates, champion, behaviour and data contract as tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from skloop.cli._app import JsonOpt, SpecOpt, app, console
from skloop.cli._checks import check_out_file
from skloop.cli._errors import EXIT_FAILURE, handle_errors
from skloop.cli._render import print_json
from skloop.cli._trust import TrustOpt, TrustTypeOpt, caller_trust
from skloop.core import SPEC_FILENAME

__all__: list[str] = []

_STATUS = {"pass": "[green]pass[/]", "fail": "[bold red]FAIL[/]", "skip": "[yellow]skip[/]"}


@app.command()
@handle_errors
def validate(
    spec: SpecOpt = Path(SPEC_FILENAME),
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="NAME, NAME/VERSION or NAME@ALIAS (default: the newest version)."),
    ] = None,
    run: Annotated[
        str | None, typer.Option("--run", help="Validate this training run's model instead of a version.")
    ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write a JUnit XML report here.")] = None,
    json_out: JsonOpt = False,
    trust: TrustOpt = False,
    trust_type: TrustTypeOpt = None,
) -> None:
    """Run the spec's gates, the champion comparison, behavioural tests and the data contract as tests.

    Exit 0 when every check passes (skips allowed), 1 when one fails, 2 on a spec or usage error.
    """
    from skloop.workflows import Project, validate_model, write_junit

    check_out_file("--junit", junit, "report.xml")
    with Project.load(spec) as project:
        report = validate_model(
            project.spec, project.settings, store=project.store, ref=model, run_id=run,
            trust=caller_trust(spec, trust, trust_type),
        )  # fmt: skip
    if junit is not None:
        write_junit(report, junit)
    if json_out:
        print_json(console, report.to_dict())
    else:
        table = Table(title=f"skloop validate {report.ref}", title_justify="left")
        for col in ("family", "check", "status", "seconds", "message"):
            table.add_column(col, overflow="fold")
        for check in report.checks:
            table.add_row(
                check.family,
                escape(check.name),
                _STATUS[check.status],
                f"{check.duration_s:.2f}",
                escape(check.message),
            )
        console.print(table)
        counts = report.counts()
        verdict = "[green]all checks pass[/]" if report.passed else f"[bold red]{counts['fail']} checks fail[/]"
        console.print(
            f"{verdict}: {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped "
            f"in {report.duration_s:.1f}s" + (f"; JUnit report: {junit}" if junit is not None else ""),
            highlight=False,
        )
    if not report.passed:
        raise typer.Exit(EXIT_FAILURE)
