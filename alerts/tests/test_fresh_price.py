"""Percent alerts and inferred directions use a fresh price: the feeder's if recent, else Binance REST's."""

import time
from decimal import Decimal

import pytest

from alerts.models import Alert
from devtools.fakebinance import FakeBinance
from feeds.store import write_price

pytestmark = pytest.mark.django_db

DAYS_AGO_MS = int(time.time() * 1000) - 3 * 86_400_000


@pytest.fixture
def binance(settings):
    with FakeBinance(ping_interval=5.0, pong_timeout=5.0) as server:
        settings.BINANCE_API_URL = server.api_url
        yield server


def create(client, **body):
    return client.post("/alerts/", {"symbol": "ETHUSDT", **body}, format="json")


def test_a_percent_alert_on_a_stale_price_uses_the_rest_ticker_price(alice_client, binance):
    write_price("ETHUSDT", Decimal("1000"), DAYS_AGO_MS)  # the feeder followed it days ago
    binance.publish_trade("ETHUSDT", "3000")  # nobody follows it: only REST sees the trade
    response = create(alice_client, change_percent="10")
    assert response.status_code == 201, response.json()
    alert = Alert.objects.get()
    assert (alert.reference_price, alert.target_price) == (Decimal("3000"), Decimal("3300"))
    assert [r for r in binance.rest_requests() if "ticker/price" in str(r)]


def test_an_inferred_direction_on_a_stale_price_uses_the_rest_ticker_price(alice_client, binance):
    write_price("ETHUSDT", Decimal("1000"), DAYS_AGO_MS)
    binance.publish_trade("ETHUSDT", "3000")
    response = create(alice_client, target_price="2000")  # above the stale 1000, below the current 3000
    assert response.status_code == 201, response.json()
    assert Alert.objects.get().direction == "below"


def test_a_fresh_price_is_used_without_asking_rest(alice_client, binance):
    write_price("ETHUSDT", Decimal("1000"), int(time.time() * 1000))
    binance.publish_trade("ETHUSDT", "3000")
    assert create(alice_client, change_percent="10").status_code == 201
    assert Alert.objects.get().reference_price == Decimal("1000")
    assert not binance.rest_requests()


def test_a_stale_price_with_rest_unreachable_is_a_400_saying_why(alice_client, settings, closed_port):
    settings.BINANCE_API_URL = f"http://127.0.0.1:{closed_port}"
    write_price("ETHUSDT", Decimal("1000"), DAYS_AGO_MS)
    response = create(alice_client, change_percent="10")
    assert response.status_code == 400
    message = str(response.json())
    assert "The latest price of ETHUSDT is" in message and "s old" in message
    assert "Binance's REST API did not give the current one" in message
    assert not Alert.objects.exists()


def test_a_rest_refusal_is_a_400_with_the_wait(alice_client, binance):
    write_price("ETHUSDT", Decimal("1000"), DAYS_AGO_MS)
    binance.publish_trade("ETHUSDT", "3000")
    binance.queue_rest_failure(429, retry_after=30)
    response = create(alice_client, target_price="2000")
    assert response.status_code == 400
    assert "Binance asks to wait" in str(response.json())
