"""Fuzzing the spec loader with YAML a hand might write: mutations of a full valid spec.

tests/core/test_spec.py feeds it arbitrary structures and text; here the inputs stay
close to a real ``skloop.yaml`` (every section present), so that they reach deep into
the validators: one value swapped for another of any type, keys removed or added, the
text cut or a character replaced, and YAML's own constructs (tags, anchors, merge keys,
binary, timestamps, complex keys). Only :class:`SpecError` may come out, and its
message names the file.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fuzz_budget import fuzz_settings
from skloop.core import SpecError, parse_spec, spec_from_dict

FULL = """\
name: churn
seed: 42
data:
  train: data/churn.csv
  target: churned
  id: customer_id
  time: signup_date
  holdout: 0.2
features:
  numeric: [age, tenure_months]
  categorical: [contract]
  drop: []
pipeline:
  preprocessing: auto
  model:
    class: sklearn.ensemble.RandomForestClassifier
    params: {n_estimators: 10, n_jobs: 1}
search:
  strategy: random
  n_iter: 4
  space:
    model__max_depth: [3, 6]
    model__min_samples_leaf: {dist: randint, low: 1, high: 5}
  cv: {folds: 3}
  scoring: [roc_auc, accuracy]
  refit: roc_auc
gates:
  min: {roc_auc: 0.6}
monitoring:
  retention: 90d
  prediction_drift: true
loop:
  alias: champion
  monitor_window: 7d
  triggers: {drift: true, schedule: 7d, new_labels: 100, performance: {margin: 0.05, min_labels: 50}}
"""


BASE = yaml.safe_load(FULL)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.sampled_from(["", "-1", "0", "1e309", "auto", "7d", "-7d", "0d", "999999999999d", "roc_auc", "__import__"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


PATHS = [p for p in _paths(BASE) if p]


def _mutate(data: dict[str, Any], path: tuple[Any, ...], action: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    parent: Any = out
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "set":
        parent[last] = value
    elif action == "delete":
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent[f"{last}_extra"] = value
    elif action == "wrap":
        parent[last] = [parent[last]]
    return out


@fuzz_settings()
@given(
    mutations=st.lists(
        st.tuples(st.sampled_from(PATHS), st.sampled_from(["set", "delete", "add", "wrap"]), values),
        min_size=1,
        max_size=3,
    )
)
def test_mutations_of_a_valid_spec_load_or_give_a_spec_error(mutations: list[tuple[Any, str, Any]]) -> None:
    data = BASE
    for path, action, value in mutations:
        try:
            data = _mutate(data, path, action, value)
        except (KeyError, IndexError, TypeError):  # the path went away with an earlier mutation
            continue
    text = yaml.safe_dump(data, allow_unicode=True)
    try:
        parse_spec(text, "skloop.yaml")
    except SpecError as exc:
        assert "skloop.yaml" in str(exc)


TEXT = yaml.safe_dump(BASE, sort_keys=False)
YAML_BITS = [
    "!!python/object/apply:os.system ['touch /tmp/x']", "!!python/name:os.system", "!!binary aGVsbG8=",
    "!!set {a, b}", "!!omap [a: 1]", "!!timestamp 2024-01-01", "2024-01-01 10:00:00", "&a [*a]", "*undefined",
    "<<: {x: 1}", "? [a, b]\n  : 1", "!!float nan", "!!int 0x1F", ".inf", "~", "{", "[", "'", '"', "\t", "%YAML 1.1",
    "--- \n---", "...", "!custom x", "!!str", "?", "- - -", "\x00", "\ufeff", "é: é", "key: |\n  a\n b",
]  # fmt: skip


@fuzz_settings()
@given(
    cut=st.integers(0, len(TEXT)),
    width=st.integers(0, 3),
    insert=st.one_of(st.sampled_from(YAML_BITS), st.text(max_size=6)),
)
def test_text_mutations_of_a_valid_spec_load_or_give_a_spec_error(cut: int, width: int, insert: str) -> None:
    text = TEXT[:cut] + insert + TEXT[cut + width :]
    try:
        parse_spec(text, "skloop.yaml")
    except SpecError as exc:
        assert "skloop.yaml" in str(exc)


@pytest.mark.parametrize("bit", YAML_BITS)
@pytest.mark.parametrize("where", ["name", "data.target", "search.space"])
def test_yaml_constructs_in_place_of_a_value_load_or_give_a_spec_error(bit: str, where: str, tmp_path: Any) -> None:
    key = where.split(".")[-1]
    lines = TEXT.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{key}:"))
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    lines[at] = f"{indent}{key}: {bit}"
    try:
        parse_spec("\n".join(lines) + "\n", "skloop.yaml")
    except SpecError as exc:
        assert "skloop.yaml" in str(exc)
    assert not (tmp_path / "x").exists()


def test_the_base_of_the_mutations_is_a_valid_spec_with_every_section() -> None:
    spec = spec_from_dict(BASE, "skloop.yaml")
    assert spec.loop is not None and spec.search.strategy == "random"
    assert {"search", "monitoring", "loop", "gates", "features"} <= set(BASE)


@pytest.mark.parametrize(
    "value", ["!!timestamp 2024-01-01name", "!!timestamp x", "!!float x", "!!int 0xZZ", "!!binary @@"]
)
def test_a_badly_tagged_value_is_a_spec_error(value: str) -> None:
    """Regression: ``!!timestamp 2024-01-01name`` raised AttributeError from inside PyYAML."""
    with pytest.raises(SpecError, match=r"skloop\.yaml"):
        parse_spec(f"name: {value}\ndata: {{train: t.csv, target: y}}\n", "skloop.yaml")
