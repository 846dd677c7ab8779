"""The loop's decisions page and the lineage pages (of a version, of a dataset)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from html import unescape

import sqlalchemy as sa
from starlette.testclient import TestClient
from ui_helpers import FINGERPRINT, Seeded, seed_decisions

from skloop.ui._loop_pages import NODE_H, NODE_W, lineage_graph


@contextmanager
def _counting(seeded: Seeded) -> Iterator[list[str]]:
    """The SQL statements the store's engine runs inside the block."""
    engines = {id(e): e for e in (seeded.store.db.engine, seeded.store.db.reader)}.values()
    statements: list[str] = []

    def _before(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", _before)
    try:
        yield statements
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", _before)


def test_loop_page_shows_each_decision(client: TestClient, seeded: Seeded) -> None:
    first, second = seed_decisions(seeded)
    html = unescape(client.get("/models/churn/loop").text)
    assert html.index(f'id="d-{second}"') < html.index(f'id="d-{first}"')  # newest first
    kept = html.split(f'id="d-{first}"', 1)[1].split("</ol>", 1)[0]  # the oldest is the last
    assert "2026-02-01 09:30:00" in kept and "kept" in kept
    assert '<li class="fired"><strong>fired</strong> drift_psi = 0.3100 (threshold 0.2) — tenure drifted' in kept
    assert '<li class="quiet">schedule — not due</li>' in kept
    assert f'<a href="/runs/{seeded.other}">' in kept
    assert 'href="/models/churn/1/lineage">v1</a>' in kept and 'href="/models/churn/2/lineage">v2</a>' in kept
    assert "roc_auc 0.820 → 0.610 (paired_bootstrap, p=0.0123)" in kept
    assert "the challenger scored worse than the champion" in kept
    none = html.split(f'id="d-{second}"', 1)[1].split(f'id="d-{first}"', 1)[0]
    assert "no trigger fired" in none and "fired</strong>" not in none


def test_loop_page_without_decisions_and_for_an_unknown_model(client: TestClient) -> None:
    assert "No loop decisions for churn yet" in client.get("/models/churn/loop").text
    response = client.get("/models/nope/loop")
    assert response.status_code == 404 and "<h1>Not found</h1>" in response.text and "nope" in response.text


def test_models_and_model_pages_link_the_loop_and_lineage(client: TestClient) -> None:
    assert 'href="/models/churn/loop"' in client.get("/models").text
    html = client.get("/models/churn").text
    assert 'href="/models/churn/loop"' in html and 'href="/models/churn/2/lineage"' in html


def _svg(html: str) -> str:
    return html.split("<svg", 1)[1].split("</svg>", 1)[0]


def _node(svg: str, key: str) -> str:
    """The ``<a>`` (or bare ``<g>``) of the graph node with this key."""
    start = svg.rindex("<a ", 0, svg.index(f'data-key="{key}"'))
    return svg[start : svg.index("</a>", start)]


def test_version_lineage_graph_and_table(client: TestClient, seeded: Seeded) -> None:
    first, _ = seed_decisions(seeded)
    html = unescape(client.get("/models/churn/2/lineage").text)
    svg = _svg(html)
    assert f'<a href="/runs/{seeded.other}"' in svg
    assert f'<a href="/datasets/{FINGERPRINT}/lineage"' in svg
    assert "commit c0ffee1234" in svg and "c0ffee1234 (dirty)" not in svg
    parent = _node(svg, "p:churn/1")  # the recorded parent links to its own lineage
    assert parent.startswith('<a href="/models/churn/1/lineage"') and "parent churn/1" in parent
    assert "churn/1 (registered), the version churn/2 was retrained or derived from" in parent
    decision = _node(svg, f"d:{first}")  # the decision that retrained it, at its place on the loop page
    assert decision.startswith(f'<a href="/models/churn/loop#d-{first}"')
    assert "decision: drift_psi → kept" in decision  # the trigger that fired and the outcome
    assert "2026-02-01 09:30:00" in decision and "the challenger scored worse than the champion" in decision
    assert svg.count("<line ") == 5  # version→run, parent, decision; run→dataset, commit
    table = html.split('class="sk-table lineage-table"', 1)[1]
    assert f"<td>{seeded.other}</td>" in table and FINGERPRINT in table
    assert f'<a href="/models/churn/loop#d-{first}">decision: drift_psi → kept</a>' in table
    assert '<a href="/models/churn/1/lineage">parent churn/1</a>' in table
    loop_page = client.get("/models/churn/loop").text
    assert f'id="d-{first}"' in loop_page  # the anchor the decision node links to


def test_version_lineage_parent_without_a_decision(client: TestClient) -> None:
    svg = _svg(unescape(client.get("/models/churn/2/lineage").text))
    assert "parent churn/1" in svg and "node-decision" not in svg  # registered with --parent, no loop
    assert svg.count("<line ") == 4


def test_version_lineage_without_a_decision(client: TestClient, seeded: Seeded) -> None:
    seed_decisions(seeded)
    svg = _svg(client.get("/models/churn/1/lineage").text)
    assert f'href="/runs/{seeded.best}"' in svg and "decision" not in svg and "parent" not in svg


def test_version_lineage_reads_a_fixed_number_of_times(client: TestClient, seeded: Seeded) -> None:
    """Parent and decision are one read each: the page does not scan the model's decisions."""
    for i in range(30):
        d = seeded.store.loop.create_decision("churn", evaluated_at=datetime(2026, 3, 1, tzinfo=UTC) + timedelta(i))
        seeded.store.loop.finish_decision(d.id, outcome="none", reason="quiet")
    first, _ = seed_decisions(seeded)
    with _counting(seeded) as statements:
        html = client.get("/models/churn/2/lineage").text
    assert f"#d-{first}" in html
    decision_reads = [s for s in statements if "FROM loop_decisions" in s]
    (read,) = decision_reads  # one read, by the version, not a scan of the 32 decisions
    where = read.split("WHERE", 1)[1]
    assert "loop_decisions.challenger_version = " in where and "LIMIT" in where
    assert len(statements) <= 12, statements


def test_dataset_lineage_lists_every_version_trained_on_it(client: TestClient, seeded: Seeded) -> None:
    html = client.get(f"/datasets/{FINGERPRINT}/lineage").text
    assert f"Versions trained on dataset {FINGERPRINT[:12]}" in html
    svg = html.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert 'href="/models/churn/1/lineage"' in svg and 'href="/models/churn/2/lineage"' in svg
    assert f'href="/runs/{seeded.best}"' in svg and f'href="/runs/{seeded.other}"' in svg
    assert client.get(f"/datasets/{FINGERPRINT[:10]}/lineage").status_code == 200  # a unique prefix


def test_unknown_version_or_dataset_is_a_404_page(client: TestClient) -> None:
    for path in ("/models/churn/99/lineage", "/models/nope/1/lineage", "/models/churn/x/lineage",
                 f"/datasets/{'cd' * 32}/lineage", "/datasets/churn/lineage"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 404, path
        assert "<h1>Not found</h1>" in response.text, path


def test_lineage_graph_lays_out_columns_by_depth() -> None:
    graph = lineage_graph([
        ("a", "model_version", "A", "A", None, None), ("b", "run", "B", "B", "/b", "a"),
        ("c", "parent", "C", "C", "/c", "a"), ("d", "dataset", "D", "D", "/d", "b"),
    ])  # fmt: skip
    xs = {n.key: n.x for n in graph.nodes}
    ys = {n.key: n.y for n in graph.nodes}
    assert xs["a"] < xs["b"] == xs["c"] < xs["d"] and ys["b"] < ys["c"]
    assert [(a.key, b.key) for a, b in graph.edges] == [("a", "b"), ("a", "c"), ("b", "d")]
    assert graph.width >= xs["d"] + NODE_W and graph.height >= ys["c"] + NODE_H
