"""The entity of a stored monitoring report (its row; the report itself is an artifact)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["StoredReport"]


@dataclass(frozen=True)
class StoredReport:
    """One monitoring report kept in the store: ``store.reports``.

    Parameters
    ----------
    id : str
        32 hex characters.
    name : str
        The model.
    version : int
        The version monitored.
    created : datetime
        When the report was stored (UTC).
    source_kind : {"file", "data", "log", "loop"}
        What was monitored: a table file, an in-memory table, the prediction log, or the
        traffic a loop decision judged.
    source : str
        The file's name, ``log`` (with its ``--since``), or the loop decision's id.
    window : str or None
        The window setting the report was cut by (``1d``, ``500 rows``), if any.
    drifted : bool
        The dataset-level verdict.
    n_features, n_drifted : int
        Features tested, and those that drifted.
    drift_share : float
    performance_alert : bool
        Some metric was significantly worse than on the training holdout.
    n_quality_issues : int
    n_rows : int
        Rows monitored.
    summary : dict
        Per-feature tests (``features``), quality flags (``quality``), metrics
        (``performance``, ``estimate``) and alerts: what a history chart needs.
    report_sha256 : str
        The whole report (gzipped JSON) in the artifact store.
    report_size : int
        Its size in bytes (compressed).
    """

    id: str
    name: str
    version: int
    created: datetime
    source_kind: str
    source: str
    window: str | None
    drifted: bool
    n_features: int
    n_drifted: int
    drift_share: float
    performance_alert: bool
    n_quality_issues: int
    n_rows: int
    report_sha256: str
    report_size: int
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """``name/version``."""
        return f"{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the time in ISO 8601)."""
        out = {key: getattr(self, key) for key in self.__dataclass_fields__}
        out["created"] = self.created.isoformat()
        return out
