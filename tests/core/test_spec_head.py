"""The spec's head (name, tracking URI) agrees with the full spec, or hands over to it.

The property every test checks, against :func:`parse_spec` as the reference: when the
full spec loads, the head is either the same name and URI or None (the full spec is
asked); when the full spec fails on ``name``, ``tracking``, the top level or the YAML
itself, the head is None, so that :func:`load_spec_head` raises the full spec's error.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fuzz_budget import fuzz_settings
from skloop.core import SpecError, SpecHead, load_spec, load_spec_head, parse_spec
from skloop.core._spec_head import parse_spec_head

DATA = "data: {train: t.csv, target: y}\n"


def _about_head(problem: dict[str, Any]) -> bool:
    key = str(problem.get("key") or "")
    top_level_typo = str(problem.get("message")).startswith("unknown key") and not any(c in key for c in ".[")
    return key in ("name", "(top level)") or key.startswith("tracking") or top_level_typo


def check_agrees(text: str) -> SpecHead | None:
    """The head of ``text``, after checking it against the full spec."""
    head = parse_spec_head(text)
    try:
        spec = parse_spec(text, "skloop.yaml")
    except SpecError as exc:
        if head is not None:
            assert exc.problems, f"the full spec refused the YAML itself ({exc}), the head read {head}"
            assert not any(_about_head(p) for p in exc.problems), f"{exc} but the head read {head}"
        return head
    assert head is None or head == SpecHead(spec.name, spec.tracking.mlflow_uri), (head, spec.name)
    return head


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"name: churn\n{DATA}", SpecHead("churn")),
        (f"name: 'churn.v2-x_1'\n{DATA}", SpecHead("churn.v2-x_1")),
        (f"name: churn\ntracking: {{mlflow_uri: http://127.0.0.1:5000}}\n{DATA}",
         SpecHead("churn", "http://127.0.0.1:5000")),
        (f"name: churn\ntracking: {{mlflow_uri: ' file:/tmp/m '}}\n{DATA}", SpecHead("churn", "file:/tmp/m")),
        (f"name: churn\ntracking: {{mlflow_uri: null}}\n{DATA}", SpecHead("churn")),
        (f"name: churn\ntracking: {{}}\n{DATA}", SpecHead("churn")),
        (f"name: !!str churn\n{DATA}", SpecHead("churn")),
    ],
)  # fmt: skip
def test_a_plain_spec_is_read_by_its_head(text: str, expected: SpecHead) -> None:
    assert check_agrees(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        DATA,  # no name
        f"name: churn\nname: other\n{DATA}",  # given twice
        f"name: 12\n{DATA}",
        f"name: yes\n{DATA}",  # a YAML 1.1 bool
        f"name: '-bad'\n{DATA}",
        f"name: ''\n{DATA}",
        f"name: {'x' * 101}\n{DATA}",
        f"name: [churn]\n{DATA}",
        f"name: churn\ntracking: {{mlflow_uri: not a uri}}\n{DATA}",
        f"name: churn\ntracking: {{mlflow_uri: ''}}\n{DATA}",
        f"name: churn\ntracking: {{mlflow_uri: 5}}\n{DATA}",
        f"name: churn\ntracking: {{mlflow_url: http://x:1}}\n{DATA}",  # a typo of the key
        f"name: churn\ntrackng: {{mlflow_uri: http://x:1}}\n{DATA}",  # ... or of the section
        f"name: churn\nsearhc: {{}}\n{DATA}",  # any unknown top-level key
        f"name: churn\ntracking:\n{DATA}",
        f"name: churn\ntracking: [http://x:1]\n{DATA}",
        f"name: churn\ntracking: {{mlflow_uri: http://a:1}}\ntracking: {{}}\n{DATA}",
        f"name: churn\n{DATA}data: {{}}\n",  # a key given twice anywhere: the loader refuses it
        f"name: churn\nx: &a [*a]\n{DATA}",  # a recursive alias
        "name:\tchurn\n",  # a tab PyYAML refuses (libyaml would not)
        f"? [name]\n: churn\n{DATA}",  # a complex key
        "- name: churn\n",
        f"name: churn\n1: one\n{DATA}",  # a key that is not a string: a top-level error
        "name: churn\n  bad: indent\n",
        "name: [unclosed\n",
        "",
    ],
)
def test_any_doubt_hands_over_to_the_full_spec(text: str, tmp_path: Path) -> None:
    assert check_agrees(text) is None
    (tmp_path / "skloop.yaml").write_text(text, encoding="utf-8")
    try:
        spec = load_spec(tmp_path)
    except SpecError as exc:
        with pytest.raises(SpecError) as raised:
            load_spec_head(tmp_path)
        assert str(raised.value) == str(exc)  # the very message of the full spec
    else:  # pragma: no cover - every text above is an invalid spec
        raise AssertionError(f"the full spec accepted {text!r}: {spec.name}")


def test_a_merged_name_is_read_as_the_full_spec_reads_it() -> None:
    assert check_agrees(f"<<: {{name: churn}}\n{DATA}") == SpecHead("churn")
    assert check_agrees(f"<<: {{name: churn}}\nname: mine\n{DATA}") == SpecHead("mine")  # a merge is overridden


def test_the_rest_of_the_spec_is_not_checked(tmp_path: Path) -> None:
    # the name alone is what a runs listing needs: a section being edited does not stop it
    (tmp_path / "skloop.yaml").write_text("name: churn\ndata: {holdout: 3, x: 1}\n", encoding="utf-8")
    assert load_spec_head(tmp_path) == SpecHead("churn")
    with pytest.raises(SpecError, match=r"data\.holdout"):
        load_spec(tmp_path)


def test_the_top_level_keys_are_the_specs() -> None:
    from skloop.core import Spec
    from skloop.core._names import SPEC_KEYS

    assert {field.alias or name for name, field in Spec.model_fields.items()} == SPEC_KEYS


def test_a_missing_or_unreadable_file_gets_the_full_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such spec file; create one with 'skloop init'"):
        load_spec_head(tmp_path)
    (tmp_path / "skloop.yaml").write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(SpecError, match="cannot read the spec"):
        load_spec_head(tmp_path / "skloop.yaml")


def test_the_head_imports_no_pydantic(tmp_path: Path) -> None:
    (tmp_path / "skloop.yaml").write_text(f"name: churn\n{DATA}", encoding="utf-8")
    code = (
        "import sys; from skloop.core import load_spec_head; "
        f"print(load_spec_head({str(tmp_path)!r}).name, 'pydantic' in sys.modules, 'skloop.core._spec' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["churn", "False", "False"]


FULL = """\
name: churn
seed: 3
tracking:
  mlflow_uri: http://127.0.0.1:5000
data:
  train: data/churn.csv
  target: churned
search: {strategy: grid, cv: {folds: 3}}
"""
BASE = yaml.safe_load(FULL)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), st.text(max_size=8),
    st.sampled_from(["churn", "a.b-c_1", "-x", "http://h:1", " file:/x ", "", "~", "yes", "1e3", "<<"]),
)  # fmt: skip
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=2) | st.dictionaries(scalars, inner, max_size=2), max_leaves=4
)


@fuzz_settings()
@given(
    changes=st.lists(
        st.tuples(st.sampled_from([("name",), ("tracking",), ("tracking", "mlflow_uri"), ("data",), ("extra",)]),
                  values),
        min_size=1, max_size=3,
    )
)  # fmt: skip
def test_the_head_agrees_with_the_full_spec_on_mutated_specs(changes: list[tuple[tuple[str, ...], Any]]) -> None:
    data: dict[Any, Any] = yaml.safe_load(FULL)
    for path, value in changes:
        parent: Any = data
        for part in path[:-1]:
            if not isinstance(parent.get(part), dict):
                parent[part] = {}
            parent = parent[part]
        parent[path[-1]] = value
    check_agrees(yaml.safe_dump(data, allow_unicode=True))


TEXT = FULL
YAML_BITS = ["&a", "*a", "<<: ", "!!str ", "!!int ", "? ", "- ", "{", "}", "'", '"', "\n", "  ", "~", "#", ":", "\t"]


@fuzz_settings()
@given(
    cut=st.integers(0, len(TEXT)),
    width=st.integers(0, 3),
    insert=st.one_of(st.sampled_from(YAML_BITS), st.text(max_size=4)),
)
def test_the_head_agrees_with_the_full_spec_on_mutated_text(cut: int, width: int, insert: str) -> None:
    check_agrees(TEXT[:cut] + insert + TEXT[cut + width :])
