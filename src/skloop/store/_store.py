"""The store: one database object carrying its parts, and the artifact store.

:class:`Store` is what callers open. Its parts each own their tables and return
entities: ``store.runs`` (runs, params, tags, metrics, run artifacts),
``store.datasets``, ``store.histories`` (metric histories of several runs, read at
once), ``store.models`` (versions, aliases, derived artifacts), ``store.predictions``
(predictions and labels), ``store.loop`` (decisions, steps, locks) and
``store.reports`` (stored monitoring reports). They share ``store.db``
(:class:`~skloop.store._database.Database`: engines, the transaction scope, dialect
helpers) and ``store.artifacts``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from skloop.core import Settings, StoreError
from skloop.store._artifacts import ArtifactStore
from skloop.store._buffer import DEFAULT_MAX_AGE, DEFAULT_MAX_SIZE, register_for_exit
from skloop.store._database import Database
from skloop.store._engine import ensure_schema, redact

if TYPE_CHECKING:
    from skloop.store._datasets import DatasetStore
    from skloop.store._histories import MetricHistories
    from skloop.store._loop import LoopStore
    from skloop.store._mirror import MirrorOutbox
    from skloop.store._models import ModelStore
    from skloop.store._predictions import PredictionStore
    from skloop.store._reports import ReportStore
    from skloop.store._runs import RunStore

__all__ = ["Store"]


class Store:
    """Metadata and artifacts of every run, model, prediction and loop decision.

    Build one with :meth:`open`, which checks (and for embedded SQLite, upgrades) the
    schema. The constructor only prepares connections; it creates nothing.

    Parameters
    ----------
    url : str
        SQLAlchemy URL of the metadata database.
    artifact_root : str or path-like
        Local folder or fsspec URL of the artifact store.
    buffer_size : int
        Buffered metrics are written once this many are waiting.
    buffer_age : float
        ... or once this many seconds have passed since the last write.
    storage_options : dict, optional
        fsspec storage options of the artifact root (endpoint, credentials).
    mirror_target : str, optional
        An MLflow tracking server: every run that ends, version registered and alias
        moved is queued in ``store.mirror`` for it (see :mod:`skloop.workflows._mirror`).

    Attributes
    ----------
    db : Database
        Engines, the transaction scope and dialect helpers, shared by the parts.
    artifacts : ArtifactStore
        Content-addressed bytes.
    runs : RunStore
    datasets : DatasetStore
    histories : MetricHistories
    models : ModelStore
    predictions : PredictionStore
    loop : LoopStore
    reports : ReportStore
    mirror : MirrorOutbox
        The parts, each built on first access.
    mirror_target : str or None
        The MLflow tracking server given as ``mirror_target``.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> with Store.open(f"sqlite:///{d}/skloop.db", f"{d}/artifacts") as store:
    ...     with store.runs.start_run("demo") as run:
    ...         store.runs.log_metric(run.id, "cv_roc_auc", 0.91)
    ...     store.runs.get_run(run.id[:8]).metrics
    {'cv_roc_auc': 0.91}
    """

    def __init__(
        self,
        url: str,
        artifact_root: str | os.PathLike[str],
        *,
        buffer_size: int = DEFAULT_MAX_SIZE,
        buffer_age: float = DEFAULT_MAX_AGE,
        storage_options: Mapping[str, Any] | None = None,
        mirror_target: str | None = None,
    ) -> None:
        self.db = Database(url)
        self.artifacts = ArtifactStore(artifact_root, dict(storage_options or {}))
        self._buffer_size = buffer_size
        self._buffer_age = buffer_age
        #: the MLflow tracking server this store's records are queued for, or None
        self.mirror_target = mirror_target or None
        self._on_close: list[Callable[[], None]] = []
        register_for_exit(self.db)
        if self.mirror_target is not None:
            self.mirror  # noqa: B018 -- built now: it listens to every record from the start

    # The parts are built (and their modules imported) on first access, so a command
    # pays only for the parts it uses: ``skloop runs`` loads no prediction, loop,
    # mirror or report code.

    @cached_property
    def runs(self) -> RunStore:
        """Runs, params, tags, metrics and run artifacts."""
        from skloop.store._runs import RunStore

        return RunStore(self.db, self.artifacts, buffer_size=self._buffer_size, buffer_age=self._buffer_age)

    @cached_property
    def datasets(self) -> DatasetStore:
        """Dataset snapshots and their links to runs."""
        from skloop.store._datasets import DatasetStore

        return DatasetStore(self.db, self.runs)

    @cached_property
    def histories(self) -> MetricHistories:
        """Metric histories of several runs, read at once."""
        from skloop.store._histories import MetricHistories

        return MetricHistories(self.db)

    @cached_property
    def models(self) -> ModelStore:
        """Model versions, aliases and derived artifacts."""
        from skloop.store._models import ModelStore

        return ModelStore(self.db, self.artifacts)

    @cached_property
    def predictions(self) -> PredictionStore:
        """Predictions and labels."""
        from skloop.store._predictions import PredictionStore

        return PredictionStore(self.db)

    @cached_property
    def loop(self) -> LoopStore:
        """Loop decisions, steps and locks."""
        from skloop.store._loop import LoopStore

        return LoopStore(self.db)

    @cached_property
    def reports(self) -> ReportStore:
        """Stored monitoring reports."""
        from skloop.store._reports import ReportStore

        return ReportStore(self.db, self.artifacts)

    @cached_property
    def mirror(self) -> MirrorOutbox:
        """The outbox of records to copy to MLflow tracking servers."""
        from skloop.store._mirror import MirrorOutbox

        return MirrorOutbox(self.db, self.mirror_target)

    @property
    def url(self) -> str:
        """The database URL (with its password; :func:`repr` hides it)."""
        return self.db.url

    @classmethod
    def open(
        cls,
        settings_or_url: Settings | str,
        artifact_root: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> Store:
        """Open the store named by settings or a URL, checking its schema.

        An embedded SQLite database is created or upgraded on first use; any other
        database must have been upgraded with ``skloop db upgrade``.

        Parameters
        ----------
        settings_or_url : Settings or str
            :class:`~skloop.core.Settings` (its ``store_url`` and ``artifact_root``)
            or a database URL.
        artifact_root : str or path-like, optional
            Overrides the settings; with a SQLite URL, defaults to ``artifacts/``
            next to the database file.
        **kwargs
            Passed to the constructor (``buffer_size``, ``buffer_age``,
            ``storage_options``, ``mirror_target``; the settings' ``artifact_options``
            and ``mlflow_uri`` by default).

        Raises
        ------
        SchemaOutOfDateError
            When a server database needs ``skloop db upgrade``.
        """
        if isinstance(settings_or_url, Settings):
            url = settings_or_url.store_url
            artifact_root = artifact_root or settings_or_url.artifact_root
            if settings_or_url.artifact_options and "storage_options" not in kwargs:
                kwargs["storage_options"] = settings_or_url.artifact_options
            if settings_or_url.mlflow_uri and "mirror_target" not in kwargs:
                kwargs["mirror_target"] = settings_or_url.mlflow_uri
        else:
            url = str(settings_or_url)
        if artifact_root is None:
            database = make_url(url).database if url.startswith("sqlite") else None
            if not database or database == ":memory:":
                raise StoreError(
                    f"no artifact root given for {redact(url)}; pass artifact_root "
                    "(a folder or an fsspec URL) or set SKLOOP_ARTIFACT_ROOT"
                )
            artifact_root = Path(database).parent / "artifacts"
        store = cls(url, artifact_root, **kwargs)
        try:
            engine = store.db.engine
            if engine.dialect.name == "sqlite":
                database = engine.url.database
                if database and database != ":memory:":
                    Path(database).parent.mkdir(parents=True, exist_ok=True)
                ensure_schema(engine, auto_upgrade=True)
            else:
                ensure_schema(engine, auto_upgrade=False)
        except BaseException:
            store.close()
            raise
        return store

    def __repr__(self) -> str:
        return f"Store({redact(self.url)!r}, {redact(self.artifacts.root)!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def on_close(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` once when the store is closed, after its writes are flushed."""
        self._on_close.append(hook)

    def close(self) -> None:
        """Flush buffered metrics, call the :meth:`on_close` hooks and release the database connections."""
        try:
            self.db.flush()
            hooks, self._on_close = self._on_close, []
            for hook in hooks:
                hook()
        finally:
            self.db.close()

    def flush(self) -> None:
        """Write every buffered metric now, in one transaction."""
        self.db.flush()
