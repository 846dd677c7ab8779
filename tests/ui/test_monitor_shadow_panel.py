"""The shadow panel of the monitoring page: a stored report with a shadow section, per day."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from starlette.testclient import TestClient
from ui_helpers import Seeded

from skloop.monitor import MonitorReport, ShadowAccumulator, ShadowWindows, compare_data, compare_shadow, window_cut
from skloop.workflows import save_report


def _pairs(n: int = 192) -> pd.DataFrame:
    """Pairs every 30 minutes over 4 days: the shadow agrees on the first two, disagrees on every 4th row after."""
    times = pd.Timestamp("2026-03-01T00:00:00Z") + pd.to_timedelta(np.arange(n) * 30, unit="min")
    served = np.where(np.arange(n) % 3 == 0, "1", "0").astype(object)
    later = np.asarray(times >= pd.Timestamp("2026-03-03T00:00:00Z")) & (np.arange(n) % 4 == 0)
    shadow = np.where(later, np.where(served == "1", "0", "1"), served).astype(object)
    return pd.DataFrame({"time": times, "served_version": 1, "served": served, "shadow_version": 2,
                         "shadow": shadow, "error": None, "label": served},
                        index=pd.RangeIndex(1, n + 1, name="id"))  # fmt: skip


def test_the_latest_reports_shadow_section_is_a_panel_with_its_windows(client: TestClient, seeded: Seeded) -> None:
    frame = _pairs()
    finish: dict[str, Any] = {"n_boot": 0, "compare": {"metric": "accuracy", "method": "mcnemar"}}
    cut = window_cut(period="day")
    assert cut is not None
    per_day = ShadowWindows(cut, lambda: ShadowAccumulator("classification", classes=["0", "1"]), finish)
    per_day.add(frame)
    shadow = replace(compare_shadow([frame], "classification", classes=["0", "1"], **finish), windows=per_day.series())
    x = pd.DataFrame({"x": np.arange(50.0)})
    report = MonitorReport(drift=compare_data(x, x), model="churn/1", shadow=shadow)
    page = client.get("/models/churn/monitoring").text
    assert 'id="shadow-panel"' not in page  # no shadow section: no panel
    save_report(seeded.store, report, source_kind="log", source="log", window="day")
    page = html.unescape(client.get("/models/churn/monitoring").text)
    assert 'id="shadow-panel"' in page and "Shadow against served" in page
    expected = (frame["served"] == frame["shadow"]).mean()
    assert f"{100 * expected:.1f}%" in page and "192 / 192" in page
    table = re.search(r'<table class="sk-table shadow-windows".*?</table>', page, re.S)
    assert table is not None
    day = frame["time"].dt.floor("D")
    by_day = (frame["served"] == frame["shadow"]).groupby(day).mean()
    rows = re.findall(r'<th scope="row" title="[^"]*">([^<]+)</th><td>[^<]*</td><td class="num">(\d+)</td>'
                      r'<td class="num">([^<]+)</td>', table.group(0))  # fmt: skip
    assert rows == [
        (d.strftime("%Y-%m-%d"), "48", f"{100 * v:.1f}%") for d, v in zip(by_day.index, by_day, strict=True)
    ]
    assert "not shown better" in table.group(0) and "served accuracy" in table.group(0)
