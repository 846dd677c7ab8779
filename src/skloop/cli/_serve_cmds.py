"""``skloop serve``: run the model server (uvicorn) for a registered model.

One process by default; ``--workers N`` runs N worker processes on one port under a
supervisor (:class:`skloop.serve.WorkerPool`: ``SO_REUSEPORT`` sockets, restarts, one
shared prediction log folder). Either way the process ingests the log from a child and,
on SIGTERM, stops gracefully: requests in flight are answered and logged, then a last
ingestion pass stores what is left.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from skloop.cli._app import SpecOpt, _settings_near, app, console
from skloop.cli._checks import check_port
from skloop.cli._errors import handle_errors
from skloop.cli._trust import TrustOpt, TrustTypeOpt, caller_trust
from skloop.core import SPEC_FILENAME, Settings, UsageError

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
    poll_seconds: Annotated[
        float, typer.Option("--poll-seconds", help="How often to check the alias and the monitor reports.")
    ] = 1.0,
    access_log: Annotated[bool, typer.Option("--access-log", help="One JSON line per request on stderr.")] = False,
    shadow: Annotated[
        str | None,
        typer.Option("--shadow", help="Also score every request with NAME@ALIAS (e.g. challenger) into the log only."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option("--workers", "-w", help="Server processes on the one port (restarted when they die)."),
    ] = 1,
    bundle: Annotated[
        Path | None,
        typer.Option(
            "--bundle",
            help="Load this model bundle (skloop export --format docker) into the store first, and serve its version.",
        ),
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
    if workers < 1:
        raise UsageError(f"--workers must be at least 1; got {workers}")
    options: dict[str, Any] = {
        "max_body_bytes": max_body_bytes or DEFAULT_MAX_BODY_BYTES,
        "token_required_for_predict": token_required_for_predict,
        "poll_seconds": poll_seconds if poll_seconds > 0 else None,
        "onnx": not no_onnx,
        "shadow_alias": shadow,
        "trust": caller_trust(spec, trust, trust_type),
    }
    if bundle is not None:
        version = _load_bundle(settings, bundle, name, version)
    directory = None if no_log else (log_dir or default_log_dir(settings))
    if workers > 1:
        _serve_workers(settings, name, alias, version, directory, options, workers, access_log)
        return
    # SIGTERM: uvicorn shuts down gracefully, then raises it again: end here, past the finally
    signal.signal(signal.SIGTERM, _exit_on_signal)
    log = ingestor = None
    if directory is not None:
        from skloop.serve import IngestProcess

        log = PredictionLog(directory).start()
        # the log makes a prediction durable; a child process moves it into the store
        ingestor = IngestProcess(log.directory, settings.store_url, settings.artifact_root).start()
    try:
        server_app = create_app(settings, model_name=name, alias=alias, version=version, prediction_log=log, **options)
        model = server_app.model
        _configure_access_log(access_log)
        shadowing = server_app.shadow.model if server_app.shadow is not None else None
        _print_serving(
            settings.host,
            settings.port,
            name,
            alias,
            version,
            model.ref,
            model.runtime,
            None if no_onnx else model.onnx_refusal,
            shadow,
            shadowing.ref if shadowing is not None else None,
            log.directory if log is not None else None,
        )
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


def _load_bundle(settings: Settings, folder: Path, name: str, version: int | None) -> int:
    """Bring the bundle's version into the store (once: nothing is written when it is there); its number."""
    from skloop.registry import Registry, load_bundle, read_bundle
    from skloop.store import Store

    held = read_bundle(folder)
    if held.name != name or (version is not None and version != held.version):
        asked = name if version is None else f"{name}/{version}"
        raise UsageError(f"--bundle {folder} holds {held.ref}, not {asked}; serve {held.name} --version {held.version}")
    store = Store.open(settings)
    try:
        return load_bundle(Registry(store), folder).version
    finally:
        store.close()


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _configure_access_log(enabled: bool) -> None:
    """One JSON line per request on stderr (``--access-log``); called in every worker too."""
    if not enabled:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access = logging.getLogger("skloop.serve.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False


def _print_serving(
    host: str,
    port: int,
    name: str,
    alias: str,
    version: int | None,
    ref: str,
    runtime: str,
    onnx_refusal: str | None,
    shadow: str | None,
    shadow_ref: str | None,
    log_dir: Path | None,
    workers: str | None = None,
) -> None:
    url = f"http://{host}:{port}"
    following = f"pinned version {version}" if version is not None else f"following {name}@{alias}"
    console.print(f"serving {ref} ({runtime}, {following}) at {url}", highlight=False)
    console.print(f"  V2: {url}/v2/models/{name}/infer   MLflow: {url}/invocations", highlight=False)
    if workers is not None:
        console.print(f"  workers: {workers}", highlight=False)
    if onnx_refusal:
        console.print(f"  scikit-learn path: {onnx_refusal}", highlight=False)
    if shadow is not None:
        held = shadow_ref or "no version yet"
        note = "" if log_dir is not None else " (inactive: --no-log leaves nowhere to record it)"
        console.print(f"  shadow: {name}@{shadow} ({held}), logged, never served{note}", highlight=False)
    if log_dir is not None:
        console.print(f"  prediction log: {log_dir} (ingested into the store every second)", highlight=False)
    sys.stdout.flush()


def _serve_workers(
    settings: Settings,
    name: str,
    alias: str,
    version: int | None,
    log_dir: Path | None,
    options: dict[str, Any],
    workers: int,
    access_log: bool,
) -> None:
    """``--workers N``: a supervisor of N server processes, the log's ingestor, until SIGTERM/SIGINT."""
    from skloop.serve import IngestProcess, WorkerPool, WorkerSpec

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    spec = WorkerSpec(
        settings,
        name,
        alias=alias,
        version=version,
        log_dir=None if log_dir is None else str(log_dir),
        app_options=options,
        setup=functools.partial(_configure_access_log, access_log),
    )
    pool = WorkerPool(spec, workers)
    ingestor = None
    try:
        if log_dir is not None:
            # one ingestor for the folder every worker writes its own segments to
            ingestor = IngestProcess(log_dir, settings.store_url, settings.artifact_root).start()
        infos = pool.start()
        first = infos[0]
        pids = ", ".join(f"{i.index}: pid {i.pid}" for i in infos)
        _print_serving(
            settings.host,
            pool.port,
            name,
            alias,
            version,
            first.ref,
            first.runtime,
            None if not options["onnx"] else first.onnx_refusal,
            options["shadow_alias"],
            first.shadow,
            log_dir,
            workers=f"{workers} processes on one port (SO_REUSEPORT), {pids}",
        )
        pool.run(stop)
    finally:
        pool.stop()  # first: every worker answers what it holds and closes its log
        if ingestor is not None:
            ingestor.close()  # then a last pass moves the rest into the store
        for sig, handler in previous.items():
            signal.signal(sig, handler)
