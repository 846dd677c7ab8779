"""Data-quality checks of a current window against the reference.

Each check yields one :class:`QualityCheck` per column it applies to, flagged when its
value is above the threshold from ``monitoring.quality``:

=================== ======================= ==================================================
check               columns                 value
=================== ======================= ==================================================
missing_column      every reference column  1 when the window lacks the column (always flags)
missing_increase    every column            current missing share - reference missing share
out_of_range        numeric                 share of values below the training min or above its max
unseen_categories   categorical, boolean    share of values not among the training categories
                                            (skipped when the reference lumped rare ones)
type_violations     numeric, boolean,       share of present values that do not parse as the
                    datetime                column's type (e.g. ``"abc"`` in a numeric column)
constant            numeric, categorical,   1 when the window has at most one distinct value but
                    boolean                 the reference had several (threshold 0, flag if on)
duplicate_ids       id                      share of present ids that repeat an earlier one
=================== ======================= ==================================================
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

from skloop.core import QualitySpec
from skloop.monitor._accumulate import CategoricalCurrent, NumericCurrent, OtherCurrent
from skloop.monitor._reference import ColumnReference

__all__ = ["QUALITY_CHECKS", "QualityCheck", "QualityReport", "quality_checks"]

QUALITY_CHECKS = (
    "missing_column",
    "missing_increase",
    "out_of_range",
    "unseen_categories",
    "type_violations",
    "constant",
    "duplicate_ids",
)


@dataclass(frozen=True)
class QualityCheck:
    """One check on one column.

    Attributes
    ----------
    check : str
        One of :data:`QUALITY_CHECKS`.
    column : str
    value : float
        The measured share (or 0/1 for ``missing_column`` and ``constant``).
    threshold : float
        Flag when ``value > threshold``.
    flagged : bool
    count : int
        Values (or rows) behind ``value``.
    detail : str
        A sentence for people: what was seen, against what.
    """

    check: str
    column: str
    value: float
    threshold: float
    flagged: bool
    count: int = 0
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class QualityReport:
    """Every quality check of a window; :attr:`issues` are the flagged ones."""

    checks: tuple[QualityCheck, ...] = ()

    @property
    def issues(self) -> list[QualityCheck]:
        """Flagged checks."""
        return [c for c in self.checks if c.flagged]

    @property
    def flagged(self) -> bool:
        """Whether any check flagged."""
        return any(c.flagged for c in self.checks)

    def __iter__(self) -> Iterator[QualityCheck]:
        return iter(self.checks)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it."""
        return {"checks": [c.to_dict() for c in self.checks], "flagged": self.flagged}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityReport:
        """Rebuild from :meth:`to_dict` output."""
        return cls(checks=tuple(QualityCheck(**c) for c in data["checks"]))


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def _check(check: str, column: str, value: float, threshold: float, count: int, detail: str) -> QualityCheck:
    return QualityCheck(check, column, float(value), float(threshold), bool(value > threshold), int(count), detail)


def _ref_varies(ref: ColumnReference) -> bool:
    if ref.kind == "numeric":
        return ref.min is not None and ref.max is not None and ref.min < ref.max
    return (ref.n_unique or 0) > 1


def quality_checks(
    ref: ColumnReference, cur: NumericCurrent | CategoricalCurrent | OtherCurrent | None, spec: QualitySpec
) -> list[QualityCheck]:
    """The quality checks of one column (``cur=None``: the window lacks it)."""
    name = ref.name
    if cur is None:
        return [_check("missing_column", name, 1.0, 0.0, 0, f"column {name!r} is not in the current data")]
    out = []
    total = cur.n + cur.missing + cur.violations
    now = _share(cur.missing, total)
    rise = now - ref.missing_share
    out.append(
        _check(
            "missing_increase",
            name,
            rise,
            spec.missing_increase,
            cur.missing,
            f"{now:.1%} missing now, {ref.missing_share:.1%} in the reference",
        )
    )
    if isinstance(cur, NumericCurrent) and ref.min is not None:
        share = _share(cur.out_of_range, cur.n)
        detail = f"{cur.out_of_range} values outside the training range [{ref.min:g}, {ref.max:g}]"
        if cur.n:
            detail += f"; now [{cur.min:g}, {cur.max:g}]"
        out.append(_check("out_of_range", name, share, spec.out_of_range, cur.out_of_range, detail))
    if isinstance(cur, CategoricalCurrent) and not ref.other:
        known = set(ref.categories or ())
        unseen = {v: n for v, n in cur.counts.items() if v not in known}
        count = sum(unseen.values())
        shown = ", ".join(repr(v) for v, _ in sorted(unseen.items(), key=lambda p: -p[1])[:5])
        detail = f"{len(unseen)} unseen values ({shown})" if unseen else "no unseen values"
        out.append(_check("unseen_categories", name, _share(count, cur.n), spec.unseen_categories, count, detail))
    if ref.kind in ("numeric", "boolean", "datetime"):
        share = _share(cur.violations, cur.n + cur.violations)
        detail = f"{cur.violations} values do not parse as {ref.kind}"
        out.append(_check("type_violations", name, share, spec.type_violations, cur.violations, detail))
    if spec.constant and ref.kind in ("numeric", "categorical", "boolean") and _ref_varies(ref):
        if isinstance(cur, CategoricalCurrent):
            single = sum(1 for n in cur.counts.values() if n > 0) <= 1
        else:
            single = cur.n_distinct_at_most_one
        detail = "one value (or none) now, several in the reference" if single else "several values"
        out.append(_check("constant", name, 1.0 if single else 0.0, 0.0, int(single), detail))
    if isinstance(cur, OtherCurrent) and ref.kind == "id":
        share = _share(cur.duplicates, cur.n)
        detail = f"{cur.duplicates} ids repeat an earlier one"
        out.append(_check("duplicate_ids", name, share, spec.duplicate_ids, cur.duplicates, detail))
    return out
