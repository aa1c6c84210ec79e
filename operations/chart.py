"""A small per-minute line chart drawn as SVG on the server: no JavaScript, no chart library.

The admin's operations page shows firings and deliveries per minute over the
last hour with it. Colours and sizes are SVG attributes, not inline CSS or
script, so a strict Content-Security-Policy still shows it; each point carries
a <title> (the browser's own tooltip) with its minute and figure.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 720, 180
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 12, 24  # room for the axis labels


@dataclass(frozen=True, slots=True)
class Series:
    label: str  # "firings", "deliveries": also the tooltip's noun
    values: Sequence[int]
    colour: str  # an SVG colour, e.g. "#417690"


def _scale_top(peak: int) -> int:
    """The y axis' top: the peak rounded up to 1, 2 or 5 times a power of ten (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if peak <= step * factor:
                return step * factor
        step *= 10


def per_minute_chart(minutes: Sequence[datetime], series: Sequence[Series], *, summary: str) -> SafeString:
    """An <svg> with one line per series over ``minutes`` (each series one value per minute).

    ``summary`` is the chart's accessible name (what a screen reader says for it).
    """
    count = len(minutes)
    top = _scale_top(max((max(s.values, default=0) for s in series), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(index: int) -> float:
        return LEFT + (plot_w * index / (count - 1) if count > 1 else plot_w / 2)

    def y(value: int) -> float:
        return TOP + plot_h - plot_h * value / top

    parts = [
        format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" class="minute-chart" viewBox="0 0 {} {}" width="{}" '
            'height="{}" role="img" aria-label="{}"><title>{}</title>',
            WIDTH,
            HEIGHT,
            WIDTH,
            HEIGHT,
            summary,
            summary,
        ),
        # Axes and the gridline at the top value, with their labels.
        format_html(
            '<g stroke="#bbb" stroke-width="1"><line x1="{l}" y1="{b}" x2="{r}" y2="{b}"/>'
            '<line x1="{l}" y1="{t}" x2="{l}" y2="{b}"/>'
            '<line x1="{l}" y1="{t}" x2="{r}" y2="{t}" stroke-dasharray="3 3"/></g>',
            l=LEFT,
            r=WIDTH - RIGHT,
            t=TOP,
            b=TOP + plot_h,
        ),
        format_html(
            '<g font-size="11" fill="#666" font-family="sans-serif">'
            '<text x="{}" y="{}" text-anchor="end">{}</text>'
            '<text x="{}" y="{}" text-anchor="end">0</text>',
            LEFT - 4,
            TOP + 4,
            top,
            LEFT - 4,
            TOP + plot_h + 4,
        ),
    ]
    if count:
        ticks = sorted({0, count // 2, count - 1})
        # The first label starts at its minute, the last ends at its own: none is cut off.
        anchor = {0: "start", count - 1: "end"}
        parts.append(
            format_html_join(
                "",
                '<text x="{}" y="{}" text-anchor="{}">{}</text>',
                (
                    (f"{x(i):.1f}", HEIGHT - 6, anchor.get(i, "middle"), minutes[i].strftime("%H:%M"))
                    for i in ticks
                ),
            )
        )
    parts.append(mark_safe("</g>"))
    for line in series:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(line.values))
        parts.append(
            format_html(
                '<g class="series" data-series="{}"><polyline fill="none" stroke="{}" stroke-width="2" '
                'points="{}"/>',
                line.label,
                line.colour,
                points,
            )
        )
        parts.append(
            format_html_join(
                "",
                '<circle cx="{}" cy="{}" r="2.5" fill="{}"><title>{} UTC: {} {}</title></circle>',
                (
                    (f"{x(i):.1f}", f"{y(v):.1f}", line.colour, minutes[i].strftime("%H:%M"), v, line.label)
                    for i, v in enumerate(line.values)
                ),
            )
        )
        parts.append(mark_safe("</g>"))
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(parts))
