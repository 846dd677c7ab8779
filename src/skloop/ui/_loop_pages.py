"""The loop's decisions of a model, and lineage (of a version, of a dataset) as a graph.

The decisions are the store's loop records, read as ``skloop decisions`` reads them;
the lineage trees are the registry's, read as ``skloop lineage`` reads them. The
graph is laid out here, on the server, as an inline SVG whose nodes are links: no
script draws it, so it shows the same with scripts off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from skloop.core import NotFoundError
from skloop.registry import LineageNode
from skloop.ui import _queries as q
from skloop.ui._context import context_of, render
from skloop.ui._model_pages import model_url
from skloop.ui._runs_pages import when

__all__ = ["dataset_lineage_page", "lineage_graph", "loop_page", "version_lineage_page"]

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 210, 40, 50, 14, 8
"""The graph's geometry in pixels: node box, gaps between columns and rows, margin."""
MAX_LABEL = 28
"""Characters of a node's label drawn in its box (the full text is its tooltip)."""
_HEX = re.compile(r"[0-9a-f]{4,64}")


@dataclass(frozen=True)
class GraphNode:
    """One box of the lineage graph: where it is, what it says, where it links."""

    key: str
    kind: str
    label: str
    title: str
    href: str | None
    x: int
    y: int

    @property
    def short(self) -> str:
        """The label cut to fit its box."""
        return self.label if len(self.label) <= MAX_LABEL else self.label[: MAX_LABEL - 1] + "…"


@dataclass(frozen=True)
class Graph:
    """The laid-out graph: nodes, edges (pairs of keys) and the SVG's size."""

    nodes: list[GraphNode]
    edges: list[tuple[GraphNode, GraphNode]]
    width: int
    height: int


def lineage_graph(items: list[tuple[str, str, str, str, str | None, str | None]]) -> Graph:
    """Lay out ``(key, kind, label, title, href, parent key)`` items as columns by depth.

    A node's column is its depth from the root (the item with no parent); rows fill each
    column top down in the order given. Edges run from a parent to each child.
    """
    depth: dict[str, int] = {}
    rows: dict[int, int] = {}
    nodes: dict[str, GraphNode] = {}
    edges: list[tuple[GraphNode, GraphNode]] = []
    for key, kind, label, title, href, parent in items:
        col = 0 if parent is None else depth[parent] + 1
        depth[key] = col
        row = rows.get(col, 0)
        rows[col] = row + 1
        node = GraphNode(key, kind, label, title, href, PAD + col * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y))
        nodes[key] = node
        if parent is not None:
            edges.append((nodes[parent], node))
    n_cols = max(depth.values(), default=0) + 1
    n_rows = max(rows.values(), default=1)
    return Graph(
        list(nodes.values()), edges, 2 * PAD + n_cols * NODE_W + (n_cols - 1) * GAP_X,
        2 * PAD + n_rows * NODE_H + (n_rows - 1) * GAP_Y,
    )  # fmt: skip


def version_lineage_url(name: str, version: int) -> str:
    """The lineage page of ``name`` version ``version``."""
    return f"{model_url(name)}/{version}/lineage"


def dataset_url(fingerprint: str) -> str:
    """The lineage page of a dataset: every version trained on it."""
    return f"/datasets/{fingerprint}/lineage"


def loop_url(name: str) -> str:
    """The decisions page of model ``name``."""
    return f"{model_url(name)}/loop"


def _comparison(c: dict[str, Any] | None) -> str | None:
    """``roc_auc 0.812 → 0.845 (paired bootstrap, p=0.012)``, as ``skloop decisions`` shows it."""
    if not c or c.get("champion") is None or c.get("challenger") is None:
        return None
    p = c.get("p_value")
    test = c.get("method") or "test"
    shown = "–" if p is None else f"{p:.3g}"
    return f"{c.get('metric', '?')} {c['champion']:.3f} → {c['challenger']:.3f} ({test}, p={shown})"


async def loop_page(request: Request) -> Response:
    """``/models/{name}/loop``: the loop's decisions, newest first (404 for an unknown model)."""
    ctx = context_of(request)
    name = request.path_params["name"]
    q.list_versions(ctx.store, name)  # raises ModelNotFoundError (a 404 page) for an unknown model
    found = q.decisions(ctx.store, name)
    return render(
        request, "loop.html", title=f"Loop of {name}", name=name, decisions=list(reversed(found)),
        comparison=_comparison, when=when, model_url=model_url, lineage_url=version_lineage_url,
        project=ctx.project,
    )  # fmt: skip


def _decision_item(name: str, node: LineageNode, root: str) -> tuple[str, str, str, str, str | None, str | None]:
    """The decision that retrained a version: its fired triggers and outcome, linked on the loop page."""
    a = node.attrs
    fired = ", ".join(a["fired"]) or "no trigger"
    outcome = a["outcome"] or a["status"]
    when_ = when(a["evaluated_at"])
    title = f"decision {node.id} evaluated {when_}: {fired} fired → {outcome}; {a['reason'] or 'no reason recorded'}"
    return (f"d:{node.id}", "decision", f"decision: {fired} → {outcome}", title, f"{loop_url(name)}#d-{node.id}", root)


def _version_items(name: str, tree: LineageNode) -> list[Any]:
    """Version → run → datasets and code commit; the parent version; the decision that made it."""
    v = tree.attrs
    root = f"v:{tree.id}"
    items: list[Any] = [(root, "model_version", tree.id, f"{tree.id} ({v['status']})", None, None)]
    runs = [c for c in tree.children if c.kind == "run"]
    for run in runs:
        items.append((f"r:{run.id}", "run", f"run {run.id[:8]}", run.id, f"/runs/{run.id}", root))
    for node in tree.children:
        if node.kind == "parent":
            title = f"{node.id} ({node.attrs['status']}), the version {tree.id} was retrained or derived from"
            href = version_lineage_url(name, node.attrs["version"])
            items.append((f"p:{node.id}", "parent", f"parent {node.id}", title, href, root))
        elif node.kind == "decision":
            items.append(_decision_item(name, node, root))
    for run in runs:
        for i, ds in enumerate(run.children):
            items.append((f"ds:{i}:{ds.id}", "dataset", f"data {ds.id[:12]}", f"{ds.id} {ds.attrs.get('source') or ''}",
                          dataset_url(ds.id), f"r:{run.id}"))  # fmt: skip
        commit = run.attrs.get("code_commit")
        if commit:
            dirty = " (dirty)" if run.attrs.get("code_dirty") else ""
            items.append((f"c:{commit}", "commit", f"commit {commit[:10]}{dirty}", commit + dirty, None, f"r:{run.id}"))
    return items


async def version_lineage_page(request: Request) -> Response:
    """``/models/{name}/{version}/lineage``: version → run → datasets, commit, parent, decision."""
    ctx = context_of(request)
    name = request.path_params["name"]
    try:
        version = int(request.path_params["version"])
    except ValueError:
        raise NotFoundError(f"version {request.path_params['version']!r} is not a number") from None
    tree = q.version_lineage(ctx.store, name, version)
    items = _version_items(name, tree)
    return render(
        request, "lineage.html", title=f"Lineage of {tree.id}", heading=f"Lineage of {tree.id}",
        graph=lineage_graph(items), items=items, tree=tree, when=when, project=ctx.project,
    )  # fmt: skip


async def dataset_lineage_page(request: Request) -> Response:
    """``/datasets/{fingerprint}/lineage``: every version trained on the dataset, and its run."""
    ctx = context_of(request)
    fingerprint = request.path_params["fingerprint"].strip().lower()
    if not _HEX.fullmatch(fingerprint):
        raise NotFoundError(f"{fingerprint!r} is not a dataset fingerprint (hex); see them with 'skloop datasets'")
    tree = q.dataset_lineage(ctx.store, fingerprint)
    root = f"ds:{tree.id}"
    items: list[Any] = [(root, "dataset", f"data {tree.id[:12]}", f"{tree.id} {tree.attrs.get('source') or ''}",
                         None, None)]  # fmt: skip
    for v in tree.children:
        name, number = v.attrs["name"], v.attrs["version"]
        parent = v.attrs.get("parent_version")
        status = v.attrs["status"] + ("" if parent is None else f", retrained from {name}/{parent}")
        items.append((f"v:{v.id}", "model_version", v.id, f"{v.id} ({status})", version_lineage_url(name, number),
                      root))  # fmt: skip
        for run in v.children:
            items.append((f"r:{v.id}:{run.id}", "run", f"run {run.id[:8]}", run.id, f"/runs/{run.id}", f"v:{v.id}"))
    return render(
        request, "lineage.html", title=f"Lineage of dataset {tree.id[:12]}",
        heading=f"Versions trained on dataset {tree.id[:12]}", graph=lineage_graph(items), items=items, tree=tree,
        when=when, project=ctx.project,
    )  # fmt: skip
