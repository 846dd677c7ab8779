"""Search workers started early (skloop.core._workers): which specs start them, and joining."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from skloop.core import _workers


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "skloop.yaml"
    path.write_text(text)
    return path


MODEL = "pipeline:\n  model:\n    class: sklearn.ensemble.RandomForestClassifier\n"
ALL = ["sklearn.ensemble", "skloop.pipelines", "sklearn.model_selection"]


@pytest.mark.parametrize(
    ("text", "n_jobs", "expected"),
    [
        (MODEL + "search:\n  n_jobs: -1\n", None, (-1, ALL)),
        (MODEL + "search:\n  n_jobs: 1\n", None, None),
        (MODEL + "search:\n  n_jobs: 1\n", 2, (2, ALL)),
        (MODEL + "search:\n  n_jobs: 4\n", 1, None),  # --n-jobs 1 wins over the spec
        (MODEL, None, None),  # the spec's default is one process
        (MODEL + "search:\n  n_jobs: -1\n  backend: dask\n", None, None),
        (MODEL + "search:\n  n_jobs: -1\n  strategy: none\n", None, None),
        ("search:\n  n_jobs: -1\n", None, (-1, ["skloop.pipelines", "sklearn.model_selection"])),  # a factory
        ("search: [not, a, mapping]\n", 2, (2, ["skloop.pipelines", "sklearn.model_selection"])),
        ("search:\n  n_jobs: yes\n", None, None),
        (": not yaml: [", None, None),
        ("- a list\n", None, None),
    ],
)
def test_which_specs_start_workers(tmp_path: Path, text: str, n_jobs: int | None, expected: object) -> None:
    assert _workers._search_settings(_spec(tmp_path, text), n_jobs) == expected


def test_no_spec_starts_nothing(tmp_path: Path) -> None:
    assert _workers.warm_search_workers(tmp_path / "missing.yaml", 2) is None
    assert _workers._STARTED == []


def test_started_workers_are_joined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, list[str]]] = []

    class FakeParallel:  # the thread's call, without spawning processes in a unit test
        def __init__(self, n_jobs: int) -> None:
            self.n_jobs = n_jobs

        def __call__(self, tasks: object) -> None:
            for fn, args, _ in tasks:  # type: ignore[attr-defined]
                fn(*args)
                calls.append((self.n_jobs, args[0]))

    import joblib

    monkeypatch.setattr(joblib, "Parallel", FakeParallel)
    monkeypatch.setattr(joblib, "effective_n_jobs", lambda n: 2)
    thread = _workers.warm_search_workers(_spec(tmp_path, MODEL + "search:\n  n_jobs: -1\n"))
    assert thread is not None and [thread] == _workers._STARTED
    _workers.wait_for_workers()
    assert not thread.is_alive() and _workers._STARTED == []
    assert [n for n, _ in calls] == [-1, -1]  # one task per worker
    assert "sklearn.ensemble" in sys.modules


def test_import_modules_leaves_failures_to_the_caller() -> None:
    _workers.import_modules(["no_such_module_xyz", "json"])
    assert "json" in sys.modules and "no_such_module_xyz" not in sys.modules
