"""``validate_model``: gates, champion, behavioural tests and data contract, each a test case."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from junitparser import Failure, JUnitXml, Skipped
from small_project import SMALL_SPEC, write_small_project

from skloop.core import UsageError, parse_spec
from skloop.registry import Registry
from skloop.workflows import Project, ValidationReport, junit_xml, validate_model, write_junit

DUMMY_SPEC = (
    SMALL_SPEC.replace("sklearn.ensemble.RandomForestClassifier", "sklearn.dummy.DummyClassifier")
    .replace("params: {{n_estimators: 15}}", "params: {{strategy: prior}}")
    .replace("strategy: grid\n  space:\n    model__max_depth: [4, 8]", "strategy: none")
)

GATES = "gates:\n  min: {holdout_roc_auc: 0.6, cv_roc_auc_mean: 0.6}\n"

EXAMPLE_CHURNER = (
    "{age: 30, tenure_months: 2, support_calls: 8, monthly_charges: 110.0, total_charges: 220.0, "
    "contract: month-to-month, payment_method: electronic_check, region: north, has_partner: false, "
    'paperless_billing: true, signup_date: "2023-01-01"}'
)
EXAMPLE_LOYAL = (
    "{age: 60, tenure_months: 70, support_calls: 0, monthly_charges: 30.0, total_charges: 2100.0, "
    "contract: two-year, payment_method: credit_card, region: south, has_partner: true, "
    'paperless_billing: false, signup_date: "2020-01-01"}'
)

PASSING = f"""{GATES}validate:
  behaviour:
    - kind: invariance
      name: partner does not matter
      column: has_partner
      values: [true, false]
      max_delta: 0.5
    - kind: directional
      column: tenure_months
      delta: 36
      direction: decrease
      tolerance: 0.25
    - kind: minimum_functionality
      name: obvious cases
      examples:
        - row: {EXAMPLE_CHURNER}
          label: 1
          min_probability: 0.5
        - row: {EXAMPLE_LOYAL}
          label: 0
          max_probability: 0.3
  contract:
    columns:
      tenure_months: {{dtype: int64, nullable: false, min: 0, max: 100}}
      contract: {{dtype: string, categories: [month-to-month, one-year, two-year]}}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """churn v1 (a small forest, champion) and v2 (a dummy: worse), trained on the same data."""
    root = tmp_path_factory.mktemp("validate")
    project = Project.load(write_small_project(root, rows=800, extra=GATES))
    first = project.train()
    assert first.model_version == 1 and not first.gate_failures
    Registry(project.store).promote("churn", 1, reason="first", actor="test")
    (root / "dummy.yaml").write_text(DUMMY_SPEC.format(extra=""))
    with Project.load(root / "dummy.yaml") as dummy:
        assert dummy.train().model_version == 2
    yield project
    project.close()


def spec_with(extra: str, *, data: str = "data/churn.csv") -> Any:
    text = SMALL_SPEC.format(extra=extra).replace("data/churn.csv", data)
    return parse_spec(text, "crafted.yaml")


def check(report: ValidationReport, name: str) -> Any:
    found = [c for c in report.checks if c.name == name]
    assert len(found) == 1, [c.name for c in report.checks]
    return found[0]


def test_a_good_model_passes_every_check_and_the_junit_report_says_so(project: Project, tmp_path: Path) -> None:
    report = validate_model(spec_with(PASSING), project.settings, store=project.store, ref="churn/1")
    assert report.passed, [c for c in report.checks if c.status == "fail"]
    assert (report.name, report.version, report.champion_version) == ("churn", 1, 1)
    assert {c.family for c in report.checks} == {"gates", "champion", "behaviour", "contract"}
    assert check(report, "recorded holdout_roc_auc >= 0.6").status == "pass"
    recomputed = check(report, "holdout holdout_roc_auc >= 0.6")
    assert recomputed.status == "pass" and "160 holdout rows" in recomputed.message
    # recomputed on the rebuilt holdout: the same number training recorded
    recorded = project.store.models.get_model_version("churn", 1).metrics["holdout_roc_auc"]
    assert f"{recorded:.4g}" in recomputed.message
    assert check(report, "no regression vs churn@champion").status == "skip"  # it is the champion
    assert check(report, "obvious cases").status == "pass"
    assert check(report, "signature: age").status == "pass"
    assert all(c.duration_s >= 0 for c in report.checks)

    xml = JUnitXml.fromfile(str(write_junit(report, tmp_path / "out" / "report.xml")))
    suites = {suite.name: suite for suite in xml}
    assert list(suites) == ["gates", "champion", "behaviour", "contract"]
    assert xml.tests == len(report.checks) and xml.failures == 0 and xml.skipped == 1
    assert [case.name for case in suites["behaviour"]] == [
        "partner does not matter",
        "directional tenure_months",
        "obvious cases",
    ]
    champion = next(iter(suites["champion"]))
    assert isinstance(champion.result[0], Skipped) and "champion" in champion.result[0].message
    assert report.to_dict()["counts"] == report.counts()


@pytest.mark.parametrize(
    ("test", "expected"),
    [
        (
            "    - kind: invariance\n      column: tenure_months\n      values: [0, 70]\n      max_delta: 0.01\n",
            "> max_delta 0.01: setting it to",
        ),
        (
            "    - kind: directional\n      column: tenure_months\n      delta: 36\n      direction: increase\n",
            "decreased the score of",
        ),
        (
            "    - kind: directional\n      column: support_calls\n      delta: 4\n      direction: decrease\n"
            "      tolerance: 0.1\n",
            "increased the score of",
        ),
        (
            f"    - kind: minimum_functionality\n      examples:\n        - row: {EXAMPLE_LOYAL}\n          label: 1\n"
            f"        - row: {EXAMPLE_CHURNER}\n          max_probability: 0.1\n",
            "2 of 2 examples fail: example 0: predicted 0, expected 1",
        ),
    ],
    ids=["invariance", "directional-increase", "directional-decrease", "minimum-functionality"],
)
def test_each_behaviour_kind_fails_on_a_crafted_spec(project: Project, test: str, expected: str) -> None:
    spec = spec_with("validate:\n  behaviour:\n" + test)
    report = validate_model(spec, project.settings, store=project.store, ref="churn/1")
    assert not report.passed
    behaviour = [c for c in report.checks if c.family == "behaviour"]
    assert len(behaviour) == 1 and behaviour[0].status == "fail"
    assert expected in behaviour[0].message
    assert [c.family for c in report.failures] == ["behaviour"]


def test_gates_fail_on_recorded_and_recomputed_metrics(project: Project) -> None:
    spec = spec_with("gates:\n  min: {holdout_roc_auc: 0.99, holdout_f1: 0.1}\n  max: {search_seconds: 1000}\n")
    report = validate_model(spec, project.settings, store=project.store, ref="churn/1")
    recorded, recomputed = (
        check(report, "recorded holdout_roc_auc >= 0.99"),
        check(report, "holdout holdout_roc_auc >= 0.99"),
    )
    assert recorded.status == recomputed.status == "fail"
    assert "< 0.99 (recorded)" in recorded.message and "recomputed on the 160 holdout rows" in recomputed.message
    # a gate on a metric training did not record fails on the record, and is scored on the holdout
    assert "was not recorded" in check(report, "recorded holdout_f1 >= 0.1").message
    assert check(report, "holdout holdout_f1 >= 0.1").status == "pass"
    assert check(report, "recorded search_seconds <= 1000").status == "pass"


def test_a_worse_candidate_fails_against_the_champion_unless_within_tolerance(project: Project) -> None:
    report = validate_model(spec_with(""), project.settings, store=project.store)  # newest: v2, the dummy
    assert (report.version, report.champion_version) == (2, 1)
    champion = check(report, "no regression vs churn@champion")
    assert champion.status == "fail"
    assert "roc_auc 0.5000 vs champion v1" in champion.message and "worse" in champion.message
    lenient = spec_with("validate:\n  champion: {tolerance: 0.6, metric: roc_auc}\n")
    assert check(validate_model(lenient, project.settings, store=project.store), champion.name).status == "pass"
    off = spec_with("validate:\n  champion: {enabled: false}\n")
    assert check(validate_model(off, project.settings, store=project.store), champion.name).status == "skip"


def test_data_contract_violations_fail_with_what_is_wrong(project: Project) -> None:
    root = project.settings.base_dir
    broken = pd.read_csv(root / "data" / "churn.csv").drop(columns=["age"])
    broken["tenure_months"] = broken["tenure_months"].astype(str) + " months"
    broken["extra"] = 1
    broken.to_csv(root / "data" / "broken.csv", index=False)
    extra = """validate:
  contract:
    extra_columns: forbid
    columns:
      tenure_months: {dtype: int64}
      total_charges: {min: 0, max: 10}
      contract: {categories: [month-to-month, one-year]}
      monthly_charges: {nullable: false}
      customer_id: {}
      signup_date: {}
      payment_method: {}
      paperless_billing: {}
      has_partner: {}
      region: {}
      support_calls: {}
"""
    report = validate_model(
        spec_with(extra, data="data/broken.csv"), project.settings, store=project.store, ref="churn/1"
    )
    failed = {c.name: c.message for c in report.failures}
    assert "missing from the data" in failed["signature: age"]
    assert "holds string values; the model was trained on int64" in failed["signature: tenure_months"]
    assert "dtype string, expected int64" in failed["contract: tenure_months"]
    assert "values above max 10" in failed["contract: total_charges"]
    assert "'two-year'" in failed["contract: contract"]
    assert "missing values, expected none" in failed["contract: monthly_charges"]
    assert "'age'" not in failed["contract: no extra columns"] and "'extra'" in failed["contract: no extra columns"]
    assert check(report, "signature: region").status == "pass"
    assert {c.family for c in report.failures} == {"contract"}


def test_mistakes_in_the_spec_or_the_call_are_usage_errors(project: Project) -> None:
    unknown = spec_with("validate:\n  behaviour:\n    - {kind: invariance, column: nope, values: [1]}\n")
    with pytest.raises(UsageError, match=r"validate.behaviour\[0\].column: 'nope' is not an input"):
        validate_model(unknown, project.settings, store=project.store)
    text = spec_with("validate:\n  behaviour:\n    - {kind: directional, column: region, delta: 1}\n")
    with pytest.raises(UsageError, match="use an invariance test"):
        validate_model(text, project.settings, store=project.store)
    klass = spec_with("validate:\n  behaviour:\n    - {kind: invariance, column: age, values: [1], class: 7}\n")
    with pytest.raises(UsageError, match="not a class of the model"):
        validate_model(klass, project.settings, store=project.store)
    with pytest.raises(UsageError, match="not both"):
        validate_model(spec_with(""), project.settings, store=project.store, ref="churn", run_id="abc")


def test_a_training_run_is_validated_without_a_version(project: Project) -> None:
    run_id = project.store.models.get_model_version("churn", 1).run_id
    report = validate_model(spec_with(GATES), project.settings, store=project.store, run_id=run_id)
    assert report.version is None and report.run_id == run_id and report.ref.startswith("churn (run ")
    assert report.passed
    assert '<testsuites name="skloop validate churn (run' in junit_xml(report)
    failing = JUnitXml.fromstring(
        junit_xml(
            validate_model(
                spec_with("gates:\n  min: {holdout_roc_auc: 0.99}\n"),
                project.settings,
                store=project.store,
                run_id=run_id,
            )
        )
    )
    cases = [case for suite in failing for case in suite if suite.name == "gates"]
    assert all(isinstance(case.result[0], Failure) for case in cases) and len(cases) == 2


def test_the_contract_reads_words_in_numbers_as_training_did() -> None:
    """Issue 10 (corpus, tickets): a numeric column with a few 'n/a' failed the contract as 'string values'."""
    from skloop.data import coerce_numbers
    from skloop.registry import infer_signature
    from skloop.workflows._contract import _signature_check

    raw = pd.DataFrame({"wait": ["10", "n/a", "25", "?", "40"], "other": ["1", "2", "3", "x", "5"]})
    X, _ = coerce_numbers(raw, ["wait", "other"])
    signature = infer_signature(X, task="regression", not_numbers=["wait"])
    status, message = _signature_check(raw, signature, "wait")()
    assert status == "pass" and "read as missing" in message, message
    # without the training's record of it, strings in a numeric column still fail
    status, message = _signature_check(raw, signature, "other")()
    assert status == "fail" and "string values" in message, message
