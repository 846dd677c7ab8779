"""``skloop serve``: run the model server (uvicorn) for a registered model."""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from skloop.cli._app import SpecOpt, _settings_near, app, console
from skloop.cli._checks import check_port
from skloop.cli._errors import handle_errors
from skloop.cli._trust import TrustOpt, TrustTypeOpt, caller_trust
from skloop.core import SPEC_FILENAME, UsageError

__all__: list[str] = []


@app.command()
@handle_errors
def serve(
    name: Annotated[str, typer.Argument(help="The registered model to serve.")],
    alias: Annotated[str, typer.Option("--alias", "-a", help="Serve (and follow) this alias.")] = "champion",
    version: Annotated[int | None, typer.Option("--version", help="Serve this version, pinned.")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Interface (default: settings, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option("--port", "-p", help="Port (default: settings, 8080).")] = None,
    token_required_for_predict: Annotated[
        bool, typer.Option("--token-required-for-predict", help="Prediction routes need the bearer token too.")
    ] = False,
    max_body_bytes: Annotated[
        int | None, typer.Option("--max-body-bytes", help="Largest request body accepted (413 above).")
    ] = None,
    no_onnx: Annotated[bool, typer.Option("--no-onnx", help="Score with scikit-learn, not ONNX Runtime.")] = False,
    log_dir: Annotated[
        Path | None, typer.Option("--log-dir", help="Prediction log directory (default .skloop/predictions).")
    ] = None,
    no_log: Annotated[bool, typer.Option("--no-log", help="Do not log predictions (not durable).")] = False,
    poll_seconds: Annotated[float, typer.Option("--poll-seconds", help="How often to check the alias.")] = 1.0,
    access_log: Annotated[bool, typer.Option("--access-log", help="One JSON line per request on stderr.")] = False,
    shadow: Annotated[
        str | None,
        typer.Option("--shadow", help="Also score every request with NAME@ALIAS (e.g. challenger) into the log only."),
    ] = None,
    spec: SpecOpt = Path(SPEC_FILENAME),
    trust: TrustOpt = False,
    trust_type: TrustTypeOpt = None,
) -> None:
    """Serve NAME over KServe V2 (/v2/models/NAME/infer) and MLflow's protocol (/invocations)."""
    import uvicorn

    from skloop.serve import DEFAULT_MAX_BODY_BYTES, PredictionLog, create_app, default_log_dir

    settings = _settings_near(spec).with_overrides(host=host, port=port)
    check_port(settings.port, given=port is not None)
    if max_body_bytes is not None and max_body_bytes <= 0:
        raise UsageError(f"--max-body-bytes must be positive; got {max_body_bytes}")
    log = ingestor = None
    if not no_log:
        from skloop.serve import IngestProcess

        log = PredictionLog(log_dir or default_log_dir(settings)).start()
        # the log makes a prediction durable; a child process moves it into the store
        ingestor = IngestProcess(log.directory, settings.store_url, settings.artifact_root).start()
    try:
        server_app = create_app(
            settings,
            model_name=name,
            alias=alias,
            version=version,
            prediction_log=log,
            max_body_bytes=max_body_bytes or DEFAULT_MAX_BODY_BYTES,
            token_required_for_predict=token_required_for_predict,
            poll_seconds=poll_seconds if poll_seconds > 0 else None,
            onnx=not no_onnx,
            shadow_alias=shadow,
            trust=caller_trust(spec, trust, trust_type),
        )
        model = server_app.model
        if access_log:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(message)s"))
            access = logging.getLogger("skloop.serve.access")
            access.addHandler(handler)
            access.setLevel(logging.INFO)
            access.propagate = False
        url = f"http://{settings.host}:{settings.port}"
        following = f"pinned version {version}" if version is not None else f"following {name}@{alias}"
        console.print(f"serving {model.ref} ({model.runtime}, {following}) at {url}", highlight=False)
        console.print(f"  V2: {url}/v2/models/{name}/infer   MLflow: {url}/invocations", highlight=False)
        if model.onnx_refusal and not no_onnx:
            console.print(f"  scikit-learn path: {model.onnx_refusal}", highlight=False)
        if shadow is not None:
            shadowing = server_app.shadow.model if server_app.shadow is not None else None
            held = f"{shadowing.ref}" if shadowing is not None else "no version yet"
            note = "" if log is not None else " (inactive: --no-log leaves nowhere to record it)"
            console.print(f"  shadow: {name}@{shadow} ({held}), logged, never served{note}", highlight=False)
        if log is not None:
            console.print(f"  prediction log: {log.directory} (ingested into the store every second)", highlight=False)
        sys.stdout.flush()
        uvicorn.run(
            server_app,
            host=settings.host,
            port=settings.port,
            loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
            http="httptools" if importlib.util.find_spec("httptools") else "h11",
            access_log=False,
            log_level="warning",
            lifespan="on",
        )
    finally:
        if log is not None:
            log.close()  # first: everything acknowledged is on disk
        if ingestor is not None:
            ingestor.close()  # a last pass moves the rest into the store
