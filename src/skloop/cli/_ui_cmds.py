"""``skloop ui``: the web UI (runs, comparisons, models) over the project's store."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Annotated

import typer

from skloop.cli._app import SpecOpt, _settings_near, _store, app, console
from skloop.cli._checks import check_port
from skloop.cli._errors import handle_errors
from skloop.core import SPEC_FILENAME

__all__: list[str] = []

DEFAULT_UI_PORT = 5050


@app.command()
@handle_errors
def ui(
    host: Annotated[str | None, typer.Option("--host", help="Interface (default: settings, 127.0.0.1).")] = None,
    port: Annotated[int, typer.Option("--port", "-p", help="Port.")] = DEFAULT_UI_PORT,
    server: Annotated[
        str | None,
        typer.Option("--server", help="A model server (http://127.0.0.1:8080) whose /metrics the serving pages read."),
    ] = None,
    spec: SpecOpt = Path(SPEC_FILENAME),
) -> None:
    """Serve the web UI over the store of the project (or SKLOOP_STORE_URL); prints its URL."""
    import uvicorn

    from skloop.core import load_spec
    from skloop.ui import create_app

    settings = _settings_near(spec).with_overrides(host=host)
    check_port(port, given=True)
    project = load_spec(spec).name if spec.is_file() else None
    store = _store(spec)
    try:
        web = create_app(store, token=settings.token, project=project, server=server)
        url = f"http://{settings.host}:{port}/"
        console.print(f"skloop ui at {url}", highlight=False)
        if settings.token:
            console.print("  promote and rollback need the admin token (SKLOOP_TOKEN)", highlight=False)
        sys.stdout.flush()
        uvicorn.run(
            web,
            host=settings.host,
            port=port,
            loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
            http="httptools" if importlib.util.find_spec("httptools") else "h11",
            access_log=False,
            log_level="warning",
        )
    finally:
        store.close()
