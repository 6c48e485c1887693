"""Charts drawn on the server as SVG geometry for the templates to draw: no script runs on
the dashboard's pages (their Content-Security-Policy forbids it). Labels are written in the
current locale (the page's)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.dashboard.rendering import day_label
from bot.i18n import _

WIDTH = 560
HEIGHT = 180
_LABELS = 24  # room under the bars for the day's name
_TOP = 18  # room over the tallest bar for its number


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    label: str
    value: int


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    title: str


def mints_chart(per_day: list[tuple[date, int]]) -> BarChart:
    """One bar per day, its height in proportion to the day's mints (the busiest day full)."""
    slot = WIDTH // max(len(per_day), 1)
    tallest = max((count for _, count in per_day), default=0) or 1
    room = HEIGHT - _LABELS - _TOP
    bars = []
    for n, (day, count) in enumerate(per_day):
        height = round(room * count / tallest)
        bars.append(
            Bar(
                x=n * slot + slot // 8,
                y=_TOP + room - height,
                width=slot * 3 // 4,
                height=height,
                label=day_label(day),
                value=count,
            )
        )
    total = sum(count for _, count in per_day)
    title = _("Mints per day over the last week: {total}").format(total=total)
    return BarChart(WIDTH, HEIGHT, tuple(bars), title)
