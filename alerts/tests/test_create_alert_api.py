"""POST /alerts/create and POST /alerts/: create an alert."""

import json
import time
from decimal import Decimal

import pytest

from alerts.models import Alert
from feeds.models import Symbol
from feeds.store import write_price

pytestmark = pytest.mark.django_db

CREATE_PATHS = ["/alerts/create", "/alerts/create/", "/alerts", "/alerts/"]


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.mark.parametrize("path", CREATE_PATHS)
def test_create_returns_201_with_the_alert(alice_client, alice, path):
    response = alice_client.post(
        path, {"symbol": "btcusdt", "target_price": "70000.5", "direction": "above"}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {
        "id",
        "symbol",
        "direction",
        "side",
        "target_price",
        "reference_price",
        "change_percent",
        "status",
        "repeat",
        "cooldown_seconds",
        "rearm_percent",
        "created_at",
        "armed_at",
        "triggered_at",
        "triggered_price",
        "last_triggered_at",
        "trigger_count",
        "expires_at",
        "note",
        "group",
        "snoozed_until",
        "symbol_status",
        "channels",
        "kind",
        "window",
        "move_percent",
        "move_direction",
        "volume_quote",
    }
    assert (body["symbol_status"], body["channels"]) == ("TRADING", [])
    assert body["kind"] == "price" and body["window"] is None
    assert body["symbol"] == "BTCUSDT"
    assert body["direction"] == "above"
    assert body["target_price"] == "70000.50000000"
    assert body["status"] == "created"
    assert body["triggered_at"] is None and body["triggered_price"] is None
    alert = Alert.objects.get(pk=body["id"])
    assert (alert.user, alert.symbol, alert.target_price) == (alice, "BTCUSDT", Decimal("70000.5"))


@pytest.mark.parametrize(
    "symbol, price", [("SHIBUSDT", "0.00001234"), ("PEPEUSDT", "0.00000001"), ("BTCUSDT", "999999.99")]
)
def test_eight_decimal_places_round_trip_exactly(alice_client, symbol, price):
    created = alice_client.post(
        "/alerts/create", {"symbol": symbol, "target_price": price, "direction": "below"}, format="json"
    )
    assert created.status_code == 201, created.json()
    fetched = alice_client.get(f"/alerts/{created.json()['id']}").json()
    assert Decimal(fetched["target_price"]) == Decimal(price)
    assert Alert.objects.get(pk=created.json()["id"]).target_price == Decimal(price)


def test_a_json_number_is_read_exactly_not_as_a_float(alice_client):
    # 0.1 + 0.2 style float noise would show up in the 8th decimal of this value.
    body = b'{"symbol": "ETHBTC", "target_price": 0.30000001, "direction": "above"}'
    response = alice_client.post("/alerts/create", body, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert response.json()["target_price"] == "0.30000001"
    body = b'{"symbol": "BTCUSDT", "target_price": 70000.5, "direction": "above"}'
    assert alice_client.post("/alerts", body, content_type="application/json").json()["target_price"] == (
        "70000.50000000"
    )


def test_trailing_zeros_past_eight_decimals_are_not_precision(alice_client):
    response = alice_client.post(
        "/alerts/create", {"symbol": "BTCUSDT", "target_price": "70000.5000000000", "direction": "above"}
    )
    assert response.status_code == 201, response.json()
    assert response.json()["target_price"] == "70000.50000000"


@pytest.mark.parametrize(
    "latest, target, expected",
    [("65000.00", "70000", "above"), ("75000.00", "70000", "below"), ("0.00001300", "0.00001234", "below")],
)
def test_direction_is_inferred_from_the_latest_price(alice_client, latest, target, expected):
    symbol = "BTCUSDT" if Decimal(latest) > 1 else "SHIBUSDT"
    write_price(symbol, Decimal(latest), now_ms())
    response = alice_client.post("/alerts/create", {"symbol": symbol.lower(), "target_price": target})
    assert response.status_code == 201, response.json()
    assert response.json()["direction"] == expected


def test_an_explicit_direction_wins_over_the_latest_price(alice_client):
    write_price("BTCUSDT", Decimal("65000"), now_ms())
    response = alice_client.post(
        "/alerts/create", {"symbol": "BTCUSDT", "target_price": "70000", "direction": "below"}
    )
    assert response.json()["direction"] == "below"


def test_without_direction_and_without_a_price_it_is_a_400_that_says_so(alice_client):
    response = alice_client.post("/alerts/create", {"symbol": "BTCUSDT", "target_price": "70000"})
    assert response.status_code == 400
    assert "No price is known for BTCUSDT yet" in response.json()["detail"]
    assert "direction" in response.json()["errors"]
    assert not Alert.objects.exists()


def test_without_direction_a_target_equal_to_the_price_is_ambiguous(alice_client):
    write_price("BTCUSDT", Decimal("70000.00"), now_ms())
    response = alice_client.post(
        "/alerts/create", {"symbol": "BTCUSDT", "target_price": "70000", "direction": None}, format="json"
    )
    assert response.status_code == 400
    assert "equals the current price" in response.json()["detail"]


def test_unknown_symbol_is_a_400(alice_client):
    response = alice_client.post(
        "/alerts/create", {"symbol": "NOPEUSDT", "target_price": "1", "direction": "above"}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "symbol: Unknown symbol NOPEUSDT: not a Binance spot symbol."


def test_a_symbol_that_is_not_trading_is_a_400(alice_client):
    Symbol.objects.filter(symbol="BTCUSDT").update(status="BREAK")
    response = alice_client.post(
        "/alerts/create", {"symbol": "BTCUSDT", "target_price": "70000", "direction": "above"}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "symbol: Symbol BTCUSDT is not trading on Binance right now (status BREAK)."
    )


@pytest.mark.parametrize(
    "symbol, target, message",
    [
        # BTCUSDT's PRICE_FILTER in the snapshot: 0.01 .. 1000000
        ("BTCUSDT", "0.001", "target_price: Must be at least 0.01 for BTCUSDT."),
        ("BTCUSDT", "1000000.01", "target_price: Must be at most 1000000 for BTCUSDT."),
        # PEPEUSDT: 0.00000001 .. 0.1
        ("PEPEUSDT", "0.2", "target_price: Must be at most 0.1 for PEPEUSDT."),
    ],
)
def test_the_target_must_be_within_the_symbols_price_filter(alice_client, symbol, target, message):
    response = alice_client.post(
        "/alerts/create", {"symbol": symbol, "target_price": target, "direction": "above"}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == message


def test_a_zero_bound_in_the_price_filter_means_unbounded(alice_client):
    Symbol.objects.filter(symbol="BTCUSDT").update(min_price=0, max_price=0)
    for target in ("0.00000001", "99999999999.99999999"):
        response = alice_client.post(
            "/alerts/create", {"symbol": "BTCUSDT", "target_price": target, "direction": "above"}
        )
        assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    "target, message",
    [
        ("0", "target_price: Must be greater than 0."),
        ("-1", "target_price: Must be greater than 0."),
        ("1e-9", "target_price: Ensure that there are no more than 8 decimal places."),
        ("0.000000001", "target_price: Ensure that there are no more than 8 decimal places."),
        ("1e400", "target_price: Ensure that there are no more than 20 digits in total."),
        (
            "1234567890123.5",
            "target_price: Ensure that there are no more than 12 digits before the decimal point.",
        ),
        ("NaN", 'target_price: A valid number is required, e.g. "70000.5".'),
        ("Infinity", 'target_price: A valid number is required, e.g. "70000.5".'),
        ("seventy", 'target_price: A valid number is required, e.g. "70000.5".'),
        ("", 'target_price: A valid number is required, e.g. "70000.5".'),
    ],
)
def test_bad_target_prices_are_400_with_a_clear_message(alice_client, target, message):
    response = alice_client.post(
        "/alerts/create", {"symbol": "BTCUSDT", "target_price": target, "direction": "above"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == message
    assert not Alert.objects.exists()


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"target_price": "1", "direction": "above"}, "symbol"),
        ({"symbol": "BTCUSDT", "direction": "above"}, "target_price"),
        ({"symbol": "BTCUSDT", "target_price": "1", "direction": "sideways"}, "direction"),
        ({"symbol": "BTC-USDT", "target_price": "1", "direction": "above"}, "symbol"),
        ({"symbol": "B" * 33, "target_price": "1", "direction": "above"}, "symbol"),
    ],
)
def test_missing_or_malformed_fields_are_400(alice_client, payload, field):
    response = alice_client.post("/alerts/create", payload, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_unknown_fields_are_ignored(alice_client, alice):
    response = alice_client.post(
        "/alerts/create",
        {
            "symbol": "BTCUSDT",
            "target_price": "70000",
            "direction": "above",
            "status": "triggered",
            "user": 999,
            "triggered_price": "1",
        },
        format="json",
    )
    assert response.status_code == 201
    alert = Alert.objects.get()
    assert (alert.status, alert.user, alert.triggered_price) == ("created", alice, None)


def test_unauthenticated_is_401(anon_client):
    response = anon_client.post(
        "/alerts/create", {"symbol": "BTCUSDT", "target_price": "1", "direction": "above"}, format="json"
    )
    assert response.status_code == 401
    assert not Alert.objects.exists()


def test_form_encoded_bodies_are_415(alice_client):
    response = alice_client.post(
        "/alerts/create", {"symbol": "BTCUSDT", "target_price": "1", "direction": "above"}, format="multipart"
    )
    assert response.status_code == 415
    assert "Unsupported media type" in response.json()["detail"]


def test_the_body_is_json_not_a_string_of_json(alice_client):
    payload = json.dumps(json.dumps({"symbol": "BTCUSDT", "target_price": "1"}))
    response = alice_client.post("/alerts/create", payload, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid data. Expected a dictionary, but got str."
