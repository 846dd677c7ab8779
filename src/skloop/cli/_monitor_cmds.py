"""Monitor commands: ``monitor`` (drift, quality, performance; exit 3 on drift) and ``explain``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import typer
from rich.markup import escape
from rich.table import Table

from skloop.cli._app import JsonOpt, SpecOpt, _settings_near, _store, app, console
from skloop.cli._checks import check_out_file
from skloop.cli._dask_opts import DaskOpt, SchedulerOpt, dask_cluster
from skloop.cli._errors import EXIT_DRIFT, handle_errors
from skloop.cli._render import print_json
from skloop.cli._trust import TrustOpt, TrustTypeOpt, caller_trust
from skloop.core import SPEC_FILENAME, SkloopError, UsageError

__all__ = ["EXIT_DRIFT"]  # exits with this when the dataset drifted (defined with the other codes)


def _ref(name: str, alias: str | None, version: int | None) -> str:
    if alias is not None and version is not None:
        raise UsageError("give --alias or --version, not both")
    if version is not None:
        return f"{name}/{version}"
    return f"{name}@{alias or 'champion'}" if "@" not in name and "/" not in name else name


@app.command()
@handle_errors
def monitor(
    name: Annotated[str, typer.Argument(help="The model (NAME, or NAME@ALIAS / NAME/VERSION).")],
    alias: Annotated[str | None, typer.Option("--alias", "-a", help="Alias to monitor (default: champion).")] = None,
    version: Annotated[int | None, typer.Option("--version", help="A version number instead of an alias.")] = None,
    current: Annotated[
        str | None,
        typer.Option("--current", help="New data (CSV/Parquet) to check (with --dask: Parquet, or an fsspec URL)."),
    ] = None,
    reference: Annotated[
        Path | None, typer.Option("--reference", help="Compare with this file (default: the training data).")
    ] = None,
    from_log: Annotated[bool, typer.Option("--from-log", help="Check the served predictions instead.")] = False,
    shadow: Annotated[
        bool,
        typer.Option(
            "--shadow",
            help="Also compare the shadow model's logged outputs (skloop serve --shadow) with the served ones "
            "on the same requests (implies --from-log).",
        ),
    ] = False,
    since: Annotated[str | None, typer.Option("--since", help="With --from-log: the last 7d, 12h, ...")] = None,
    window: Annotated[
        str | None,
        typer.Option("--window", help="Also per window: 1d, 6h (aligned on the Unix epoch, UTC), or a row count."),
    ] = None,
    period: Annotated[
        str | None,
        typer.Option("--period", help="Also per calendar period (UTC): day, week, month, quarter, year."),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option("--tz", help="With --period: cut the calendar periods in this time zone (e.g. Europe/Paris)."),
    ] = None,
    judge_partial: Annotated[
        bool,
        typer.Option("--judge-partial", help="Judge partial first/last windows like full ones (default: marked only)."),
    ] = False,
    time_column: Annotated[
        str | None,
        typer.Option("--time-column", help="With --current: the column to cut by (default: the spec's data.time)."),
    ] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write the HTML report here.")] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the JSON report here ('-' prints it).")
    ] = None,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap resamples of the intervals.")] = 200,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not keep the report in the store (the UI's monitoring page).")
    ] = False,
    multivariate: Annotated[
        bool | None,
        typer.Option(
            "--multivariate/--no-multivariate",
            help="Also multivariate drift (PCA reconstruction error, domain classifier), overall and per window; "
            "default: the training spec's monitoring.multivariate.enabled.",
        ),
    ] = None,
    use_dask: DaskOpt = None,
    scheduler: SchedulerOpt = None,
    spec: SpecOpt = Path(SPEC_FILENAME),
    trust: TrustOpt = False,
    trust_type: TrustTypeOpt = None,
) -> None:
    """Drift, data quality and performance of a model's new data; exit 3 when the dataset drifted.

    Exit 3 also when multivariate drift (``--multivariate``) fired over the whole data.

    The report is kept in the store (see it with ``skloop ui``) unless ``--no-store``.
    """
    from skloop.monitor import render_report_html
    from skloop.workflows import monitor_model, save_report

    if shadow and current is not None:
        raise UsageError("--shadow compares the outputs logged by the server; drop --current (it implies --from-log)")
    from_log = from_log or shadow
    if current is None and not from_log:
        raise UsageError("give --current FILE, or --from-log to check the served predictions")
    if current is not None and from_log:
        raise UsageError("give either --current FILE or --from-log, not both")
    if since is not None and not from_log:
        raise UsageError("--since applies to --from-log")
    if window is not None and period is not None:
        raise UsageError("give --window (a duration or a row count) or --period (a calendar period), not both")
    if period is not None:
        _check_period(period)
    if tz is not None:
        _check_tz(tz, period)
    if judge_partial and window is None and period is None:
        raise UsageError("--judge-partial applies to windows: give --window or --period")
    if time_column is not None and current is None:
        raise UsageError("--time-column applies to --current; the log is cut by its prediction time")
    check_out_file("--report", report, "report.html")
    check_out_file("--json", json_path, "report.json")
    if (use_dask or scheduler) and (from_log or window is not None or period is not None):
        from skloop.workflows._monitor_dask import FROM_LOG_ON_DASK, WINDOW_ON_DASK

        raise UsageError(FROM_LOG_ON_DASK if from_log else WINDOW_ON_DASK)
    store = _store(spec)
    try:
        with dask_cluster(use_dask, scheduler, _settings_near(spec), current) as cluster:
            result = monitor_model(
                store, _ref(name, alias, version), _settings_near(spec), current=current, reference=reference,
                from_log=from_log, since=since, window=window, period=period, judge_partial=judge_partial,
                time_column=time_column, n_boot=n_boot, tz=tz,
                trust=caller_trust(spec, trust, trust_type), dask=cluster, multivariate=multivariate,
                shadow=shadow,
            )  # fmt: skip
        stored = None
        if not no_store:
            source = f"log (last {since})" if from_log and since else "log" if from_log else str(current)
            kind = "log" if from_log else "file"
            stored = save_report(store, result, source_kind=kind, source=source, window=window or period)
    finally:
        store.close()
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(render_report_html(result), encoding="utf-8")
    if json_path is not None and str(json_path) == "-":
        print_json(console, result.to_dict())
    else:
        if json_path is not None:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps(result.to_dict(), indent=1, allow_nan=False), encoding="utf-8")
        _print_summary(result, report, json_path)
        if stored is not None:
            page = f"/models/{quote(stored.name, safe='')}/monitoring"
            console.print(f"stored as report {stored.id[:8]} (skloop ui: {escape(page)})", highlight=False)
    if result.drifted or (result.multivariate is not None and result.multivariate.drifted):
        raise typer.Exit(EXIT_DRIFT)


def _print_summary(result: object, report: Path | None, json_path: Path | None) -> None:
    from skloop.monitor import MonitorReport

    assert isinstance(result, MonitorReport)
    color = "red" if result.drifted else "green"
    console.print(f"[bold {color}]{escape(result.verdict())}[/]", highlight=False)
    table = Table(title=f"{result.model}: features by importance x drift", title_justify="left")
    for col in ("feature", "drifted", "test", "statistic", "p-value", "threshold", "importance"):
        table.add_column(col)
    for row in result.ranking()[:15]:
        f = result.drift[row["name"]]
        table.add_row(
            escape(f.name), "[red]yes[/]" if f.drifted else "no", f.method, f"{f.statistic:.4f}",
            "-" if f.p_value is None else f"{f.p_value:.4g}", f"{f.threshold:g}", f"{row['importance']:.4f}",
        )  # fmt: skip
    console.print(table)
    for f in result.drift.features:
        if f.oov_rate is not None:  # a text column: its vocabulary drift
            new = f"; new terms: {', '.join(f.new_terms)}" if f.new_terms else ""
            console.print(
                f"text {escape(f.name)}: {'[red]drifted[/]' if f.drifted else 'no drift'}: out of vocabulary "
                f"{f.oov_rate:.1%} (threshold {f.oov_threshold:.0%}), Jensen–Shannon {f.statistic:.3f} "
                f"(threshold {f.threshold:.3g}) over {f.n_current:,} tokens{escape(new)}",
                highlight=False,
            )
    for label, perf in (("realised", result.performance), ("estimated", result.estimate)):
        if perf is None:
            if label == "estimated" and result.estimate_reason:
                console.print(f"estimated: not available: {escape(result.estimate_reason)}", highlight=False)
            continue
        parts = []
        for m in perf.metrics:
            if m.value is None:
                continue
            text = f"{m.name} {m.value:.3f}"
            if m.lower is not None and m.upper is not None:
                text += f" [{m.lower:.3f}, {m.upper:.3f}]"
            if m.change is not None:
                text += f" ({m.change:+.3f})"
            if m.band is not None:
                text += f" band {m.band[0]:.3f}–{m.band[1]:.3f}" + (" [red]outside[/]" if m.outside_band else "")
            parts.append(text)
        console.print(f"{label} ({perf.n_rows:,} rows): " + "; ".join(parts), highlight=False)
    _print_multivariate(result)
    alerts = result.performance_alerts()
    if alerts:
        console.print(f"[red]performance alerts: {escape(', '.join(alerts))}[/]", highlight=False)
    if result.windows is not None:
        _print_windows(result.windows)
    if result.shadow is not None:
        _print_shadow(result.shadow)
    for path, what in ((report, "HTML report"), (json_path, "JSON report")):
        if path is not None:
            console.print(f"{what}: {escape(str(path))}", highlight=False)


def _check_period(period: str) -> None:
    from skloop.monitor import parse_period

    try:
        parse_period(period, option="--period")
    except SkloopError as exc:
        raise UsageError(str(exc)) from None


def _check_tz(tz: str, period: str | None) -> None:
    from skloop.monitor import window_cut

    if period is None:
        raise UsageError(
            "--tz applies to calendar periods: give --period day (week, month, ...) with it; "
            "--window durations are aligned on the Unix epoch in UTC"
        )
    try:
        window_cut(period=period, tz=tz)
    except SkloopError as exc:
        raise UsageError(str(exc).replace("tz ", "--tz ", 1).replace("a time zone (", "--tz (", 1)) from None


def _print_windows(ws: object) -> None:
    """One line on the windows (how many, drifted, partial, rows in none), then those with performance alerts."""
    from skloop.monitor import WindowSeries

    assert isinstance(ws, WindowSeries)
    judged = ws.judged
    line = f"windows ({ws.window}): {len(ws)}, {sum(w.drifted for w in judged)} drifted"
    if ws.partial:
        state = "judged" if ws.judge_partial else "not judged"
        line += f"; partial ({state}): " + ", ".join(f"{w.name} ({100 * w.coverage:.0f}%)" for w in ws.partial)
    if ws.n_without_time:
        line += f"; {ws.n_without_time:,} rows without a time (in no window)"
    console.print(escape(line), highlight=False)
    flagged = [w for w in judged if w.alerts()]
    if flagged:
        shown = ", ".join(f"{w.index} {w.name} ({'; '.join(w.alerts())})" for w in flagged[:5])
        more = f" and {len(flagged) - 5} more" if len(flagged) > 5 else ""
        console.print(f"[red]windows with performance alerts: {escape(shown)}{more}[/]", highlight=False)
    unjudged = [w for w in ws.windows if not w.judged and w.alerts()]
    if unjudged:
        shown = ", ".join(f"{w.name} ({'; '.join(w.alerts())})" for w in unjudged)
        console.print(f"partial windows' alerts, not judged (--judge-partial to judge): {escape(shown)}",
                      highlight=False)  # fmt: skip


def _print_multivariate(result: object) -> None:
    """One line: the multivariate result over the whole data, and the windows where it fired."""
    from skloop.monitor import MonitorReport, multivariate_text

    assert isinstance(result, MonitorReport)
    if result.multivariate is None:
        return
    mv = result.multivariate
    line = (
        ("[red]" if mv.drifted else "")
        + f"multivariate: {escape(multivariate_text(mv))}"
        + ("[/]" if mv.drifted else "")
    )
    if result.windows is not None:
        fired = [w.index for w in result.windows.windows if w.multivariate is not None and w.multivariate.drifted]
        n = sum(w.multivariate is not None for w in result.windows.windows)
        line += f"; fired in {len(fired)} of {n} windows" + (f" ({', '.join(map(str, fired[:10]))})" if fired else "")
    console.print(line, highlight=False)


def _print_shadow(shadow: object) -> None:
    from skloop.monitor import ShadowReport

    assert isinstance(shadow, ShadowReport)
    color = "green" if shadow.better else "yellow" if shadow.drifted else "default"
    console.print(f"[bold]shadow against served[/] [{color}]{escape(shadow.conclusion())}[/]", highlight=False)
    if shadow.confusion and len(shadow.classes) <= 12:
        table = Table(title="pairs: served label (rows) x shadow label (columns)", title_justify="left")
        table.add_column("served \\ shadow")
        for c in shadow.classes:
            table.add_column(escape(c), justify="right")
        for c, row in zip(shadow.classes, shadow.confusion, strict=True):
            table.add_row(escape(c), *(f"{n:,}" for n in row))
        console.print(table)
    if shadow.drift:
        parts = [
            f"{escape(f.name)}: {f.method} {f.statistic:.4g}" + ("" if f.p_value is None else f" p={f.p_value:.3g}")
            + (" [red]drifted[/]" if f.drifted else "") for f in shadow.drift
        ]  # fmt: skip
        console.print(f"output drift ({shadow.n_drift_rows:,} pairs): " + "; ".join(parts), highlight=False)
    for label, perf in (("served", shadow.served_performance), ("shadow", shadow.shadow_performance)):
        if perf is None:
            continue
        values = "; ".join(f"{m.name} {m.value:.4f}" for m in perf.metrics if m.value is not None)
        console.print(f"{label} realised ({perf.n_rows:,} labelled rows): {values}", highlight=False)
    if shadow.windows is not None and shadow.windows.windows:
        _print_shadow_windows(shadow.windows)


def _print_shadow_windows(ws: object) -> None:
    """The shadow per window: pairs, agreement (or difference), output drift, both metrics and the verdict."""
    from skloop.monitor import ShadowWindowSeries

    assert isinstance(ws, ShadowWindowSeries)
    regression = all(w.agreement is None for w in ws.windows)
    table = Table(title=f"shadow against served per {escape(ws.window)}", title_justify="left")
    for col in ("window", "observed", "pairs", "mean |diff|" if regression else "agreement", "output drift",
                "labelled", "served", "shadow", "shadow better"):  # fmt: skip
        table.add_column(col)
    for w in ws.windows:
        value = w.mean_abs_difference if regression else w.agreement
        shown = "-" if value is None else f"{value:.4g}" if regression else f"{100 * value:.1f}%"
        c = w.comparison
        table.add_row(
            escape(w.name), f"{100 * w.coverage:.0f}%" + (" partial" if w.partial else ""), f"{w.n_shadowed:,}",
            shown, "[red]yes[/]" if w.drifted else "no", f"{w.n_labelled:,}",
            "-" if c is None or c.champion is None else f"{c.metric} {c.champion:.4f}",
            "-" if c is None or c.challenger is None else f"{c.metric} {c.challenger:.4f}",
            "-" if c is None else "[green]yes[/]" if c.better else "no",
        )  # fmt: skip
    console.print(table)


@app.command()
@handle_errors
def explain(
    name: Annotated[str, typer.Argument(help="The model (NAME, or NAME@ALIAS / NAME/VERSION).")],
    data: Annotated[Path, typer.Option("--data", help="Rows to explain (CSV/Parquet).")],
    alias: Annotated[str | None, typer.Option("--alias", "-a", help="Alias (default: champion).")] = None,
    version: Annotated[int | None, typer.Option("--version", help="A version number instead of an alias.")] = None,
    top: Annotated[int, typer.Option("--top", "-k", help="Columns shown per row.")] = 5,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Rows shown in the table.")] = 20,
    class_: Annotated[
        str | None,
        typer.Option("--class", help="The class whose output is explained (default: a binary model's positive class)."),
    ] = None,
    spec: SpecOpt = Path(SPEC_FILENAME),
    json_out: JsonOpt = False,
    trust: TrustOpt = False,
    trust_type: TrustTypeOpt = None,
) -> None:
    """Per-row contributions of each input column to a tree or linear model's output (trees need the explain extra)."""
    from skloop.workflows import explain_model

    store = _store(spec)
    try:
        found, explanation = explain_model(
            store, _ref(name, alias, version), data, trust=caller_trust(spec, trust, trust_type), class_=class_
        )
    finally:
        store.close()
    if json_out:
        print_json(console, {"model": found.ref, **explanation.to_dict()})
        return
    table = Table(
        title=f"{found.ref}: {explanation.output} = {explanation.expected_value:.4f} (expected) + contributions",
        title_justify="left",
    )
    table.add_column("row")
    table.add_column("output")
    table.add_column(f"top {top} columns (contribution)")
    tops = explanation.top(top)
    for i in range(min(limit, len(tops))):
        cells = ", ".join(f"{escape(c)} {v:+.4f}" for c, v in tops[i])
        index = explanation.index[i] if explanation.index else i
        table.add_row(escape(str(index)), f"{explanation.predictions[i]:.4f}", cells)
    console.print(table)
    if len(tops) > limit:
        console.print(f"... {len(tops) - limit} more rows (use --json for all)")
