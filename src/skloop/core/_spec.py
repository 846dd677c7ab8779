"""The spec (``skloop.yaml``) as pydantic models.

Unknown keys are errors everywhere, so that a typo never passes silently. Loading and
error messages with file and line numbers live in :mod:`skloop.core._spec_loader`.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from skloop.core._durations import parse_duration
from skloop.core._spec_loop import LoopSpec
from skloop.core._spec_multivariate import MultivariateSpec

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
    "TextDriftSpec",
    "ValidateSpec",
]

_DOTTED = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")
_FACTORY = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

FEATURE_KINDS = ("numeric", "categorical", "boolean", "datetime", "text")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


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
    n_jobs: int | None = 1
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


_TRACKING_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


class TrackingSpec(_Model):
    """Where runs are tracked besides skloop's own store."""

    mlflow_uri: str | None = Field(
        None,
        description="an MLflow tracking server (http://host:5000) every run, version and alias move is mirrored to",
    )

    @field_validator("mlflow_uri")
    @classmethod
    def _uri(cls, v: str | None) -> str | None:
        if v is not None and not _TRACKING_URI.match(v.strip()):
            raise ValueError(f"must be an MLflow tracking URI such as http://127.0.0.1:5000, given {v!r}")
        return None if v is None else v.strip()


# --- monitoring: drift and data-quality settings (read by skloop.monitor) ------------

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


# --- validate: the checks `skloop validate` runs as tests in CI ------------------------


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
        if not _NAME.match(v):
            raise ValueError("must be 1-100 letters, digits, '_', '.' or '-', starting with a letter or digit")
        return v

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (aliases used, defaults included)."""
        return self.model_dump(mode="json", by_alias=True)
