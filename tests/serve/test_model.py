"""The served model: its ONNX export is made once per version, then read back from the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from serve_helpers import project_settings

from skloop.core import ExportError
from skloop.registry import Registry, onnx_kind
from skloop.registry import _export_onnx as export
from skloop.serve import CompiledSignature, load_served_model
from skloop.store import Store


@pytest.fixture
def churn_registry(srv_fresh_project: Path) -> Iterator[Registry]:
    store = Store.open(project_settings(srv_fresh_project))
    try:
        yield Registry(store)
    finally:
        store.close()


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each call of skl2onnx's conversion, counted (the conversion itself runs as usual)."""
    calls: list[str] = []
    convert = export._convert

    def counted(model: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(type(model).__name__)
        return convert(model, *args, **kwargs)

    monkeypatch.setattr(export, "_convert", counted)
    return calls


def _answers(served: Any, srv_row: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
    compiled: CompiledSignature = served.compiled
    rows = [{**srv_row, "age": a, "tenure_months": t} for a in (20, 50, 80) for t in (0, 30, 70)]
    return served.predict(compiled.from_records(rows))


def test_the_second_load_of_a_version_reads_its_onnx_export_back(
    churn_registry: Registry, conversions: list[str], srv_row: dict[str, Any]
) -> None:
    first = load_served_model(churn_registry, "churn/1")
    assert first.runtime == "onnxruntime" and len(conversions) == 1
    kept = churn_registry.store.models.get_version_artifact("churn", 1, onnx_kind())
    assert kept is not None and kept.sha256 is not None
    assert kept.meta["parity"]["max_abs_diff"] <= kept.meta["parity"]["atol"]
    assert kept.meta["parity"]["n_rows"] > 0

    again = load_served_model(churn_registry, "churn@champion")  # a reload, or a hot swap back to v1
    assert again.runtime == "onnxruntime" and len(conversions) == 1  # not converted again
    (labels1, proba1), (labels2, proba2) = _answers(first, srv_row), _answers(again, srv_row)
    assert labels1.tolist() == labels2.tolist()
    np.testing.assert_array_equal(proba1, proba2)


def test_a_refused_export_is_kept_and_not_tried_again(
    churn_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        raise ExportError("skl2onnx could not convert the pipeline: planted; export with --format mlflow instead")

    monkeypatch.setattr(export, "_convert", refuse)
    first = load_served_model(churn_registry, "churn/1")
    again = load_served_model(churn_registry, "churn/1")
    assert first.runtime == again.runtime == "sklearn" and len(calls) == 1
    assert first.onnx_refusal == again.onnx_refusal and "planted" in (again.onnx_refusal or "")


def test_a_large_call_scored_in_parts_answers_as_one_call(
    churn_registry: Registry, srv_row: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from skloop.serve import _model

    served = load_served_model(churn_registry, "churn/1")
    served.forest = None  # the whole graph for every batch (the forest's own test is below)
    ages, tenures = np.meshgrid(np.arange(18, 91), np.arange(0, 25))
    pairs = zip(ages.ravel().tolist(), tenures.ravel().tolist(), strict=True)
    rows = served.compiled.from_records([{**srv_row, "age": a, "tenure_months": t} for a, t in pairs])
    calls: list[int] = []
    run = served.session.run

    class Counting:  # the session's calls, counted by their rows
        def run(self, names: Any, feed: dict[str, np.ndarray]) -> Any:
            calls.append(len(next(iter(feed.values()))))
            return run(names, feed)

        def __getattr__(self, name: str) -> Any:
            return getattr(served.session, name)

    monkeypatch.setattr(_model, "_cores", lambda: 3)
    monkeypatch.setattr(_model, "PART_ROWS", 500)
    original = served.session
    served.session = Counting()
    try:
        labels, proba = served.predict(rows)
    finally:
        served.session = original
    assert sorted(calls) == [608, 608, 609]  # 1,825 rows in 3 parts, one a core
    monkeypatch.setattr(_model, "PART_ROWS", 10**9)  # the same rows in one call
    whole_labels, whole_proba = served.predict(rows)
    assert labels.tolist() == whole_labels.tolist()
    np.testing.assert_array_equal(proba, whole_proba)
