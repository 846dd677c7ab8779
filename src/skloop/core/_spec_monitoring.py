"""``monitoring:`` of the spec: drift tests, data-quality checks and learned thresholds (read by skloop.monitor)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from skloop.core._durations import parse_duration
from skloop.core._spec_base import SpecModel as _Model
from skloop.core._spec_multivariate import MultivariateSpec

__all__ = [
    "ANDERSON_P_RANGE",
    "DRIFT_METHODS",
    "ColumnDriftSpec",
    "DriftMethod",
    "DriftSpec",
    "LearnedSpec",
    "MonitoringSpec",
    "PerformanceMonitorSpec",
    "QualitySpec",
    "TestMethod",
    "TextDriftSpec",
]

DRIFT_METHODS = (
    "auto", "ks", "psi", "wasserstein", "jensenshannon", "chisquare", "hellinger", "linf", "anderson",
)  # fmt: skip
DriftMethod = Literal["auto", "ks", "psi", "wasserstein", "jensenshannon", "chisquare", "hellinger", "linf", "anderson"]
TestMethod = Literal["ks", "psi", "wasserstein", "jensenshannon", "chisquare", "hellinger", "linf", "anderson"]
ANDERSON_P_RANGE = (0.001, 0.25)
"""scipy's ``anderson_ksamp`` p-value is interpolated in its table and clipped to this range."""


def _check_anderson(threshold: object, key: str) -> None:
    lo, hi = ANDERSON_P_RANGE
    if isinstance(threshold, float | int) and not lo < threshold <= hi:
        raise ValueError(
            f"{key}: anderson's threshold is a p-value and its p-values lie in [{lo}, {hi}] "
            f"(scipy's table), so {threshold} would {'never' if threshold <= lo else 'always'} flag drift; "
            f"give a value in ({lo}, {hi}]"
        )


def _check_method_keys(value: object) -> object:
    """A threshold mapping names methods: one clear error for an unknown one."""
    if isinstance(value, dict):
        methods = DRIFT_METHODS[1:]
        bad = [k for k in value if k not in methods]
        if bad:
            raise ValueError(f"unknown method {bad[0]!r} in the threshold mapping; allowed: {', '.join(methods)}")
    return value


Learned = Literal["learned"]


class LearnedSpec(_Model):
    """``monitoring.learned``: how learned thresholds are drawn from the reference.

    A learned band is ``mean ± k·std`` of a statistic (a drift test's, or a metric) over
    ``chunks`` reference chunks of the window's size, drawn from the reference.
    """

    k: float = Field(3.0, gt=0.0, description="width of the band in standard deviations")
    chunks: int = Field(50, ge=5, le=10_000, description="reference chunks drawn per window size")
    seed: int = Field(0, description="seeds the chunks")


class PerformanceMonitorSpec(_Model):
    """``monitoring.performance``: when a realised or estimated metric alerts."""

    threshold: Literal["holdout", "learned"] = Field(
        "holdout",
        description="holdout: the whole interval worse than the training holdout score; learned: the value "
        "outside mean ± k·std of the realised metric over reference chunks of the window's size",
    )


class ColumnDriftSpec(_Model):
    """A column's own drift test and threshold (``monitoring.drift.columns.<name>``)."""

    method: DriftMethod = "auto"
    threshold: float | Learned | None = Field(
        None, description="default: the method's (see drift.threshold); learned: a band from the reference"
    )
    enabled: bool = Field(True, description="false: never test this column")

    @model_validator(mode="after")
    def _auto_threshold(self) -> ColumnDriftSpec:
        if self.method == "auto" and self.threshold is not None and self.threshold != "learned":
            raise ValueError("a threshold needs a method: 'auto' mixes p-values and distances; name the method")
        if isinstance(self.threshold, float | int) and self.threshold < 0:
            raise ValueError(f"threshold must be >= 0 or 'learned'; got {self.threshold}")
        if self.method == "anderson":
            _check_anderson(self.threshold, "threshold")
        return self


class TextDriftSpec(_Model):
    """``monitoring.drift.text``: drift of text columns by their vocabulary.

    A text column drifts when the share of its tokens not in the reference vocabulary
    (``oov``) or the Jensen–Shannon distance of its term distribution from the
    reference's (``jensenshannon``) reaches its threshold. The distance of a sample of
    words from its own source shrinks slowly with its size (a long tail of rare terms):
    ``learned`` draws its band from reference chunks of the window's token count
    (``monitoring.learned``), which see no unseen words, so it runs narrow.
    """

    enabled: bool = Field(True, description="false: text columns are not tested for drift (quality only)")
    oov: float = Field(0.1, ge=0.0, le=1.0, description="drift when at least this share of tokens is unseen")
    jensenshannon: float | Learned = Field(
        0.35, description="drift when the term distribution's JS distance reaches this (0 to 0.83), or learned"
    )

    @field_validator("jensenshannon")
    @classmethod
    def _js(cls, v: float | str) -> float | str:
        if isinstance(v, float | int) and not 0.0 <= v <= 1.0:
            raise ValueError(f"must be a distance in [0, 1] or 'learned'; got {v}")
        return v


class DriftSpec(_Model):
    """Drift tests: which test per column, when a column counts as drifted, and the verdict.

    ``threshold`` is a p-value for ``ks``, ``chisquare`` and ``anderson`` (drift below
    it) and a distance for ``psi``, ``wasserstein``, ``jensenshannon``, ``hellinger`` and
    ``linf`` (drift at or above it). Give one number together with a fixed ``method``, or
    a mapping method -> number. ``text`` sets the vocabulary drift of text columns.
    """

    method: DriftMethod = "auto"
    threshold: float | Learned | dict[TestMethod, float | Learned] | None = Field(
        None,
        description="default per method: ks 0.05, chisquare 0.05, anderson 0.1, psi 0.2, wasserstein 0.1, "
        "jensenshannon 0.1, hellinger 0.1, linf 0.1; learned: mean + k·std of the statistic over reference chunks "
        "of the window's size (monitoring.learned)",
    )
    share: float = Field(0.5, gt=0.0, le=1.0, description="dataset drifts when at least this share of features do")
    auto_rows: int = Field(1000, ge=1, description="auto: tests below this many rows (either side), distances above")
    columns: dict[str, ColumnDriftSpec] = Field(default_factory=dict)
    text: TextDriftSpec = Field(default_factory=TextDriftSpec)

    @field_validator("threshold", mode="before")
    @classmethod
    def _method_keys(cls, v: object) -> object:
        return _check_method_keys(v)

    @model_validator(mode="after")
    def _threshold(self) -> DriftSpec:
        if isinstance(self.threshold, float | int) and self.method == "auto":
            raise ValueError(
                "one threshold cannot serve 'auto' (p-values and distances); name the method or give "
                "a mapping such as {ks: 0.01, wasserstein: 0.15}"
            )
        values = self.threshold.values() if isinstance(self.threshold, dict) else [self.threshold]
        if any(isinstance(v, float | int) and v < 0 for v in values):
            raise ValueError("thresholds must be >= 0 (or 'learned')")
        if isinstance(self.threshold, dict):
            _check_anderson(self.threshold.get("anderson"), "threshold.anderson")
        elif self.method == "anderson":
            _check_anderson(self.threshold, "threshold")
        return self


class QualitySpec(_Model):
    """Data-quality checks of a window against the reference; each flags above its threshold."""

    missing_increase: float = Field(0.1, ge=0.0, le=1.0, description="rise of the missing share over the reference")
    out_of_range: float = Field(0.01, ge=0.0, le=1.0, description="share of numbers outside the training range")
    unseen_categories: float = Field(0.01, ge=0.0, le=1.0, description="share of categories not seen in training")
    type_violations: float = Field(0.0, ge=0.0, le=1.0, description="share of values not parsing as the column type")
    duplicate_ids: float = Field(0.0, ge=0.0, le=1.0, description="share of rows repeating an id")
    constant: bool = Field(True, description="flag columns with one value now but several in training")


class MonitoringSpec(_Model):
    """``monitoring:`` — drift tests, data-quality checks and prediction drift."""

    drift: DriftSpec = Field(default_factory=DriftSpec)
    quality: QualitySpec = Field(default_factory=QualitySpec)
    performance: PerformanceMonitorSpec = Field(default_factory=PerformanceMonitorSpec)
    learned: LearnedSpec = Field(default_factory=LearnedSpec)
    multivariate: MultivariateSpec = Field(default_factory=MultivariateSpec)
    prediction_drift: bool = Field(True, description="also test the model's outputs for drift")
    retention: str | None = Field(
        None,
        description="how long logged predictions are kept (90d, 12w, 36h); skloop db prune deletes older ones; "
        "null keeps them all",
    )

    @field_validator("retention")
    @classmethod
    def _retention(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                parse_duration(v)
            except ValueError:
                raise ValueError(
                    f"{v!r} is not a retention; allowed: a duration such as 90d, 12w, 36h or 30min, "
                    "or null to keep every prediction"
                ) from None
        return v
