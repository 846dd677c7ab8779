"""Model cards: content gathered from the run, generated limits, Markdown and HTML."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from skloop.data import infer_schema, profile
from skloop.registry import column_importance, infer_signature
from skloop.registry._card import ModelCard, build_card, render_html, render_markdown
from skloop.store import DatasetRecord, Run, RunInput


@pytest.fixture(scope="module")
def card_parts(churn_split, churn_forest):
    df = churn_split["frame"].copy()
    df.loc[df.index[:120], "monthly_charges"] = None  # 30% missing → a limit
    schema = infer_schema(df, target="churned", id_column="customer_id", time_column="signup_date")
    dataset = DatasetRecord(
        fingerprint="f" * 64,
        source="data/<churn>.csv",
        n_rows=len(df),
        n_columns=df.shape[1],
        schema=schema.to_dict(),
        profile=profile(df, schema).to_dict(),
    )
    run = Run(
        id="run-123",
        project="churn",
        kind="train",
        status="finished",
        start_time=datetime(2025, 1, 1, tzinfo=UTC),
        spec={"name": "churn", "search": {"strategy": "grid", "space": {"model__max_depth": [4, 8]}}},
        code_commit="c0ffee",
        code_dirty=True,
        environment={"python": "3.11.9", "packages": {"scikit-learn": "1.9.1", "skops": None}},
        seed=7,
        params={"task": "classification", "best.model__max_depth": "8", "search.refit": "roc_auc"},
        metrics={
            "cv_roc_auc_mean": 0.81,
            "cv_roc_auc_std": 0.02,
            "cv_accuracy_mean": 0.77,
            "cv_accuracy_std": 0.01,
            "holdout_roc_auc": 0.79,
        },
        datasets=(RunInput(fingerprint="f" * 64, role="train"),),
    )
    X, y = churn_split["X_train"], churn_split["y_train"]
    signature = infer_signature(X, y, task="classification", model=churn_forest)
    importance = column_importance(
        churn_forest, churn_split["X_test"], churn_split["y_test"], scoring="roc_auc", n_repeats=2
    )
    cv_results = {
        "refit": "roc_auc",
        "candidates": [
            {"params": {"model__max_depth": 4}, "mean_test_roc_auc": 0.8, "rank_test_roc_auc": 2},
            {"params": {"model__max_depth": 8}, "mean_test_roc_auc": 0.81, "rank_test_roc_auc": 1},
        ],
    }
    return {
        "run": run,
        "dataset": dataset,
        "signature": signature,
        "importance": importance,
        "pipeline": churn_forest,
        "cv_results": cv_results,
    }


@pytest.fixture(scope="module")
def card(card_parts) -> ModelCard:
    return build_card(name="churn <b>&", version=3, **card_parts)


def test_card_gathers_data_metrics_search_and_lineage(card: ModelCard, card_parts) -> None:
    assert card.task == "classification" and card.name == "churn <b>&" and card.version == 3
    assert card.data["rows"] == 400 and card.data["fingerprint"] == "f" * 64
    assert card.data["time_column"] == "signup_date" and len(card.data["time_range"]) == 2
    assert set(card.data["class_balance"]) == {"0", "1"} and sum(card.data["class_balance"].values()) == 400
    assert card.cv_metrics["roc_auc"] == {"mean": 0.81, "std": 0.02}
    assert card.holdout_metrics == {"roc_auc": 0.79}
    assert card.search["best_params"] == {"model__max_depth": "8"}
    assert card.search["n_candidates"] == 2 and card.search["candidates"][0]["rank_test_roc_auc"] == 1
    assert card.search["space"] == {"model__max_depth": [4, 8]}
    assert card.features["numeric"][:2] == ["age", "tenure_months"] and card.features["text"] == ["note"]
    assert card.pipeline["params"]["model__n_estimators"] == 10 and "RandomForestClassifier" in card.pipeline["repr"]
    assert list(card.importance) == list(card_parts["importance"])
    assert card.lineage["run_id"] == "run-123" and card.lineage["code_dirty"] is True
    assert card.lineage["packages"] == {"scikit-learn": "1.9.1"}
    assert ModelCard.from_dict(card.to_dict()) == card


def test_known_limits_name_missing_values_rare_categories_and_ranges(card: ModelCard) -> None:
    text = "\n".join(card.limits)
    assert "Trained on only 400 rows" in text
    assert re.search(r"'monthly_charges' is missing in 3\d% of the training rows", text)
    assert "'age' 18 to" in text and "extrapolations" in text
    # 'overseas' appears once in the 300 training rows, under the 1% grouping threshold
    assert "In 'region', 1 category seen in training ('overseas') was too rare" in text


def test_a_rare_class_is_named_as_a_limit(card_parts) -> None:
    dataset = card_parts["dataset"]
    prof = dataset.profile
    cols = [dict(c) for c in prof["columns"]]
    for c in cols:
        if c["name"] == "churned":
            c["frequencies"] = [[0, 390], [1, 10]]
    rare = DatasetRecord(**{**dataset.__dict__, "profile": {**prof, "columns": cols}})
    card = build_card(name=None, version=None, **{**card_parts, "dataset": rare})
    assert any("Class '1' has only 10 training examples (2.5%)" in s for s in card.limits)


def test_markdown_holds_every_section(card: ModelCard) -> None:
    md = render_markdown(card)
    headings = ["## Data", "## Features", "## Metrics", "## Feature importance", "## Known limits"]
    headings += ["## Search", "## Pipeline", "## Signature", "## Lineage"]
    assert md.startswith("# Model card: churn <b>& v3")
    for heading in headings:
        assert heading in md
    assert "| roc_auc | 0.8100 ± 0.0200 | 0.7900 |" in md
    assert "c0ffee (uncommitted changes)" in md


def test_html_is_self_contained_and_escaped(card: ModelCard) -> None:
    page = render_html(card)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page and "<svg" in page
    assert not re.search(r"https?:", page) and " src=" not in page and " href=" not in page and "<script" not in page
    assert "churn &lt;b&gt;&amp; v3" in page and "<b>" not in page
    assert "data/&lt;churn&gt;.csv" in page
    # one bar per column of the importance
    assert page.count('class="bar"') == min(len(card.importance), 20)
    top = next(iter(card.importance))
    assert f">{top}<title>" in page


def test_a_card_without_optional_parts_renders(card_parts) -> None:
    card = build_card(
        name="m", version=None, run=card_parts["run"], dataset=None, importance=None, signature=None, pipeline=None
    )
    assert card.data == {} and card.importance == {} and card.lineage["dataset_fingerprint"] == "f" * 64
    assert "# Model card: m" in render_markdown(card)
    assert "<svg" not in render_html(card)
    assert card.lineage["parent_version"] is None and "Parent version" not in render_markdown(card)


def test_a_card_names_the_parent_version(card_parts) -> None:
    card = build_card(name="churn", version=4, parent_version=3, **card_parts)
    assert card.lineage["parent_version"] == 3 and ModelCard.from_dict(card.to_dict()) == card
    assert "| Parent version | churn/3 |" in render_markdown(card)
    assert re.search(r"Parent version</t[hd]>\s*<td>churn/3</td>", render_html(card))


HOSTILE = "<script>alert(\"x\")</script> & 'q'"
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;q&#39;"


def test_html_escapes_names_columns_metrics_and_limits() -> None:
    card = ModelCard(
        task="classification",
        name=HOSTILE,
        version=1,
        features={"numeric": [HOSTILE]},
        cv_metrics={HOSTILE: {"mean": 0.5, "std": 0.1}},
        importance={HOSTILE: {"mean": 0.2, "std": 0.05}},
        limits=[f"'{HOSTILE}' is missing in 40% of the training rows"],
        signature={"inputs": [{"name": HOSTILE, "dtype": "float64", "kind": "numeric", "min": 0.0, "max": 1.0}]},
    )
    page = render_html(card)
    assert "<script" not in page and "'q'" not in page
    sections = {p.split("</h2>")[0]: p for p in page.split("<h2>")[1:]}
    assert f"<title>Model card: {ESCAPED} v1</title>" in page and f"<h1>Model card: {ESCAPED} v1</h1>" in page
    assert f"({1}): {ESCAPED}</li>" in sections["Features"]
    assert f"<td>{ESCAPED}</td>" in sections["Metrics"] and f"<td>{ESCAPED}</td>" in sections["Signature"]
    assert f"<title>{ESCAPED}</title>" in sections["Feature importance"]  # the chart's full label
    assert f"<li>&#39;{ESCAPED}&#39; is missing" in sections["Known limits"]
