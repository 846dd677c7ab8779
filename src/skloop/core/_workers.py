"""Search workers started early: a training run's joblib workers spawn while it reads its spec and data.

``skloop train`` spends its first second importing and reading; a local search then
waits again while joblib's loky workers start and import scikit-learn. Started on a
thread as the command begins, the workers import in that first second instead, and
the search finds them ready (joblib's executor is reused by every ``Parallel`` call
with the same settings). Nothing is started for a single-process search or a Dask
backend, and any doubt (no spec, a spec that does not parse) starts nothing: the
command then fails or runs exactly as it would have.

Once the search is done the same workers are idle: :func:`in_worker` hands one of them
a call to run in the background (the run's skops file is written there while the
caller scores the holdout and the importance), and :func:`stop_workers` ends them at
the command's exit without waiting for each one's interpreter to wind down.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "WorkerCall",
    "import_modules",
    "in_worker",
    "stop_workers",
    "wait_for_workers",
    "warm_search_workers",
    "workers_started",
]

logger = logging.getLogger(__name__)

_STARTED: list[threading.Thread] = []
_JOBS: list[int] = []
"""The ``n_jobs`` the warmed workers were started with (the last one), while they may be alive."""
_CALLS: list[threading.Thread] = []
"""The threads of :class:`WorkerCall` calls, joined before the workers are stopped."""


def import_modules(names: list[str]) -> None:
    """Import ``names`` (in a worker); a module that fails is left for the fit to report."""
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            logger.debug("warming %s failed: %s", name, exc)


def _mapping(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _search_settings(spec_path: Path, n_jobs: int | None) -> tuple[int, list[str]] | None:
    """``(n_jobs, modules)`` of the spec's local search, or ``None`` when it needs no workers."""
    import yaml

    from skloop.core._spec_yaml import Refused, compose  # the spec's own bounded loader

    try:
        _, spec = compose(spec_path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError, Refused):
        return None
    if not isinstance(spec, dict):
        return None
    search = _mapping(spec.get("search"))
    if search.get("backend") == "dask" or search.get("strategy") == "none":
        return None
    jobs = n_jobs if n_jobs is not None else search.get("n_jobs", 1)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs in (0, 1):
        return None
    model_class = _mapping(_mapping(spec.get("pipeline")).get("model")).get("class")
    modules = ["skloop.pipelines", "sklearn.model_selection"]
    if isinstance(model_class, str) and "." in model_class:
        modules.insert(0, model_class.rpartition(".")[0])
    return jobs, modules


def warm_search_workers(spec_path: Path, n_jobs: int | None = None) -> threading.Thread | None:
    """Start the spec's search workers on a daemon thread; :func:`wait_for_workers` joins it.

    Parameters
    ----------
    spec_path : Path
        The ``skloop.yaml`` to be trained (read for ``search.n_jobs``, ``search.backend``
        and the model's module only).
    n_jobs : int, optional
        The command line's ``--n-jobs``, overriding the spec's.

    Returns
    -------
    Thread or None
        The warming thread, or ``None`` when the search will not use local workers.
    """
    settings = _search_settings(spec_path, n_jobs)
    if settings is None:
        return None
    jobs, modules = settings
    # joblib and loky are imported here, on the caller's thread: a module imported on two
    # threads at once is seen half-initialised by code that only looks in sys.modules
    # (scikit-learn's array-API checks do, for dask.array), so the thread imports nothing
    from joblib import Parallel, delayed, effective_n_jobs

    importlib.import_module("joblib.externals.loky")

    def run() -> None:
        try:
            count = effective_n_jobs(jobs)
            if count > 1:
                Parallel(n_jobs=jobs)(delayed(import_modules)(modules) for _ in range(count))
        except Exception as exc:
            logger.debug("starting the search workers early failed: %s", exc)

    thread = threading.Thread(target=run, name="skloop-warm-workers", daemon=True)
    thread.start()
    _STARTED.append(thread)
    _JOBS[:] = [jobs]
    return thread


def wait_for_workers(timeout: float | None = 60.0) -> None:
    """Join the warming threads, so the search does not share joblib's executor with them."""
    while _STARTED:
        _STARTED.pop().join(timeout)


class WorkerCall:
    """A call running in a search worker; :meth:`result` waits for its value or raises its error."""

    def __init__(self, function: Callable[..., Any], args: tuple[Any, ...], jobs: int) -> None:
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(function, args, jobs), name="skloop-worker-call")
        self._thread.daemon = True
        self._thread.start()
        _CALLS.append(self._thread)

    def _run(self, function: Callable[..., Any], args: tuple[Any, ...], jobs: int) -> None:
        from joblib import Parallel, delayed

        try:  # the settings the workers were started with, so joblib reuses their executor
            (self._value,) = Parallel(n_jobs=jobs)([delayed(function)(*args)])
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self, timeout: float | None = None) -> Any:
        """The call's value; its error, or :class:`TimeoutError` when it is not done in ``timeout`` seconds."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the worker call did not finish in {timeout} s")
        if self._error is not None:
            raise self._error
        return self._value


def workers_started() -> bool:
    """Whether :func:`warm_search_workers` started workers in this process (so :func:`in_worker` has some)."""
    return bool(_JOBS)


def in_worker(function: Callable[..., Any], *args: Any) -> WorkerCall | None:
    """Run ``function(*args)`` in one of the warmed search workers, in the background.

    Only where :func:`warm_search_workers` started workers in this process (the CLI's
    ``train``); ``None`` otherwise, and the caller runs the function itself. ``function``
    must be importable by name in the worker and its arguments picklable; pass arrays
    inside ``bytes`` (joblib would otherwise hand large ones over as read-only memory maps).

    Examples
    --------
    >>> in_worker(len, b"abc") is None  # no workers were started in this process
    True
    """
    if not _JOBS:
        return None
    wait_for_workers()
    return WorkerCall(function, args, _JOBS[0])


def stop_workers() -> None:
    """End joblib's reusable workers now, without waiting for their interpreters to wind down.

    For a command about to exit: an idle loky worker holds nothing, and its own exit
    (freeing every module it imported) would otherwise hold up the command's by half a
    second. Workers still starting or running a :func:`in_worker` call (a command that
    failed meanwhile) are waited for first: killed in the middle of a ``Parallel`` call,
    they leave its temporary folder to loky's resource tracker, which then fails on it.
    Nothing happens where no executor was started.
    """
    wait_for_workers()
    while _CALLS:
        _CALLS.pop().join(60.0)
    module = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(module, "_executor", None) if module is not None else None
    if executor is not None:
        try:
            executor.shutdown(wait=True, kill_workers=True)
        except Exception as exc:
            logger.debug("stopping the workers failed: %s", exc)
    _JOBS.clear()
