"""store.reports: stored monitoring reports (rows + gzipped JSON artifacts), on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import json
import time

import pytest

from skloop.core import ArtifactIntegrityError, ModelNotFoundError, NotFoundError, StoreError
from skloop.store import DatasetRecord, Store, StoredReport

FP = "ab" * 32


def _versions(store: Store, n: int = 2) -> None:
    with store.runs.start_run("churn") as run:
        store.datasets.log_dataset(run.id, DatasetRecord(fingerprint=FP, source="data.csv", n_rows=10, n_columns=3))
    for _ in range(n):
        store.models.create_model_version("churn", run_id=run.id, artifact_sha256="cd" * 32)


def _add(store: Store, version: int = 1, source: str = "new.csv", **kwargs: object) -> StoredReport:
    body = json.dumps({"model": f"churn/{version}", "features": [{"name": "x", "drifted": True}], "pad": "z" * 5000})
    fields: dict[str, object] = {
        "source_kind": "file", "source": source, "drifted": True, "n_features": 3, "n_drifted": 2,
        "drift_share": 2 / 3, "performance_alert": True, "n_quality_issues": 1, "n_rows": 900,
        "summary": {"features": {"x": {"statistic": 0.4, "drifted": True}}}, "window": "300 rows",
    }  # fmt: skip
    fields.update(kwargs)
    return store.reports.add_report("churn", version, body, **fields)  # type: ignore[arg-type]


def test_a_report_is_a_row_and_its_json(store: Store) -> None:
    _versions(store)
    r = _add(store)
    assert (r.name, r.version, r.ref, r.source_kind, r.source, r.window) == ("churn", 1, "churn/1", "file",
                                                                             "new.csv", "300 rows")  # fmt: skip
    assert (r.drifted, r.n_features, r.n_drifted, r.performance_alert, r.n_quality_issues, r.n_rows) == (
        True, 3, 2, True, 1, 900)  # fmt: skip
    assert abs(r.drift_share - 2 / 3) < 1e-12 and r.summary["features"]["x"]["drifted"] is True
    assert r.created.tzinfo is not None and len(r.id) == 32
    text = store.reports.load_report(r)
    assert json.loads(text)["model"] == "churn/1"
    assert r.report_size < len(text) / 5  # kept gzipped: the padding compresses away
    assert store.reports.get_report(r.id[:8]) == r == store.reports.get_report(r.id, name="churn")
    assert store.reports.load_report(r.id) == text
    assert r.to_dict()["created"] == r.created.isoformat()


def test_listing_is_oldest_first_and_filters(store: Store) -> None:
    _versions(store)
    first = _add(store, 1, "a.csv")
    time.sleep(0.01)
    second = _add(store, 2, "log", source_kind="log", window=None, drifted=False, n_drifted=0, drift_share=0.0)
    time.sleep(0.01)
    third = _add(store, 2, "b.csv")
    assert [r.id for r in store.reports.list_reports("churn")] == [first.id, second.id, third.id]
    assert [r.id for r in store.reports.list_reports("churn", limit=2)] == [second.id, third.id]
    assert [r.id for r in store.reports.list_reports("churn", version=2)] == [second.id, third.id]
    assert [r.id for r in store.reports.list_reports("churn", source="log")] == [second.id]
    assert store.reports.list_reports("fraud") == [] and store.reports.count_reports("churn") == 3
    assert (second.drifted, second.window) == (False, None)
    bare = store.reports.list_reports("churn", summaries=False)
    assert [r.summary for r in bare] == [{}, {}, {}] and [r.id for r in bare] == [first.id, second.id, third.id]
    assert bare[0].drifted is True and bare[0].report_sha256 == first.report_sha256  # the verdict columns, read


def test_replace_keeps_one_report_per_source(store: Store) -> None:
    _versions(store)
    decision = "d" * 32
    old = _add(store, source=decision, source_kind="loop")
    other = _add(store, source="e" * 32, source_kind="loop")
    new = _add(store, source=decision, source_kind="loop", replace=True)
    assert [r.id for r in store.reports.list_reports("churn")] == [other.id, new.id]
    with pytest.raises(NotFoundError):
        store.reports.get_report(old.id)


def test_bad_reports_are_refused_with_the_field_named(store: Store) -> None:
    _versions(store, 1)
    with pytest.raises(ModelNotFoundError, match=r"churn/5 is not a registered model version"):
        _add(store, 5)
    with pytest.raises(StoreError, match="source_kind is one of"):
        _add(store, source_kind="email")
    with pytest.raises(StoreError, match="source is a non-empty string"):
        _add(store, source="")
    with pytest.raises(StoreError, match="cannot have 4 drifted features out of 3"):
        _add(store, n_drifted=4)
    with pytest.raises(StoreError, match="n_rows is a count"):
        _add(store, n_rows=-1)
    with pytest.raises(StoreError, match="drift_share is between 0 and 1"):
        _add(store, drift_share=1.5)
    assert store.reports.list_reports("churn") == []  # nothing half-written


def test_unknown_ids_and_other_models_are_not_found(store: Store) -> None:
    _versions(store)
    r = _add(store)
    for bad in ("nothex!", "ab", "f" * 32):
        with pytest.raises(NotFoundError):
            store.reports.get_report(bad)
    with pytest.raises(NotFoundError, match="not a stored monitoring report of 'fraud'"):
        store.reports.get_report(r.id, name="fraud")


def test_a_damaged_report_artifact_is_refused(store: Store) -> None:
    _versions(store, 1)
    r = _add(store)
    path = store.artifacts.path_of(r.report_sha256)
    with open(path, "wb") as fh:
        fh.write(gzip.compress(b"{}"))
    with pytest.raises(ArtifactIntegrityError):
        store.reports.load_report(r)
