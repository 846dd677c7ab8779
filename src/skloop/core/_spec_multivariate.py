"""``monitoring.multivariate``: drift of the features' joint distribution (read by :mod:`skloop.monitor`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["MULTIVARIATE_METHODS", "MultivariateSpec"]

MultivariateMethod = Literal["reconstruction", "classifier"]
MULTIVARIATE_METHODS: tuple[MultivariateMethod, ...] = ("reconstruction", "classifier")


class MultivariateSpec(BaseModel):
    """``monitoring.multivariate``: PCA reconstruction error and the domain classifier, per window.

    ``enabled`` turns it on for ``skloop monitor`` (``--multivariate`` does too); the
    loop computes it whenever ``loop.triggers.multivariate`` is on, with these settings.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(False, description="compute multivariate drift in every report and window")
    methods: tuple[MultivariateMethod, ...] = Field(
        MULTIVARIATE_METHODS, description="reconstruction (PCA, NannyML's), classifier (domain classifier AUC)"
    )
    variance: float = Field(0.65, gt=0.0, lt=1.0, description="share of the reference's variance the PCA keeps")
    k: float = Field(3.0, gt=0.0, description="width of the reconstruction band in standard deviations")
    auc_threshold: float = Field(0.55, gt=0.5, le=1.0, description="the domain classifier drifts at this AUC")
    folds: int = Field(3, ge=2, le=10, description="cross-validation folds of the domain classifier")
    max_rows: int = Field(
        10_000, ge=100, description="rows per side the classifier learns on (a window's bounded reservoir)"
    )
    seed: int = Field(0, description="seeds the subsamples, the folds and the classifier")

    @field_validator("methods", mode="before")
    @classmethod
    def _methods(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = (v,)
        if isinstance(v, list | tuple):
            if not v:
                raise ValueError("give at least one of 'reconstruction', 'classifier'")
            bad = [m for m in v if m not in MULTIVARIATE_METHODS]
            if bad:
                raise ValueError(f"unknown method(s) {bad}; allowed: 'reconstruction', 'classifier'")
            return tuple(dict.fromkeys(v))
        return v
