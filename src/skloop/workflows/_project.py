"""``Project``: the Python face of a ``skloop.yaml`` and its store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from skloop.core import SPEC_FILENAME, Settings, Spec, load_spec
from skloop.store import Store
from skloop.workflows._progress import Progress
from skloop.workflows._reproduce import ReproduceResult, reproduce
from skloop.workflows._train import TrainResult, train

__all__ = ["Project"]


class Project:
    """A spec, the directory it lives in, and its tracking store.

    Parameters
    ----------
    spec : Spec
        The validated spec.
    settings : Settings
        Store URL, artifact root and the base directory.

    Examples
    --------
    >>> project = Project.load("skloop.yaml")          # doctest: +SKIP
    >>> run = project.train()                          # doctest: +SKIP
    >>> run.cv["roc_auc"]["mean"]                      # doctest: +SKIP
    0.84
    """

    def __init__(self, spec: Spec, settings: Settings) -> None:
        self.spec = spec
        self.settings = settings
        self._store: Store | None = None

    @classmethod
    def load(cls, path: str | os.PathLike[str] = SPEC_FILENAME, settings: Settings | None = None) -> Project:
        """Load the spec at ``path`` (a file or a directory holding ``skloop.yaml``)."""
        p = Path(path)
        spec_file = p / SPEC_FILENAME if p.is_dir() else p
        spec = load_spec(spec_file)
        return cls(spec, settings or Settings.from_env(spec_file.resolve().parent))

    @property
    def store(self) -> Store:
        """The tracking store, opened (and for SQLite created) on first use."""
        if self._store is None:
            self._store = Store.open(self.settings)
        return self._store

    def close(self) -> None:
        """Flush and close the store."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def train(
        self, *, progress: Progress | None = None, n_jobs: int | None = None, register: bool | None = None
    ) -> TrainResult:
        """Run the cross-validated search the spec declares, tracked as one run (and register it)."""
        return train(self.spec, self.settings, store=self.store, progress=progress, n_jobs=n_jobs, register=register)

    def reproduce(self, run_id: str, *, progress: Progress | None = None) -> ReproduceResult:
        """Rerun ``run_id`` from its snapshot and compare every CV fold score."""
        return reproduce(run_id, self.settings, store=self.store, progress=progress)

    def runs(self, **kwargs: Any) -> list[Any]:
        """Runs of this project, newest first (``search_runs`` keywords accepted)."""
        kwargs.setdefault("order_by", ["start_time DESC"])
        return self.store.runs.search_runs(self.spec.name, **kwargs)

    def run(self, run_id: str) -> Any:
        """One run by id or unique prefix."""
        return self.store.runs.get_run(run_id)
