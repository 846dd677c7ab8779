"""The shadow against the served model per window: :class:`ShadowWindow` and :class:`ShadowWindowSeries`.

``skloop monitor NAME --shadow --window 1d`` (or ``--period week``) cuts the log as the
monitor's own windows (:mod:`skloop.monitor._periods`: the same bounds, the same partial
first and last windows) and, per window, compares the two models on the rows logged in
it with the statistics of the whole-range section (:class:`~skloop.monitor.ShadowAccumulator`):
pairs, agreement (a classifier) or mean absolute difference (a regressor), the output
drift tests, and, where the window has labels, both models' realised metrics and the
loop's paired test. A window keeps these numbers only (not its confusion table nor its
bootstrap samples), so a long series stays small.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from skloop.core import DataError
from skloop.monitor._compare_models import ModelComparison

__all__ = ["ShadowWindow", "ShadowWindowSeries"]


@dataclass(frozen=True)
class ShadowWindow:
    """The shadow against the served model over one window of the log.

    Attributes
    ----------
    index : int
    start, end : str or None
        ISO 8601 bounds, with the offset of the zone the windows were cut in (``end``
        excluded for time windows; the first and last times of a row window).
    label : str or None
        A calendar period's name (``"2024-03-31"``).
    coverage : float
        The share of the window the log observes.
    partial : bool
        Observed over less than :data:`~skloop.monitor._periods.FULL_COVERAGE` (only the
        first and the last can be), as the monitor's own window.
    judged : bool
        Whether the window counts (a partial window does not, unless asked).
    n_rows, n_shadowed, n_failed : int
        Rows logged in the window, rows the shadow answered (the pairs), rows it failed on.
    agreement : float or None
        Classification: share of pairs with the same label.
    mean_abs_difference : float or None
        Regression: ``mean |shadow - served|``.
    drift : list of dict
        The output drift tests: ``{"name", "method", "statistic", "p_value",
        "threshold", "drifted"}``.
    n_labelled : int
        Pairs with a label.
    served_metrics, shadow_metrics : dict of str to float or None
        Both models' realised metrics on the labelled pairs (empty without labels).
    comparison : ModelComparison or None
        The loop's paired test on the window's labelled pairs (served as champion).
    comparison_reason : str or None
        Why there is none (no labels in the window, too few of a class...).
    """

    index: int
    start: str | None
    end: str | None
    n_rows: int
    n_shadowed: int
    label: str | None = None
    coverage: float = 1.0
    partial: bool = False
    judged: bool = True
    n_failed: int = 0
    agreement: float | None = None
    mean_abs_difference: float | None = None
    drift: list[dict[str, Any]] = field(default_factory=list)
    n_labelled: int = 0
    served_metrics: dict[str, float | None] = field(default_factory=dict)
    shadow_metrics: dict[str, float | None] = field(default_factory=dict)
    comparison: ModelComparison | None = None
    comparison_reason: str | None = None

    @property
    def name(self) -> str:
        """What a report calls the window: its period, else its start, else its number."""
        if self.label is not None:
            return self.label
        return (self.start or f"#{self.index + 1}")[:16].replace("T", " ").removesuffix(" 00:00")

    @property
    def drifted(self) -> bool:
        """Whether any of the shadow's outputs drifted from the served model's in this window."""
        return any(bool(d.get("drifted")) for d in self.drift)

    @property
    def better(self) -> bool | None:
        """The paired test's verdict: the shadow better (``None``: no test in this window)."""
        return None if self.comparison is None else self.comparison.better

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it (``drifted`` and ``better`` are derived)."""
        return {
            "index": self.index, "start": self.start, "end": self.end, "label": self.label,
            "coverage": self.coverage, "partial": self.partial, "judged": self.judged, "n_rows": self.n_rows,
            "n_shadowed": self.n_shadowed, "n_failed": self.n_failed, "agreement": self.agreement,
            "mean_abs_difference": self.mean_abs_difference, "drift": [dict(d) for d in self.drift],
            "drifted": self.drifted, "n_labelled": self.n_labelled, "served_metrics": dict(self.served_metrics),
            "shadow_metrics": dict(self.shadow_metrics),
            "comparison": None if self.comparison is None else self.comparison.to_dict(),
            "comparison_reason": self.comparison_reason, "better": self.better,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShadowWindow:
        """Rebuild from :meth:`to_dict` output."""
        cmp = data.get("comparison")
        derived = ("drifted", "better", "comparison")
        return cls(
            **{k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k not in derived},
            comparison=None if cmp is None else ModelComparison.from_dict(cmp),
        )


@dataclass(frozen=True)
class ShadowWindowSeries:
    """The shadow's windows, in time order, cut as the monitor's own windows.

    Attributes
    ----------
    window : str
        What cut them: ``"500 rows"``, ``"1d"``, ``"month"``, ``"day (Europe/Paris)"``.
    windows : tuple of ShadowWindow
    n_without_time : int
        Rows in no window (no time).
    judge_partial : bool
        Whether partial windows are judged like full ones.
    """

    window: str
    windows: tuple[ShadowWindow, ...] = ()
    n_without_time: int = 0
    judge_partial: bool = False

    def __len__(self) -> int:
        return len(self.windows)

    @property
    def partial(self) -> tuple[ShadowWindow, ...]:
        """The partial windows."""
        return tuple(w for w in self.windows if w.partial)

    def series(self, what: str) -> list[float | None]:
        """One value per window: ``"agreement"``, ``"mean_abs_difference"``, ``"n_shadowed"``,
        ``"served:<metric>"`` or ``"shadow:<metric>"``."""
        kind, _, name = what.partition(":")
        if not name and kind in ("agreement", "mean_abs_difference", "n_shadowed", "n_rows", "n_labelled"):
            return [getattr(w, kind) for w in self.windows]
        if name and kind in ("served", "shadow"):
            return [(w.served_metrics if kind == "served" else w.shadow_metrics).get(name) for w in self.windows]
        raise DataError(f"unknown shadow series {what!r}; use agreement, mean_abs_difference, served:METRIC, ...")

    def describe(self) -> str:
        """A sentence over the windows: the range of agreement (or difference), output drift, verdicts.

        Examples
        --------
        >>> ws = ShadowWindowSeries("day", (ShadowWindow(0, None, None, 10, 10, label="2024-03-01", agreement=0.9),
        ...                                 ShadowWindow(1, None, None, 10, 10, label="2024-03-02", agreement=0.4)))
        >>> ws.describe()
        'Per day (2 windows): agreement from 40.0% (2024-03-02) to 90.0% (2024-03-01); no output drift.'
        """
        shown = [w for w in self.windows if w.n_shadowed]
        parts = [f"Per {self.window} ({len(self)} window{'s' if len(self) != 1 else ''})"]
        agree = [w for w in shown if w.agreement is not None]
        diff = [w for w in shown if w.mean_abs_difference is not None]
        if agree:
            lo = min(agree, key=lambda w: w.agreement or 0.0)
            hi = max(agree, key=lambda w: w.agreement or 0.0)
            parts[0] += (
                f": agreement from {100 * (lo.agreement or 0):.1f}% ({lo.name}) to {100 * (hi.agreement or 0):.1f}% "
                f"({hi.name})"
            )
        elif diff:
            lo = min(diff, key=lambda w: w.mean_abs_difference or 0.0)
            hi = max(diff, key=lambda w: w.mean_abs_difference or 0.0)
            parts[0] += (
                f": mean |shadow - served| from {lo.mean_abs_difference:.4g} ({lo.name}) to "
                f"{hi.mean_abs_difference:.4g} ({hi.name})"
            )
        moved = [w.name for w in shown if w.drifted]
        parts.append(
            f"output drift in {len(moved)} of {len(shown)} ({', '.join(moved[:6])}{', ...' if len(moved) > 6 else ''})"
            if moved
            else "no output drift"
        )
        tested = [w for w in self.windows if w.comparison is not None]
        if tested:
            better = [w.name for w in tested if w.better]
            parts.append(f"the shadow better in {len(better)} of the {len(tested)} windows with a paired test"
                         + (f" ({', '.join(better[:6])})" if better else ""))  # fmt: skip
        if self.partial:
            judged = "judged" if self.judge_partial else "not judged"
            parts.append("partial: " + ", ".join(f"{w.name} ({100 * w.coverage:.0f}%)" for w in self.partial)
                         + f", {judged}")  # fmt: skip
        return "; ".join(parts) + "."

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it."""
        return {"window": self.window, "n_without_time": self.n_without_time, "judge_partial": self.judge_partial,
                "windows": [w.to_dict() for w in self.windows]}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShadowWindowSeries:
        """Rebuild from :meth:`to_dict` output."""
        try:
            return cls(
                window=str(data["window"]), windows=tuple(ShadowWindow.from_dict(w) for w in data["windows"]),
                n_without_time=int(data.get("n_without_time", 0)),
                judge_partial=bool(data.get("judge_partial", False)),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"not a shadow window series ({exc}); expected ShadowWindowSeries.to_dict() output"
            ) from exc
