"""The geometry of skloop's inline SVG charts, as plain data for the chart templates.

The templates (``templates/partials/charts.html``) draw; these functions only place:
every coordinate is computed here, once, so a model card, a monitoring report and
the UI draw the same chart from the same numbers. Labels and titles pass through
untouched; the templates escape them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["CHART_COLORS", "CURRENT_COLOR", "REFERENCE_COLOR", "bar_layout", "line_layout", "paired_layout"]

REFERENCE_COLOR = "#7f8c9a"
CURRENT_COLOR = "#d9822b"
CHART_COLORS = ("#2b6cb0", "#d9822b", "#2f855a", "#9b2c2c", "#6b46c1", "#718096")
MAX_BARS = 20
LABEL_CHARS = 26


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_layout(items: Mapping[str, Mapping[str, Any]], *, max_bars: int = MAX_BARS) -> dict[str, Any] | None:
    """Horizontal bars of ``{"mean", "std"}`` per name (largest first, as given), with ±std whiskers.

    Returns ``None`` when there is nothing to draw.
    """
    entries = list(items.items())[:max_bars]
    if not entries:
        return None
    label_w, bar_w, row_h, pad = 180, 420, 22, 8
    top = max(max(float(v["mean"]) + float(v.get("std") or 0.0) for _, v in entries), 1e-12)
    bars = []
    for i, (name, v) in enumerate(entries):
        mean, std = float(v["mean"]), float(v.get("std") or 0.0)
        y = pad + i * row_h
        w = max(mean, 0.0) / top * bar_w
        whisker = None
        if std > 0:
            whisker = (label_w + max(mean - std, 0.0) / top * bar_w, label_w + (mean + std) / top * bar_w, y + 11)
        bars.append(
            {"name": str(name), "label": _short(str(name)), "y": y, "width": w, "height": row_h - 8,
             "value": mean, "whisker": whisker}
        )  # fmt: skip
    return {"width": label_w + bar_w + 90, "height": pad * 2 + row_h * len(entries), "x0": label_w, "bars": bars}


def paired_layout(
    labels: Sequence[str], reference: Sequence[float], current: Sequence[float], *, width: int = 300
) -> dict[str, Any] | None:
    """Paired vertical bars of two share vectors (a reference and a current distribution)."""
    n = len(labels)
    if n == 0:
        return None
    height, pad = 110, 18
    top = max(max(reference, default=0.0), max(current, default=0.0)) or 1.0
    slot = (width - 8) / n
    rects = []
    for i in range(n):
        x = 4 + i * slot
        for j, (values, color) in enumerate(((reference, REFERENCE_COLOR), (current, CURRENT_COLOR))):
            h = (height - pad - 4) * values[i] / top
            rects.append(
                {"x": x + j * slot * 0.45, "y": height - pad - h, "width": max(slot * 0.42, 1), "height": h,
                 "color": color, "label": str(labels[i]), "value": values[i]}
            )  # fmt: skip
    return {
        "width": width, "height": height, "rects": rects,
        "first": str(labels[0])[:14], "last": str(labels[-1])[:14],
    }  # fmt: skip


def line_layout(
    series: Sequence[tuple[str, Sequence[float | None], str]],
    labels: Sequence[str],
    *,
    bands: Sequence[tuple[Sequence[float | None], Sequence[float | None], str]] = (),
    width: int = 500,
    height: int = 170,
    y_range: tuple[float, float] | None = None,
) -> dict[str, Any] | None:
    """Lines ``(name, values, color)`` over labelled points, with interval bands ``(lower, upper, color)``.

    ``None`` values are gaps; returns ``None`` when no value is known.
    """
    n = len(labels)
    values = [v for _, vs, _ in series for v in vs if v is not None]
    values += [v for lo, hi, _ in bands for v in (*lo, *hi) if v is not None]
    if n == 0 or not values:
        return None
    lo_v, hi_v = y_range or (min(values), max(values))
    if hi_v - lo_v < 1e-9:
        lo_v, hi_v = lo_v - 0.5, hi_v + 0.5
    left, right, top, bottom = 40, 10, 10, 24

    def x(i: int) -> float:
        return left + (width - left - right) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - (v - lo_v) / (hi_v - lo_v))

    def points(pts: Sequence[tuple[int, float]]) -> str:
        return " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in pts)

    grid = [{"y": y(v), "value": v} for v in (lo_v, (lo_v + hi_v) / 2, hi_v)]
    polygons = []
    for lower, upper, color in bands:
        spans = [(i, lo, hi) for i, (lo, hi) in enumerate(zip(lower, upper, strict=True)) if lo is not None and hi]
        if spans:
            outline = [(i, hi) for i, _, hi in spans] + [(i, lo) for i, lo, _ in spans[::-1]]
            polygons.append({"points": points(outline), "color": color})
    lines = []
    for name, vs, color in series:
        pts = [(i, v) for i, v in enumerate(vs) if v is not None]
        if pts:
            dots = [{"x": x(i), "y": y(v), "title": f"{name} {labels[i]}: {v:.3f}"} for i, v in pts]
            lines.append({"points": points(pts), "color": color, "dots": dots})
    ticks = [{"x": x(i), "label": str(labels[i])} for i in range(0, n, max(1, n // 6))]
    return {
        "width": width, "height": height, "left": left, "right": width - right, "grid": grid,
        "bands": polygons, "lines": lines, "ticks": ticks,
    }  # fmt: skip
