"""The shadow model against the served one, streamed from the prediction log's pages.

Each logged record holds both models' answers to the same row (the server writes the
shadow's under ``outputs["shadow"]``), so the pairs are joined by construction: one
prediction ``id`` carries the served output, the shadow's and, once it arrives, the
label. :func:`shadow_page` turns a store page into a frame of pairs and
:class:`ShadowAccumulator` adds one page at a time, keeping only:

- counts: rows, shadowed rows, failures, versions, and a classifier's confusion table
  between the two models (so the agreement rate is exact over any number of rows);
- a regressor's running moments (means, co-moment, sums of the differences), merged
  page by page (Chan, Golub & LeVeque), so its mean absolute difference and
  correlation are exact too;
- two bounded samples of pairs, for what needs rows: the output drift tests and, on the
  labelled pairs, both models' metrics and the paired test. Up to ``max_rows`` pairs
  they hold every pair; beyond, the pairs whose hashed prediction id is smallest (the
  monitor's own sample, :mod:`skloop.monitor._stream`), independent of the page size.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import DataError, MonitoringSpec
from skloop.data import class_name
from skloop.monitor._compare import EXACT_ROWS, compare_data
from skloop.monitor._compare_models import ModelComparison, compare_models
from skloop.monitor._performance import PerformanceReport, performance, positive_index
from skloop.monitor._shadow_report import ShadowReport
from skloop.monitor._stream import _Sample

__all__ = ["ShadowAccumulator", "compare_shadow", "shadow_page"]

SERVED_P = "served_proba::"
SHADOW_P = "shadow_proba::"
MAX_FAILURES = 3


def shadow_page(page: Any) -> pd.DataFrame:
    """The pairs of one store page (:class:`~skloop.store.PredictionPage`), indexed by prediction id.

    Columns: ``time`` (UTC), ``served_version``, ``served`` (the served prediction), ``shadow_version``,
    ``shadow`` (the shadow's, ``None`` where it did not answer), ``error`` (the shadow's
    error), ``label``, then each model's probabilities as ``served_proba::<class>`` and
    ``shadow_proba::<class>``.
    """
    rows, sh = page.rows, page.shadow
    none = pd.Series([None] * len(rows), index=rows.index, dtype=object)

    def col(name: str) -> pd.Series:
        return sh[name] if name in sh.columns else none

    frame = pd.DataFrame({
        "time": pd.to_datetime(rows["time"], utc=True),
        "served_version": rows["version"], "served": rows["predicted"], "shadow_version": col("version"),
        "shadow": col("prediction"), "error": col("error"), "label": rows["label"],
    }, index=rows.index)  # fmt: skip
    for key in page.probabilities.columns:
        frame[SERVED_P + str(class_name(key))] = page.probabilities[key]
    for key in page.shadow_probabilities.columns:
        frame[SHADOW_P + str(class_name(key))] = page.shadow_probabilities[key]
    return frame


def _texts(values: pd.Series) -> list[str | None]:
    return [class_name(v) for v in values.tolist()]


def _count(counts: Counter[str], values: pd.Series) -> None:
    for v, n in values.dropna().value_counts(sort=False).items():
        counts[str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)] += int(n)


class ShadowAccumulator:
    """The shadow's pairs with the served model, added a page at a time.

    Parameters
    ----------
    task : {"classification", "regression"}
    classes : sequence, optional
        The served model's classes (the confusion table's order; labels seen besides
        them follow, sorted).
    positive : scalar, optional
        A binary classifier's positive class (whose probability is tested for drift).
    max_rows : int
        Pairs kept for the drift tests, and labelled pairs for the metrics.
    """

    def __init__(
        self, task: str, *, classes: Sequence[Any] | None = None, positive: Any = None, max_rows: int = EXACT_ROWS
    ) -> None:
        if task not in ("classification", "regression"):
            raise DataError(f"task must be 'classification' or 'regression', given {task!r}")
        self.task = task
        self.classes = [str(class_name(c)) for c in classes or ()]
        self.positive = positive
        self.n_rows = self.n_shadowed = self.n_failed = 0
        self.failures: list[str] = []
        self.served_versions: Counter[str] = Counter()
        self.shadow_versions: Counter[str] = Counter()
        self.confusion: Counter[tuple[str, str]] = Counter()
        # regression: pairs, means, sums of squares about the means, co-moment, sums of the differences
        self.n_num = 0
        self.mean_a = self.mean_b = self.m2_a = self.m2_b = self.co = self.abs_diff = self.diff = 0.0
        self.sample = _Sample(max_rows)
        self.labelled = _Sample(max_rows)

    def add(self, frame: pd.DataFrame) -> None:
        """Add the pairs of one page (a :func:`shadow_page` frame)."""
        self.n_rows += len(frame)
        answered = frame["shadow"].notna().to_numpy()
        failed = frame["error"].notna().to_numpy() & ~answered
        if failed.any():
            self.n_failed += int(failed.sum())
            for why in frame["error"][failed].unique()[:MAX_FAILURES]:
                if len(self.failures) < MAX_FAILURES and str(why) not in self.failures:
                    self.failures.append(str(why))
        pairs = frame[answered]
        if pairs.empty:
            return
        self.n_shadowed += len(pairs)
        _count(self.served_versions, pairs["served_version"])
        _count(self.shadow_versions, pairs["shadow_version"])
        if self.task == "classification":
            both = pd.DataFrame({"a": _texts(pairs["served"]), "b": _texts(pairs["shadow"])})
            counts = both.value_counts(sort=False, dropna=False)
            for (a, b), n in zip(counts.index.tolist(), counts.tolist(), strict=True):
                self.confusion[(str(a), str(b))] += int(n)
        else:
            self._moments(pairs)
        self.sample.add(pairs)
        self.labelled.add(pairs[pairs["label"].notna()])

    def _moments(self, pairs: pd.DataFrame) -> None:
        a = pd.to_numeric(pairs["served"], errors="coerce").to_numpy(dtype=np.float64)
        b = pd.to_numeric(pairs["shadow"], errors="coerce").to_numpy(dtype=np.float64)
        ok = np.isfinite(a) & np.isfinite(b)
        a, b = a[ok], b[ok]
        n2 = a.size
        if n2 == 0:
            return
        ma, mb = float(a.mean()), float(b.mean())
        m2a, m2b = float(((a - ma) ** 2).sum()), float(((b - mb) ** 2).sum())
        co = float(((a - ma) * (b - mb)).sum())
        n1, n = self.n_num, self.n_num + n2
        da, db = ma - self.mean_a, mb - self.mean_b
        self.mean_a += da * n2 / n
        self.mean_b += db * n2 / n
        self.m2_a += m2a + da * da * n1 * n2 / n
        self.m2_b += m2b + db * db * n1 * n2 / n
        self.co += co + da * db * n1 * n2 / n
        self.abs_diff += float(np.abs(b - a).sum())
        self.diff += float((b - a).sum())
        self.n_num = n

    def _labels(self) -> list[str]:
        seen = {a for a, _ in self.confusion} | {b for _, b in self.confusion}
        return [*self.classes, *sorted(c for c in seen if c not in self.classes)]

    def finish(
        self,
        *,
        config: MonitoringSpec | None = None,
        compare: Mapping[str, Any] | None = None,
        reference_metrics: Mapping[str, float] | None = None,
        n_boot: int = 200,
        seed: int = 0,
        model: str | None = None,
    ) -> ShadowReport:
        """The :class:`ShadowReport` of the pairs added.

        ``compare`` holds the loop's comparison settings (``metric``, ``method``,
        ``margin``, ``confidence``, ``n_boot``: the spec's ``loop.compare``); ``n_boot``
        and ``seed`` are the realised metrics' bootstrap.
        """
        labels = self._labels() if self.task == "classification" else []
        confusion = [[self.confusion.get((a, b), 0) for b in labels] for a in labels]
        agreement = None
        if self.task == "classification" and self.n_shadowed:
            agreement = sum(confusion[i][i] for i in range(len(labels))) / self.n_shadowed
        mad = corr = mean_diff = None
        if self.task == "regression" and self.n_num:
            mad, mean_diff = self.abs_diff / self.n_num, self.diff / self.n_num
            denom = math.sqrt(self.m2_a * self.m2_b)
            corr = self.co / denom if denom > 0 else None
        sample = self.sample.frame()
        drift = [] if sample is None else self._drift(sample, labels, config)
        report = ShadowReport(
            task=self.task, n_rows=self.n_rows, n_shadowed=self.n_shadowed, n_failed=self.n_failed,
            failures=list(self.failures), served_versions=dict(sorted(self.served_versions.items())),
            shadow_versions=dict(sorted(self.shadow_versions.items())), agreement=agreement, classes=labels,
            confusion=confusion, mean_abs_difference=mad, correlation=corr, mean_difference=mean_diff,
            drift=drift, n_drift_rows=0 if sample is None else len(sample), model=model,
        )  # fmt: skip
        return self._realised(report, labels, compare or {}, reference_metrics, n_boot, seed)

    def _positive(self, labels: Sequence[str], sample: pd.DataFrame) -> str | None:
        """A binary classifier's positive class, when both models logged its probability."""
        if len(self.classes) != 2:
            return None
        pos = positive_index(tuple(self.classes), self.positive)
        c = self.classes[1 if pos is None else pos]
        return c if SERVED_P + c in sample.columns and SHADOW_P + c in sample.columns else None

    def _drift(self, sample: pd.DataFrame, labels: Sequence[str], config: MonitoringSpec | None) -> list[Any]:
        if self.task == "classification":
            ref = pd.DataFrame({"prediction": pd.Series(_texts(sample["served"]), dtype=object)})
            cur = pd.DataFrame({"prediction": pd.Series(_texts(sample["shadow"]), dtype=object)})
            pos = self._positive(labels, sample)
            if pos is not None:
                name = f"probability of {pos}"
                ref[name] = pd.to_numeric(sample[SERVED_P + pos], errors="coerce").to_numpy()
                cur[name] = pd.to_numeric(sample[SHADOW_P + pos], errors="coerce").to_numpy()
        else:
            ref = pd.DataFrame({"prediction": pd.to_numeric(sample["served"], errors="coerce").to_numpy()})
            cur = pd.DataFrame({"prediction": pd.to_numeric(sample["shadow"], errors="coerce").to_numpy()})
        return list(compare_data(ref, cur, config=config).features)

    def _realised(
        self,
        report: ShadowReport,
        labels: Sequence[str],
        compare: Mapping[str, Any],
        reference_metrics: Mapping[str, float] | None,
        n_boot: int,
        seed: int,
    ) -> ShadowReport:
        rows = self.labelled.frame()
        if rows is None or len(rows) < 2:
            n = 0 if rows is None else len(rows)
            why = (
                f"{n} of the {report.n_shadowed:,} compared rows has a label; post labels (skloop labels) "
                "and monitor again"
            )
            return _replace(report, n_labelled=n, comparison_reason=why)
        y = rows["label"].astype(object).tolist()
        classes = list(labels) if self.task == "classification" else None
        probas: list[pd.DataFrame | None] = [None, None]
        if classes is not None:
            for i, prefix in enumerate((SERVED_P, SHADOW_P)):
                cols = [prefix + c for c in classes]
                if all(c in rows.columns for c in cols):
                    frame = rows[cols].apply(pd.to_numeric, errors="coerce")
                    probas[i] = frame.set_axis(classes, axis=1) if not frame.isna().any().any() else None
        perf: list[PerformanceReport | None] = []
        for col, proba in (("served", probas[0]), ("shadow", probas[1])):
            perf.append(performance(
                y, rows[col].astype(object).tolist(), proba=proba, classes=classes, task=self.task,
                reference=reference_metrics, n_boot=n_boot, seed=seed, positive=self.positive,
            ))  # fmt: skip
        both = probas[0] is not None and probas[1] is not None
        comparison: ModelComparison | None = None
        reason = None
        try:
            comparison = compare_models(
                y, rows["served"].astype(object).tolist(), rows["shadow"].astype(object).tolist(),
                champion_proba=probas[0] if both else None, challenger_proba=probas[1] if both else None,
                metric=str(compare.get("metric", "auto")), method=str(compare.get("method", "auto")),
                margin=float(compare.get("margin", 0.0)), confidence=float(compare.get("confidence", 0.95)),
                classes=classes, task=self.task, n_boot=int(compare.get("n_boot", 1000)), seed=seed,
                positive=self.positive,
            )  # fmt: skip
        except DataError as exc:
            reason = f"the paired test cannot run on the {len(rows):,} labelled rows: {exc}"
        return _replace(
            report, n_labelled=len(rows), served_performance=perf[0], shadow_performance=perf[1],
            comparison=comparison, comparison_reason=reason,
        )  # fmt: skip


def _replace(report: ShadowReport, **changes: Any) -> ShadowReport:
    from dataclasses import replace

    return replace(report, **changes)


def compare_shadow(
    frames: Iterable[pd.DataFrame],
    task: str,
    *,
    classes: Sequence[Any] | None = None,
    positive: Any = None,
    max_rows: int = EXACT_ROWS,
    **finish: Any,
) -> ShadowReport:
    """The :class:`ShadowReport` of pair frames (:func:`shadow_page`), read one at a time.

    Keyword arguments besides these go to :meth:`ShadowAccumulator.finish`.

    Examples
    --------
    >>> pairs = pd.DataFrame({"served_version": [1] * 4, "served": ["a", "b", "a", "b"],
    ...                       "shadow_version": [2] * 4, "shadow": ["a", "b", "b", "b"],
    ...                       "error": [None] * 4, "label": ["a", "b", "a", None]})
    >>> report = compare_shadow([pairs], "classification", classes=["a", "b"], n_boot=0)
    >>> report.agreement, report.confusion, report.n_labelled
    (0.75, [[1, 1], [0, 2]], 3)
    """
    acc = ShadowAccumulator(task, classes=classes, positive=positive, max_rows=max_rows)
    for frame in frames:
        acc.add(frame)
    return acc.finish(**finish)
