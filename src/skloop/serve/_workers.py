"""Several server processes behind one port: ``skloop serve --workers N``.

**One ``SO_REUSEPORT`` socket per worker**, rather than uvicorn's own ``--workers`` (one
listening socket, bound by the parent, accepted from by every worker): with a socket
each, the kernel hashes every new connection to one of the workers' sockets, so
connections spread over the workers. With one shared socket every idle worker wakes on
a new connection and the first to run accepts all that are queued: against a two-worker
uvicorn, all 8 keep-alive connections of ``wrk -c8`` went to one worker in 3 runs of 5
(to both in 5 of 5 with ``SO_REUSEPORT``). Linux lets only sockets of the same user
join a port's group, so another user cannot take a share of the traffic.

The supervisor, :class:`WorkerPool` (the ``skloop serve`` process):

- binds the port first, without listening: an address in use fails before any model
  is loaded, and the port stays held while a dead worker restarts (a socket that does
  not listen is given no connection);
- spawns the workers; each loads the model, starts its own segment of the prediction
  log, then binds and listens on the port and serves with uvicorn, and says so on a
  pipe. Each follows the alias by itself (``poll_seconds``);
- restarts a worker that dies (``kill -9``, a crash), after a backoff that doubles
  while it keeps dying soon after its start; a worker that exits cleanly (a terminal's
  Ctrl-C reaches every process of its group) is not restarted;
- :meth:`WorkerPool.stop` sends SIGTERM to every worker: uvicorn stops accepting,
  finishes the requests in flight (their rows logged before their answers) and the
  worker closes its log. The caller then closes the ingestor, whose last pass stores
  the rest.

**The prediction log is one folder, one segment series per worker.** The log's rules
(:mod:`skloop.serve._wal`: a segment has one writer, locked while written, under a
number no other writer took) make a shared folder safe, and one ingestor moves every
segment into the store, each record once (the store skips a ``(request_id, row)`` it
holds). A killed worker's segment keeps every row it acknowledged (fsynced before the
answer); the kernel releases its lock and the ingestor stores and deletes it. Request
ids are 96 random bits from ``os.urandom`` in each worker: unique across workers.

**Metrics**: the workers share prometheus_client's multiprocess folder (a temporary
folder of the supervisor's), so any worker's ``/metrics`` gives the pool's totals (see
:mod:`skloop.serve._metrics`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from types import FrameType
from typing import Any

from skloop.core import ServeError, Settings, SkloopError, UsageError

logger = logging.getLogger(__name__)

__all__ = ["WorkerInfo", "WorkerPool", "WorkerSpec", "listen_socket"]

_METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_BACKLOG = 2048
_PARENT_CHECK_SECONDS = 0.5
_QUICK_DEATH_SECONDS = 30.0  # a worker that dies sooner after its start backs off longer
_MAX_BACKOFF_SECONDS = 30.0
_FAILED_EXIT = 3


@dataclass(frozen=True)
class WorkerSpec:
    """What every worker of a pool serves (sent to each, so it must pickle).

    Parameters
    ----------
    settings : Settings
        The store, the ``host`` and ``port`` to listen on, the token.
    model_name, alias, version
        What to serve, as for :func:`~skloop.serve.create_app`.
    log_dir : str, optional
        The prediction log folder, shared by the workers (``None``: no log).
    app_options : mapping
        Further keyword arguments of :func:`~skloop.serve.create_app`
        (``max_body_bytes``, ``poll_seconds``, ``trust``, ...).
    setup : callable, optional
        Called first in each worker (a module-level function or a
        :func:`functools.partial` of one), e.g. to configure its logging.
    """

    settings: Settings
    model_name: str
    alias: str | None = "champion"
    version: int | None = None
    log_dir: str | None = None
    app_options: Mapping[str, Any] = field(default_factory=dict)
    setup: Callable[[], None] | None = None


@dataclass(frozen=True)
class WorkerInfo:
    """A worker that is serving: its number, process and what it loaded."""

    index: int
    pid: int
    ref: str
    runtime: str
    onnx_refusal: str | None = None
    shadow: str | None = None


def listen_socket(family: int, address: Any, *, listen: bool = True) -> socket.socket:
    """A TCP socket bound to ``address`` with ``SO_REUSEPORT`` (listening unless told not to)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        if listen:
            sock.listen(_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


# -- a worker ------------------------------------------------------------------------------


def _send(conn: Connection, message: tuple[Any, ...]) -> None:
    try:
        conn.send(message)
    except (OSError, ValueError):  # the supervisor is gone (or closed the pipe)
        pass
    except Exception:  # an error that does not pickle: say it in words
        if message[0] == "failed":
            with contextlib.suppress(OSError, ValueError):
                conn.send(("failed", ServeError(f"{type(message[1]).__name__}: {message[1]}")))


def _report_ready(server: Any, app: Any, conn: Connection) -> None:
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.02)
    model = app.model
    shadow = app.shadow.ref if app.shadow is not None else None
    _send(conn, ("ready", WorkerInfo(app.worker, os.getpid(), model.ref, model.runtime, model.onnx_refusal, shadow)))


def _watch_parent(server: Any, parent: int) -> None:
    while not server.should_exit:
        time.sleep(_PARENT_CHECK_SECONDS)
        if os.getppid() != parent:  # the supervisor was killed: stop, the log stays for the next start
            logger.warning("the supervisor of this worker is gone; stopping")
            server.should_exit = True


def _uvicorn_choice(preferred: str, fallback: str) -> str:
    return preferred if importlib.util.find_spec(preferred) else fallback


def _worker_main(
    spec: WorkerSpec, index: int, family: int, address: Any, conn: Connection, parent: int, metrics_dir: str
) -> None:
    """One worker: load, log, listen, serve until SIGTERM (or the supervisor's death)."""
    held: list[Any] = []
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # uvicorn has its own handlers while it serves and calls this one again once it
        # has shut down gracefully; before that (still loading) it stops the start
        stopping.set()
        for server in held:
            server.should_exit = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if spec.setup is not None:
        spec.setup()
    log = None
    try:
        import uvicorn

        from skloop.serve._app import create_app
        from skloop.serve._wal import PredictionLog

        if spec.log_dir is not None:
            log = PredictionLog(spec.log_dir).start()
        app = create_app(
            spec.settings,
            model_name=spec.model_name,
            alias=spec.alias,
            version=spec.version,
            prediction_log=log,
            worker=index,
            metrics_dir=metrics_dir,
            **spec.app_options,
        )
        # listen only now: the kernel hands connections to a listening socket at once
        sock = listen_socket(family, address)
        config = uvicorn.Config(
            app,
            loop=_uvicorn_choice("uvloop", "asyncio"),
            http=_uvicorn_choice("httptools", "h11"),
            access_log=False,
            log_level="warning",
            lifespan="on",
        )
        server = uvicorn.Server(config)
        held.append(server)
        if stopping.is_set():
            server.should_exit = True
        threading.Thread(target=_report_ready, args=(server, app, conn), daemon=True).start()
        threading.Thread(target=_watch_parent, args=(server, parent), daemon=True).start()
        server.run(sockets=[sock])
        if not server.started and not stopping.is_set():
            raise ServeError(f"worker {index} did not start serving (see its log above)")
    except BaseException as exc:
        _send(conn, ("failed", exc))
        raise SystemExit(_FAILED_EXIT) from None
    finally:
        if log is not None:
            log.close()  # everything acknowledged is on disk; the supervisor's ingestor stores it


# -- the supervisor ------------------------------------------------------------------------


class _Slot:
    """One worker's place in the pool: the process holding it now, and its restarts."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: Any = None
        self.conn: Connection | None = None
        self.info: WorkerInfo | None = None
        self.started_at = 0.0
        self.restart_at: float | None = None
        self.quick_deaths = 0
        self.done = False


class WorkerPool:
    """``workers`` server processes on one port, restarted when they die.

    Parameters
    ----------
    spec : WorkerSpec
        What each worker serves and where it logs.
    workers : int
        How many processes (at least 1).
    startup_timeout : float
        Seconds the workers may take to load the model and listen.
    stop_timeout : float
        Seconds a worker may take to finish its requests on :meth:`stop` (then it is killed).

    Attributes
    ----------
    port : int
        The port the workers listen on (the one asked for, or the one given for 0).
    restarts : int
        Workers started again after they died.

    Examples
    --------
    >>> pool = WorkerPool(WorkerSpec(settings, "churn", log_dir="log"), 2)  # doctest: +SKIP
    >>> infos = pool.start()  # doctest: +SKIP
    >>> pool.run(stop_event)  # until the event is set (SIGTERM)  # doctest: +SKIP
    >>> pool.stop()  # doctest: +SKIP
    """

    def __init__(
        self, spec: WorkerSpec, workers: int, *, startup_timeout: float = 600.0, stop_timeout: float = 30.0
    ) -> None:
        if not isinstance(workers, int) or workers < 1:
            raise UsageError(f"the number of workers must be a positive integer; got {workers!r}")
        self.spec = spec
        self.workers = workers
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.port = spec.settings.port
        self.restarts = 0
        self.metrics_dir: str | None = None
        self._context = multiprocessing.get_context("spawn")
        self._slots = [_Slot(k) for k in range(workers)]
        self._reserve: socket.socket | None = None
        self._family = socket.AF_INET
        self._address: Any = None
        self._env_before: str | None = None

    @property
    def infos(self) -> list[WorkerInfo]:
        """The workers serving now."""
        return [s.info for s in self._slots if s.info is not None and s.process is not None]

    def start(self) -> list[WorkerInfo]:
        """Hold the port, start every worker and wait until all serve.

        Raises
        ------
        ServeError
            The port cannot be bound, or a worker failed to start (its error, when it is
            a skloop error, is raised as it is: e.g. ``ModelNotFoundError``).
        """
        host, port = self.spec.settings.host, self.spec.settings.port
        try:
            family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
            self._reserve = listen_socket(family, address, listen=False)
        except OSError as exc:
            raise ServeError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}; stop what holds the port or choose another "
                "(--port)"
            ) from exc
        self._family = family
        self._address = self._reserve.getsockname()
        self.port = int(self._address[1])
        self.metrics_dir = tempfile.mkdtemp(prefix="skloop-metrics-")
        # read by prometheus_client when a worker imports it: set before they are spawned
        self._env_before = os.environ.get(_METRICS_ENV)
        os.environ[_METRICS_ENV] = self.metrics_dir
        try:
            for slot in self._slots:
                self._spawn(slot)
            self._wait_started()
        except BaseException:
            self.stop()
            raise
        return self.infos

    def _spawn(self, slot: _Slot) -> None:
        parent_conn, child_conn = self._context.Pipe(duplex=False)
        args = (self.spec, slot.index, self._family, self._address, child_conn, os.getpid(), self.metrics_dir)
        name = f"skloop-worker-{slot.index}"
        process = self._context.Process(target=_worker_main, args=args, name=name, daemon=False)
        process.start()
        child_conn.close()
        slot.process, slot.conn, slot.info = process, parent_conn, None
        slot.started_at, slot.restart_at = time.monotonic(), None

    def _wait_started(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while any(s.info is None for s in self._slots):
            if time.monotonic() > deadline:
                raise ServeError(f"the workers did not start serving in {self.startup_timeout:g} s")
            for slot in self._slots:
                error = self._poll_conn(slot, 0)
                if error is not None:
                    if isinstance(error, SkloopError):
                        raise error
                    raise ServeError(f"worker {slot.index} failed to start: {type(error).__name__}: {error}")
                if slot.info is None and not slot.process.is_alive():
                    raise ServeError(f"worker {slot.index} exited with code {slot.process.exitcode} while starting")
            wait([s.conn for s in self._slots if s.info is None and s.conn is not None], timeout=0.2)

    def _poll_conn(self, slot: _Slot, timeout: float) -> BaseException | None:
        """Read what the worker said: ``ready`` fills its info; ``failed`` is returned."""
        conn = slot.conn
        if conn is None:
            return None
        try:
            if not conn.poll(timeout):
                return None
            kind, payload = conn.recv()
        except (EOFError, OSError):  # the worker is gone: its sentinel says how
            conn.close()
            slot.conn = None
            return None
        if kind == "ready":
            slot.info = payload
            return None
        return payload if isinstance(payload, BaseException) else ServeError(str(payload))

    def run(self, stop: threading.Event | None = None) -> None:
        """Supervise until ``stop`` is set or every worker has exited cleanly (code 0).

        A worker that dies otherwise is started again: at once, or after a backoff that
        doubles (up to 30 s) while it keeps dying within 30 s of its start.
        """
        stop = stop or threading.Event()
        while not stop.is_set():
            live = [s for s in self._slots if s.process is not None]
            if not live and all(s.done for s in self._slots):
                return
            waitables: list[Any] = [s.process.sentinel for s in live]
            waitables += [s.conn for s in live if s.conn is not None and s.info is None]
            wait(waitables, timeout=0.2)
            now = time.monotonic()
            for slot in live:
                was_serving = slot.info is not None
                error = self._poll_conn(slot, 0)
                if error is not None:
                    logger.error("worker %d could not start again: %s", slot.index, error)
                elif not was_serving and slot.info is not None:
                    logger.warning("worker %d serves again (pid %d, %s)", slot.index, slot.info.pid, slot.info.ref)
                if slot.process.is_alive():
                    continue
                self._reap(slot, now, stopping=stop.is_set())
            for slot in self._slots:
                if slot.restart_at is not None and slot.restart_at <= now and not stop.is_set():
                    self._spawn(slot)
                    self.restarts += 1

    def _reap(self, slot: _Slot, now: float, *, stopping: bool) -> None:
        process = slot.process
        process.join()
        self._forget(process.pid)
        code = process.exitcode
        slot.process, slot.info = None, None
        if slot.conn is not None:
            slot.conn.close()
            slot.conn = None
        if code == 0 or stopping:
            slot.done = True
            return
        lived = now - slot.started_at
        slot.quick_deaths = slot.quick_deaths + 1 if lived < _QUICK_DEATH_SECONDS else 0
        backoff = 0.0 if slot.quick_deaths <= 1 else min(_MAX_BACKOFF_SECONDS, 0.5 * 2 ** (slot.quick_deaths - 1))
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        logger.warning(
            "worker %d (pid %d) died (%s) after %.1f s; starting it again%s",
            slot.index,
            process.pid,
            how,
            lived,
            f" in {backoff:g} s" if backoff else "",
        )
        slot.restart_at = now + backoff

    def _forget(self, pid: int | None) -> None:
        """Drop a dead worker's live gauges (its counters stay: totals never go back)."""
        if pid is None or self.metrics_dir is None:
            return
        from prometheus_client import multiprocess

        with contextlib.suppress(OSError):
            multiprocess.mark_process_dead(pid, self.metrics_dir)  # type: ignore[no-untyped-call]

    def stop(self) -> None:
        """SIGTERM every worker, wait for them (``stop_timeout``, then SIGKILL), release the port."""
        for slot in self._slots:
            slot.restart_at = None
            if slot.process is not None and slot.process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for slot in self._slots:
            process = slot.process
            if process is None:
                continue
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                logger.error(
                    "worker %d (pid %d) did not stop in %g s; killing it", slot.index, process.pid, self.stop_timeout
                )
                process.kill()
                process.join()
            self._forget(process.pid)
            slot.process, slot.info, slot.done = None, None, True
            if slot.conn is not None:
                slot.conn.close()
                slot.conn = None
        if self._reserve is not None:
            self._reserve.close()
            self._reserve = None
        if self.metrics_dir is not None:
            if os.environ.get(_METRICS_ENV) == self.metrics_dir:
                if self._env_before is None:
                    os.environ.pop(_METRICS_ENV, None)
                else:
                    os.environ[_METRICS_ENV] = self._env_before
            shutil.rmtree(Path(self.metrics_dir), ignore_errors=True)
            self.metrics_dir = None
