"""The spec (``skloop.yaml``) as pydantic models.

Unknown keys are errors everywhere, so that a typo never passes silently. Loading and
error messages with file and line numbers live in :mod:`skloop.core._spec_loader`. The
sections ``monitoring`` (:mod:`skloop.core._spec_monitoring`), ``validate``
(:mod:`skloop.core._spec_validate`), ``loop`` (:mod:`skloop.core._spec_loop`) and
``monitoring.multivariate`` (:mod:`skloop.core._spec_multivariate`) have modules of their
own; their names are re-exported here. The name and the tracking server alone are read
without this module by :mod:`skloop.core._spec_head`, with the patterns of
:mod:`skloop.core._names`.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from skloop.core._durations import parse_duration
from skloop.core._names import PROJECT_NAME, PROJECT_NAME_RULE, TRACKING_URI, TRACKING_URI_RULE
from skloop.core._spec_base import SpecModel as _Model
from skloop.core._spec_loop import LoopSpec
from skloop.core._spec_monitoring import (
    ANDERSON_P_RANGE,
    DRIFT_METHODS,
    ColumnDriftSpec,
    DriftMethod,
    DriftSpec,
    LearnedSpec,
    MonitoringSpec,
    PerformanceMonitorSpec,
    QualitySpec,
    TestMethod,
    TextDriftSpec,
)
from skloop.core._spec_validate import (
    BehaviourTest,
    ChampionCheckSpec,
    ContractColumn,
    ContractSpec,
    DirectionalTest,
    ExampleCase,
    InvarianceTest,
    MinimumFunctionalityTest,
    ValidateSpec,
)

__all__ = [
    "ANDERSON_P_RANGE",
    "DRIFT_METHODS",
    "BehaviourTest",
    "CVSpec",
    "ChampionCheckSpec",
    "ColumnDriftSpec",
    "ContractColumn",
    "ContractSpec",
    "DataSpec",
    "DirectionalTest",
    "Distribution",
    "DriftMethod",
    "DriftSpec",
    "EstimatorSpec",
    "ExampleCase",
    "FeaturesSpec",
    "GatesSpec",
    "InvarianceTest",
    "LearnedSpec",
    "LoopSpec",
    "MinimumFunctionalityTest",
    "MonitoringSpec",
    "PerformanceMonitorSpec",
    "PipelineSpec",
    "QualitySpec",
    "RegistrySpec",
    "SearchSpec",
    "Spec",
    "SqlSource",
    "TestMethod",
    "TextDriftSpec",
    "TrackingSpec",
    "ValidateSpec",
]

_DOTTED = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")
_FACTORY = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")

FEATURE_KINDS = ("numeric", "categorical", "boolean", "datetime", "text")


class SqlSource(_Model):
    """Training data read from a database through SQLAlchemy."""

    url: str = Field(description="SQLAlchemy URL, e.g. sqlite:///data.db")
    query: str = Field(description="SELECT statement returning the training table")


TABLE_FORMATS: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz"),
    "parquet": (".parquet", ".pq"),
    "jsonl": (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz"),
}
"""The table file formats skloop reads, by the endings of their names (one list for the
spec's check and the readers)."""

TABLE_FORMATS_HELP = ".csv, .tsv, .txt (optionally .gz; the separator is sniffed), .parquet, .pq, .jsonl or .ndjson"


def table_format(path: str | os.PathLike[str]) -> str | None:
    """``csv``, ``parquet`` or ``jsonl`` by the file's name; ``None`` for anything else.

    >>> table_format("data/Train.CSV.gz"), table_format("t.pq"), table_format("t.xlsx")
    ('csv', 'parquet', None)
    """
    name = os.fspath(path).lower()
    return next((kind for kind, endings in TABLE_FORMATS.items() if name.endswith(endings)), None)


class DataSpec(_Model):
    """Where the training data comes from and how its columns are used."""

    train: str | SqlSource = Field(description="CSV or Parquet path (relative to the spec), or {url, query}")
    target: str
    id: str | None = None
    time: str | None = None
    snapshot: bool = True
    holdout: float = Field(0.2, ge=0.0, lt=1.0, description="fraction kept out of the search")
    positive_class: bool | int | float | str | None = Field(
        None,
        description="the positive class of a binary target (default: 1 or True when a class, else the minority class)",
    )

    @field_validator("train")
    @classmethod
    def _known_format(cls, v: str | SqlSource) -> str | SqlSource:
        if isinstance(v, str) and table_format(v) is None:
            raise ValueError(f"must be a path ending in {TABLE_FORMATS_HELP}, or {{url: ..., query: ...}}")
        return v


class FeaturesSpec(_Model):
    """Columns by kind. Columns not listed are inferred unless ``infer`` is false."""

    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    boolean: list[str] = Field(default_factory=list)
    datetime: list[str] = Field(default_factory=list)
    text: list[str] = Field(default_factory=list)
    drop: list[str] = Field(default_factory=list)
    infer: bool = True

    @model_validator(mode="after")
    def _disjoint(self) -> FeaturesSpec:
        seen: dict[str, str] = {}
        for kind in (*FEATURE_KINDS, "drop"):
            for col in getattr(self, kind):
                if col in seen:
                    raise ValueError(f"column {col!r} is listed under both {seen[col]!r} and {kind!r}")
                seen[col] = kind
        return self


class EstimatorSpec(_Model):
    """An estimator or transformer named by its dotted class path."""

    class_: str = Field(alias="class", description="dotted path, e.g. sklearn.ensemble.RandomForestClassifier")
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("class_")
    @classmethod
    def _dotted(cls, v: str) -> str:
        if not _DOTTED.match(v):
            raise ValueError("must be a dotted path such as sklearn.ensemble.RandomForestClassifier")
        return v


class PipelineSpec(_Model):
    """The preprocessing and the model.

    ``preprocessing`` is ``auto`` or, per feature kind, a list of steps (each
    ``{class, params}``) applied to that kind's columns; kinds left out use the ``auto``
    steps. Give either ``model`` or ``factory`` (``module:function`` returning an
    estimator or a whole pipeline).
    """

    preprocessing: (
        Literal["auto", "none"]
        | dict[Literal["numeric", "categorical", "boolean", "datetime", "text"], list[EstimatorSpec]]
    ) = "auto"
    model: EstimatorSpec | None = None
    factory: str | None = None
    rare_min_frequency: float = Field(0.01, ge=0.0, lt=1.0)

    @field_validator("factory")
    @classmethod
    def _factory(cls, v: str | None) -> str | None:
        if v is not None and not _FACTORY.match(v):
            raise ValueError("must be 'module.path:function'")
        return v

    @model_validator(mode="after")
    def _one_of(self) -> PipelineSpec:
        if (self.model is None) == (self.factory is None):
            raise ValueError("give exactly one of 'model' or 'factory'")
        return self


class Distribution(_Model):
    """A sampling distribution for random, halving and optuna searches.

    ``randint`` draws integers from ``low`` to ``high - 1`` (``high`` excluded, as in
    ``scipy.stats.randint``); ``loguniform`` draws floats evenly on a log scale.
    """

    dist: Literal["uniform", "loguniform", "randint"]
    low: float
    high: float

    @model_validator(mode="after")
    def _order(self) -> Distribution:
        if not self.low < self.high:
            raise ValueError(f"'low' ({self.low}) must be below 'high' ({self.high})")
        if self.dist == "loguniform" and self.low <= 0:
            raise ValueError("'low' must be > 0 for loguniform")
        return self


class CVSpec(_Model):
    """Cross-validation folds."""

    folds: int = Field(5, ge=2, le=100)
    stratified: bool | None = Field(None, description="default: true for classification")
    shuffle: bool = True
    group: str | None = Field(None, description="column whose values never straddle folds")
    time_series: bool = False

    @model_validator(mode="after")
    def _compatible(self) -> CVSpec:
        if self.time_series and self.group:
            raise ValueError("'time_series' and 'group' cannot be combined")
        return self


SpaceValue = Annotated[list[Any] | Distribution, Field()]


class SearchSpec(_Model):
    """Hyperparameter search."""

    strategy: Literal["none", "grid", "random", "halving", "optuna"] = "grid"
    space: dict[str, SpaceValue] = Field(default_factory=dict)
    n_iter: int = Field(10, ge=1)
    cv: CVSpec = Field(default_factory=CVSpec)
    scoring: str | list[str] | None = None
    refit: str | None = None
    n_jobs: int | None = Field(1, description="parallel fits: a number of processes, or -1 for every core (not 0)")
    factor: int = Field(3, ge=2, description="halving: candidates kept per round = 1/factor")
    n_trials: int = Field(20, ge=1, description="optuna: trials to run (fewer when 'timeout' ends the search first)")
    timeout: float | None = Field(
        None,
        gt=0,
        description="optuna: seconds (or a duration such as '10min') after which no new trial starts; "
        "a search cut short by it is not reproducible",
    )
    pruning: bool = Field(
        True, description="optuna: stop a trial whose running mean score is below the median of earlier trials'"
    )
    backend: Literal["local", "dask"] | None = Field(
        None,
        description="where the (candidate, fold) fits run: 'local' joblib (loky) processes, or 'dask', a "
        "dask.distributed cluster through joblib's Dask backend (at 'scheduler', else SKLOOP_DASK_SCHEDULER, "
        "else a local cluster started for the run); unset: 'dask' when SKLOOP_DASK_SCHEDULER is set, else 'local'",
    )
    scheduler: str | None = Field(
        None, description="with backend 'dask': the scheduler address, e.g. tcp://10.0.0.5:8786"
    )
    cache: bool = Field(
        True,
        description="fit each fold's preprocessing once per distinct preprocessing parameters, shared by the "
        "candidates that differ only in the model's (same CV scores as without)",
    )

    @field_validator("space")
    @classmethod
    def _keys(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key, values in v.items():
            if "__" not in key:
                raise ValueError(f"key {key!r} must name a step and a parameter, e.g. model__{key}")
            if isinstance(values, list) and not values:
                raise ValueError(f"{key!r} has an empty list of values")
        return v

    @field_validator("n_jobs")
    @classmethod
    def _n_jobs(cls, v: int | None) -> int | None:
        if v == 0:
            raise ValueError("0 processes cannot fit anything; give 1, a number of processes, or -1 for every core")
        return v

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip().replace(".", "", 1).isdigit():
            return parse_duration(v).total_seconds()
        return v

    @model_validator(mode="after")
    def _optuna_keys(self) -> SearchSpec:
        if self.strategy != "optuna":
            # a value other than the default (a run's snapshot carries the defaults of every key)
            fields = type(self).model_fields
            given = [k for k in ("n_trials", "timeout", "pruning") if getattr(self, k) != fields[k].default]
            if given:
                raise ValueError(
                    f"{', '.join(repr(k) for k in given)} only apply to strategy 'optuna' "
                    f"(this search is {self.strategy!r}); remove them, or set strategy: optuna"
                )
        return self

    @model_validator(mode="after")
    def _refit(self) -> SearchSpec:
        scorers = [self.scoring] if isinstance(self.scoring, str) else (self.scoring or [])
        if self.refit is not None and scorers and self.refit not in scorers:
            raise ValueError(f"refit {self.refit!r} must be one of scoring {scorers}")
        if self.strategy == "grid" and any(isinstance(x, Distribution) for x in self.space.values()):
            raise ValueError(
                "a grid search needs lists of values; use strategy 'random' or 'halving' for distributions"
            )
        return self

    @property
    def scorers(self) -> list[str]:
        """The scoring names as a list (empty: the task's default)."""
        return [self.scoring] if isinstance(self.scoring, str) else list(self.scoring or [])


class GatesSpec(_Model):
    """Thresholds a trained model must meet to be registered as promotable.

    Keys are recorded metric names (``holdout_roc_auc``, ``cv_roc_auc_mean``, ...).
    """

    min: dict[str, float] = Field(default_factory=dict, description="metric >= value")
    max: dict[str, float] = Field(default_factory=dict, description="metric <= value")


class RegistrySpec(_Model):
    """How trained models enter the registry."""

    enabled: bool = Field(True, description="register a version after each training run")
    format: Literal["skops", "joblib"] = Field("skops", description="joblib only for sources you trust")
    trusted_types: list[str] = Field(
        default_factory=list, description="extra dotted type names the skops loader may trust"
    )


class TrackingSpec(_Model):
    """Where runs are tracked besides skloop's own store."""

    mlflow_uri: str | None = Field(
        None,
        description="an MLflow tracking server (http://host:5000) every run, version and alias move is mirrored to",
    )

    @field_validator("mlflow_uri")
    @classmethod
    def _uri(cls, v: str | None) -> str | None:
        if v is not None and not TRACKING_URI.match(v.strip()):
            raise ValueError(f"{TRACKING_URI_RULE}, given {v!r}")
        return None if v is None else v.strip()


class Spec(_Model):
    """A whole ``skloop.yaml``."""

    name: str
    task: Literal["auto", "classification", "regression"] = "auto"
    seed: int = 0
    data: DataSpec
    features: FeaturesSpec = Field(default_factory=FeaturesSpec)
    pipeline: PipelineSpec = Field(
        default_factory=lambda: PipelineSpec(
            model=EstimatorSpec.model_validate({"class": "sklearn.ensemble.RandomForestClassifier"})
        )
    )
    search: SearchSpec = Field(default_factory=SearchSpec)
    gates: GatesSpec = Field(default_factory=GatesSpec)
    registry: RegistrySpec = Field(default_factory=RegistrySpec)
    tracking: TrackingSpec = Field(default_factory=TrackingSpec)
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec)
    # "validate" would shadow BaseModel.validate: the attribute is validate_, the key validate
    validate_: ValidateSpec = Field(default_factory=ValidateSpec, alias="validate")
    loop: LoopSpec = Field(default_factory=LoopSpec)  # the continuous-training policy (skloop loop)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not PROJECT_NAME.match(v):
            raise ValueError(PROJECT_NAME_RULE)
        return v

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (aliases used, defaults included)."""
        return self.model_dump(mode="json", by_alias=True)
