"""Metric histories of several runs in one read (``store.histories``), and tag facets."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from skloop.core import StoreError
from skloop.store import Run, Store, TagFacet
from skloop.ui._queries import run_facets

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _logged(store: Store, name: str, losses: list[float]) -> str:
    with store.runs.start_run("demo", name=name) as run:
        for step, loss in enumerate(losses):
            store.runs.log_metric(run.id, "loss", loss, step=step)
        store.runs.log_metric(run.id, "holdout_auc", 0.8)  # one step: not a curve
        store.runs.log_batch(run.id, metrics=[("cv_auc_fold", 0.7 + i / 100, i) for i in range(3)])
    return run.id


def test_histories_of_several_runs_are_one_statement_and_equal_what_was_logged(store: Store) -> None:
    a = _logged(store, "a", [0.9, 0.5, 0.25, 0.125])
    b = _logged(store, "b", [1.0, 0.75])
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(store.db.reader, "before_cursor_execute", record)
    try:
        read = store.histories.read([a, b, "f" * 32], stepped=True)
    finally:
        event.remove(store.db.reader, "before_cursor_execute", record)
    assert len([s for s in statements if "FROM metrics" in s]) == 1
    assert list(read) == [a, b]  # the order asked for; the unknown run left out
    assert [(m.step, m.value) for m in read[a]["loss"]] == [(0, 0.9), (1, 0.5), (2, 0.25), (3, 0.125)]
    assert [m.value for m in read[b]["loss"]] == [1.0, 0.75]
    assert set(read[a]) == {"loss", "cv_auc_fold"}  # holdout_auc was logged at one step only
    every = store.histories.read([a], ["holdout_auc", "loss"])
    assert set(every[a]) == {"holdout_auc", "loss"} and len(every[a]["holdout_auc"]) == 1


def test_a_long_history_is_thinned_evenly_in_sql_keeping_the_ends(store: Store) -> None:
    [run_id] = store.runs.import_runs([Run(id="", project="demo", kind="train", status="finished", start_time=T0)])
    store.runs.import_metric_history((run_id, "loss", 1 / (1 + s), s) for s in range(1000))
    thinned = store.histories.read([run_id], max_points=100)[run_id]["loss"]
    steps = [m.step for m in thinned]
    assert steps[0] == 0 and steps[-1] == 999 and len(steps) in (100, 101)
    gaps = {b - a for a, b in itertools.pairwise(steps[:-1])}
    assert gaps == {10}  # evenly spaced
    assert all(m.value == pytest.approx(1 / (1 + m.step)) for m in thinned)
    assert len(store.histories.read([run_id], max_points=5000)[run_id]["loss"]) == 1000


def test_nan_survives_and_bad_arguments_name_the_problem(store: Store) -> None:
    with store.runs.start_run("demo") as run:
        store.runs.log_batch(run.id, metrics=[("loss", 1.0, 0), ("loss", math.nan, 1)])
    values = [m.value for m in store.histories.read([run.id])[run.id]["loss"]]
    assert values[0] == 1.0 and math.isnan(values[1])
    assert store.histories.read([]) == {} and store.histories.read([run.id], []) == {}
    with pytest.raises(StoreError, match="max_points"):
        store.histories.read([run.id], max_points=1)
    with pytest.raises(StoreError, match="at most 500 runs"):
        store.histories.read([f"{i:032x}" for i in range(501)])


def test_tag_facets_count_values_per_key_most_common_first(store: Store) -> None:
    teams = ["red", "blue", "red", "green", "red", "blue", "it's"]
    runs = [
        Run(id="", project="demo" if i < 7 else "other", kind="train", status="finished",
            start_time=T0 + timedelta(minutes=i), tags={"team": teams[i % 7], **({"gpu": "a100"} if i % 2 else {})})
        for i in range(10)
    ]  # fmt: skip
    store.runs.import_runs(runs)
    facets = store.runs.facets("demo", tags=5, tag_values=2).tags
    expected = Counter(teams)
    assert facets[0] == TagFacet("team", [("red", 3), ("blue", 2)], n_runs=7, n_values=len(expected))
    assert facets[1] == TagFacet("gpu", [("a100", 3)], n_runs=3, n_values=1)
    whole = store.runs.facets(tags=1, tag_values=10).tags  # every project
    assert whole == [TagFacet("team", sorted(Counter([*teams, "red", "blue", "red"]).items(),
                                             key=lambda kv: (-kv[1], kv[0])), n_runs=10, n_values=4)]  # fmt: skip
    assert store.runs.facets("demo").tags == []  # not asked for
    newest = store.runs.facets("demo", tags=1, tag_values=3, tag_runs=2)  # runs 6 and 5: teams it's, blue
    assert newest.tags == [TagFacet("team", [("blue", 1), ("it's", 1)], n_runs=2, n_values=2)] and newest.tag_runs == 2
    with pytest.raises(StoreError, match="max_runs"):
        store.runs.facets("demo", tags=3, tag_runs=0)
    with pytest.raises(StoreError, match="max_values"):
        store.runs.facets("demo", tags=3, tag_values=0)


def test_tag_facets_count_long_values_and_exact_alone_counts_every_run(store: Store) -> None:
    long = "x" * 600  # beyond ix_tags_key_value (500 characters): counted from ix_tags_key_long
    notes = [long, "short", long, long, "short", long + "y"]
    runs = [Run(id="", project="solo", kind="train", status="finished", start_time=T0 + timedelta(minutes=i),
                tags={"note": notes[i]}) for i in range(6)]  # fmt: skip
    store.runs.import_runs(runs)
    exact = store.runs.facets("solo", tags=1, tag_values=3, tag_runs=2, exact_alone=True)
    assert exact.tag_runs == 6  # alone in the store: every run, not the newest 2
    assert exact.tags == [TagFacet("note", [(long, 3), ("short", 2), (long + "y", 1)], n_runs=6, n_values=3)]
    assert store.runs.facets("solo", tags=1, tag_values=3).tags == exact.tags
    store.runs.import_runs([Run(id="", project="second", kind="train", status="finished", start_time=T0,
                                tags={"note": long})])  # fmt: skip
    assert store.runs.facets("solo", tags=1, tag_values=3).tags == exact.tags  # the other project's run left out
    shared = store.runs.facets("solo", tags=1, tag_values=3, tag_runs=2, exact_alone=True)
    assert shared.tag_runs == 2 and shared.tags[0].n_runs == 2  # beside another project: the newest 2


@pytest.mark.parametrize(
    "sizes", [{"big": 90, "small": 20}, pytest.param({"big": 5_150, "small": 700}, marks=pytest.mark.long)]
)
def test_tag_facets_are_exact_over_every_run_beside_another_project(store: Store, sizes: dict[str, int]) -> None:
    """A large and a small project in one store (the long case: beyond 5,000 runs): the counts equal a Python count.

    The large project's tags come from a scan of the tag indexes checked against its ids, the
    small one's (under a quarter of the runs) from its runs' tags by primary key.
    """
    rng = __import__("random").Random(3)
    runs = [
        Run(id="", project=project, kind="train", status="finished", start_time=T0 + timedelta(seconds=i),
            tags={"team": rng.choice("abcd"), "host": f"h{rng.randint(0, 60)}"} | ({"odd": "1"} if i % 3 else {}))
        for project, n in sizes.items() for i in range(n)
    ]  # fmt: skip
    store.runs.import_runs(runs, chunk_size=5_000)
    for project, n in sizes.items():
        counts: dict[str, Counter[str]] = {}
        for run in runs:
            if run.project == project:
                for key, value in run.tags.items():
                    counts.setdefault(key, Counter())[value] += 1
        expected = sorted(
            (TagFacet(key, sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:6], n_runs=c.total(), n_values=len(c))
             for key, c in counts.items()),
            key=lambda f: (-f.n_runs, f.key),
        )  # fmt: skip
        got = store.runs.facets(project, tags=3, tag_values=6)
        assert got.tag_runs == n > 0 and got.tags == expected, project
        ui = run_facets(store, project)  # what the runs page shows: every run, not the newest 5,000
        assert ui.tag_runs == n and ui.tags[:3] == expected, project
