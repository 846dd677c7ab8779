"""``validate:`` of the spec: the checks ``skloop validate`` runs as tests in CI, beyond ``gates``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from skloop.core._spec_base import SpecModel as _Model

__all__ = [
    "BehaviourTest",
    "ChampionCheckSpec",
    "ContractColumn",
    "ContractSpec",
    "DirectionalTest",
    "ExampleCase",
    "InvarianceTest",
    "MinimumFunctionalityTest",
    "ValidateSpec",
]


class ChampionCheckSpec(_Model):
    """``validate.champion``: the candidate must not score worse than the champion.

    Both are scored on the candidate's holdout; the check passes when
    ``candidate >= champion - tolerance`` (for a metric where greater is better, as
    every scikit-learn scorer is).
    """

    enabled: bool = True
    alias: str = Field("champion", description="the alias holding the model to beat")
    metric: str | None = Field(None, description="a scikit-learn scorer name (default: the run's refit metric)")
    tolerance: float = Field(0.0, ge=0.0, description="how much worse than the champion the candidate may score")


class _BehaviourBase(_Model):
    name: str | None = Field(None, description="the test's name in reports (default: kind and column)")
    class_: str | int | float | bool | None = Field(
        None, alias="class", description="whose probability is the score (default: the positive class, else the last)"
    )


class InvarianceTest(_BehaviourBase):
    """Setting ``column`` to any of ``values`` must not move the score by more than ``max_delta``."""

    kind: Literal["invariance"]
    column: str
    values: list[Any] = Field(min_length=1)
    max_delta: float = Field(0.05, ge=0.0)
    rows: int = Field(200, ge=1, description="holdout rows sampled")


class DirectionalTest(_BehaviourBase):
    """Adding ``delta`` to ``column`` must move the score in ``direction`` (or leave it).

    Fails when more than ``tolerance`` of the sampled rows move the other way.
    """

    kind: Literal["directional"]
    column: str
    delta: float
    direction: Literal["increase", "decrease"] = "increase"
    tolerance: float = Field(0.0, ge=0.0, le=1.0, description="share of rows allowed to move the other way")
    rows: int = Field(200, ge=1, description="holdout rows sampled")

    @field_validator("delta")
    @classmethod
    def _nonzero(cls, v: float) -> float:
        if v == 0:
            raise ValueError("must not be 0")
        return v


class ExampleCase(_Model):
    """One fixed row and what the model must say about it."""

    row: dict[str, Any] = Field(min_length=1)
    label: Any = Field(None, description="the expected predicted label")
    min_probability: float | None = Field(None, ge=0.0, le=1.0)
    max_probability: float | None = Field(None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _expects(self) -> ExampleCase:
        if self.label is None and self.min_probability is None and self.max_probability is None:
            raise ValueError("give a 'label', a 'min_probability' or a 'max_probability' to check")
        return self


class MinimumFunctionalityTest(_BehaviourBase):
    """Fixed example rows with their expected labels or probability bounds."""

    kind: Literal["minimum_functionality"]
    examples: list[ExampleCase] = Field(min_length=1)


BehaviourTest = Annotated[InvarianceTest | DirectionalTest | MinimumFunctionalityTest, Field(discriminator="kind")]


class ContractColumn(_Model):
    """What one column of the training data must hold (``validate.contract.columns.<name>``)."""

    dtype: Literal["int64", "float64", "bool", "string", "datetime64"] | None = None
    nullable: bool = True
    categories: list[Any] | None = Field(None, description="every value must be one of these")
    min: float | None = None
    max: float | None = None


class ContractSpec(_Model):
    """``validate.contract``: the expected columns of the training data."""

    signature: bool = Field(True, description="also check the data against the model version's signature")
    columns: dict[str, ContractColumn] = Field(default_factory=dict)
    extra_columns: Literal["allow", "forbid"] = "allow"


class ValidateSpec(_Model):
    """``validate:`` — what ``skloop validate`` checks beyond ``gates``."""

    holdout: bool = Field(True, description="recompute the gated holdout metrics on the rebuilt holdout")
    champion: ChampionCheckSpec = Field(default_factory=ChampionCheckSpec)
    behaviour: list[BehaviourTest] = Field(default_factory=list)
    contract: ContractSpec = Field(default_factory=ContractSpec)
