"""End to end with real processes: trades made while the feeder could not see them still fire alerts.

A spike made while every connection is dropped fires after the reconnect, at the
spike's price and time; a crossing made while the feeder is SIGKILLed fires once
it is restarted. Both come from the fake's REST backfill (BINANCE_API_URL).
"""

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.conf import settings

from feeds import store
from feeds.refetch import WINDOW_MS
from tests.e2e.harness import Stack

from .test_alert_email import database_name

pytestmark = pytest.mark.e2e

ALERTS = [
    {"email": "alice@example.com", "symbol": "BTCUSDT", "direction": "above", "target_price": "70000"},
    {"email": "bob@example.com", "symbol": "SOLUSDT", "direction": "below", "target_price": "100"},
]


def triggered(stack: Stack, alert_id: int):
    rows = stack.database.query(
        f"SELECT status, triggered_price, triggered_at FROM alerts_alert WHERE id = {alert_id}"
    )
    return rows[0]


def test_trades_made_during_a_drop_or_a_feeder_restart_fire_at_their_price_and_time():
    with Stack(settings.REDIS_URL, ALERTS, db_name=f"{database_name()}_blind") as stack:
        btc_id, sol_id = stack.alert_ids
        stack.wait_ready(["btcusdt@aggTrade", "solusdt@aggTrade"])
        stack.binance.publish_trade("BTCUSDT", "69000")
        stack.binance.publish_trade("SOLUSDT", "150")

        # Every connection dropped; a spike while the feeder is away (and no trade after it).
        stack.binance.drop_all()
        spike_ms = int(time.time() * 1000)
        assert stack.binance.publish_trade("BTCUSDT", "70500", event_ms=spike_ms) == 0
        stack.wait_until(lambda: triggered(stack, btc_id)[0] == "triggered", 30, "the spike to fire")
        _, price, at = triggered(stack, btc_id)
        assert Decimal(str(price)) == Decimal("70500")
        at = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        assert abs(at.replace(tzinfo=at.tzinfo or UTC).timestamp() * 1000 - spike_ms) < 1

        # The feeder killed outright; a crossing while it is down; restarted, it backfills from Redis.
        stack.kill("feeder")
        crossed_ms = int(time.time() * 1000)
        stack.binance.publish_trade("SOLUSDT", "99.50", event_ms=crossed_ms)
        stack.respawn("feeder")
        stack.wait_until(
            lambda: triggered(stack, sol_id)[0] == "triggered", 60, "the missed crossing to fire"
        )
        assert Decimal(str(triggered(stack, sol_id)[1])) == Decimal("99.5")
        stack.mail.wait_for(2, timeout=30)
        assert stack.binance.rate_violations == []
        stack.check_alive()


def test_a_crossing_lost_from_the_stream_is_refetched_from_rest_and_fires_at_its_price_and_time():
    """Entries trimmed before the engine read them (Redis lost them): reported, then refetched and fired."""
    with Stack(settings.REDIS_URL, ALERTS[:1], db_name=f"{database_name()}_refetch") as stack:
        (btc_id,) = stack.alert_ids
        stack.wait_ready(["btcusdt@aggTrade"])
        redis = store.redis_client()
        stack.binance.publish_trade("BTCUSDT", "69000")
        stack.wait_until(lambda: checkpoint(stack) != "0", 30, "the engine to read the first window")

        # The engine away; a spike goes into the stream, then the stream loses everything unread.
        stack.kill("engine")
        spike_ms = int(time.time() * 1000)
        stack.binance.publish_trade("BTCUSDT", "70500", event_ms=spike_ms)
        stack.binance.publish_trade("BTCUSDT", "69000", event_ms=spike_ms + 1)
        stack.wait_until(lambda: spike_in_stream(redis), 30, "the spike to reach the stream")
        newest = redis.xrevrange(store.WINDOW_STREAM, count=1)[0][0]
        ms, seq = newest.split("-")
        redis.xtrim(store.WINDOW_STREAM, minid=f"{ms}-{int(seq) + 1}")
        assert not spike_in_stream(redis)
        stack.binance.publish_trade("BTCUSDT", "69100")
        stack.wait_until(lambda: redis.xlen(store.WINDOW_STREAM) > 0, 30, "a window after the loss")

        stack.respawn("engine")
        stack.wait_until(lambda: triggered(stack, btc_id)[0] == "triggered", 60, "the lost spike to fire")
        _, price, at = triggered(stack, btc_id)
        assert Decimal(str(price)) == Decimal("70500")
        at = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        # Refetched trades are grouped in windows of WINDOW_MS of event time, as fine as live flushes.
        at_ms = round(at.replace(tzinfo=at.tzinfo or UTC).timestamp() * 1000)
        assert spike_ms <= at_ms < spike_ms + WINDOW_MS
        losses = store.stream_losses(redis)
        assert "refetch from REST requested" in losses["default"], losses
        assert "refetched" in losses["default refetch"] and "1 symbols" in losses["default refetch"], losses
        stack.mail.wait_for(1, timeout=30)
        assert stack.binance.rate_violations == []
        stack.check_alive()


def checkpoint(stack: Stack) -> str:
    rows = stack.database.query("SELECT stream_id FROM alerts_evaluationcheckpoint WHERE name = 'default'")
    return rows[0][0] if rows else "0"


def spike_in_stream(redis) -> bool:
    entries = redis.xrange(store.WINDOW_STREAM)
    return any(
        Decimal(fields["BTCUSDT"].split(" ")[0]) == Decimal("70500")
        for _, fields in entries
        if "BTCUSDT" in fields
    )
