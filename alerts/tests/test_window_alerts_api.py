"""The window kinds through the API (issue 18): create, validation (clear 400s), list, detail, update."""

import pytest

from alerts.models import Alert

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/alerts/create", "/alerts/"])
def test_a_move_within_a_window_is_created(alice_client, alice, path):
    body = {"symbol": "btcusdt", "move_percent": "5", "window": "1h", "direction": "up"}
    response = alice_client.post(path, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["kind"], data["window"], data["move_percent"], data["move_direction"]) == (
        "move",
        "1h",
        "5.0000",
        "up",
    )
    assert data["direction"] == "up" and data["target_price"] is None and data["volume_quote"] is None
    alert = Alert.objects.get(pk=data["id"])
    assert (alert.user, alert.kind, alert.window_seconds, alert.target_price) == (alice, "move", 3600, None)


def test_a_volume_spike_is_created_and_listed(alice_client):
    body = {
        "symbol": "SOLUSDT",
        "volume_quote": 25000000,
        "window": "5m",
        "repeat": "every",
        "cooldown_seconds": 300,
    }
    response = alice_client.post("/alerts/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["kind"], data["window"], data["volume_quote"], data["direction"]) == (
        "volume",
        "5m",
        "25000000.00000000",
        None,
    )
    listed = alice_client.get("/alerts/").json()["results"]
    assert [(a["kind"], a["window"], a["volume_quote"]) for a in listed] == [
        ("volume", "5m", "25000000.00000000")
    ]
    detail = alice_client.get(f"/alerts/{data['id']}").json()
    assert detail["window"] == "5m" and detail["repeat"] == "every"


@pytest.mark.parametrize(
    "body, field, message",
    [
        (
            {"move_percent": "5", "window": "2h", "direction": "up"},
            "window",
            "Must be one of 1m, 5m, 15m, 1h, 4h, 24h.",
        ),
        (
            {"move_percent": "5", "window": "1h", "direction": "above"},
            "direction",
            'Must be "up", "down" or "either".',
        ),
        ({"move_percent": "5", "window": "1h"}, "direction", "This field is required."),
        ({"move_percent": "0", "window": "1h", "direction": "up"}, "move_percent", None),
        ({"move_percent": "-3", "window": "1h", "direction": "up"}, "move_percent", None),
        ({"move_percent": "abc", "window": "1h", "direction": "up"}, "move_percent", None),
        ({"move_percent": "5.12345", "window": "1h", "direction": "up"}, "move_percent", None),
        ({"volume_quote": "0", "window": "5m"}, "volume_quote", None),
        ({"volume_quote": "-5", "window": "5m"}, "volume_quote", None),
        ({"volume_quote": "1.123456789", "window": "5m"}, "volume_quote", None),
        ({"volume_quote": "100"}, "window", "This field is required."),
        ({"volume_quote": "100", "window": "5m", "repeat": "every"}, "cooldown_seconds", None),
    ],
)
def test_bad_window_alerts_are_a_clear_400(alice_client, body, field, message):
    response = alice_client.post("/alerts/", {"symbol": "BTCUSDT", **body}, format="json")
    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert field in errors, errors
    if message:
        assert errors[field] == [message]
    assert not Alert.objects.exists()


def test_an_unknown_symbol_is_a_400_for_window_kinds_too(alice_client):
    body = {"symbol": "NOPEUSDT", "move_percent": "5", "window": "1h", "direction": "up"}
    response = alice_client.post("/alerts/", body, format="json")
    assert response.status_code == 400 and "symbol" in response.json()["errors"]


def test_a_window_alert_cannot_get_a_price_target_but_its_note_and_expiry_change(alice_client):
    created = alice_client.post(
        "/alerts/",
        {"symbol": "BTCUSDT", "move_percent": "5", "window": "15m", "direction": "either"},
        format="json",
    ).json()
    refused = alice_client.patch(f"/alerts/{created['id']}", {"target_price": "70000"}, format="json")
    assert refused.status_code == 400 and "target_price" in refused.json()["errors"]
    changed = alice_client.patch(f"/alerts/{created['id']}", {"note": "BTC is moving"}, format="json")
    assert changed.status_code == 200 and changed.json()["note"] == "BTC is moving"


def test_another_users_window_alert_is_404(alice_client, bob_client):
    created = alice_client.post(
        "/alerts/", {"symbol": "BTCUSDT", "volume_quote": "1000", "window": "1m"}, format="json"
    ).json()
    assert bob_client.get(f"/alerts/{created['id']}").status_code == 404
    assert bob_client.delete(f"/alerts/{created['id']}").status_code == 404


def test_the_admin_shows_a_window_alert_read_only_where_it_has_no_price(admin_client, alice):
    alert = Alert.objects.create(
        user=alice,
        symbol="BTCUSDT",
        direction="above",
        kind="move",
        window_seconds=3600,
        move_percent="5",
        move_direction="up",
    )
    page = admin_client.get(f"/admin/alerts/alert/{alert.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="target_price"' not in body and 'name="note"' in body
    assert admin_client.get("/admin/alerts/alert/?kind__exact=move").status_code == 200
    refused = admin_client.post(
        "/admin/alerts/alert/add/", {"user": alice.pk, "symbol": "BTCUSDT", "direction": "above"}
    )
    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
