"""The server is raw ASGI: importing it, building the app and answering requests never loads Starlette.

Starlette's router cost measurably more CPU per request than the route table
(``benchmarks/bench_serving.py --routers``, docs/benchmarks.md), so the server does not
use it; a fresh interpreter shows that nothing pulls it in behind the scenes.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path

    import skloop.serve
    from skloop.core import Settings
    from skloop.serve import create_app

    app = create_app(Settings.from_env(Path(sys.argv[1]), env={}), model_name="churn", poll_seconds=None)
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    for path in ("/v2/health/ready", "/openapi.json", "/nowhere"):
        scope = {"type": "http", "method": "GET", "path": path, "headers": [], "client": ("127.0.0.1", 1)}
        asyncio.run(app(scope, receive, send))
    statuses = [m["status"] for m in sent if m["type"] == "http.response.start"]
    assert statuses == [200, 200, 404], statuses
    asyncio.run(app.aclose())
    loaded = sorted(m for m in sys.modules if m == "starlette" or m.startswith("starlette."))
    print(",".join(loaded) or "none")
    """
)


def test_serving_never_imports_starlette(srv_project: Path, tmp_path: Path) -> None:
    script = tmp_path / "serve_without_starlette.py"
    script.write_text(_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(srv_project)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "none", f"starlette modules loaded: {done.stdout}"
