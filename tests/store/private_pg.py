"""A private PostgreSQL server for tests that restart it (never the machine's shared one).

``initdb`` in a temporary folder owned by the ``postgres`` OS user, trust auth, a free
port on 127.0.0.1 and a socket in that folder; ``pg_ctl`` run as ``postgres`` through
``runuser``. Skips with the reason when not root or the binaries are missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path(os.environ.get("SKLOOP_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrivatePostgres:
    base: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str, timeout: float = 120) -> None:
        data, log = self.base / "data", self.base / "server.log"
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base}"
        cmd = ["runuser", "-u", "postgres", "--", str(BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-w"]
        cmd += ["-o", options, *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed: {done.stderr}{log.read_text()[-2000:]}")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every session is ended (57P01), the server comes back."""
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")


def _require() -> None:
    if os.geteuid() != 0:
        pytest.skip("starting a private PostgreSQL server needs root (to run it as the postgres user)")
    for tool in ("initdb", "pg_ctl"):
        if not (BIN / tool).exists():
            pytest.skip(f"no {BIN / tool}; set SKLOOP_TEST_PG_BIN to PostgreSQL's bin folder")
    if shutil.which("runuser") is None:
        pytest.skip("runuser is not installed")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("there is no postgres OS user to run the private server")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """Start a private server on a free port; stop it and remove its folder afterwards."""
    _require()
    base = Path(tempfile.mkdtemp(prefix="skloop-pg-"))
    shutil.chown(base, "postgres", "postgres")
    server = PrivatePostgres(base, _free_port())
    init = [str(BIN / "initdb"), "-D", str(base / "data"), "-A", "trust", "-U", "postgres", "--no-sync"]
    subprocess.run(["runuser", "-u", "postgres", "--", *init], capture_output=True, check=True, timeout=120)
    server._ctl("start")
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)
