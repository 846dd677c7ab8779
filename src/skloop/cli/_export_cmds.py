"""Export and batch-scoring commands: ``export`` and ``predict``."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from skloop.cli._app import QuietOpt, SpecOpt, _settings_near, _store, app, console
from skloop.cli._checks import check_out_file, check_positive
from skloop.cli._dask_opts import DaskOpt, SchedulerOpt, dask_cluster
from skloop.cli._errors import handle_errors
from skloop.cli._progress import RichProgress
from skloop.cli._trust import TrustOpt, TrustTypeOpt, caller_trust
from skloop.core import SPEC_FILENAME, UsageError

__all__: list[str] = []

SAMPLE_ROWS = 1000
"""Rows of the training data used for the ONNX parity check (and 5 as MLflow's example)."""


class ExportFormat(StrEnum):
    mlflow = "mlflow"
    onnx = "onnx"
    kubeflow = "kubeflow"
    docker = "docker"
    kserve = "kserve"


_NUMBER = re.compile(r"v?(\d+)")


def _ref(name: str, version: int | None, format_: ExportFormat) -> str:
    """The model reference of ``NAME VERSION``, ``NAME@VERSION``, ``NAME@ALIAS`` or ``NAME/VERSION``."""
    if version is not None:
        return f"{name}/{version}"
    model, at, tail = name.partition("@")
    if at and model and tail:
        number = _NUMBER.fullmatch(tail)
        return f"{model}/{int(number.group(1))}" if number else name
    if "/" in name:
        return name
    raise UsageError(
        f"--format {format_.value} needs a version: NAME VERSION, NAME@VERSION or NAME@ALIAS, "
        f"e.g. skloop export {name}@champion --format {format_.value}"
    )


def _spec_path(spec: Path) -> Path:
    return spec / SPEC_FILENAME if spec.is_dir() else spec


def _sample(spec: Path, sample: Path | None, rows: int) -> Any:
    """Rows for the parity check / input example: --sample, else the spec's training data."""
    from skloop.core import load_spec
    from skloop.data import read_table

    if sample is not None:
        source: Any = sample
        base = None
    else:
        path = _spec_path(spec)
        if not path.is_file():
            return None
        source, base = load_spec(path).data.train, path.resolve().parent
    # The training data fits in memory by design; read_table closes its file (stopping
    # iter_batches early leaves a CSV reader open).
    frame = read_table(source, base_dir=base)
    return frame.head(rows) if len(frame) else None


def _load(spec: Path, ref: str, trust: bool, trust_type: list[str] | None) -> tuple[Any, Any]:
    """The model version entity and the loaded model of ``ref``, with the caller's trust."""
    from skloop.registry import Registry

    store = _store(spec)
    try:
        registry = Registry(store)
        version = registry.resolve(ref)
        return version, registry.load_model(version.ref, trust=caller_trust(spec, trust, trust_type))
    finally:
        store.close()


@app.command("export")
@handle_errors
def export(
    name: Annotated[
        str | None, typer.Argument(help="The model: NAME (then VERSION), NAME@VERSION or NAME@ALIAS (not kubeflow).")
    ] = None,
    version: Annotated[int | None, typer.Argument(help="Model version, after NAME.")] = None,
    format_: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="mlflow, onnx, docker, kserve or kubeflow.")
    ] = ExportFormat.mlflow,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory (mlflow, docker) or file (onnx, kserve, kubeflow).")
    ] = Path("export"),
    spec: SpecOpt = Path(SPEC_FILENAME),
    sample: Annotated[
        Path | None,
        typer.Option("--sample", help="CSV/Parquet rows for the ONNX parity check (default: training data)."),
    ] = None,
    atol: Annotated[
        float, typer.Option("--atol", "--tolerance", help="ONNX parity: absolute tolerance of each value.")
    ] = 1e-5,
    rtol: Annotated[
        float, typer.Option("--rtol", help="ONNX parity: tolerance relative to the output's largest |value|.")
    ] = 1e-5,
    image: Annotated[
        str | None, typer.Option("--image", help="Container image of the Kubeflow steps, or of the KServe predictor.")
    ] = None,
    package: Annotated[
        str | None,
        typer.Option(
            "--package",
            help="pip requirement (or, for docker, a local .whl) installing skloop in the image "
            "(default: skloop; docker: skloop==the version the run recorded).",
        ),
    ] = None,
    base_image: Annotated[
        str | None, typer.Option("--base-image", help="docker: FROM image (default python:X.Y-slim of the run).")
    ] = None,
    runtime: Annotated[str, typer.Option("--runtime", help="kserve: skloop (the docker image) or mlflow.")] = "skloop",
    storage_uri: Annotated[
        str | None, typer.Option("--storage-uri", help="kserve --runtime mlflow: where the MLflow model is uploaded.")
    ] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", help="kserve: the Kubernetes namespace.")] = None,
    secret: Annotated[
        str | None,
        typer.Option("--secret", help="kserve: Secret whose store-url, artifact-root, token keys set SKLOOP_*."),
    ] = None,
    trust: TrustOpt = False,
    trust_type: TrustTypeOpt = None,
) -> None:
    """Export a model version to MLflow, ONNX, a Docker build context or KServe, or the spec's
    training workflow to Kubeflow Pipelines.

    The version is NAME VERSION, NAME@VERSION or NAME@ALIAS (resolved now: the export holds
    one version).
    """
    from skloop.registry import KUBEFLOW_IMAGE, export_kubeflow, export_mlflow, export_onnx

    if format_ not in (ExportFormat.mlflow, ExportFormat.docker):  # those two are directories
        files = {ExportFormat.onnx: "model.onnx", ExportFormat.kserve: "inferenceservice.yaml"}
        check_out_file("--out", out, files.get(format_, "pipeline.yaml"))
    if format_ is ExportFormat.kubeflow:
        if name is not None:
            raise UsageError("--format kubeflow exports the spec's workflow; give no NAME VERSION")
        path = export_kubeflow(_spec_path(spec), out, image=image or KUBEFLOW_IMAGE, package=package or "skloop")
        console.print(f"wrote Kubeflow pipeline [bold]{path}[/] (train → evaluate → register)")
        return
    if name is None:
        raise UsageError(f"--format {format_.value} needs a model: NAME VERSION, NAME@VERSION or NAME@ALIAS")
    ref = _ref(name, version, format_)
    if format_ in (ExportFormat.docker, ExportFormat.kserve):
        _deploy(format_, spec, ref, out, package=package, base_image=base_image, image=image, runtime=runtime,
                storage_uri=storage_uri, namespace=namespace, secret=secret)  # fmt: skip
        return
    model_version, model = _load(spec, ref, trust, trust_type)
    rows = _sample(spec, sample, SAMPLE_ROWS)
    if format_ is ExportFormat.mlflow:
        example = rows.head(5) if rows is not None else None
        path = export_mlflow(model, out, signature=model_version.signature, input_example=example)
        console.print(f"wrote MLflow model [bold]{path}[/] (load with mlflow.pyfunc.load_model)")
        return
    if rows is None:
        raise UsageError("ONNX export needs rows for the parity check: pass --sample FILE or run next to the spec")
    report = export_onnx(model, out, sample=rows, signature=model_version.signature, atol=atol, rtol=rtol)
    console.print(
        f"wrote ONNX model [bold]{report.path}[/]: {report.output} max |Δ| = {report.max_abs_diff:.2e} "
        f"(atol {report.atol:g}), max |Δ| / scale = {report.max_rel_diff:.2e} (rtol {report.rtol:g}) "
        f"over {report.n_rows} rows, {len(report.inputs)} inputs"
    )


def _deploy(format_: ExportFormat, spec: Path, ref: str, out: Path, **options: Any) -> None:
    """``--format docker`` (a build context serving the version) or ``--format kserve`` (its manifests)."""
    from skloop.registry import Registry, export_docker, export_kserve

    store = _store(spec)
    try:
        registry = Registry(store)
        if format_ is ExportFormat.docker:
            ctx = export_docker(registry, ref, out, package=options["package"], base_image=options["base_image"])
            console.print(
                f"wrote Docker context [bold]{escape(str(ctx.path))}[/] serving {ctx.bundle.ref} "
                f"(artifact sha256 {ctx.bundle.artifact_sha256[:12]}…, {ctx.base_image}, "
                f"{len(ctx.requirements)} requirements)",
                highlight=False,
            )
            console.print(f"  docker build -t {ctx.tag} {escape(str(ctx.path))}", highlight=False)
            return
        kserve = {k: options[k] for k in ("runtime", "image", "storage_uri", "namespace", "secret")}
        path = export_kserve(registry, ref, out, **kserve)
        version = registry.resolve(ref)
    finally:
        store.close()
    console.print(
        f"wrote KServe manifests [bold]{escape(str(path))}[/] for {version.ref} (runtime {options['runtime']}, "
        f"protocol v2): kubectl apply -f {escape(str(path))}",
        highlight=False,
    )


@app.command()
@handle_errors
def predict(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    data: Annotated[
        str, typer.Option("--data", "-d", help="CSV or Parquet file to score (with --dask: Parquet, or an fsspec URL).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Parquet file of predictions.")],
    alias: Annotated[
        str | None, typer.Option("--alias", "-a", help="Score with the version under this alias (default: champion).")
    ] = None,
    version: Annotated[int | None, typer.Option("--version", help="Score with this version.")] = None,
    keep: Annotated[list[str] | None, typer.Option("--keep", help="Input column copied to the output.")] = None,
    keep_id: Annotated[
        bool, typer.Option("--keep-id/--no-keep-id", help="Copy the spec's id column (data.id) to the output.")
    ] = True,
    batch_rows: Annotated[int, typer.Option("--batch-rows", help="Rows per chunk.")] = 65536,
    log: Annotated[
        bool, typer.Option("--log", help="Also log the predictions (like served ones) and ingest them, for monitoring.")
    ] = False,
    log_dir: Annotated[
        Path | None, typer.Option("--log-dir", help="The prediction log folder (default: .skloop/predictions).")
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Fail (exit 1, no output) on a row the model's signature refuses, "
            "instead of scoring the others and writing the refused rows to OUT_STEM.rejected.csv.",
        ),
    ] = False,
    use_dask: DaskOpt = None,
    scheduler: SchedulerOpt = None,
    spec: SpecOpt = Path(SPEC_FILENAME),
    quiet: QuietOpt = False,
    trust: TrustOpt = False,
    trust_type: TrustTypeOpt = None,
) -> None:
    """Score a file with model NAME (--alias, default champion, or --version): Parquet out, or CSV for --out *.csv.

    The output keeps the spec's id column; with --log it also has the run's ``request_id``,
    which with ``row`` keys labels to the logged predictions (``labels ingest --request-id-column``).
    Rows the model's signature refuses are set aside with their reasons in a CSV next to
    the output (scores.parquet -> scores.rejected.csv); --strict fails instead.
    """
    from skloop.workflows import predict_batch

    if alias is not None and version is not None:
        raise UsageError("give --alias ALIAS or --version N, not both")
    check_positive("--batch-rows", batch_rows)
    check_out_file("--out", out, "predictions.parquet")
    ref = f"{name}/{version}" if version is not None else f"{name}@{alias or 'champion'}"
    model_version, model = _load(spec, ref, trust, trust_type)
    folder = _prediction_log_dir(spec, log_dir) if log else None
    with dask_cluster(use_dask, scheduler, _settings_near(spec), data) as cluster:
        result = predict_batch(
            model,
            model_version.signature,
            data,
            out,
            model_ref=ref,
            model_version=model_version.version,
            model_sha256=model_version.artifact_sha256,
            batch_rows=batch_rows,
            keep_columns=keep or (),
            progress=RichProgress(console, quiet=quiet),
            log_dir=folder,
            model_name=name,
            id_column=_id_column(spec, model_version) if log or keep_id else None,
            keep_id=keep_id,
            strict=strict,
            dask=cluster,
        )
    flagged = _flagged_summary(result.flagged, result.flagged_columns)
    if result.rejected:
        first = result.bad_rows[0]
        console.print(
            f"scored {result.rows} rows, {result.rejected} rejected → [bold]{result.rejected_path}[/]; "
            f"predictions of {name} v{model_version.version} in [bold]{result.out_path}[/]{flagged}"
        )
        console.print(
            f"first rejected: row {first.row}, column {first.column!r}: {first.reason} (--strict fails instead)"
        )
    else:
        console.print(
            f"scored {result.rows} rows with {name} v{model_version.version} into [bold]{result.out_path}[/]{flagged}"
        )
    if folder is not None:
        from skloop.serve import ingest_once

        store = _store(spec)
        try:
            stored = ingest_once(folder, store)
        finally:
            store.close()
        console.print(f"logged {result.logged} predictions as request {result.request_id}; {stored} new in the store")


def _flagged_summary(flagged: int, by_column: dict[str, int], shown: int = 4) -> str:
    """``, 5 rows flagged (region 4, age 1)``: which columns the flags are in (values
    unseen in training, outside its range, or missing and filled in)."""
    if not flagged:
        return ""
    columns = ", ".join(f"{escape(c)} {n}" for c, n in list(by_column.items())[:shown])
    more = f", {len(by_column) - shown} more columns" if len(by_column) > shown else ""
    return f", {flagged} row{'s' if flagged != 1 else ''} flagged ({columns}{more})"


def _prediction_log_dir(spec: Path, log_dir: Path | None) -> Path:
    from skloop.serve import default_log_dir

    return log_dir if log_dir is not None else default_log_dir(_settings_near(spec))


def _id_column(spec: Path, model_version: Any) -> str | None:
    """The entity id column (``data.id``) of the spec that trained the version, if any."""
    store = _store(spec)
    try:
        run = store.runs.get_run(model_version.run_id)
    finally:
        store.close()
    column = ((run.spec or {}).get("data") or {}).get("id")
    return column if isinstance(column, str) else None
