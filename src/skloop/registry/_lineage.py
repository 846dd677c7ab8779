"""Lineage: from a model version to the run and data that made it, and back.

A :class:`LineageNode` tree is plain data (``to_dict`` gives JSON), so the CLI can draw
it as a rich tree and scripts can walk it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from skloop.store import ModelVersion, Run, Store

__all__ = ["LineageNode", "dataset_lineage", "version_lineage"]


@dataclass(frozen=True)
class LineageNode:
    """One node of a lineage tree.

    Parameters
    ----------
    kind : {"model_version", "run", "dataset"}
        What the node is.
    id : str
        ``name/version``, the run id, or the dataset fingerprint.
    attrs : dict
        What is known about it (status, metrics, params, code commit, source, rows, ...).
    children : tuple of LineageNode
        Version → its run → the run's datasets; dataset → the versions trained on it.
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
        "status": v.status,
        "rejection_reason": v.rejection_reason,
        "aliases": list(v.aliases),
        "created": v.created,
        "artifact_sha256": v.artifact_sha256,
        "artifact_format": v.artifact_format,
        "metrics": v.metrics,
        "dataset_fingerprint": v.dataset_fingerprint,
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
    """Version → run (params, metrics, code, environment, spec) → datasets."""
    run = store.runs.get_run(version.run_id)
    return LineageNode(
        "model_version", version.ref, _version_attrs(version), (_run_node(store, run, with_datasets=True),)
    )


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
