"""Lineage: from a model version to the run, data, parent and decision that made it, and back.

A :class:`LineageNode` tree is plain data (``to_dict`` gives JSON), so the CLI can draw
it as a rich tree and scripts can walk it. A version's tree is a fixed handful of
reads (the version, its run, the run's datasets in one read, its parent version, the
decision that produced it by an indexed lookup); a dataset's is three whatever the
number of versions trained on it (the versions with their aliases, their runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from skloop.store import Decision, ModelVersion, Run, Store

__all__ = ["LineageNode", "dataset_lineage", "version_lineage"]


@dataclass(frozen=True)
class LineageNode:
    """One node of a lineage tree.

    Parameters
    ----------
    kind : {"model_version", "run", "dataset", "parent", "decision"}
        What the node is: ``parent`` is the version a version was retrained or derived
        from, ``decision`` the loop decision that retrained it.
    id : str
        ``name/version`` (of a version or a parent), the run id, the dataset
        fingerprint, or the decision id.
    attrs : dict
        What is known about it (status, metrics, params, code commit, source, rows,
        a decision's outcome, reason and fired triggers, ...).
    children : tuple of LineageNode
        Version → its run (→ the run's datasets), its parent, its decision; dataset →
        the versions trained on it → their runs.
    """

    kind: str
    id: str
    attrs: dict[str, Any] = field(default_factory=dict)
    children: tuple[LineageNode, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The tree as nested dicts (``kind``, ``id``, ``attrs``, ``children``)."""
        return {
            "kind": self.kind,
            "id": self.id,
            "attrs": self.attrs,
            "children": [c.to_dict() for c in self.children],
        }

    def walk(self, kind: str | None = None) -> list[LineageNode]:
        """This node and every descendant (of ``kind``, if given), depth first."""
        found = [self] if kind is None or self.kind == kind else []
        for child in self.children:
            found += child.walk(kind)
        return found


def _version_attrs(v: ModelVersion) -> dict[str, Any]:
    return {
        "name": v.name,
        "version": v.version,
        "run_id": v.run_id,
        "status": v.status,
        "rejection_reason": v.rejection_reason,
        "aliases": list(v.aliases),
        "created": v.created,
        "artifact_sha256": v.artifact_sha256,
        "artifact_format": v.artifact_format,
        "metrics": v.metrics,
        "dataset_fingerprint": v.dataset_fingerprint,
        "parent_version": v.parent_version,
    }


def _decision_attrs(d: Decision) -> dict[str, Any]:
    comparison = d.comparison or {}
    return {
        "name": d.name,
        "status": d.status,
        "outcome": d.outcome,
        "reason": d.reason,
        "evaluated_at": d.evaluated_at,
        "fired": list(d.fired),
        "triggers": [t.get("name") for t in d.triggers],
        "champion_version": d.champion_version,
        "challenger_version": d.challenger_version,
        "retrain_run_id": d.retrain_run_id,
        "metric": comparison.get("metric"),
        "champion_score": comparison.get("champion"),
        "challenger_score": comparison.get("challenger"),
        "p_value": comparison.get("p_value"),
    }


def _run_node(store: Store, run: Run, *, with_datasets: bool) -> LineageNode:
    children: list[LineageNode] = []
    if with_datasets:
        # one read for all the run's datasets; inputs reference them by foreign key
        found = {d.fingerprint: d for d in store.datasets.get_datasets(u.fingerprint for u in run.datasets)}
        for used in run.datasets:
            d = found.get(used.fingerprint)
            if d is None:  # pragma: no cover - inputs reference datasets by foreign key
                continue
            attrs = {
                "role": used.role,
                "source": d.source,
                "n_rows": d.n_rows,
                "n_columns": d.n_columns,
                "created": d.created,
                "snapshot_sha256": d.snapshot_sha256,
            }
            children.append(LineageNode("dataset", d.fingerprint, attrs))
    attrs = {
        "project": run.project,
        "kind": run.kind,
        "status": run.status,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "params": run.params,
        "metrics": {k: v for k, v in run.metrics.items() if not k.endswith("_fold")},
        "code_commit": run.code_commit,
        "code_dirty": run.code_dirty,
        "environment": run.environment,
        "spec": run.spec,
        "seed": run.seed,
        "parent_run_id": run.parent_run_id,
    }
    return LineageNode("run", run.id, attrs, tuple(children))


def version_lineage(store: Store, version: ModelVersion) -> LineageNode:
    """Version → run (params, metrics, code, environment, spec) → datasets; its parent; its decision.

    The parent is the version recorded as the one this was retrained or derived from
    (its own lineage is one more call); the decision is the loop decision whose
    challenger this version was, the first one (the one that ran the retrain).
    """
    run = store.runs.get_run(version.run_id)
    children = [_run_node(store, run, with_datasets=True)]
    if version.parent_version is not None:
        parent = store.models.get_model_version(version.name, version.parent_version)
        children.append(LineageNode("parent", parent.ref, _version_attrs(parent)))
    decision = store.loop.decision_for_version(version.name, version.version)
    if decision is not None:
        children.append(LineageNode("decision", decision.id, _decision_attrs(decision)))
    return LineageNode("model_version", version.ref, _version_attrs(version), tuple(children))


def dataset_lineage(store: Store, fingerprint: str) -> LineageNode:
    """Dataset (fingerprint or unique prefix) → every version trained on it → its run."""
    d = store.datasets.get_dataset(fingerprint)
    versions = store.models.versions_for_dataset(d.fingerprint)
    runs = {r.id: r for r in store.runs.get_runs(v.run_id for v in versions)}  # one read, not one per version
    children = tuple(
        LineageNode(
            "model_version",
            v.ref,
            _version_attrs(v),
            (_run_node(store, runs[v.run_id], with_datasets=False),),
        )
        for v in versions
    )
    attrs = {"source": d.source, "n_rows": d.n_rows, "n_columns": d.n_columns, "created": d.created}
    return LineageNode("dataset", d.fingerprint, attrs, children)
