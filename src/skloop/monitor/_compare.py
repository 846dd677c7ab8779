"""Compare a current window with the reference: per-column drift, dataset verdict, quality.

:func:`compare_data` takes DataFrames (or a stored reference); :func:`compare_data_files` streams
the current file in record batches, so memory stays at one batch plus small per-column
aggregates whatever the file's size.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from skloop.core import DataError, MonitoringSpec
from skloop.data import DEFAULT_BATCH_ROWS, DatasetProfile, Schema, infer_schema, iter_batches, parse_datetimes
from skloop.monitor._accumulate import Accumulator, CategoricalCurrent, NumericCurrent, TextCurrent, accumulator
from skloop.monitor._drift import DRIFT_KINDS, FeatureDrift, column_drift, text_drift
from skloop.monitor._multivariate import MultivariateWindow, sampling_keys
from skloop.monitor._quality import QualityCheck, QualityReport, quality_checks
from skloop.monitor._reference import MAX_POINTS, ReferenceSummary, reference_summary

__all__ = ["EXACT_ROWS", "DriftReport", "compare_data", "compare_data_files", "verdict_head"]

EXACT_ROWS = 100_000
"""A streamed numeric column keeps its values (exact tests) up to this many, then bins them."""

if TYPE_CHECKING:
    import pyarrow as pa

Reference = pd.DataFrame | ReferenceSummary | DatasetProfile


@dataclass(frozen=True)
class DriftReport:
    """Drift and data quality of a window against a reference.

    Attributes
    ----------
    features : tuple of FeatureDrift
        One per tested feature, in reference order.
    predictions : tuple of FeatureDrift
        One per tested model-output column (not counted in :attr:`share`).
    share : float
        Share of tested features that drifted.
    share_threshold : float
        ``monitoring.drift.share``.
    drifted : bool
        Dataset-level verdict: ``share >= share_threshold`` (and at least one feature).
    quality : QualityReport
    n_reference, n_current : int
        Rows on each side.
    skipped : dict of str to str
        Monitored columns not tested for drift, and why (datetime and id kinds, text
        without a reference vocabulary, or turned off in ``monitoring.drift``); their
        quality is still checked.
    """

    features: tuple[FeatureDrift, ...]
    predictions: tuple[FeatureDrift, ...]
    share: float
    share_threshold: float
    drifted: bool
    quality: QualityReport
    n_reference: int
    n_current: int
    skipped: Mapping[str, str] = field(default_factory=dict, hash=False)
    _index: Mapping[str, FeatureDrift] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {f.name: f for f in (*self.features, *self.predictions)})

    @property
    def drifted_features(self) -> list[str]:
        """Names of the drifted features, in order."""
        return [f.name for f in self.features if f.drifted]

    @property
    def prediction_drifted(self) -> bool:
        """Whether any model-output column drifted."""
        return any(p.drifted for p in self.predictions)

    def __getitem__(self, name: str) -> FeatureDrift:
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"no tested column {name!r}; tested: {list(self._index)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def verdict(self) -> str:
        """One sentence for people: the verdict, the drifted features, the quality issues.

        Examples
        --------
        >>> import pandas as pd
        >>> compare_data(pd.DataFrame({"x": range(100)}), pd.DataFrame({"x": range(100)})).verdict()
        'No dataset drift: 0 of 1 features drifted (0%; the verdict needs 50%).'
        """
        text = verdict_head(self)
        names = self.drifted_features
        if names:
            text = text.removesuffix(".") + ": " + ", ".join(names[:5]) + (", ..." if len(names) > 5 else "") + "."
        if self.quality.issues:
            text += f" {len(self.quality.issues)} data-quality issue(s)."
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it."""
        return {
            "features": [f.to_dict() for f in self.features],
            "predictions": [p.to_dict() for p in self.predictions],
            "share": self.share,
            "share_threshold": self.share_threshold,
            "drifted": self.drifted,
            "quality": self.quality.to_dict(),
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "skipped": dict(self.skipped),
        }

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as JSON (keyword arguments go to :func:`json.dumps`)."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReport:
        """Rebuild a report from :meth:`to_dict` output."""
        try:
            return cls(
                features=tuple(FeatureDrift.from_dict(f) for f in data["features"]),
                predictions=tuple(FeatureDrift.from_dict(p) for p in data["predictions"]),
                share=float(data["share"]),
                share_threshold=float(data["share_threshold"]),
                drifted=bool(data["drifted"]),
                quality=QualityReport.from_dict(data["quality"]),
                n_reference=int(data["n_reference"]),
                n_current=int(data["n_current"]),
                skipped={str(k): str(v) for k, v in (data.get("skipped") or {}).items()},
            )
        except (KeyError, TypeError) as exc:
            raise DataError(f"not a drift report ({exc}); expected DriftReport.to_dict() output") from exc

    @classmethod
    def from_json(cls, text: str) -> DriftReport:
        """Rebuild a report from :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))


def verdict_head(drift: DriftReport) -> str:
    """The verdict's first sentence: drift or not, how many features drifted, the share needed."""
    n, k = len(drift.features), len(drift.drifted_features)
    head = "Drift detected" if drift.drifted else "No dataset drift"
    if not n:
        return f"{head}: no feature could be tested."
    need = _pct(drift.share_threshold)
    return f"{head}: {k} of {n} features drifted ({_pct(drift.share)}; the verdict needs {need})."


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _reference(
    reference: Reference | None,
    reference_profile: ReferenceSummary | DatasetProfile | None,
    schema: Schema | None,
    prediction_columns: Sequence[str],
    target: str | None = None,
) -> ReferenceSummary:
    if reference is not None and reference_profile is not None:
        raise DataError("give either reference data or reference_profile, not both")
    ref = reference if reference is not None else reference_profile
    if ref is None:
        raise DataError("no reference: give the reference data or reference_profile (the stored training summary)")
    if isinstance(ref, ReferenceSummary):
        return ref
    if isinstance(ref, DatasetProfile):
        return ReferenceSummary.from_profile(ref, schema)
    if isinstance(ref, pd.DataFrame):
        # kinds as training gives them: ISO date strings are datetimes, not categories
        ref = parse_datetimes(ref)
        if schema is None:
            rest = ref.drop(columns=[c for c in prediction_columns if c in ref.columns])
            schema = infer_schema(rest, target=target if target in rest.columns else None)
        return reference_summary(ref, schema, prediction_columns=prediction_columns, max_points=None)
    raise DataError(f"reference must be a DataFrame, ReferenceSummary or DatasetProfile; got {type(ref).__name__}")


@dataclass(frozen=True)
class _Scope:
    """What a comparison looks at: features to test, outputs to test, columns to check, and skipped ones."""

    features: list[str]
    predictions: list[str]
    checked: set[str]
    skipped: dict[str, str]


def _scope(
    ref: ReferenceSummary,
    schema: Schema | None,
    config: MonitoringSpec,
    columns: Sequence[str] | None = None,
    target: str | None = None,
) -> _Scope:
    """The features and prediction columns to test, and the columns whose quality is checked.

    With ``columns`` (the model's input columns), exactly those are monitored; else
    the schema's features (or, without one, every reference column of role feature).
    The target and the model outputs are never features.
    """
    if columns is not None:
        absent = [c for c in columns if c not in ref]
        if absent:
            raise DataError(
                f"columns {absent} are not in the reference ({[c.name for c in ref]}); "
                "pass the columns the model reads, or a reference that has them"
            )
        wanted: set[str] | None = {str(c) for c in columns}
    else:
        wanted = set(schema.features) if schema is not None else None
    out = _Scope([], [], set(), {})
    for c in ref:
        if c.name == target or c.role == "target":
            continue
        if c.role == "prediction":
            if config.prediction_drift and c.kind in DRIFT_KINDS:
                out.predictions.append(c.name)
            continue
        if columns is not None and wanted is not None and c.name not in wanted:  # wanted: the columns given
            continue
        out.checked.add(c.name)  # without the model's columns, every column's quality is checked
        if columns is None and (c.role != "feature" or (wanted is not None and c.name not in wanted)):
            continue
        enabled = config.drift.columns[c.name].enabled if c.name in config.drift.columns else True
        if not enabled:
            out.skipped[c.name] = "turned off in monitoring.drift.columns"
        elif c.kind == "text" and not config.drift.text.enabled:
            out.skipped[c.name] = "text drift is turned off (monitoring.drift.text.enabled)"
        elif c.kind == "text" and c.categories is None:
            out.skipped[c.name] = (
                "the reference keeps no vocabulary of this text column (a profile, or a summary made before "
                "skloop kept one: rebuild it with reference_summary); its quality is checked"
            )
        elif c.kind == "text":
            out.features.append(c.name)
        elif c.kind not in DRIFT_KINDS:
            out.skipped[c.name] = f"{c.kind} columns are not tested for drift; their quality is checked"
        else:
            out.features.append(c.name)
    return out


def _finish(
    ref: ReferenceSummary,
    accs: Mapping[str, Accumulator],
    scope: _Scope,
    config: MonitoringSpec,
    n_current: int,
) -> DriftReport:
    currents = {name: acc.finish() for name, acc in accs.items()}
    tested: dict[str, list[FeatureDrift]] = {"feature": [], "prediction": []}
    for role, names in (("feature", scope.features), ("prediction", scope.predictions)):
        for name in names:
            cur = currents.get(name)
            if isinstance(cur, TextCurrent):
                tested[role].append(text_drift(ref[name], cur, config.drift.text, role=role, learned=config.learned))
            elif isinstance(cur, NumericCurrent | CategoricalCurrent):  # the drift kinds (scope.features)
                tested[role].append(column_drift(ref[name], cur, config.drift, role=role, learned=config.learned))
    checks: list[QualityCheck] = []
    for c in ref:
        if c.name in scope.checked:
            checks.extend(quality_checks(c, currents.get(c.name), config.quality))
    feats = tuple(tested["feature"])
    share = sum(f.drifted for f in feats) / len(feats) if feats else 0.0
    return DriftReport(
        features=feats,
        predictions=tuple(tested["prediction"]),
        share=share,
        share_threshold=config.drift.share,
        drifted=bool(feats) and share >= config.drift.share,
        quality=QualityReport(tuple(checks)),
        n_reference=ref.n_rows,
        n_current=n_current,
        skipped=scope.skipped,
    )


def _accumulators(
    ref: ReferenceSummary, scope: _Scope, present: Iterable[str], cap: int | None
) -> dict[str, Accumulator]:
    have = set(present) & (scope.checked | set(scope.features) | set(scope.predictions))
    return {c.name: accumulator(c, cap=cap) for c in ref if c.name in have}


def compare_data(
    reference: Reference | None,
    current: pd.DataFrame,
    schema: Schema | None = None,
    *,
    config: MonitoringSpec | None = None,
    reference_profile: ReferenceSummary | DatasetProfile | None = None,
    prediction_columns: Sequence[str] = (),
    columns: Sequence[str] | None = None,
    target: str | None = None,
) -> DriftReport:
    """Compare ``current`` with the reference: drift per column, the verdict, data quality.

    Parameters
    ----------
    reference : pandas.DataFrame, ReferenceSummary, DatasetProfile or None
        The reference data (every statistic then exact and equal to scipy's), or a
        stored summary; ``None`` to use ``reference_profile``.
    current : pandas.DataFrame
        The window to check.
    schema : Schema, optional
        Kinds and roles of the columns; features to test are its
        :attr:`~skloop.data.Schema.features`. Inferred from a reference DataFrame
        (ISO-8601 date strings taken as datetimes, as training reads them), or taken
        from the stored summary, when omitted.
    config : MonitoringSpec, optional
        ``monitoring`` from the spec: methods, thresholds, share, quality thresholds.
    reference_profile : ReferenceSummary or DatasetProfile, optional
        The reference stored at training (:func:`reference_summary`, or the plain
        profile, with which KS and Wasserstein are approximated from its histogram).
    prediction_columns : sequence of str, default=()
        Model-output columns of a reference DataFrame, for prediction drift (a stored
        summary records them itself).
    columns : sequence of str, optional
        The columns to monitor: the model's input columns. Only these are tested for
        drift and checked for quality (datetime and id ones quality only, see
        :attr:`DriftReport.skipped`). Default: the schema's features.
    target : str, optional
        The target column, never tested as a feature (a stored summary and a schema
        from training mark it themselves).

    Returns
    -------
    DriftReport

    Raises
    ------
    DataError
        If no reference is given (or two are), a column cannot be read, or one of
        ``columns`` is not in the reference.
    SpecError
        If a configured method does not fit a column's kind.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(["a", "b"], 500)})
    >>> cur = pd.DataFrame({"x": rng.normal(1.0, size=500), "c": rng.choice(["a", "b"], 500)})
    >>> report = compare_data(ref, cur)
    >>> report.drifted_features, report["x"].method, report.share
    (['x'], 'ks', 0.5)
    """
    config = config or MonitoringSpec()
    ref = _reference(reference, reference_profile, schema, prediction_columns, target)
    scope = _scope(ref, schema, config, columns, target)
    accs = _accumulators(ref, scope, (str(c) for c in current.columns), cap=None)
    for name, acc in accs.items():
        acc.add(current[name])
    return _finish(ref, accs, scope, config, len(current))


def _arrow_batches(path: Path, names: list[str], categorical: list[str], batch_rows: int) -> Iterator[Any]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path, read_dictionary=categorical)
    except Exception as exc:
        raise DataError(f"cannot read Parquet file {path}: {exc}; check that it is a complete Parquet file") from exc
    with pf:
        present = [n for n in names if n in pf.schema_arrow.names]
        yield present
        # one row group at a time: a reader over the whole file reads ahead across row
        # groups, which doubled the peak memory (and was slower) on a 1M-row file
        for group in range(pf.metadata.num_row_groups):
            yield from pf.iter_batches(batch_size=batch_rows, row_groups=[group], columns=present, use_threads=False)


def compare_data_files(
    reference: str | os.PathLike[str] | None,
    current: str | os.PathLike[str],
    schema: Schema | None = None,
    *,
    config: MonitoringSpec | None = None,
    reference_profile: ReferenceSummary | DatasetProfile | None = None,
    prediction_columns: Sequence[str] = (),
    batch_rows: int = DEFAULT_BATCH_ROWS,
    columns: Sequence[str] | None = None,
    target: str | None = None,
    multivariate: MultivariateWindow | None = None,
) -> DriftReport:
    """:func:`compare_data` for files, streaming the current one in record batches.

    Parquet is read with pyarrow, only the needed columns, categorical ones
    dictionary-encoded; CSV with pandas' chunked reader. Each numeric column keeps its
    values up to :data:`EXACT_ROWS` (exact tests), then counts between the reference's
    sketch points; memory is one batch plus those aggregates.

    Parameters
    ----------
    reference : path or None
        The reference file, summarised with :func:`reference_summary` (a 1,000-point
        sketch per numeric column, read one column at a time); ``None`` to use
        ``reference_profile`` (the usual case: the summary stored at training).
    current : path
        The window's Parquet or CSV file.
    schema, config, reference_profile, prediction_columns, columns, target
        As for :func:`compare_data`.
    batch_rows : int, default=65536
        Rows per batch read.
    multivariate : MultivariateWindow, optional
        Multivariate drift in the same pass: each batch's rows (the columns of the
        window's reference, read too if the report does not test them) are added to
        it, their sampling keys hashed from their positions in the file, so the window
        holds what streaming the file into it alone would give. Read its
        :meth:`~MultivariateWindow.result` afterwards (and
        :func:`~skloop.monitor.build_report` ``(report, multivariate=...)`` carries it
        in the report and its JSON).

    Returns
    -------
    DriftReport

    Raises
    ------
    DataError
        As :func:`compare_data`; or the current file lacks a column of ``multivariate``.

    Examples
    --------
    >>> import tempfile, numpy as np, pandas as pd
    >>> from skloop.core import MultivariateSpec
    >>> from skloop.monitor import MultivariateReference, MultivariateWindow
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame(rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], 2000), columns=["a", "b"])
    >>> cur = pd.DataFrame(rng.multivariate_normal([0, 0], [[1, -0.9], [-0.9, 1]], 500), columns=["a", "b"])
    >>> window = MultivariateWindow(MultivariateReference(ref), MultivariateSpec())
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = cur.to_parquet(f"{tmp}/cur.parquet")
    ...     report = compare_data_files(None, f"{tmp}/cur.parquet", reference_profile=reference_summary(ref),
    ...                                 multivariate=window)
    >>> report.drifted, window.result().drifted
    (False, True)
    """
    config = config or MonitoringSpec()
    if reference is not None:
        if reference_profile is not None:
            raise DataError("give either a reference file or reference_profile, not both")
        ref = reference_summary(reference, schema, prediction_columns=prediction_columns, max_points=MAX_POINTS)
    else:
        ref = _reference(None, reference_profile, schema, prediction_columns, target)
    scope = _scope(ref, schema, config, columns, target)
    path = Path(current)
    n_rows = 0
    wanted = scope.checked | set(scope.features) | set(scope.predictions)
    names = [c.name for c in ref if c.name in wanted]
    joint = list(multivariate.reference.columns) if multivariate is not None else []
    if path.name.lower().endswith((".parquet", ".pq")):
        categorical = [c.name for c in ref if c.kind == "categorical" and c.name in wanted]
        batches = _arrow_batches(path, [*names, *(c for c in joint if c not in wanted)], categorical, batch_rows)
        present = next(batches)
        _has_joint(path, joint, present)
        accs = _accumulators(ref, scope, present, cap=EXACT_ROWS)
        with _Columns(accs) as add:
            for batch in batches:
                # the multivariate window alongside the columns, on its own thread
                add(batch.column, None if multivariate is None else partial(_add_joint, multivariate, batch, n_rows))
                n_rows += batch.num_rows
    else:
        accs = {}
        for i, chunk in enumerate(iter_batches(path, batch_rows)):
            if i == 0:
                _has_joint(path, joint, [str(c) for c in chunk.columns])
                accs = _accumulators(ref, scope, (str(c) for c in chunk.columns), cap=EXACT_ROWS)
            for name, acc in accs.items():
                acc.add(chunk[name])
            if multivariate is not None:
                _add_joint(multivariate, chunk, n_rows)
            n_rows += len(chunk)
    return _finish(ref, accs, scope, config, n_rows)


COLUMN_THREADS = 4
"""At most this many threads add a batch's columns to their accumulators (no more than the cores)."""


class _Columns:
    """Adds each batch's columns to their accumulators, on a few threads where there are cores for them.

    An accumulator's time is NumPy's and Arrow's (the batch's sort, the binary searches,
    the category counts), which run without the GIL, so columns go in parallel; each
    accumulator still gets every batch in the file's order, one at a time, so the counts
    and the kept values are those of a single thread's pass.
    """

    def __init__(self, accs: Mapping[str, Accumulator]) -> None:
        self._items = list(accs.items())
        threads = min(COLUMN_THREADS, os.cpu_count() or 1, len(self._items))
        self._pool: Any = None
        if threads > 1:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(threads, thread_name_prefix="skloop-columns")

    def __enter__(self) -> Any:
        return self._add

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _add(self, column: Any, also: Callable[[], None] | None = None) -> None:
        """Add ``column(name)`` to each accumulator, and run ``also``; an error of either is raised here."""
        tasks: list[Callable[[], None]] = [partial(_add_to, acc, column, name) for name, acc in self._items]
        if also is not None:
            tasks.insert(0, also)  # the longest task first
        if self._pool is None:
            for task in tasks:
                task()
            return
        for _ in self._pool.map(lambda task: task(), tasks):
            pass


def _add_to(acc: Accumulator, column: Callable[[str], Any], name: str) -> None:
    acc.add(column(name))


def _has_joint(path: Path, joint: Sequence[str], present: Sequence[str]) -> None:
    missing = [c for c in joint if c not in set(present)]
    if missing:
        raise DataError(
            f"multivariate drift: the current file {path} lacks column(s) {missing} of the multivariate "
            "reference; give a reference fitted on the columns the file has"
        )


def _add_joint(window: MultivariateWindow, rows: pd.DataFrame | pa.RecordBatch, start: int) -> None:
    """The rows of a batch starting at row ``start`` of the file, keyed by their positions."""
    window.add(rows, sampling_keys(np.arange(start, start + len(rows))))
