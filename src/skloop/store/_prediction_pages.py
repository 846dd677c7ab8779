"""The prediction log read in pages: columnar, one short transaction per page.

Monitoring, the loop's windows and its retraining data read a model's whole traffic;
:func:`iter_prediction_pages` hands it over as :class:`PredictionPage` objects of at
most ``page_size`` rows, so what a reader holds is one page, never the history.

Pages are cut by a keyset, never by ``OFFSET`` (which rescans every earlier row):

- ``order="id"``: ``id > last ORDER BY id``, on the ``(model, id)`` index of migration
  ``0011`` (ingestion order);
- ``order="time"``: ``(time, id) > (last_time, last_id) ORDER BY time, id``, on the
  ``(model, time)`` index (the order of :meth:`PredictionStore.query_predictions`,
  which time windows and the bootstrap's row order need).

The JSON of the inputs and outputs is read as text and decoded once per page with
orjson (one array per page, not one call per row); each page becomes DataFrames whose
index is the prediction ``id``, and the decoded rows are dropped with the page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import orjson
from sqlalchemy import Text, and_, cast, null, or_, type_coerce
from sqlalchemy.types import NullType

from skloop.core import StoreError
from skloop.store._predictions import labelled_query
from skloop.store._schema_predictions import SqlLabel, SqlPrediction

if TYPE_CHECKING:
    import pandas as pd

    from skloop.store._database import Database

__all__ = ["DEFAULT_PAGE_SIZE", "PageOrder", "PredictionPage", "iter_prediction_pages"]

PREDICTIONS = SqlPrediction
LABELS = SqlLabel
DEFAULT_PAGE_SIZE = 10_000
"""Rows per page unless told otherwise."""
PageOrder = Literal["id", "time"]
_RAW = NullType()
_SELECTED = (
    "id", "request_id", "correlation_id", "row", "time", "model", "version", "entity_id", "prediction", "inputs",
    "outputs", "label", "label_time",
)  # fmt: skip
_ROW_COLUMNS = (
    "request_id", "correlation_id", "row", "time", "model", "version", "entity_id", "prediction", "predicted",
    "label", "label_time",
)  # fmt: skip


@dataclass(frozen=True)
class PredictionPage:
    """One page of logged predictions, as columns; every frame is indexed by the prediction ``id``.

    Attributes
    ----------
    rows : DataFrame
        ``request_id``, ``correlation_id``, ``row``, ``time`` (UTC), ``model``,
        ``version``, ``entity_id``, ``prediction`` (the stored text), ``predicted``
        (the served value, its JSON type kept: ``outputs["prediction"]``, else the
        stored text), ``label`` and ``label_time`` (the joined label, if any).
    inputs : DataFrame
        The logged inputs, one column per input name (missing where a row lacks it).
    probabilities : DataFrame
        ``outputs["probabilities"]``: one column per class (as logged, text), or no columns.
    shadow : DataFrame
        What the shadow model (``skloop serve --shadow``) answered to the same rows,
        ``outputs["shadow"]``: ``version``, ``prediction`` and ``error`` (``None`` where
        absent); no columns when no row of the page was shadowed.
    shadow_probabilities : DataFrame
        ``outputs["shadow"]["probabilities"]``: one column per class, or no columns.
    """

    rows: pd.DataFrame
    inputs: pd.DataFrame
    probabilities: pd.DataFrame
    shadow: pd.DataFrame = field(default_factory=lambda: _empty())
    shadow_probabilities: pd.DataFrame = field(default_factory=lambda: _empty())

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def last_id(self) -> int:
        """The largest ``id`` of the page."""
        return int(self.rows.index.max())


def _empty() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame()


_SHADOW_KEYS = ("version", "prediction", "error")


def _shadow(outputs: list[Mapping[str, Any]], ids: pd.Index) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The shadow's answers to the page's rows (``outputs["shadow"]``), as the frames of :class:`PredictionPage`."""
    import pandas as pd

    found = [o.get("shadow") for o in outputs]
    shadows: list[Mapping[str, Any]] = [s if isinstance(s, Mapping) else {} for s in found]
    if not any(shadows):
        return pd.DataFrame(index=ids), pd.DataFrame(index=ids)
    frame = pd.DataFrame({k: pd.Series([s.get(k) for s in shadows], index=ids, dtype=object) for k in _SHADOW_KEYS})
    probs = [s.get("probabilities") for s in shadows]
    return frame, _frame([p if isinstance(p, Mapping) else {} for p in probs], ids)


def _decode(texts: list[str | None]) -> list[Any]:
    """The JSON documents ``texts`` (``None`` for SQL NULL), decoded in one call."""
    if all(t is None for t in texts):
        return [None] * len(texts)
    doc = "[" + ",".join("null" if t is None else t for t in texts) + "]"
    try:
        return orjson.loads(doc)  # type: ignore[no-any-return]
    except orjson.JSONDecodeError:
        # Python's json writes NaN and Infinity, which orjson (strict JSON) refuses
        return json.loads(doc)  # type: ignore[no-any-return]


def _frame(dicts: list[Mapping[str, Any]], ids: pd.Index) -> pd.DataFrame:
    """The mappings ``dicts`` as columns (in the order keys first appear; missing: NaN), built column by column.

    What ``pd.DataFrame(dicts)`` gives, without its row-by-row path: a page's rows
    almost always share their keys, so the columns are one list each.
    """
    import numpy as np
    import pandas as pd

    keys: dict[str, None] = {}
    uniform = True  # every mapping has every key
    for i, d in enumerate(dicts):
        if d.keys() != keys.keys():
            uniform = uniform and i == 0
            keys.update(dict.fromkeys(d))
    columns = {}
    for key in keys:
        # as pd.DataFrame(dicts): an absent key is NaN
        values = [d[key] for d in dicts] if uniform else [d.get(key, np.nan) for d in dicts]
        columns[key] = pd.Series(values, index=ids, dtype=None if values else object)
    return pd.DataFrame(columns, index=ids)


def _times(values: Sequence[Any]) -> pd.Series:
    """UTC timestamps of the raw times read (SQLite: text in SQLAlchemy's format; PostgreSQL: datetimes)."""
    import pandas as pd

    return pd.Series(pd.to_datetime(list(values), utc=True, format="ISO8601"))


def _page(records: Sequence[Any]) -> PredictionPage:
    import pandas as pd  # on first use: the store opens without pandas (``skloop runs``)

    columns = dict(zip(_SELECTED, zip(*records, strict=True), strict=True))  # one tuple per column
    ids = pd.Index(columns.pop("id"), name="id", dtype="int64")
    inputs = [d if isinstance(d, Mapping) else {} for d in _decode(list(columns.pop("inputs")))]
    outputs = [d if isinstance(d, Mapping) else {} for d in _decode(list(columns.pop("outputs")))]
    stored = columns["prediction"]
    columns["predicted"] = tuple(o.get("prediction", p) for o, p in zip(outputs, stored, strict=True))
    frame: dict[str, Any] = {c: list(columns[c]) for c in _ROW_COLUMNS}
    frame["time"] = _times(columns["time"]).array  # not to_numpy(): an array of Timestamp objects
    frame["label_time"] = _times(columns["label_time"]).array
    rows = pd.DataFrame(frame, index=ids)
    probs = [o.get("probabilities") for o in outputs]
    shadow, shadow_probabilities = _shadow(outputs, ids)
    return PredictionPage(
        rows=rows,
        inputs=_frame(inputs, ids),
        probabilities=_frame([p if isinstance(p, Mapping) else {} for p in probs], ids),
        shadow=shadow,
        shadow_probabilities=shadow_probabilities,
    )


def iter_prediction_pages(
    db: Database,
    model: str,
    *,
    version: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    labeled: bool | None = None,
    after: tuple[datetime, int] | None = None,
    page_size: int | None = DEFAULT_PAGE_SIZE,
    order: PageOrder = "id",
    with_json: bool = True,
) -> Iterator[PredictionPage]:
    """``model``'s predictions in pages; see :meth:`PredictionStore.iter_pages`."""
    if page_size is not None and (isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1):
        raise StoreError(f"page_size must be a positive integer or None (one page), given {page_size!r}")
    if order not in ("id", "time"):
        raise StoreError(f"order must be 'id' or 'time', given {order!r}")
    p = PREDICTIONS.c
    # the times as the driver gives them, parsed a page at a time (not by UTCDateTime row by row)
    raw = [type_coerce(p.time, _RAW).label("time") if c == "time" else getattr(p, c) for c in _SELECTED[:-4]]
    if with_json:
        json_columns: list[Any] = [cast(p.inputs, Text).label("inputs"), cast(p.outputs, Text).label("outputs")]
    else:  # the rows' keys and labels only: nothing to decode
        json_columns = [null().label("inputs"), null().label("outputs")]
    base, label = labelled_query(model, *raw, *json_columns, raw_times=True)
    if version is not None:
        base = base.where(p.version == version)
    if start is not None:
        base = base.where(p.time >= start)
    if end is not None:
        base = base.where(p.time < end)
    if after is not None:  # time order: rows after (time, id), the newest row a caller has seen
        base = base.where(or_(p.time > after[0], and_(p.time == after[0], p.id >= after[1])))
    if labeled is not None:
        base = base.where(label.is_not(None) if labeled else label.is_(None))
    key_time: datetime | None = None
    key_id: int | None = None
    while True:
        stmt = base
        if key_id is not None:
            if order == "id":
                stmt = stmt.where(p.id > key_id)
            else:
                stmt = stmt.where(or_(p.time > key_time, and_(p.time == key_time, p.id > key_id)))
        stmt = stmt.order_by(p.id) if order == "id" else stmt.order_by(p.time, p.id)
        if page_size is not None:
            stmt = stmt.limit(page_size)
        with db.session(f"reading a page of the predictions of {model!r}", read=True) as conn:
            records = conn.execute(stmt).all()
        if not records:
            return
        page = _page(records)
        yield page
        if page_size is None or len(records) < page_size:
            return
        key_time, key_id = page.rows["time"].iloc[-1].to_pydatetime(), records[-1].id
        del records, page
