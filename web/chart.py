"""The price chart of an alert's page: server-side SVG, no charting library, no script.

It draws the symbol's 1-minute candles of the last hours (feeds.history, the
feeder's per-symbol history in Redis) as a close line over a high/low band,
the target as a dashed line, a repeating alert's re-arm band (between the
target and the price it must move back past), and a dot per firing. Floats
are used for pixel positions only; every number shown is formatted from the
Decimal.

The SVG uses presentation attributes and CSS classes (app.css), never a
style attribute, so it renders under the Content-Security-Policy.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import redis
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from alerts.delivery.messages import format_price
from feeds.history import minute_candles

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 80, 12, 12, 28  # room for the price and time labels
MIN_SPAN = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Mark:
    """A firing on the chart: its price and time."""

    at: datetime
    price: Decimal


def _marks(alert, firings) -> list[Mark]:
    marks = [Mark(firing.at, firing.price) for firing in firings if firing.at and firing.price]
    latest = alert.triggered_at, alert.triggered_price
    if latest[0] and latest[1] and all(mark.at != latest[0] for mark in marks):
        marks.append(Mark(*latest))
    return marks


def _candles(symbol: str, since: datetime, until: datetime):
    try:
        return minute_candles(symbol, since, until)
    except redis.RedisError:
        return None


def price_chart(alert, firings, *, since: datetime, until: datetime) -> SafeString:
    """The chart of ``alert``'s symbol between since and until, as inline SVG (or a sentence why not)."""
    candles = _candles(alert.symbol, since, until)
    if candles is None:
        return mark_safe('<p class="muted">The price history is unavailable right now.</p>')
    if not candles:
        return mark_safe(
            f'<p class="muted">No price history for {escape(alert.symbol)} in this period yet: the feeder '
            "keeps it for the symbols that have waiting alerts.</p>"
        )
    # The axis starts at the first candle (a symbol followed for minutes is not a sliver at the
    # right edge of hours), showing at least MIN_SPAN.
    since = max(since, min(candles[0].start - timedelta(minutes=1), until - MIN_SPAN))
    marks = [mark for mark in _marks(alert, firings) if since <= mark.at <= until]
    band = _band(alert)
    # A window alert (a move, a volume spike) has no price target: its threshold moves with the
    # window's low or high (or is a volume), so the chart shows the price and the firings only.
    target = alert.target_price
    prices = [c.low for c in candles] + [c.high for c in candles] + ([target] if target is not None else [])
    prices += [mark.price for mark in marks] + ([band] if band is not None else [])
    low, high = float(min(prices)), float(max(prices))
    pad = (high - low) * 0.08 or high * 0.01 or 1.0
    low, high = low - pad, high + pad
    start, end = since.timestamp(), until.timestamp()

    def x(at: datetime) -> float:
        return LEFT + (at.timestamp() - start) / (end - start) * (WIDTH - LEFT - RIGHT)

    def y(price) -> float:
        return TOP + (high - float(price)) / (high - low) * (HEIGHT - TOP - BOTTOM)

    parts = [_axes(low, high, since, until, x, y)]
    ranges = " ".join(f"{x(c.start):.1f},{y(c.high):.1f}" for c in candles)
    ranges += " " + " ".join(f"{x(c.start):.1f},{y(c.low):.1f}" for c in reversed(candles))
    parts.append(f'<polygon class="chart-range" points="{ranges}"/>')
    # Each minute's high-low as a wick too: a lone candle is still seen.
    parts += [
        f'<line class="chart-wick" x1="{x(c.start):.1f}" x2="{x(c.start):.1f}" '
        f'y1="{y(c.high):.1f}" y2="{y(c.low) + 0.5:.1f}"/>'
        for c in candles
    ]
    closes = " ".join(f"{x(c.start):.1f},{y(c.close):.1f}" for c in candles)
    parts.append(f'<polyline class="chart-close" points="{closes}"/>')
    if band is not None:
        top, bottom = sorted((y(alert.target_price), y(band)))
        parts.append(
            f'<rect class="chart-band" x="{LEFT}" y="{top:.1f}" width="{WIDTH - LEFT - RIGHT}" '
            f'height="{max(bottom - top, 1):.1f}"><title>re-arm band: {format_price(band)}</title></rect>'
        )
    if target is not None:
        ty = f"{y(target):.1f}"
        parts.append(
            f'<line class="chart-target" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty}" y2="{ty}"/>'
            + _text(WIDTH - RIGHT - 4, float(ty) - 4, f"target {format_price(target)}", "end", "target")
        )
    for mark in marks:
        parts.append(
            f'<circle class="chart-firing" cx="{x(mark.at):.1f}" cy="{y(mark.price):.1f}" r="5">'
            f"<title>fired at {escape(format_price(mark.price))}, "
            f"{mark.at.strftime('%Y-%m-%d %H:%M:%S')} UTC</title></circle>"
        )
    lowest, highest = min(c.low for c in candles), max(c.high for c in candles)
    description = (
        f"{alert.symbol} from {since:%H:%M} to {until:%H:%M} UTC: between {format_price(lowest)} "
        f"and {format_price(highest)}, last {format_price(candles[-1].close)}; "
        + (f"target {format_price(target)}; " if target is not None else "")
        + f"{len(marks)} firing(s) marked."
    )
    return mark_safe(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart-title">Price of {escape(alert.symbol)}</title>'
        f'<desc id="chart-desc">{escape(description)}</desc>{"".join(parts)}</svg>'
    )


def _band(alert) -> Decimal | None:
    """A repeating alert's re-arm price (the band's far edge), None for a one-shot alert."""
    if alert.repeat != "every" or alert.rearm_price is None or alert.target_price is None:
        return None
    return alert.rearm_price


def _text(x: float, y: float, text: str, anchor: str, kind: str = "") -> str:
    classes = f"chart-label chart-{kind}-label" if kind else "chart-label"
    return f'<text class="{classes}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(text)}</text>'


def _axes(low, high, since, until, x, y) -> str:
    base = HEIGHT - BOTTOM
    parts = [
        f'<line class="chart-axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{base}"/>',
        f'<line class="chart-axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}"/>',
    ]
    for step in range(5):
        price = Decimal(repr(low + (high - low) * step / 4))
        places = max(0, 2 - int(f"{(high - low):e}".split("e")[1])) if high > low else 2
        text = format_price(round(price, min(places, 8)))
        parts.append(_text(LEFT - 6, y(price) + 4, text, "end"))
    span = until - since
    for step in range(5):
        at = since + span * step / 4
        anchor = "start" if step == 0 else "end" if step == 4 else "middle"
        parts.append(_text(x(at), HEIGHT - 8, f"{at:%H:%M}", anchor))
    return "".join(parts)
