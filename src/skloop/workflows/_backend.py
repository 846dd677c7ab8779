"""Where a search's fits run: local joblib processes, or a dask.distributed cluster.

``search.backend`` in the spec says which; unset, ``SKLOOP_DASK_SCHEDULER`` decides
(set: the cluster there, unset: local). The scheduler address is
``SKLOOP_DASK_SCHEDULER`` first (where a deployment points), then ``search.scheduler``;
with neither, ``backend: dask`` starts a local cluster for the run. The choice is
recorded with the run (``search.backend``, ``search.scheduler`` params).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from skloop.core import SearchSpec, Settings

__all__ = ["SearchBackend", "resolve_search_backend", "search_backend"]


@dataclass(frozen=True)
class SearchBackend:
    """The backend a search runs on.

    Attributes
    ----------
    name : str
        ``"local"`` or ``"dask"``.
    scheduler : str or None
        With ``dask``: the scheduler address, ``None`` for a local cluster started for the run.
    """

    name: str
    scheduler: str | None = None

    @property
    def is_dask(self) -> bool:
        return self.name == "dask"


def resolve_search_backend(search: SearchSpec, settings: Settings) -> SearchBackend:
    """The backend of ``search`` under ``settings`` (see the module docstring).

    Examples
    --------
    >>> from skloop.core import SearchSpec, Settings
    >>> s = Settings.from_env("/tmp/p", env={})
    >>> resolve_search_backend(SearchSpec(), s)
    SearchBackend(name='local', scheduler=None)
    >>> env = Settings.from_env("/tmp/p", env={"SKLOOP_DASK_SCHEDULER": "tcp://10.0.0.5:8786"})
    >>> resolve_search_backend(SearchSpec(), env)
    SearchBackend(name='dask', scheduler='tcp://10.0.0.5:8786')
    >>> resolve_search_backend(SearchSpec(backend="local"), env).name
    'local'
    """
    name = search.backend or ("dask" if settings.dask_scheduler else "local")
    if name == "local":
        return SearchBackend("local")
    return SearchBackend("dask", settings.dask_scheduler or search.scheduler)


@contextmanager
def search_backend(backend: SearchBackend) -> Iterator[str]:
    """Route joblib's parallel calls to ``backend`` while open; yields what the run records as its scheduler.

    Raises
    ------
    MissingExtraError
        ``dask`` is asked for and not installed.
    UsageError
        The scheduler cannot be reached.
    """
    if not backend.is_dask:
        yield "loky"
        return
    from skloop.integrations import connect

    with ExitStack() as stack:
        cluster = stack.enter_context(connect(backend.scheduler))
        stack.enter_context(cluster.joblib())
        yield cluster.label
