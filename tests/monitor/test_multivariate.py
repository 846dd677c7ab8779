"""Multivariate drift: a flipped correlation with unchanged marginals fires both methods."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from skloop.core import DataError
from skloop.monitor import MultivariateDrift, build_report, compare_data, multivariate_drift


def _gauss(rho: float, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], n), columns=["a", "b"])


def test_flipped_correlation_fires_multivariate_not_univariate() -> None:
    ref, same = _gauss(0.9, 3000, 0), _gauss(0.9, 500, 2)
    flipped = same.assign(b=-same["b"])  # b is symmetric: the same marginals, correlation -0.9
    uni = compare_data(ref, flipped)
    assert not uni.drifted and uni.drifted_features == []
    result = multivariate_drift(ref, flipped)
    assert result.reconstruction is not None and result.classifier is not None
    assert result.reconstruction.drifted and result.classifier.drifted and result.drifted
    assert result.classifier.auc > 0.7
    quiet = multivariate_drift(ref, same)
    assert not quiet.drifted
    assert quiet.classifier is not None and quiet.classifier.auc < 0.55

    # the reconstruction error by hand: standardise, PCA at 65% variance (1 component here) fitted on a
    # seeded half of the reference, mean distance; the band from chunks of the other half
    order = np.random.default_rng(0).permutation(3000)
    fit, held = np.sort(order[:1500]), np.sort(order[1500:])
    r = ref.to_numpy()
    scaler = StandardScaler().fit(r[fit])
    pca = PCA(n_components=0.65, svd_solver="full").fit(scaler.transform(r[fit]))
    z = scaler.transform(flipped.to_numpy())
    expected = np.linalg.norm(z - pca.inverse_transform(pca.transform(z)), axis=1).mean()
    assert pca.n_components_ == result.reconstruction.n_components == 1
    assert result.reconstruction.error == pytest.approx(expected, rel=1e-12)
    zr = scaler.transform(r[held])
    ref_errors = np.linalg.norm(zr - pca.inverse_transform(pca.transform(zr)), axis=1)
    # 3 chunks of 500 rows (fewer than MIN_CHUNKS): the band of the mean's standard error
    assert result.reconstruction.n_chunks == 3
    upper = ref_errors.mean() + 3 * ref_errors.std(ddof=1) / np.sqrt(500)
    assert result.reconstruction.upper == pytest.approx(upper, rel=1e-9)
    # with enough chunks, their spread: 150-row windows give 10 chunks of the held-out half
    small = multivariate_drift(ref, flipped.iloc[:150], methods=("reconstruction",)).reconstruction
    chunks = ref_errors[:1500].reshape(10, 150).mean(axis=1)
    assert small is not None and small.n_chunks == 10
    assert small.upper == pytest.approx(chunks.mean() + 3 * chunks.std(ddof=1), rel=1e-9)

    # round trip and the report envelope
    assert MultivariateDrift.from_dict(result.to_dict()) == result
    report = build_report(uni, multivariate=result)
    assert report.to_dict()["multivariate"]["drifted"] is True
    assert "Multivariate drift" in report.verdict()
    assert type(report).from_dict(report.to_dict()).multivariate == result


def test_categorical_columns_and_errors() -> None:
    ref = _gauss(0.9, 600, 3).assign(c=lambda f: np.where(f["a"] > 0, "x", "y"))
    cur = _gauss(0.9, 200, 4).assign(c=lambda f: np.where(f["a"] > 0, "y", "z"))
    result = multivariate_drift(ref, cur, methods=("reconstruction",))
    assert result.columns == ("a", "b", "c") and result.classifier is None and result.drifted
    with pytest.raises(DataError, match="lacks column"):
        multivariate_drift(ref, cur.drop(columns="b"))
    with pytest.raises(DataError, match="unknown multivariate method"):
        multivariate_drift(ref, cur, methods=("pca",))


def _stream() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A reference and a log of 4 windows of 500 rows: two as the reference, then b's sign flipped."""
    ref = _gauss(0.9, 3000, 0)
    parts = [_gauss(0.9, 500, 10 + i) for i in range(4)]
    parts[2], parts[3] = (p.assign(b=-p["b"]) for p in parts[2:])
    log = pd.concat(parts, ignore_index=True)
    log["time"] = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(len(log)), unit="min")
    log.index = pd.RangeIndex(1, len(log) + 1)  # prediction ids
    return ref, log


def test_flipped_correlation_fires_per_window_frame_and_pages() -> None:
    from skloop.core import MonitoringSpec, MultivariateSpec
    from skloop.monitor import monitor_frame, monitor_pages

    ref, log = _stream()
    config = MonitoringSpec(multivariate=MultivariateSpec(enabled=True))
    report = monitor_frame(log, ref, window=500, multivariate=True, config=config)
    assert report.windows is not None
    windows = report.windows.windows
    assert [w.drift_share for w in windows] == [0.0] * 4 and not any(w.drifted for w in windows)
    assert [w.multivariate is not None and w.multivariate.drifted for w in windows] == [False, False, True, True]
    for w in windows:
        assert w.multivariate is not None and w.multivariate.classifier is not None
        assert w.multivariate.classifier.drifted == (w.index >= 2)
        assert w.multivariate.reconstruction is not None and w.multivariate.reconstruction.drifted == (w.index >= 2)
    auc = report.windows.series("multivariate:auc")
    assert all(a is not None and a < 0.55 for a in auc[:2]) and all(a is not None and a > 0.7 for a in auc[2:])

    # independently: scikit-learn's cross_val_score of the same classifier on the same rows
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    cur = log.iloc[1000:1500][["a", "b"]].to_numpy()
    x, y = np.vstack([ref.to_numpy(), cur]), np.r_[np.zeros(3000), np.ones(500)]
    clf = HistGradientBoostingClassifier(max_iter=50, max_leaf_nodes=15, random_state=0)
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):  # one thread, as skloop fits it (same result, faster)
        expected = cross_val_score(clf, x, y, cv=cv, scoring="roc_auc").mean()
    assert windows[2].multivariate.classifier.auc == pytest.approx(expected, abs=1e-12)  # type: ignore[union-attr]

    # the streamed log (pages of 300 rows) gives the same windows; the JSON round-trips
    pages = [log.iloc[i : i + 300] for i in range(0, len(log), 300)]
    streamed = monitor_pages(pages, ref, window=500, config=config, multivariate=config.multivariate)
    assert streamed.windows is not None
    for a, b in zip(windows, streamed.windows.windows, strict=True):
        assert a.multivariate is not None and b.multivariate is not None
        assert b.multivariate.reconstruction.error == pytest.approx(a.multivariate.reconstruction.error, rel=1e-12)  # type: ignore[union-attr]
        assert b.multivariate.classifier.auc == pytest.approx(a.multivariate.classifier.auc, abs=1e-12)  # type: ignore[union-attr]
    assert streamed.multivariate is not None and streamed.multivariate.n_current == 2000
    again = type(streamed).from_json(streamed.to_json())
    assert (
        again.windows is not None and again.windows.windows[3].multivariate == streamed.windows.windows[3].multivariate
    )


def test_streamed_reservoir_is_bounded_and_the_error_exact() -> None:
    from skloop.core import MultivariateSpec
    from skloop.monitor import MultivariateReference, monitor_pages

    ref, log = _stream()
    small = MultivariateSpec(max_rows=100)
    pages = [log.iloc[i : i + 128] for i in range(0, len(log), 128)]
    report = monitor_pages(pages, ref, window=1000, multivariate=small)
    assert report.windows is not None
    last = report.windows.windows[1].multivariate
    assert last is not None and last.classifier is not None and last.reconstruction is not None
    assert last.classifier.n_current == 100 and last.n_current == 1000 and last.drifted
    fitted = MultivariateReference(ref, ["a", "b"])
    assert last.reconstruction.error == pytest.approx(fitted.errors(log.iloc[1000:]).mean(), rel=1e-12)
    # the sample does not depend on the page size
    other = monitor_pages([log.iloc[i : i + 333] for i in range(0, len(log), 333)], ref, window=1000,
                          multivariate=small)  # fmt: skip
    assert other.windows is not None and other.windows.windows[1].multivariate == last


def test_loop_trigger_fires_on_the_flip_while_drift_stays_quiet() -> None:
    from skloop.core import LoopSpec, MultivariateSpec
    from skloop.monitor import monitor_pages
    from skloop.workflows._loop_log import drift_summary
    from skloop.workflows._loop_policy import evaluate_triggers

    ref, log = _stream()
    policy = LoopSpec.model_validate({"triggers": {"multivariate": True, "performance": None}})
    seen = {}
    for name, rows in (("same", log.iloc[:500]), ("flipped", log.iloc[1500:])):
        report = monitor_pages([rows], ref, multivariate=MultivariateSpec())
        monitor = {"window": "500 rows", "n_rows": len(rows), **drift_summary(report)}
        triggers = {t["name"]: t for t in evaluate_triggers(policy, monitor, since_retrain_hours=None, new_labels=0)}
        seen[name] = triggers
    assert not seen["same"]["multivariate"]["fired"] and seen["flipped"]["multivariate"]["fired"]
    assert not seen["flipped"]["drift"]["fired"] and not seen["flipped"]["top_features"]["fired"]
    fired = seen["flipped"]["multivariate"]
    assert fired["value"] > 0.7 and fired["threshold"] >= 0.55 and "domain classifier AUC" in fired["detail"]
    # no reference rows: recorded as not judged
    quiet = evaluate_triggers(policy, {"drift": None, "multivariate": {"reason": "no rows"}},
                              since_retrain_hours=None, new_labels=0)  # fmt: skip
    assert quiet[0]["name"] == "multivariate" and not quiet[0]["fired"] and "no rows" in quiet[0]["detail"]


def test_spec_errors_name_the_key_and_allowed_values() -> None:
    from skloop.core import SpecError, parse_spec

    base = (
        "name: m\ndata: {train: x.csv, target: y}\n"
        "pipeline: {model: {class: sklearn.linear_model.LogisticRegression}}\n"
    )
    for bad, words in (("methods: [pca]", ("monitoring.multivariate.methods", "reconstruction", "classifier")),
                       ("auc_threshold: 0.4", ("monitoring.multivariate.auc_threshold", "0.5")),
                       ("colour: 1", ("monitoring.multivariate", "colour"))):  # fmt: skip
        with pytest.raises(SpecError) as info:
            parse_spec(base + f"monitoring:\n  multivariate: {{{bad}}}\n")
        assert all(w in str(info.value) for w in words), str(info.value)
    spec = parse_spec(base + "monitoring: {multivariate: {enabled: true, methods: classifier}}\n"
                      "loop: {triggers: {multivariate: true}}\n")  # fmt: skip
    assert spec.monitoring.multivariate.methods == ("classifier",) and spec.loop.triggers.multivariate


def test_html_report_and_cli_line_show_the_windows() -> None:
    from skloop.monitor import monitor_frame, multivariate_text, render_report_html

    ref, log = _stream()
    report = monitor_frame(log, ref, window=500, multivariate=True)
    html = render_report_html(report)
    assert 'id="multivariate"' in html and "domain classifier AUC per window" in html
    assert "PCA reconstruction error per window" in html and html.count("<svg") >= 4
    assert report.multivariate is not None
    text = multivariate_text(report.multivariate)
    assert text.startswith("drifted: domain classifier AUC") and "2,000 rows" in text
