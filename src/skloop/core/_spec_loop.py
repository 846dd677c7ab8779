"""The ``loop:`` section of the spec: when to retrain, on what, and when to promote.

Read by :mod:`skloop.workflows._loop`. Durations are text such as ``30min``, ``6h``,
``7d`` or ``2w``; every section has defaults, so ``loop: {}`` is a working policy
(retrain on dataset drift or a performance drop, at most once per 6 hours).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from skloop.core._durations import parse_duration, parse_window_length

__all__ = [
    "COMPARE_METHODS",
    "LOOP_METRICS",
    "CompareSpec",
    "GuardsSpec",
    "LoopDataSpec",
    "LoopSpec",
    "PerformanceTriggerSpec",
    "ProbationSpec",
    "TopFeaturesTriggerSpec",
    "TriggersSpec",
    "WeightingSpec",
]

COMPARE_METHODS = ("auto", "bootstrap", "mcnemar", "delong")
#: Metrics the loop can compare on (the monitor's names).
LOOP_METRICS = ("auto", "accuracy", "roc_auc", "f1", "precision", "recall", "log_loss", "rmse", "mae", "r2")
LoopMetric = Literal["auto", "accuracy", "roc_auc", "f1", "precision", "recall", "log_loss", "rmse", "mae", "r2"]


def _duration(v: str | None) -> str | None:
    if v is not None:
        parse_duration(v)
    return v


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TopFeaturesTriggerSpec(_Model):
    """Fire when at least ``min_drifted`` of the ``k`` most important features drifted."""

    k: int = Field(3, ge=1, description="how many of the most important features to watch")
    min_drifted: int = Field(1, ge=1, description="fire when at least this many of them drifted")

    @model_validator(mode="after")
    def _fits(self) -> TopFeaturesTriggerSpec:
        if self.min_drifted > self.k:
            raise ValueError(f"min_drifted ({self.min_drifted}) cannot exceed k ({self.k})")
        return self


class PerformanceTriggerSpec(_Model):
    """Fire when the champion's realised metric falls below its training holdout score by ``margin``."""

    metric: LoopMetric = Field("auto", description="auto: roc_auc for binary classifiers, accuracy, rmse")
    margin: float = Field(0.05, ge=0.0, description="allowed drop, in the metric's units")
    min_labels: int = Field(200, ge=1, description="labelled rows needed before the trigger is evaluated")


class TriggersSpec(_Model):
    """What makes the loop retrain; any one firing is enough. ``null`` turns a trigger off."""

    drift: bool = Field(True, description="the dataset drift verdict (monitoring.drift.share)")
    top_features: TopFeaturesTriggerSpec | None = Field(default_factory=TopFeaturesTriggerSpec)
    performance: PerformanceTriggerSpec | None = Field(default_factory=PerformanceTriggerSpec)
    quality: bool = Field(False, description="any data-quality issue (monitoring.quality)")
    multivariate: bool = Field(
        False, description="multivariate drift of the latest window (settings: monitoring.multivariate)"
    )
    schedule: str | None = Field(None, description="retrain every this long since the last retrain, e.g. 7d")
    new_labels: int | None = Field(None, ge=1, description="retrain once this many new labelled rows arrived")

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str | None) -> str | None:
        return _duration(v)


class WeightingSpec(_Model):
    """Weight recent rows by duplicating them ``factor`` times."""

    method: Literal["none", "duplicate"] = "none"
    factor: int = Field(2, ge=1, le=100, description="copies of each recent row")
    newer_than: str | None = Field(None, description="rows newer than this count as recent (default: all traffic)")

    @field_validator("newer_than")
    @classmethod
    def _newer(cls, v: str | None) -> str | None:
        return _duration(v)


class LoopDataSpec(_Model):
    """What a retrain learns from: the labelled traffic of a window, maybe plus the original data."""

    window: str = Field("30d", description="labelled traffic of this long before now")
    holdout: float = Field(0.3, gt=0.0, lt=1.0, description="newest share of the window kept to compare the models")
    min_rows: int = Field(200, ge=2, description="labelled rows the window needs before a retrain")
    include_training: bool = Field(True, description="add the original training data snapshot")
    weighting: WeightingSpec = Field(default_factory=WeightingSpec)

    @field_validator("window")
    @classmethod
    def _window(cls, v: str | None) -> str | None:
        return _duration(v)


class GuardsSpec(_Model):
    """Limits on how often the loop retrains."""

    cooldown: str | None = Field("6h", description="no retrain sooner than this after the last one")
    max_per_day: int | None = Field(3, ge=1, description="at most this many retrains in any 24 hours")

    @field_validator("cooldown")
    @classmethod
    def _cooldown(cls, v: str | None) -> str | None:
        return _duration(v)


class CompareSpec(_Model):
    """Champion against challenger on the same recent labelled holdout."""

    metric: LoopMetric = Field("auto", description="auto: roc_auc for binary classifiers, accuracy, rmse")
    margin: float = Field(0.0, ge=0.0, description="the challenger must be better by more than this")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="one-sided confidence that it is")
    method: Literal["auto", "bootstrap", "mcnemar", "delong"] = Field(
        "auto", description="auto: delong for roc_auc, mcnemar for accuracy, else a paired bootstrap"
    )
    n_boot: int = Field(1000, ge=100, description="paired bootstrap resamples")

    @model_validator(mode="after")
    def _method_fits(self) -> CompareSpec:
        needs = {"mcnemar": "accuracy", "delong": "roc_auc"}.get(self.method)
        if needs is not None and self.metric not in (needs, "auto"):
            raise ValueError(f"method {self.method!r} compares {needs}, not {self.metric!r}; use bootstrap or auto")
        return self


class ProbationSpec(_Model):
    """After a promotion: roll back if the new champion does worse live than the old one did."""

    window: str | None = Field("3d", description="how long after a promotion the check runs (null: never)")
    margin: float = Field(0.02, ge=0.0, description="roll back when live < old champion's score - margin")
    min_labels: int = Field(100, ge=1, description="labelled rows since the promotion needed to judge")

    @field_validator("window")
    @classmethod
    def _window(cls, v: str | None) -> str | None:
        return _duration(v)


class LoopSpec(_Model):
    """``loop:`` — the continuous-training policy of ``skloop loop``."""

    alias: str = Field("champion", description="the alias the loop watches and moves")
    monitor_window: str = Field(
        "1d",
        description="the latest traffic the triggers judge: a duration (1d, 6h) or a row count (5000 rows)",
    )
    monitor_history: str = Field(
        "7d", description="the long view, recorded next to it: traffic since the champion took over, at most this long"
    )
    triggers: TriggersSpec = Field(default_factory=TriggersSpec)
    data: LoopDataSpec = Field(default_factory=LoopDataSpec)
    guards: GuardsSpec = Field(default_factory=GuardsSpec)
    compare: CompareSpec = Field(default_factory=CompareSpec)
    probation: ProbationSpec = Field(default_factory=ProbationSpec)
    lease: str = Field("1h", description="how long a running loop's lock holds without renewal")

    @field_validator("monitor_history", "lease")
    @classmethod
    def _durations(cls, v: str | None) -> str | None:
        return _duration(v)

    @field_validator("monitor_window", mode="before")
    @classmethod
    def _window(cls, v: object) -> object:
        if isinstance(v, int) and not isinstance(v, bool):
            v = f"{v} rows"
        if isinstance(v, str):
            parse_window_length(v)
        return v
