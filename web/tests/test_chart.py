"""The alert page's chart: server-side SVG from the feeder's minute candles (feeds.history), real Redis."""

import re
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.notifications import Firing
from feeds.history import record_trades
from web.chart import HEIGHT, price_chart

pytestmark = pytest.mark.django_db


def trades_over_the_last_hour(symbol: str, prices: list[str]) -> None:
    now_ms = int(time.time() * 1000)
    step = 3_600_000 // len(prices)
    record_trades(
        symbol,
        [(Decimal(p), Decimal("0.5"), now_ms - 3_600_000 + i * step) for i, p in enumerate(prices)],
    )


def window():
    until = timezone.now()
    return {"since": until - timedelta(hours=2), "until": until}


def test_candles_target_band_and_firings_are_drawn(alice, make_alert):
    trades_over_the_last_hour("BTCUSDT", ["69000", "69500", "70100", "69800", "69900", "70200"])
    alert = make_alert(
        alice, target_price="70000", repeat="every", cooldown_seconds=60, rearm_price=Decimal("69650")
    )
    fired_at = timezone.now() - timedelta(minutes=20)
    svg = price_chart(alert, [Firing(1, Decimal("70100"), fired_at, [])], **window())
    assert svg.startswith('<svg class="chart"') and 'role="img"' in svg
    closes = re.search(r'<polyline class="chart-close" points="([^"]+)"', svg).group(1).split()
    assert len(closes) == 6  # one point per minute candle
    assert 'class="chart-range"' in svg
    assert re.search(r'<line class="chart-target"[^>]*/><text[^>]*>target 70,000</text>', svg)
    assert 'class="chart-band"' in svg and "re-arm band: 69,650" in svg
    (firing,) = re.findall(r'<circle class="chart-firing" cx="([\d.]+)" cy="([\d.]+)"', svg)
    assert 0 < float(firing[1]) < HEIGHT
    assert "between 69,000 and 70,200, last 70,200; target 70,000; 1 firing(s) marked." in svg


def test_higher_prices_are_drawn_higher(alice, make_alert):
    trades_over_the_last_hour("ETHUSDT", ["3000", "3300"])
    svg = price_chart(make_alert(alice, symbol="ETHUSDT", target_price="3100"), [], **window())
    first, last = (
        float(p.split(",")[1]) for p in re.search(r'chart-close" points="([^"]+)"', svg).group(1).split()
    )
    assert last < first  # SVG y grows downwards
    assert 'class="chart-band"' not in svg  # a one-shot alert has no re-arm band


def test_no_history_says_so(alice, make_alert):
    svg = price_chart(make_alert(alice, symbol="SOLUSDT"), [], **window())
    assert "No price history for SOLUSDT in this period yet" in svg and "<svg" not in svg


def test_the_alert_page_carries_the_chart(alice, alice_web, make_alert):
    trades_over_the_last_hour("BTCUSDT", ["69000", "69500"])
    page = alice_web.get(f"/app/alerts/{make_alert(alice).pk}").content.decode()
    assert '<svg class="chart"' in page and "up to the last 6 hours" in page


def test_a_symbol_followed_for_minutes_fills_the_width(alice, make_alert):
    """The axis starts at the first candle (15 minutes at least), not hours before it."""
    record_trades("BTCUSDT", [(Decimal("69000"), Decimal("1"), int(time.time() * 1000) - 30_000)])
    svg = price_chart(make_alert(alice), [], **window())
    (wick,) = re.findall(r'<line class="chart-wick" x1="([\d.]+)"', svg)
    assert 0.8 < float(wick) / 720 < 1  # near the right edge of a 15-minute axis, visible
    labels = re.findall(r'text-anchor="(?:start|middle|end)">(\d\d:\d\d)</text>', svg)
    assert len(labels) == 5


def test_a_window_alert_is_drawn_as_the_price_and_its_firings_without_a_target(alice):
    from alerts.models import Alert

    trades_over_the_last_hour("ETHUSDT", ["3000", "3010", "3150", "3160"])
    alert = Alert.objects.create(
        user=alice,
        symbol="ETHUSDT",
        kind="move",
        direction="above",
        window_seconds=3600,
        move_percent=Decimal("5"),
        move_direction="up",
        repeat="every",
        cooldown_seconds=60,
    )
    fired_at = timezone.now() - timedelta(minutes=10)
    svg = price_chart(alert, [Firing(1, Decimal("3150"), fired_at, [])], **window())
    assert 'class="chart-close"' in svg and svg.count('class="chart-firing"') == 1
    assert "chart-target" not in svg and "chart-band" not in svg and "target" not in svg
