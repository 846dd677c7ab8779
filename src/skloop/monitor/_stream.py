"""Monitor a prediction log read in pages: the report of :func:`monitor_frame`, in bounded memory.

:func:`monitor_pages` takes log frames one page at a time (the store's
:class:`~skloop.store.PredictionPage` made a log frame by :func:`log_page`), in
``(time, id)`` order, and feeds each page into the streaming accumulators of
:mod:`skloop.monitor._accumulate`, for the whole log and for the open window; a page
is dropped once added, so memory is one page plus per-column aggregates:

- drift and quality: each numeric column keeps its values up to ``max_rows`` (exact
  tests, the same as :func:`monitor_frame`'s), then counts between the reference's
  sketch points, like :func:`~skloop.monitor.compare_data_files`;
- realised performance and the CBPE estimate, whose bootstrap needs rows: up to
  ``max_rows`` rows (labelled ones for the realised performance), all of them while
  the log holds no more; beyond, a uniform sample of ``max_rows``: the rows whose
  hashed prediction id is smallest, which does not depend on the page size. The rows
  are scored in the log's order, as :func:`monitor_frame` scores the whole log.

So a log of at most ``max_rows`` rows gets exactly the report :func:`monitor_frame`
gives for :func:`log_frame` of the same predictions, whatever the page size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import DataError, MonitoringSpec, MultivariateSpec
from skloop.data import DatasetProfile, Schema, class_name
from skloop.monitor._accumulate import Accumulator, accumulator
from skloop.monitor._compare import EXACT_ROWS, DriftReport, _finish, _reference, _Scope, _scope
from skloop.monitor._estimate import CBPE
from skloop.monitor._loss import DLE
from skloop.monitor._multivariate import (
    MultivariateReference,
    MultivariateWindow,
    multivariate_reference,
    sampling_keys,
)
from skloop.monitor._performance import PerformanceReport
from skloop.monitor._periods import Cut, span_of, window_cut, window_times
from skloop.monitor._reference import ReferenceSummary, reference_summary
from skloop.monitor._report import MonitorReport, build_report
from skloop.monitor._windows import (
    LOG_COLUMNS,
    WindowResult,
    WindowSeries,
    _utc,
    learned_bands,
    window_performance,
    window_result,
)

__all__ = ["log_page", "monitor_pages"]


def log_page(page: Any) -> pd.DataFrame:
    """The log frame of one store page (:class:`~skloop.store.PredictionPage`), indexed by prediction id.

    The columns of :func:`~skloop.monitor.log_frame`: ``time``, ``version``,
    ``entity_id``, the inputs, ``prediction`` (the served value), ``proba_<class>``
    and ``label``.
    """
    rows = page.rows
    frame = pd.DataFrame({"time": rows["time"], "version": rows["version"], "entity_id": rows["entity_id"]})
    for col in page.inputs.columns:
        frame[col] = page.inputs[col]
    frame["prediction"] = rows["predicted"]
    for key in page.probabilities.columns:
        frame[f"proba_{class_name(key)}"] = page.probabilities[key]
    frame["label"] = rows["label"]
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame


class _Sample:
    """At most ``k`` rows: all of them while there are no more, else those with the smallest keys.

    The rows come back in the order they were added.
    """

    def __init__(self, k: int) -> None:
        self.k = k
        self.parts: list[pd.DataFrame] = []
        self.n = 0
        self.full = False

    def add(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        self.parts.append(frame.assign(__seq=np.arange(self.n, self.n + len(frame))))
        self.n += len(frame)
        if self.n > self.k or self.full:
            kept = pd.concat(self.parts)
            if len(kept) > self.k:
                kept = kept.iloc[np.sort(np.argpartition(sampling_keys(kept.index), self.k - 1)[: self.k])]
            self.parts, self.full = [kept], True

    def frame(self) -> pd.DataFrame | None:
        if not self.parts:
            return None
        rows = pd.concat(self.parts) if len(self.parts) > 1 else self.parts[0]
        return rows.iloc[np.argsort(rows["__seq"].to_numpy(), kind="stable")].drop(columns="__seq")


class _Part:
    """The aggregates of a stretch of the log (the whole log, or one window)."""

    def __init__(
        self,
        ref: ReferenceSummary,
        names: Sequence[str],
        cap: int,
        k: int,
        estimate: bool,
        outputs: list[str],
        inputs: Sequence[str] = (),
        multivariate: MultivariateWindow | None = None,
    ) -> None:
        self.multivariate = multivariate
        self.accs: dict[str, Accumulator] = {n: accumulator(ref[n], cap=cap) for n in names}
        self.seen: set[str] = set()
        self.n_rows = self.n_labeled = 0
        self.labeled = _Sample(k)
        self.all = _Sample(k) if estimate else None
        self.outputs = outputs
        self.inputs = list(inputs)  # what the estimator reads besides the outputs (DLE: the model's inputs)
        self.first: pd.Timestamp | None = None
        self.last: pd.Timestamp | None = None

    def add(self, rows: pd.DataFrame) -> None:
        if rows.empty:
            return
        self.n_rows += len(rows)
        if "time" in rows.columns:  # a table monitored without windows may have no time
            times = rows["time"]
            self.first = times.iloc[0] if self.first is None else self.first
            self.last = times.iloc[-1]
        for name, acc in self.accs.items():
            if name in rows.columns:
                self.seen.add(name)
                acc.add(rows[name])
            else:  # what a whole frame holds for a column of other rows only: missing values
                acc.add(pd.Series([None] * len(rows), dtype=object, index=rows.index))
        outputs = [c for c in rows.columns if c == "prediction" or str(c).startswith("proba_")]
        keep = [*(["time"] if "time" in rows.columns else []), *outputs]
        if "label" in rows.columns:
            labeled = rows["label"].map(class_name).notna().to_numpy()
            self.n_labeled += int(labeled.sum())
            if labeled.any():
                self.labeled.add(rows.loc[labeled, [*keep, "label"]])
        if self.all is not None:
            self.all.add(rows[keep + [c for c in self.inputs if c in rows.columns and c not in keep]])
        if self.multivariate is not None:
            self.multivariate.add(rows, sampling_keys(rows.index))

    def drift(self, ref: ReferenceSummary, scope: _Scope, config: MonitoringSpec) -> DriftReport:
        accs = {n: a for n, a in self.accs.items() if n in self.seen}
        return _finish(ref, accs, scope, config, self.n_rows)

    def performance(
        self, classes: Sequence[Any] | None, estimator: CBPE | DLE | None, **kwargs: Any
    ) -> tuple[PerformanceReport | None, PerformanceReport | None]:
        realised = estimate = None
        labeled = self.labeled.frame()
        if labeled is not None:
            _, realised, _ = window_performance(labeled, classes=classes, estimator=None, **kwargs)
        rows = self.all.frame() if self.all is not None else None
        if rows is not None and estimator is not None:
            _, _, estimate = window_performance(rows, classes=classes, estimator=estimator, **kwargs)
        return realised, estimate


def monitor_pages(
    pages: Iterable[pd.DataFrame],
    reference: pd.DataFrame | ReferenceSummary | DatasetProfile,
    *,
    schema: Schema | None = None,
    config: MonitoringSpec | None = None,
    window: str | int | timedelta | None = None,
    period: str | None = None,
    task: str | None = None,
    classes: Sequence[Any] | None = None,
    reference_metrics: Mapping[str, float] | None = None,
    importance: Mapping[str, Any] | None = None,
    estimator: CBPE | DLE | None = None,
    model: str | None = None,
    n_boot: int = 200,
    seed: int = 0,
    reference_name: str = "reference",
    current_name: str = "current",
    columns: Sequence[str] | None = None,
    positive: Any = None,
    max_rows: int = EXACT_ROWS,
    estimate_reason: str | None = None,
    observed_from: datetime | None = None,
    observed_until: datetime | None = None,
    judge_partial: bool = False,
    multivariate: MultivariateSpec | None = None,
    reference_rows: pd.DataFrame | None = None,
    tz: str | None = None,
) -> MonitorReport:
    """:func:`~skloop.monitor.monitor_frame` over a log given as pages (see the module docstring).

    Parameters
    ----------
    pages : iterable of DataFrame
        Log frames (:func:`log_page`) in time order (the store's ``order="time"``),
        each indexed by the prediction id (unique: it orders the sample); each is read
        once and dropped. Without ``window``, pages may have no ``time`` column (a
        table's rows scored partition by partition, in the table's order).
    reference, schema, config, window, period, task, classes, reference_metrics, importance, estimator, model, n_boot,
    seed, reference_name, current_name, columns, positive, estimate_reason, observed_from, observed_until,
    judge_partial, tz
        As in :func:`~skloop.monitor.monitor_frame` (windows cut by ``time``; rows
        without one are in no window, and counted).
    max_rows : int, default=EXACT_ROWS
        Numeric values held per column (beyond: binned) and rows scored for performance
        (beyond: a uniform sample); whole log and each window alike.
    multivariate : MultivariateSpec, optional
        Also multivariate drift of the tested inputs, of the whole log and per window
        (``monitoring.multivariate``): the reconstruction error summed exactly page by
        page, the domain classifier on a reservoir of ``multivariate.max_rows`` rows
        per window (the rows whose hashed prediction id is smallest; see
        :class:`~skloop.monitor._multivariate.MultivariateWindow`).
    reference_rows : DataFrame, optional
        The reference rows multivariate drift needs when ``reference`` is a summary.

    Returns
    -------
    MonitorReport

    Raises
    ------
    DataError
        No page holds a row.
    """
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise DataError(f"max_rows must be a positive integer, given {max_rows!r}")
    config = config or MonitoringSpec()
    iterator = iter(pages)
    first = next((p for p in iterator if not p.empty), None)
    if first is None:
        raise DataError("nothing to monitor: the log (or current data) has no rows")
    outputs = [c for c in first.columns if c == "prediction" or str(c).startswith("proba_")]
    rows_of_reference = reference if isinstance(reference, pd.DataFrame) else reference_rows
    if isinstance(reference, pd.DataFrame):
        reference = reference_summary(
            reference, schema, prediction_columns=[c for c in outputs if c in reference.columns], max_points=None
        )
    ref = _reference(None, reference, schema, ())
    known = set(ref.names)
    wanted = set(columns) if columns is not None else None

    def monitored(name: str, with_outputs: bool) -> bool:
        if name == "prediction" or name.startswith("proba_"):
            return with_outputs and name in known
        return name not in LOG_COLUMNS and (wanted is None or name in wanted)

    scope = _scope(ref, schema, config, columns)
    in_scope = scope.checked | set(scope.features) | set(scope.predictions)
    whole_names = [c.name for c in ref if c.name in in_scope and monitored(c.name, True)]
    window_names = [c.name for c in ref if c.name in in_scope and monitored(c.name, False)]
    has_estimate = estimator is not None
    extra = estimator.columns_ if isinstance(estimator, DLE) else ()
    mv_ref: MultivariateReference | None = None
    if multivariate is not None:
        if rows_of_reference is None:
            raise DataError(
                "multivariate drift needs the reference rows (reference_rows=), not only a stored summary; "
                "skloop monitor: --reference FILE, or a version trained with a data snapshot"
            )
        tested = [n for n in window_names if n in scope.features and n in first.columns]
        mv_ref = multivariate_reference(rows_of_reference, tested, multivariate)

    def mv_window() -> MultivariateWindow | None:
        return None if mv_ref is None or multivariate is None else MultivariateWindow(mv_ref, multivariate)

    whole = _Part(ref, whole_names, max_rows, max_rows, has_estimate, outputs, extra, mv_window())
    cut = window_cut(window, period, tz=tz)
    results: list[WindowResult] = []
    perf_args: dict[str, Any] = {"task": task, "reference_metrics": reference_metrics, "n_boot": n_boot,
                                 "seed": seed, "positive": positive, "bands": learned_bands(config)}  # fmt: skip
    observed = {"observed_from": _utc(observed_from), "observed_until": _utc(observed_until)}
    state = _Windows(cut) if cut is not None else None

    def close(key: int, part: _Part, is_last: bool) -> None:
        assert cut is not None  # windows are closed only when cut
        drift = part.drift(ref, scope, config)
        realised, estimate = part.performance(classes, estimator, **perf_args)
        span = span_of(cut, key, part.n_rows, part.first, part.last, is_first=not results, is_last=is_last,
                       **observed)  # fmt: skip
        results.append(window_result(
            len(results), span, drift, n_rows=part.n_rows, n_labeled=part.n_labeled, realised=realised,
            estimate=estimate, importance=importance, judge_partial=judge_partial,
            multivariate=None if part.multivariate is None else part.multivariate.result(),
        ))  # fmt: skip

    for page in _chain(first, iterator):
        if page.empty:
            continue
        whole.add(page)
        if state is None:
            continue
        if "time" not in page.columns and state.cut.by_time:
            raise DataError("monitoring by time windows needs a 'time' column in every page; these rows have none")
        timed = page
        times = None
        if "time" in page.columns:
            times = window_times(page["time"], "time")
            missing = times.isna().to_numpy()
            if missing.any():
                state.untimed += int(missing.sum())
                timed, times = page[~missing], times[~missing]
            timed = timed.assign(time=times) if len(timed) else timed
        keys = state.cut.keys(times, state.seen, len(timed))
        cuts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.array([], dtype=np.int64)
        for i, at in enumerate(cuts):
            upto = cuts[i + 1] if i + 1 < len(cuts) else len(timed)
            key = int(keys[at])
            if state.current is not None and state.current[0] != key:
                close(*state.current, False)
                state.current = None
            if state.current is None:
                state.current = (key, _Part(ref, window_names, max_rows, max_rows, has_estimate, outputs, extra,
                                                    mv_window()))  # fmt: skip
            state.current[1].add(timed.iloc[at:upto])
        state.seen += len(timed)
    if state is not None and state.current is not None:
        close(*state.current, True)
    drift = whole.drift(ref, scope, config)
    realised, estimate = whole.performance(classes, estimator, **perf_args)
    windows = None
    if state is not None:
        windows = WindowSeries(window=state.cut.label, windows=tuple(results), n_without_time=state.untimed,
                               judge_partial=judge_partial)  # fmt: skip
    return build_report(
        drift, importance=importance, performance=realised, estimate=estimate, windows=windows, model=model,
        reference_name=reference_name, current_name=current_name, estimate_reason=estimate_reason, estimator=estimator,
        multivariate=None if whole.multivariate is None else whole.multivariate.result(),
    )  # fmt: skip


class _Windows:
    """The cutting state: the open window, rows seen, rows without a time."""

    def __init__(self, cut: Cut) -> None:
        self.cut = cut
        self.current: tuple[int, _Part] | None = None
        self.seen = 0
        self.untimed = 0


def _chain(first: pd.DataFrame, rest: Iterable[pd.DataFrame]) -> Iterable[pd.DataFrame]:
    yield first
    yield from rest
