"""The UI's static files (vendored, no CDN), its layering and the ``skloop ui`` command."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from importlib.resources import files

from starlette.testclient import TestClient

from skloop.ui import STATIC_DIR


def _vendored() -> list[tuple[str, str, str]]:
    """(file, version, sha256) rows of VENDORED.md."""
    text = (STATIC_DIR / "VENDORED.md").read_text(encoding="utf-8")
    return re.findall(r"^\| `([^`]+)` \| [\w.]+ \| ([\d.]+) \| .* \| `([0-9a-f]{64})` \|$", text, re.MULTILINE)


def test_vendored_files_match_their_record_and_have_licences() -> None:
    rows = _vendored()
    assert {name for name, _, _ in rows} == {"htmx.min.js", "uPlot.iife.min.js", "uPlot.min.css"}
    for name, _, digest in rows:
        assert hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest() == digest, name
    assert "Zero-Clause BSD" in (STATIC_DIR / "LICENSE.htmx.txt").read_text(encoding="utf-8")
    assert "MIT" in (STATIC_DIR / "LICENSE.uplot.txt").read_text(encoding="utf-8")


def test_static_files_are_package_data() -> None:
    static = files("skloop") / "ui" / "static"
    for name in ("htmx.min.js", "uPlot.iife.min.js", "ui.js", "a11y.js", "ui.css", "VENDORED.md", "LICENSE.htmx.txt"):
        assert (static / name).is_file(), name
    assert (files("skloop") / "templates" / "ui" / "layout.html").is_file()


def test_pages_load_scripts_from_the_app_only(client: TestClient, seeded: object) -> None:
    html = client.get("/compare", params={"run": seeded.best}).text  # type: ignore[attr-defined]
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/static/") for s in sources), sources
    for source in sources:
        response = client.get(source)
        assert response.status_code == 200 and response.content, source
    assert "http://" not in html.split("<body>", 1)[0] and "https://" not in html.split("<body>", 1)[0]


def test_nothing_below_the_cli_imports_the_ui() -> None:
    code = (
        "import sys, skloop, skloop.workflows, skloop.serve, skloop.registry, skloop.store; "
        "print([m for m in sys.modules if m.startswith('skloop.ui')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_skloop_ui_help_names_the_port() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "skloop.cli", "ui", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--port" in out and "5050" in out and "--spec" in out
