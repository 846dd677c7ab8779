"""The shadow's pairs cut into windows as the log is read: :class:`ShadowWindows`.

Pages of pairs (:func:`~skloop.monitor.shadow_page`) come in the log's time order; each
row goes to its window by :class:`~skloop.monitor._periods.Cut` exactly as
:func:`~skloop.monitor.monitor_pages` sends the same page's rows (row windows count the
timed rows from the first page; rows without a time are in no window), so the shadow's
windows are the monitor's windows. A window is a :class:`~skloop.monitor.ShadowAccumulator`
of its own, finished into a :class:`~skloop.monitor._shadow_series.ShadowWindow` (the
whole-range section's statistics, the same code) as soon as the next window's first row
arrives: memory is one open window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from skloop.monitor._periods import Cut, span_of, window_times
from skloop.monitor._shadow import ShadowAccumulator
from skloop.monitor._shadow_report import ShadowReport
from skloop.monitor._shadow_series import ShadowWindow, ShadowWindowSeries

__all__ = ["ShadowWindows"]


def _values(perf: Any) -> dict[str, float | None]:
    return {} if perf is None else {m.name: m.value for m in perf.metrics}


class ShadowWindows:
    """The shadow's comparison per window of the log, a page at a time.

    Parameters
    ----------
    cut : Cut
        How the monitor cuts the log (:func:`~skloop.monitor.window_cut`).
    make : callable
        A new, empty :class:`ShadowAccumulator` (one per window).
    finish : mapping
        What :meth:`ShadowAccumulator.finish` takes (``config``, ``compare``, ...), for
        every window.
    observed_from, observed_until : Timestamp, optional
        The span the log observes (``--since`` and now), deciding the partial windows
        as in :func:`~skloop.monitor._periods.span_of`.
    judge_partial : bool
        Judge partial windows like full ones.
    """

    def __init__(
        self,
        cut: Cut,
        make: Callable[[], ShadowAccumulator],
        finish: Mapping[str, Any] | None = None,
        *,
        observed_from: pd.Timestamp | None = None,
        observed_until: pd.Timestamp | None = None,
        judge_partial: bool = False,
    ) -> None:
        self.cut, self.make, self.finish_args = cut, make, dict(finish or {})
        self.observed = {"observed_from": observed_from, "observed_until": observed_until}
        self.judge_partial = judge_partial
        self.results: list[ShadowWindow] = []
        self.current: tuple[int, ShadowAccumulator] | None = None
        self.first: pd.Timestamp | None = None
        self.last: pd.Timestamp | None = None
        self.seen = self.untimed = 0

    def add(self, frame: pd.DataFrame) -> None:
        """Add one page of pairs (a :func:`~skloop.monitor.shadow_page` frame, with its ``time``)."""
        if frame.empty:
            return
        times = window_times(frame["time"], "time")
        missing = times.isna().to_numpy()
        if missing.any():
            self.untimed += int(missing.sum())
            frame, times = frame[~missing], times[~missing]
        keys = self.cut.keys(times, self.seen, len(frame))
        cuts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.array([], dtype=np.int64)
        for i, at in enumerate(cuts):
            upto = int(cuts[i + 1]) if i + 1 < len(cuts) else len(frame)
            key = int(keys[at])
            if self.current is not None and self.current[0] != key:
                self._close(False)
            if self.current is None:
                self.current, self.first = (key, self.make()), times.iloc[at]
            self.current[1].add(frame.iloc[at:upto])
            self.last = times.iloc[upto - 1]
        self.seen += len(frame)

    def _close(self, is_last: bool) -> None:
        assert self.current is not None
        key, acc = self.current
        report = acc.finish(**self.finish_args)
        span = span_of(self.cut, key, acc.n_rows, self.first, self.last, is_first=not self.results,
                       is_last=is_last, **self.observed)  # fmt: skip
        self.results.append(_window(len(self.results), span, report, self.judge_partial))
        self.current = None

    def series(self) -> ShadowWindowSeries:
        """The windows so far, the open one closed as the last."""
        if self.current is not None:
            self._close(True)
        return ShadowWindowSeries(window=self.cut.label, windows=tuple(self.results), n_without_time=self.untimed,
                                  judge_partial=self.judge_partial)  # fmt: skip


def _window(index: int, span: Any, r: ShadowReport, judge_partial: bool) -> ShadowWindow:
    where = span.to_dict()
    return ShadowWindow(
        index=index, start=where["start"], end=where["end"], label=span.label, coverage=span.coverage,
        partial=span.partial, judged=judge_partial or not span.partial, n_rows=r.n_rows, n_shadowed=r.n_shadowed,
        n_failed=r.n_failed, agreement=r.agreement, mean_abs_difference=r.mean_abs_difference,
        drift=[{"name": f.name, "method": f.method, "statistic": f.statistic, "p_value": f.p_value,
                "threshold": f.threshold, "drifted": f.drifted} for f in r.drift],
        n_labelled=r.n_labelled, served_metrics=_values(r.served_performance),
        shadow_metrics=_values(r.shadow_performance), comparison=r.comparison,
        comparison_reason=r.comparison_reason,
    )  # fmt: skip
