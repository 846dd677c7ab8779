"""The shadow section of a monitor report: the shadow model and the served one on the same requests.

A server started with ``skloop serve NAME --shadow challenger`` logs, in each record,
what the shadow answered to the same row (``outputs["shadow"]``). :class:`ShadowReport`
holds what :mod:`skloop.monitor._shadow` computes from those pairs:

- **agreement**: a classifier's share of rows where both models predict the same label,
  and the confusion table between the two (served labels as rows, the shadow's as
  columns); a regressor's mean absolute difference and Pearson correlation of the two
  outputs;
- **output drift**: the shadow's outputs tested against the served model's with the
  monitor's own drift statistics (the same methods and thresholds as the features);
- **once labels arrive**: both models' realised metrics on the labelled pairs and the
  paired test of the loop (:func:`~skloop.monitor.compare_models`: McNemar, DeLong or a
  bootstrap), the shadow in the challenger's seat;

and :meth:`ShadowReport.conclusion` says it in a paragraph.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from skloop.core import DataError
from skloop.monitor._compare_models import ModelComparison
from skloop.monitor._drift import FeatureDrift
from skloop.monitor._performance import PerformanceReport
from skloop.monitor._shadow_series import ShadowWindowSeries

__all__ = ["ShadowReport"]


def _versions(counts: Mapping[str, int]) -> str:
    if not counts:
        return "no version"
    return ", ".join(f"v{v}" for v in counts)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


@dataclass(frozen=True)
class ShadowReport:
    """The shadow model's logged outputs against the served model's, on the same requests.

    Attributes
    ----------
    task : {"classification", "regression"}
    n_rows : int
        Logged rows read (the window).
    n_shadowed : int
        Rows the shadow answered: the pairs compared.
    n_failed : int
        Rows whose shadow scoring failed or timed out (logged with an error).
    failures : list of str
        Up to three distinct errors of those rows.
    served_versions, shadow_versions : dict of str to int
        Rows of each version (served: of the compared pairs).
    agreement : float or None
        Classification: share of pairs with the same label.
    classes : list of str
        The labels of the confusion table, in order.
    confusion : list of list of int
        ``confusion[i][j]``: pairs where the served model said ``classes[i]`` and the
        shadow ``classes[j]``.
    mean_abs_difference, correlation, mean_difference : float or None
        Regression: ``mean |shadow - served|``, Pearson's r of the two outputs, and
        ``mean (shadow - served)``.
    drift : list of FeatureDrift
        The shadow's outputs tested against the served ones (``prediction``, and a
        binary classifier's probability of the positive class).
    n_drift_rows : int
        Pairs the drift tests read (all of them up to the monitor's exact-row cap, then
        a uniform sample of that many).
    n_labelled : int
        Compared pairs with a label.
    served_performance, shadow_performance : PerformanceReport or None
        Realised metrics of each model on the labelled pairs.
    comparison : ModelComparison or None
        The loop's paired test, the served model as champion and the shadow as challenger.
    comparison_reason : str or None
        Why there is no comparison (no labels yet, too few of a class...).
    model : str or None
        The model's name.
    windows : ShadowWindowSeries or None
        The same comparison per window of the log (``--shadow --window 1d`` /
        ``--period week``), cut as the monitor's own windows.
    """

    task: str
    n_rows: int
    n_shadowed: int
    n_failed: int = 0
    failures: list[str] = field(default_factory=list)
    served_versions: dict[str, int] = field(default_factory=dict)
    shadow_versions: dict[str, int] = field(default_factory=dict)
    agreement: float | None = None
    classes: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    mean_abs_difference: float | None = None
    correlation: float | None = None
    mean_difference: float | None = None
    drift: list[FeatureDrift] = field(default_factory=list)
    n_drift_rows: int = 0
    n_labelled: int = 0
    served_performance: PerformanceReport | None = None
    shadow_performance: PerformanceReport | None = None
    comparison: ModelComparison | None = None
    comparison_reason: str | None = None
    model: str | None = None
    windows: ShadowWindowSeries | None = None

    @property
    def drifted(self) -> bool:
        """Whether any of the shadow's outputs drifted from the served model's."""
        return any(f.drifted for f in self.drift)

    @property
    def better(self) -> bool:
        """Whether the paired test found the shadow better than the served model."""
        return self.comparison is not None and self.comparison.better

    def conclusion(self) -> str:
        """A plain-language paragraph: coverage, agreement, output drift, and the verdict once labelled."""
        served, shadow = _versions(self.served_versions), _versions(self.shadow_versions)
        parts = [f"The shadow ({shadow}) answered {self.n_shadowed:,} of {self.n_rows:,} logged rows"]
        if self.n_failed:
            parts[0] += f" ({self.n_failed:,} failed or timed out)"
        parts[0] += "."
        if self.agreement is not None:
            parts.append(f"It agrees with the served model ({served}) on {_pct(self.agreement)} of them.")
        elif self.mean_abs_difference is not None:
            r = "" if self.correlation is None else f", correlation {self.correlation:.3f}"
            parts.append(
                f"Its outputs differ from the served model's ({served}) by {self.mean_abs_difference:.4g} "
                f"on average (mean |shadow - served|{r})."
            )
        moved = [f for f in self.drift if f.drifted]
        if moved:
            tests = "; ".join(f"{f.name}: {f.method} {f.statistic:.3g}" for f in moved)
            parts.append(f"Its outputs are distributed differently from the served model's ({tests}).")
        elif self.drift:
            parts.append("Its outputs are distributed like the served model's (no output drift).")
        c = self.comparison
        if c is not None:
            gap = "better" if c.better else "not shown better"
            bound = "" if c.lower is None else f", {100 * c.confidence:.0f}% lower bound {c.lower:+.4f}"
            p = "" if c.p_value is None else f", p={c.p_value:.3g}"
            head = (
                f"On {c.n_rows:,} labelled rows, shadow {c.metric} {_num(c.challenger)} against served "
                f"{_num(c.champion)}: improvement {_signed(c.difference)}{bound}{p} ({c.method}); the shadow is "
                f"{gap} than the served model by more than {c.margin:g}"
            )
            if c.better and len(self.shadow_versions) == 1 and self.model:
                version = next(iter(self.shadow_versions))
                head += f": promote it with `skloop promote {self.model} {version} --alias champion`."
            elif c.better:
                head += "."
            else:
                head += ": keep the served model (more labels may show a difference)."
            parts.append(head)
        elif self.comparison_reason:
            parts.append(f"No comparison on labels: {self.comparison_reason}.")
        if self.windows is not None and self.windows.windows:
            parts.append(self.windows.describe())
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it."""
        return {
            "task": self.task, "n_rows": self.n_rows, "n_shadowed": self.n_shadowed, "n_failed": self.n_failed,
            "failures": list(self.failures), "served_versions": dict(self.served_versions),
            "shadow_versions": dict(self.shadow_versions), "agreement": self.agreement,
            "classes": list(self.classes), "confusion": [list(r) for r in self.confusion],
            "mean_abs_difference": self.mean_abs_difference, "correlation": self.correlation,
            "mean_difference": self.mean_difference, "drift": [f.to_dict() for f in self.drift],
            "drifted": self.drifted, "n_drift_rows": self.n_drift_rows, "n_labelled": self.n_labelled,
            "served_performance": None if self.served_performance is None else self.served_performance.to_dict(),
            "shadow_performance": None if self.shadow_performance is None else self.shadow_performance.to_dict(),
            "comparison": None if self.comparison is None else self.comparison.to_dict(),
            "comparison_reason": self.comparison_reason, "better": self.better, "model": self.model,
            "conclusion": self.conclusion(),
            **({} if self.windows is None else {"windows": self.windows.to_dict()}),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShadowReport:
        """Rebuild from :meth:`to_dict` output."""
        try:
            sp, hp, cmp = data.get("served_performance"), data.get("shadow_performance"), data.get("comparison")
            ws = data.get("windows")
            return cls(
                task=str(data["task"]), n_rows=int(data["n_rows"]), n_shadowed=int(data["n_shadowed"]),
                n_failed=int(data.get("n_failed", 0)), failures=[str(f) for f in data.get("failures") or ()],
                served_versions={str(k): int(v) for k, v in (data.get("served_versions") or {}).items()},
                shadow_versions={str(k): int(v) for k, v in (data.get("shadow_versions") or {}).items()},
                agreement=data.get("agreement"), classes=[str(c) for c in data.get("classes") or ()],
                confusion=[[int(x) for x in r] for r in data.get("confusion") or ()],
                mean_abs_difference=data.get("mean_abs_difference"), correlation=data.get("correlation"),
                mean_difference=data.get("mean_difference"),
                drift=[FeatureDrift.from_dict(f) for f in data.get("drift") or ()],
                n_drift_rows=int(data.get("n_drift_rows", 0)), n_labelled=int(data.get("n_labelled", 0)),
                served_performance=None if sp is None else PerformanceReport.from_dict(sp),
                shadow_performance=None if hp is None else PerformanceReport.from_dict(hp),
                comparison=None if cmp is None else ModelComparison.from_dict(cmp),
                comparison_reason=data.get("comparison_reason"), model=data.get("model"),
                windows=None if ws is None else ShadowWindowSeries.from_dict(ws),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"not a shadow report ({exc}); expected ShadowReport.to_dict() output") from exc


def _num(x: float | None) -> str:
    return "undefined" if x is None else f"{x:.4f}"


def _signed(x: float | None) -> str:
    return "undefined" if x is None else f"{x:+.4f}"
