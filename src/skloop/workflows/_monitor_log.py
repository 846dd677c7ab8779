"""Monitor a model's prediction log, and its shadow beside it: the ``--from-log`` half of :func:`monitor_model`.

The store's pages are read once, in time order: each goes to the monitor's accumulators
(:func:`~skloop.monitor.monitor_pages`) and, with ``shadow``, its pairs to the shadow's
accumulator for the whole log and, when the log is cut into windows, to
:class:`~skloop.monitor.ShadowWindows`, which cuts them exactly as the monitor cuts its
own windows (the same bounds, the same partial first and last windows).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from skloop.core import DataError, UsageError
from skloop.monitor import (
    MonitorReport,
    ShadowAccumulator,
    ShadowReport,
    ShadowWindows,
    log_page,
    monitor_pages,
    parse_window,
    shadow_page,
    window_cut,
)
from skloop.registry import Registry
from skloop.store import Store
from skloop.workflows._monitor import MonitorInputs, _spec

__all__ = ["monitor_log"]


def monitor_log(
    store: Store,
    inputs: MonitorInputs,
    report_args: Mapping[str, Any],
    cuts: Mapping[str, Any],
    *,
    since: str | None,
    now: datetime | None,
    page_size: int | None,
    n_boot: int,
    seed: int,
    mv_args: Mapping[str, Any],
    shadow: bool,
) -> MonitorReport:
    """The report of ``inputs``' version on its logged predictions (see :func:`~skloop.workflows.monitor_model`)."""
    version = inputs.version
    now = now or datetime.now(UTC)
    start = None
    if since is not None:
        length = parse_window(since)
        if isinstance(length, int):
            raise UsageError(f"--since takes a duration such as 7d or 12h; got {since!r}")
        try:
            start = now - length
        except OverflowError:
            raise UsageError(
                f"--since {since} reaches back before the year 1; give a shorter duration such as 365d"
            ) from None
    stored = store.predictions.iter_pages(version.name, start=start, page_size=page_size, order="time")
    pairs = _shadow_accumulator(inputs) if shadow else None
    cut = window_cut(cuts.get("window"), cuts.get("period"), tz=cuts.get("tz"))
    per_window = None
    if pairs is not None and cut is not None:
        per_window = ShadowWindows(
            cut, lambda: _shadow_accumulator(inputs), _finish_args(store, inputs, n_boot=0, seed=seed, model=None),
            observed_from=_utc(start), observed_until=_utc(now), judge_partial=bool(cuts.get("judge_partial")),
        )  # fmt: skip

    def add_pairs(page: Any) -> bool:
        frame = shadow_page(page)
        if pairs is not None:
            pairs.add(frame)
        if per_window is not None:
            per_window.add(frame)
        return True

    pages = (log_page(p) for p in stored if pairs is None or add_pairs(p))
    first = next(pages, None)
    if first is None:
        raise DataError(
            f"no logged prediction of {version.name!r}" + (f" in the last {since}" if since else "")
            + "; serve the model (skloop serve) or score with skloop predict --log, then ingest the log"
        )  # fmt: skip
    # the log holds every prediction up to now (from --since): the span its windows observe
    report = monitor_pages(
        itertools.chain([first], pages), inputs.reference, **report_args, **cuts,
        n_boot=n_boot, seed=seed, current_name=f"prediction log of {version.name}"
        + (f" (last {since})" if since else ""), observed_from=start, observed_until=now, **mv_args,
    )  # fmt: skip
    if pairs is None:
        return report
    section = _finish_shadow(store, inputs, pairs, since, n_boot, seed)
    if per_window is not None:
        section = replace(section, windows=per_window.series())
    return replace(report, shadow=section)


def _utc(when: datetime | None) -> pd.Timestamp | None:
    if when is None:
        return None
    stamp = pd.Timestamp(when)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _task(inputs: MonitorInputs) -> str:
    if inputs.signature is not None and inputs.signature.output.task in ("classification", "regression"):
        return inputs.signature.output.task
    return "classification" if hasattr(inputs.model, "classes_") else "regression"


def _shadow_accumulator(inputs: MonitorInputs) -> ShadowAccumulator:
    classes = list(inputs.model.classes_) if hasattr(inputs.model, "classes_") else None
    positive = inputs.signature.output.positive_class if inputs.signature is not None else None
    return ShadowAccumulator(_task(inputs), classes=classes, positive=positive)


def _finish_args(store: Store, inputs: MonitorInputs, *, n_boot: int, seed: int, model: str | None) -> dict[str, Any]:
    """What :meth:`ShadowAccumulator.finish` takes: the monitoring settings, the loop's comparison, the metrics."""
    spec = _spec(store, inputs.version)
    compare = spec.loop.compare.model_dump(mode="json") if spec is not None else {}
    return {"config": inputs.config, "compare": compare, "reference_metrics": inputs.version.metrics,
            "n_boot": n_boot, "seed": seed, "model": model}  # fmt: skip


def _finish_shadow(
    store: Store, inputs: MonitorInputs, pairs: ShadowAccumulator, since: str | None, n_boot: int, seed: int
) -> ShadowReport:
    """The shadow section, or an error saying why there is none and what to do."""
    name = inputs.version.name
    where = f" in the last {since}" if since else ""
    if pairs.n_shadowed == 0 and pairs.n_failed:
        raise DataError(
            f"the shadow failed on all {pairs.n_failed:,} shadowed rows of {name!r}{where} "
            f"({'; '.join(pairs.failures)}); nothing to compare. A timeout: serve with a longer "
            "--shadow-timeout; an error: check that the shadow version loads and accepts the served inputs"
        )
    if pairs.n_shadowed == 0:
        aliases = Registry(store).aliases(name)
        held = "" if "challenger" in aliases else (
            f"; no version of {name!r} holds the alias challenger yet: skloop promote {name} VERSION --alias challenger"
        )  # fmt: skip
        raise DataError(
            f"none of the {pairs.n_rows:,} logged predictions of {name!r}{where} carries a shadow output: no shadow "
            f"model was configured when they were served. Serve with `skloop serve {name} --shadow challenger`{held}, "
            "let traffic be logged and ingested, then run skloop monitor --from-log --shadow again"
        )
    return pairs.finish(**_finish_args(store, inputs, n_boot=n_boot, seed=seed, model=name))
