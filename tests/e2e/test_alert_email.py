"""End to end with real processes: a crossing trade becomes exactly one email, within 3 seconds.

fake Binance -> `manage.py runfeeder` -> Redis -> `celery beat` + `celery worker`
-> a real SMTP server (aiosmtpd) in this test. One stack for the whole story:
starting it is the slow part, and flushing Redis between tests would cut the
running processes off their queues.
"""

import time

import pytest
from django.conf import settings

from feeds import store
from tests.e2e.harness import Stack

pytestmark = pytest.mark.e2e

ALERTS = [
    {"email": "warmup@example.com", "symbol": "ETHUSDT", "direction": "above", "target_price": "2000"},
    {"email": "alice@example.com", "symbol": "BTCUSDT", "direction": "above", "target_price": "70000"},
    {"email": "bob@example.com", "symbol": "SOLUSDT", "direction": "below", "target_price": "100"},
]


def database_name() -> str:
    return f"{settings.DATABASES['default'].get('TEST', {}).get('NAME') or 'test_pricealert'}_e2e"


def test_a_crossing_trade_is_emailed_exactly_once_within_3_seconds():
    # The first retry after 0.5 s (not 10 s) so the refusal below is retried quickly.
    with Stack(
        settings.REDIS_URL, ALERTS, db_name=database_name(), extra_env={"ALERTS_NOTIFY_RETRY_SECONDS": "0.5"}
    ) as stack:
        warmup_id, btc_id, sol_id = stack.alert_ids
        stack.wait_ready(["ethusdt@aggTrade", "btcusdt@aggTrade", "solusdt@aggTrade"])

        # A first alert all the way through, so that nothing below is timed cold.
        stack.binance.publish_trade("ETHUSDT", "2000.50")
        stack.mail.wait_for(1, timeout=30)

        stack.binance.publish_trade("BTCUSDT", "69999.99")  # one tick short: no email
        crossed_at = time.time()
        stack.binance.publish_trade("BTCUSDT", "70000.01")
        try:
            received = stack.mail.wait_for(2, timeout=20)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{stack.logs()}") from exc
        email = received[1]
        assert email.rcpt_tos == ["alice@example.com"]
        assert email.subject == "BTCUSDT rose to 70,000.01 (your alert: above 70,000)"
        latency = email.at - crossed_at
        assert latency <= 3.0, f"the email took {latency:.2f} s\n{stack.logs()}"

        # The price stays above the target for several more ticks: still one email.
        stack.binance.publish_trade("BTCUSDT", "70100")
        stack.wait_until(
            lambda: (
                (latest := store.latest_price("BTCUSDT")) is not None
                and str(latest.price) == "70100.00000000"
            ),
            10,
            "the feeder to flush the 70100 trade",
        )
        flushed_id = store.redis_client().xrevrange(store.WINDOW_STREAM, count=1)[0][0]
        stack.wait_until(
            lambda: _stream_id(stack) >= _entry_key(flushed_id), 10, "the evaluator to read past that trade"
        )

        # An SMTP server that refuses once: the worker retries, one email arrives.
        stack.mail.refuse(times=1, reply="451 4.3.0 Try again later")
        stack.binance.publish_trade("SOLUSDT", "99.50")
        received = stack.mail.wait_for(3, timeout=30)
        assert received[2].rcpt_tos == ["bob@example.com"]
        assert stack.mail.refused == 1

        stack.wait_until(
            lambda: all(status == "sent" for _, status, _ in stack.notifications()),
            10,
            "every notification sent",
        )
        assert stack.notifications() == [(warmup_id, "sent", 1), (btc_id, "sent", 1), (sol_id, "sent", 2)]
        assert stack.alert_statuses() == {warmup_id: "triggered", btc_id: "triggered", sol_id: "triggered"}
        assert len(stack.mail.received) == 3
        stack.check_alive()


def _entry_key(stream_id: str) -> tuple[int, int]:
    ms, seq = stream_id.split("-")
    return int(ms), int(seq)


def _stream_id(stack: Stack) -> tuple[int, int]:
    rows = stack.database.query("SELECT stream_id FROM alerts_evaluationcheckpoint WHERE name = 'default'")
    return _entry_key(rows[0][0]) if rows and rows[0][0] != "0" else (0, 0)
