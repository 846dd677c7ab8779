"""Calls handed to the warmed search workers (skloop.core.in_worker) and ending them (stop_workers)."""

from __future__ import annotations

import os
import pickle
import time

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from skloop.core import _workers, in_worker, stop_workers
from skloop.registry import load_model, save_model, save_pickled_model
from skloop.workflows import _train


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setattr(_workers, "_JOBS", [2])  # as warm_search_workers leaves it
    yield
    stop_workers()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_without_warmed_workers_there_is_no_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_workers, "_JOBS", [])
    assert in_worker(os.getpid) is None


def test_a_call_runs_in_another_process_and_its_error_comes_back(workers: object) -> None:
    call = in_worker(os.getpid)
    assert call is not None
    assert call.result(timeout=60) != os.getpid()
    failing = in_worker(int, "not a number")
    assert failing is not None
    with pytest.raises(ValueError, match="not a number"):
        failing.result(timeout=60)


def test_stop_workers_ends_them_at_once(workers: object) -> None:
    call = in_worker(os.getpid)
    assert call is not None
    pid = call.result(timeout=60)
    assert _alive(pid)
    stop_workers()
    assert _workers._JOBS == []
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:  # killed and reaped by loky's manager
        time.sleep(0.05)
    assert not _alive(pid)


def _forest() -> tuple[RandomForestClassifier, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    return RandomForestClassifier(n_estimators=5, random_state=0).fit(X, X[:, 0] > 0), X


@pytest.mark.slow  # the worker imports skops (~0.5 s, more on a busy machine)
def test_the_skops_file_written_in_a_worker_loads_as_the_model(workers: object) -> None:
    model, X = _forest()
    saving = _train._save_in_worker(model)
    assert saving is not None
    loaded = load_model(_train._saved(saving, model), "skops")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_a_failed_worker_save_is_written_here(monkeypatch: pytest.MonkeyPatch) -> None:
    model, X = _forest()

    class Broken:
        def result(self, timeout: float | None = None) -> bytes:
            raise EOFError("the worker died")

    loaded = load_model(_train._saved(Broken(), model), "skops")  # type: ignore[arg-type]
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_a_model_that_does_not_pickle_is_not_sent(workers: object) -> None:
    from sklearn.preprocessing import FunctionTransformer

    assert _train._save_in_worker(FunctionTransformer(lambda x: x)) is None


def test_save_pickled_model_is_save_model_of_the_model() -> None:
    model, X = _forest()
    for data in (save_pickled_model(pickle.dumps(model)), save_model(model)):
        np.testing.assert_array_equal(load_model(data, "skops").predict_proba(X), model.predict_proba(X))


def test_without_workers_the_model_is_not_even_pickled(monkeypatch: pytest.MonkeyPatch) -> None:
    class Pickled(BaseException):
        pass

    class Model:
        def __reduce__(self) -> object:
            raise Pickled  # not an Exception: _save_in_worker would let it through

    monkeypatch.setattr(_workers, "_JOBS", [])
    assert _train._save_in_worker(Model()) is None
