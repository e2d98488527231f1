"""Geometry of the on-time-rate bar chart, drawn by the template as inline SVG (no script, no external file)."""
from __future__ import annotations

from typing import Any

WIDTH = 640
HEIGHT = 220
MARGIN_LEFT = 44
MARGIN_BOTTOM = 28
MARGIN_TOP = 18
GRID = (0, 25, 50, 75, 100)


def bar_chart(rates: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars (one per report year) scaled into a WIDTH × HEIGHT box; a year with nothing due yet gets no bar."""
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    plot_width = WIDTH - MARGIN_LEFT - 8
    slot = plot_width / max(len(rates), 1)
    bar_width = max(min(slot * 0.6, 48), 4)
    bars = []
    for index, item in enumerate(rates):
        x = MARGIN_LEFT + index * slot + (slot - bar_width) / 2
        rate = item["rate"]
        height = plot_height * rate if rate is not None else 0
        bars.append({
            "year": item["year"], "x": round(x, 1), "width": round(bar_width, 1),
            "y": round(MARGIN_TOP + plot_height - height, 1), "height": round(height, 1),
            "label": f"{rate * 100:.0f}%" if rate is not None else "—",
            "title": (f"{item['year']} 年度：按时 {item['on_time']} / 已到期 {item['judged']}"
                      if rate is not None else f"{item['year']} 年度：尚无到期的判定"),
            "center": round(x + bar_width / 2, 1),
        })
    grid = [{"value": value, "y": round(MARGIN_TOP + plot_height * (1 - value / 100), 1)} for value in GRID]
    return {"width": WIDTH, "height": HEIGHT, "left": MARGIN_LEFT, "right": WIDTH - 8,
            "baseline": HEIGHT - MARGIN_BOTTOM, "bars": bars, "grid": grid}
