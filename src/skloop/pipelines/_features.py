"""Which columns are features, and of which kind.

The spec names columns by kind (``features.numeric`` ...); the data layer infers the
kinds of the rest. :func:`resolve_features` merges the two into a :class:`FeatureSets`.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from skloop.core import FeaturesSpec, PipelineError

__all__ = ["FEATURE_KINDS", "FeatureSets", "resolve_features"]

logger = logging.getLogger(__name__)

FEATURE_KINDS = ("numeric", "categorical", "boolean", "datetime", "text")
"""The feature kinds, in the order the preprocessor lays out their columns."""


@dataclass(frozen=True)
class FeatureSets:
    """Feature columns by kind.

    Parameters
    ----------
    numeric, categorical, boolean, datetime, text : tuple of str
        Column names of each kind; a column appears in at most one kind.

    Examples
    --------
    >>> fs = FeatureSets(numeric=("age",), categorical=("city",))
    >>> fs.all_columns
    ('age', 'city')
    >>> fs.by_kind()["categorical"]
    ('city',)
    """

    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    boolean: tuple[str, ...] = ()
    datetime: tuple[str, ...] = ()
    text: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for kind in FEATURE_KINDS:
            columns = tuple(getattr(self, kind))
            object.__setattr__(self, kind, columns)
            for column in columns:
                if column in seen:
                    raise PipelineError(
                        f"column {column!r} is both {seen[column]} and {kind}; give each feature column one kind"
                    )
                seen[column] = kind

    @property
    def all_columns(self) -> tuple[str, ...]:
        """Every feature column, kind by kind in :data:`FEATURE_KINDS` order."""
        return tuple(c for kind in FEATURE_KINDS for c in getattr(self, kind))

    def by_kind(self) -> dict[str, tuple[str, ...]]:
        """The columns of each kind, as a dict (kinds without columns included)."""
        return {kind: getattr(self, kind) for kind in FEATURE_KINDS}

    def to_dict(self) -> dict[str, list[str]]:
        """Plain data (lists) for JSON, kinds without columns included."""
        return {kind: list(getattr(self, kind)) for kind in FEATURE_KINDS}


def _close(name: str, candidates: Iterable[str]) -> str:
    matches = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in candidates}
        matches = [lowered[m] for m in difflib.get_close_matches(name.lower(), lowered, n=3)]
    return f"; did you mean {' or '.join(repr(m) for m in matches)}?" if matches else ""


def resolve_features(
    features_spec: FeaturesSpec,
    inferred: Mapping[str, Sequence[str]] | None,
    exclude: Iterable[str] = (),
    *,
    columns: Sequence[str] | None = None,
) -> FeatureSets:
    """Merge the spec's feature lists with inferred column kinds.

    Columns listed in the spec keep their kind. Unless ``features_spec.infer`` is
    false, every other inferred column of a feature kind is added to its kind (kinds
    such as ``id`` are ignored). Columns in ``features_spec.drop`` or in ``exclude``
    (the target, id and time columns) are removed.

    Parameters
    ----------
    features_spec : FeaturesSpec
        The spec's ``features`` section.
    inferred : mapping of str to sequence of str, or None
        Column names by inferred kind (``numeric``, ``categorical``, ``boolean``,
        ``datetime``, ``text``, ``id``, ...), in data order.
    exclude : iterable of str, default=()
        Columns that are never features.
    columns : sequence of str, optional
        The data's columns. Default: every column in ``inferred`` and ``exclude``.
        When neither is known, spec columns are not checked against the data.

    Returns
    -------
    FeatureSets
        The feature columns by kind.

    Raises
    ------
    PipelineError
        A column named in the spec (``features.<kind>`` or ``features.drop``) is not
        in the data; the message names the key, the column and close matches.

    Examples
    --------
    >>> from skloop.core import FeaturesSpec
    >>> spec = FeaturesSpec(categorical=["zip"], drop=["note"])
    >>> inferred = {"numeric": ["age", "zip", "y"], "text": ["note"], "id": ["uid"]}
    >>> resolve_features(spec, inferred, {"y"})
    FeatureSets(numeric=('age',), categorical=('zip',), boolean=(), datetime=(), text=())
    """
    excluded = set(exclude)
    inferred = inferred or {}
    if columns is None and (inferred or excluded):
        columns = [c for cols in inferred.values() for c in cols] + sorted(excluded)
    if columns is not None:
        present = set(columns)
        for kind in (*FEATURE_KINDS, "drop"):
            for column in getattr(features_spec, kind):
                if column not in present:
                    raise PipelineError(
                        f"features.{kind}: column {column!r} is not in the data"
                        f"{_close(column, columns)} (columns: {', '.join(map(str, columns))})"
                    )
    taken = {c for kind in (*FEATURE_KINDS, "drop") for c in getattr(features_spec, kind)}
    skipped = excluded & {c for kind in FEATURE_KINDS for c in getattr(features_spec, kind)}
    if skipped:
        logger.info("not using %s as features: target, id or time columns", sorted(skipped))
    removed = excluded | set(features_spec.drop)
    kinds: dict[str, list[str]] = {}
    for kind in FEATURE_KINDS:
        chosen = [c for c in getattr(features_spec, kind) if c not in removed]
        if features_spec.infer:
            chosen += [c for c in inferred.get(kind, ()) if c not in taken and c not in removed]
        kinds[kind] = list(dict.fromkeys(chosen))
    return FeatureSets(**{kind: tuple(cols) for kind, cols in kinds.items()})
