"""Prediction log commands: ``labels ingest`` and ``logs ingest``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from skloop.cli._app import SpecOpt, _settings_near, _store, app, console
from skloop.cli._errors import handle_errors
from skloop.core import SPEC_FILENAME, ModelNotFoundError

__all__: list[str] = []

labels_app = typer.Typer(help="Record the true outcomes of logged predictions.", no_args_is_help=True)
logs_app = typer.Typer(help="The prediction log of the server and of predict --log.", no_args_is_help=True)
app.add_typer(labels_app, name="labels")
app.add_typer(logs_app, name="logs")

LogDirOpt = Annotated[
    Path | None, typer.Option("--log-dir", help="The prediction log folder (default: .skloop/predictions).")
]


def _log_dir(spec: Path, log_dir: Path | None) -> Path:
    from skloop.serve import default_log_dir

    return log_dir if log_dir is not None else default_log_dir(_settings_near(spec))


def _require_known_model(store: Any, model: str) -> None:
    """Labels for a model that is neither registered nor has logged predictions would join nothing."""
    known = store.models.model_names()
    if model in known or store.predictions.count_predictions(model) > 0:
        return
    raise ModelNotFoundError(
        f"--model {model!r} is not in the registry and has no logged predictions; "
        f"known models: {', '.join(known) or 'none'} (pass one of them with --model)"
    )


@labels_app.command("ingest")
@handle_errors
def labels_ingest(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file of labels.")],
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="The model the labels are for (default: the spec's name).")
    ] = None,
    id_column: Annotated[str, typer.Option("--id-column", help="Column of entity ids.")] = "id",
    label_column: Annotated[str, typer.Option("--label-column", help="Column of labels.")] = "label",
    request_id_column: Annotated[
        str | None,
        typer.Option("--request-id-column", help="Key by prediction: column of request ids (with --row-column)."),
    ] = None,
    row_column: Annotated[
        str | None, typer.Option("--row-column", help="Column of row numbers in the request.")
    ] = None,
    time_column: Annotated[
        str | None, typer.Option("--time-column", help="Column of label times (default: now).")
    ] = None,
    spec: SpecOpt = Path(SPEC_FILENAME),
) -> None:
    """Store the labels in FILE for --model, joined to predictions by entity id or by request id and row."""
    from skloop.serve import ingest_label_file

    by_request = request_id_column is not None or row_column is not None
    if model is None:
        from skloop.core import load_spec_head

        model = load_spec_head(spec).name
    store = _store(spec)
    try:
        _require_known_model(store, model)
        n = ingest_label_file(
            store,
            model,
            file,
            id_column=None if by_request else id_column,
            label_column=label_column,
            request_id_column=request_id_column,
            row_column=row_column,
            time_column=time_column,
        )
        labeled = store.predictions.count_predictions(model, labeled=True)
    finally:
        store.close()
    console.print(f"stored {n} labels for {model}; {labeled} logged predictions now have a label")


@logs_app.command("ingest")
@handle_errors
def logs_ingest(spec: SpecOpt = Path(SPEC_FILENAME), log_dir: LogDirOpt = None) -> None:
    """Move the prediction log's complete records into the store (safe to run any time, and again)."""
    from skloop.serve import ingest_once

    folder = _log_dir(spec, log_dir)
    store = _store(spec)
    try:
        n = ingest_once(folder, store)
        total = store.predictions.count_predictions()
    finally:
        store.close()
    console.print(f"ingested {n} new predictions from {folder}; the store holds {total}")
