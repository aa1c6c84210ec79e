"""GET /prices/<SYMBOL>: latest price, event time and age, from the price store."""

import socket
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from feeds.store import write_price

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/prices/btcusdt", "/prices/BTCUSDT/"])
def test_latest_price_with_event_time_and_age(alice_client, path):
    event_ms = int(time.time() * 1000) - 2500
    write_price("BTCUSDT", Decimal("70000.50000000"), event_ms)

    response = alice_client.get(path)

    assert response.status_code == 200
    body = response.json()
    assert body["symbol"] == "BTCUSDT"
    assert body["price"] == "70000.50000000"
    assert datetime.fromisoformat(body["event_time"]) == datetime.fromtimestamp(event_ms / 1000, tz=UTC)
    assert 2.0 <= body["age_seconds"] < 60


def test_small_prices_are_exact(alice_client):
    write_price("SHIBUSDT", Decimal("0.00001234"), int(time.time() * 1000))
    assert alice_client.get("/prices/SHIBUSDT").json()["price"] == "0.00001234"


def test_no_price_yet_is_a_404(alice_client):
    response = alice_client.get("/prices/ETHUSDT")
    assert response.status_code == 404
    assert response.json() == {"detail": "No price is known for ETHUSDT yet."}


@pytest.mark.parametrize("path", ["/prices/BTC-USDT", "/prices/" + "B" * 33, "/prices/"])
def test_a_malformed_symbol_is_a_json_404(alice_client, path):
    response = alice_client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_unauthenticated_is_401(anon_client):
    assert anon_client.get("/prices/BTCUSDT").status_code == 401


def test_a_dead_price_store_is_a_503(alice_client, settings):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        settings.REDIS_URL = f"redis://127.0.0.1:{sock.getsockname()[1]}/11"
        response = alice_client.get("/prices/BTCUSDT")
    finally:
        sock.close()
    assert response.status_code == 503
    assert response.json() == {"detail": "The price store is unavailable right now; try again shortly."}
