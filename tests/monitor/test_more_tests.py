"""Hellinger, L-infinity, Anderson–Darling and text vocabulary drift, each against an independent computation."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance
from sklearn.feature_extraction.text import CountVectorizer

from skloop.core import MonitoringSpec, SpecError, parse_spec
from skloop.data import Schema
from skloop.monitor import DriftReport, compare_data, compare_data_files, reference_summary
from skloop.monitor._accumulate import NumericAccumulator
from skloop.monitor._anderson import anderson_binned, anderson_test
from skloop.monitor._drift import column_drift
from skloop.monitor._stats import hellinger, linf
from skloop.monitor._text import term_counts


def _scipy_ad(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    with warnings.catch_warnings():  # scipy warns when it clips the p-value to [0.001, 0.25]
        warnings.simplefilter("ignore", UserWarning)
        res = stats.anderson_ksamp([a, b], variant="midrank")
    return float(res.statistic), float(res.pvalue)


def _text_schema(text: str, numeric: tuple[str, ...] = ()) -> Schema:
    cols = [{"name": text, "kind": "text"}] + [{"name": n, "kind": "numeric"} for n in numeric]
    return Schema.from_dict({"columns": [
        {**c, "dtype": "", "nullable": True, "n_unique": 0, "id_like": False, "role": "feature"} for c in cols
    ]})  # fmt: skip


def _config(**drift: object) -> MonitoringSpec:
    return MonitoringSpec.model_validate({"drift": drift})


def test_hellinger_and_linf_by_hand_with_unseen_categories_and_nans() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"c": rng.choice(["a", "b", "c", None], 3000, p=[0.5, 0.3, 0.1, 0.1])})
    cur = pd.DataFrame({"c": rng.choice(["a", "b", "new", None], 2000, p=[0.3, 0.3, 0.3, 0.1])})
    p = ref["c"].value_counts(normalize=True)
    q = cur["c"].value_counts(normalize=True)
    keys = sorted(set(p.index) | set(q.index))
    p, q = p.reindex(keys, fill_value=0.0).to_numpy(), q.reindex(keys, fill_value=0.0).to_numpy()
    hand_h = np.sqrt(1 - np.sum(np.sqrt(p * q)))  # Evidently's convention
    assert hand_h == pytest.approx(np.sqrt(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)) / np.sqrt(2))
    for method, hand in (("hellinger", hand_h), ("linf", np.max(np.abs(p - q)))):
        f = compare_data(ref, cur, config=_config(method=method))["c"]
        assert f.method == method and f.p_value is None and f.threshold == 0.1
        assert f.statistic == pytest.approx(hand, abs=1e-12) and f.drifted
        assert f.n_current == 2000 - int(cur["c"].isna().sum())
        same = compare_data(ref, ref.sample(1500, random_state=1), config=_config(method=method))["c"]
        assert not same.drifted
    assert hellinger([1, 0], [0, 1]) == 1.0 and hellinger([2, 2], [1, 1]) == 0.0 and linf([1, 0], [0, 1]) == 1.0


@pytest.mark.parametrize(
    ("n", "m", "shift", "rounding"), [(40, 70, 0.0, None), (500, 300, 0.25, 1), (2000, 900, 0.0, 2)]
)
def test_anderson_exact_is_scipys(n: int, m: int, shift: float, rounding: int | None) -> None:
    rng = np.random.default_rng(n)
    a, b = rng.normal(size=n), rng.normal(shift, size=m)
    if rounding is not None:  # ties, which the mid-rank variant handles
        a, b = np.round(a, rounding), np.round(b, rounding)
    ours = anderson_test(np.sort(a), np.sort(b))
    assert ours == pytest.approx(_scipy_ad(a, b), rel=1e-10, abs=1e-12)
    ref, cur = pd.DataFrame({"x": a}), pd.DataFrame({"x": np.append(b, np.nan)})  # NaN: missing, not tested
    f = compare_data(ref, cur, config=_config(method="anderson"))["x"]
    assert (f.statistic, f.p_value) == pytest.approx(_scipy_ad(a, b), rel=1e-10) and f.n_current == m
    assert f.drifted == (f.p_value < 0.1)


def test_anderson_on_cells_is_scipys_on_the_grouped_sample() -> None:
    """Binned: a sketch point stands for count/k rows, a gap's values are tied — scipy on exactly that sample."""
    rng = np.random.default_rng(3)
    k, per = 200, 7
    pts = np.sort(rng.normal(size=k))
    cur = np.sort(np.concatenate([rng.normal(0.1, size=3000), pts[:40]]))  # some values on the points
    u = np.unique(pts)
    left, right = np.searchsorted(cur, u, side="left"), np.searchsorted(cur, u, side="right")
    le, eq = np.diff(right, prepend=0, append=cur.size), right - left
    ours = anderson_binned(pts, le, eq, k * per)
    mids = np.concatenate([[u[0] - 1], (u[:-1] + u[1:]) / 2, [u[-1] + 1]])  # one value per gap
    gap = np.searchsorted(u, cur, side="left")
    on_point = (gap < u.size) & (u[np.minimum(gap, u.size - 1)] == cur)
    grouped = np.where(on_point, cur, mids[gap])
    assert ours == pytest.approx(_scipy_ad(np.repeat(pts, per), grouped), rel=1e-9)


def test_anderson_streamed_cells_close_to_exact_and_learned() -> None:
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"x": rng.gamma(2.0, size=20_000)})
    summary = reference_summary(ref)  # a 1,000-point sketch
    for shift, drifts in ((0.0, False), (0.15, True)):
        values = rng.gamma(2.0, size=30_000) + shift
        exact = _scipy_ad(ref["x"].to_numpy(), values)
        acc = NumericAccumulator(summary["x"], cap=1000)  # beyond 1,000 values: counts on the cells
        for part in np.array_split(values, 5):
            acc.add(pd.Series(part))
        cur = acc.finish()
        assert cur.values is None
        f = column_drift(summary["x"], cur, _config(method="anderson").drift)
        assert f.statistic == pytest.approx(exact[0], abs=0.25 + 0.02 * abs(exact[0]))
        assert f.drifted is drifts and (f.p_value < 0.1) is drifts
        learned = column_drift(summary["x"], cur, _config(method="anderson", threshold="learned").drift)
        assert learned.band is not None and learned.p_value is None and learned.drifted is drifts
        lo, hi = learned.band
        assert -4.0 < lo < 0.0 < hi < 5.0  # the null T is standardised: mean ~0, std ~1


def test_learned_hellinger_and_linf_follow_the_reference() -> None:
    rng = np.random.default_rng(5)
    cats = [f"v{i}" for i in range(400)]
    ref = pd.DataFrame({"c": rng.choice(cats, 20_000)})
    cur = pd.DataFrame({"c": rng.choice(cats, 2000)})  # many rare values: large noise at this size
    for method in ("hellinger", "linf"):
        fixed = compare_data(ref, cur, config=_config(method=method))["c"]
        learned = compare_data(ref, cur, config=_config(method=method, threshold="learned"))["c"]
        assert learned.band is not None and not learned.drifted and learned.threshold == learned.band[1]
        assert fixed.statistic == learned.statistic
    assert compare_data(ref, cur, config=_config(method="hellinger"))["c"].drifted  # 0.1 is too tight here


def test_text_tokens_are_scikit_learns() -> None:
    texts = ["Ünïcödé café, naïve RÉSUMÉ!", "", None, "東京 タワー x y  zz", "a b", "déjà-vu 42 x_y", "emoji 😀😀 ok"]
    vec = CountVectorizer()
    counts = vec.fit_transform([t for t in texts if t is not None]).sum(axis=0).A1
    expected = {t: int(counts[i]) for t, i in vec.vocabulary_.items()}
    assert term_counts(pd.Series(texts)) == expected


def test_text_drift_oov_and_js_by_hand_in_every_path(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    words = np.array(["alpha", "beta", "gamma", "delta", "épsilon", "ζήτα"])

    def docs(n: int, vocab: np.ndarray, p: np.ndarray) -> list[str | None]:
        out: list[str | None] = [" ".join(rng.choice(vocab, rng.integers(0, 6), p=p)) for _ in range(n)]
        out[::17] = [None] * len(out[::17])
        return out

    p = np.array([0.3, 0.25, 0.2, 0.1, 0.1, 0.05])
    ref = pd.DataFrame({"note": docs(3000, words, p), "x": rng.normal(size=3000)})
    new = np.append(words[:4], ["neu", "novo"])
    cur = pd.DataFrame({"note": docs(1500, new, np.array([0.1, 0.1, 0.1, 0.1, 0.3, 0.3])), "x": rng.normal(size=1500)})
    schema = _text_schema("note", ("x",))
    rc, cc = term_counts(ref["note"]), term_counts(cur["note"])
    oov = sum(n for t, n in cc.items() if t not in rc) / sum(cc.values())
    terms = sorted(rc)
    r = np.array([rc[t] for t in terms] + [0.0])
    c = np.array([cc.get(t, 0) for t in terms] + [sum(n for t, n in cc.items() if t not in rc)])
    js = distance.jensenshannon(r / r.sum(), c / c.sum())
    report = compare_data(ref, cur, schema)
    f = report["note"]
    assert f.method == "vocabulary" and f.kind == "text" and "note" not in report.skipped
    assert f.oov_rate == pytest.approx(oov) and f.statistic == pytest.approx(js, abs=1e-12)
    assert f.drifted and set(f.new_terms) == {"neu", "novo"} and f.threshold == 0.35 and f.oov_threshold == 0.1
    assert f.n_current == sum(cc.values())
    back = DriftReport.from_json(report.to_json())
    assert back["note"].oov_rate == f.oov_rate and back["note"].new_terms == f.new_terms
    same = compare_data(ref, ref.iloc[:1000], schema)["note"]
    assert same.oov_rate == 0.0 and not same.drifted
    # streamed: a stored summary, the file read in small batches (CSV and Parquet)
    summary = reference_summary(ref, schema)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    cur.to_parquet(tmp_path / "cur.parquet", row_group_size=400)
    for path in ("cur.csv", "cur.parquet"):
        g = compare_data_files(None, tmp_path / path, reference_profile=summary, batch_rows=256)["note"]
        assert g.oov_rate == pytest.approx(oov) and g.statistic == pytest.approx(js, abs=1e-12)
    off = compare_data(ref, cur, schema, config=MonitoringSpec.model_validate({"drift": {"text": {"enabled": False}}}))
    assert "note" not in off and "turned off" in off.skipped["note"]
    learned = MonitoringSpec.model_validate({"drift": {"text": {"jensenshannon": "learned"}}})
    g = compare_data(ref, cur, schema, config=learned)["note"]
    assert g.band is not None and g.drifted and g.threshold == g.band[1]


def test_an_empty_text_window_does_not_drift() -> None:
    ref = pd.DataFrame({"t": [f"word{i % 50} other{i % 7}" for i in range(400)]})
    schema = _text_schema("t")
    f = compare_data(ref, pd.DataFrame({"t": ["", None, "x"] * 10}), schema)["t"]
    assert f.n_current == 0 and f.oov_rate == 0.0 and not f.drifted


BASE = "name: demo\ndata:\n  train: data.csv\n  target: y\n"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("monitoring:\n  drift:\n    method: helinger\n", ["monitoring.drift.method", "'hellinger'", "'anderson'"]),
        ("monitoring:\n  drift:\n    threshold: {hellinger: 0.1, kss: 0.2}\n",
         ["monitoring.drift.threshold", "'kss'", "linf"]),
        ("monitoring:\n  drift:\n    columns:\n      x: {method: anderson_darling}\n",
         ["monitoring.drift.columns.x.method", "'linf'"]),
        ("monitoring:\n  drift:\n    method: anderson\n    threshold: 0.5\n", ["threshold", "0.25"]),
        ("monitoring:\n  drift:\n    text: {jensenshannon: 2}\n", ["monitoring.drift.text.jensenshannon"]),
    ],
)  # fmt: skip
def test_bad_methods_name_the_key_and_the_allowed_values(text: str, words: list[str]) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(BASE + text, "skloop.yaml")
    for word in words:
        assert word in str(info.value)


def test_anderson_on_a_categorical_column_names_the_key() -> None:
    ref = pd.DataFrame({"c": ["a", "b"] * 50})
    with pytest.raises(SpecError, match=r"monitoring.drift.columns.c.method: 'anderson' needs a numeric.*hellinger"):
        compare_data(ref, ref, config=_config(columns={"c": {"method": "anderson", "threshold": 0.05}}))
    # dataset-wide anderson leaves categorical columns to the auto rule
    assert compare_data(ref, ref, config=_config(method="anderson"))["c"].method == "chisquare"


def test_text_drift_in_the_json_terminal_and_html(capsys: pytest.CaptureFixture[str]) -> None:
    from skloop.cli._monitor_cmds import _print_summary
    from skloop.monitor import MonitorReport, build_report, render_report_html

    ref = pd.DataFrame({"t": [f"common{i % 30} word{i % 11}" for i in range(600)], "x": np.arange(600.0)})
    cur = pd.DataFrame({"t": [f"brandnew{i % 3} übermäßig" for i in range(300)], "x": np.arange(300.0)})
    report = build_report(compare_data(ref, cur, _text_schema("t", ("x",))), model="demo/1")
    data = MonitorReport.from_json(report.to_json()).to_dict()
    text = next(f for f in data["features"] if f["name"] == "t")
    assert text["method"] == "vocabulary" and text["oov_rate"] == 1.0 and text["drifted"]
    assert set(text["new_terms"]) == {"brandnew0", "brandnew1", "brandnew2", "übermäßig"}
    html = render_report_html(report)
    assert "Text columns, by vocabulary" in html and "übermäßig" in html and "1.0000" in html
    _print_summary(report, None, None)
    out = capsys.readouterr().out
    assert "text t: drifted: out of vocabulary 100.0%" in out and "übermäßig" in out
