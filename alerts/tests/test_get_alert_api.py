"""GET /alerts/<id>: one of the caller's alerts, with its symbol's catalogue status."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from feeds.models import Symbol

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("slash", ["", "/"])
def test_get_returns_the_alert_with_symbol_status(alice_client, alice, make_alert, slash):
    alert = make_alert(alice, symbol="BTCUSDT", target_price="70000.5")

    response = alice_client.get(f"/alerts/{alert.id}{slash}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == alert.id
    assert body["target_price"] == "70000.50000000"
    assert body["symbol_status"] == "TRADING"


def test_a_triggered_alert_shows_when_and_at_what_price(alice_client, alice, make_alert):
    alert = make_alert(
        alice,
        status="triggered",
        triggered_at=datetime(2024, 9, 8, 12, 0, 1, tzinfo=UTC),
        triggered_price=Decimal("70001.23"),
    )
    body = alice_client.get(f"/alerts/{alert.id}").json()
    assert (body["status"], body["triggered_at"], body["triggered_price"]) == (
        "triggered",
        "2024-09-08T12:00:01Z",
        "70001.23000000",
    )


def test_symbol_status_follows_the_catalogue(alice_client, alice, make_alert):
    halted = make_alert(alice, symbol="ETHUSDT", target_price="3000")
    delisted = make_alert(alice, symbol="OLDCOINUSDT", target_price="1")
    Symbol.objects.filter(symbol="ETHUSDT").update(status="HALT")

    assert alice_client.get(f"/alerts/{halted.id}").json()["symbol_status"] == "HALT"
    assert alice_client.get(f"/alerts/{delisted.id}").json()["symbol_status"] == "UNKNOWN"


def test_a_deleted_alert_is_still_readable(alice_client, alice, make_alert):
    alert = make_alert(alice, status="deleted")
    assert alice_client.get(f"/alerts/{alert.id}").json()["status"] == "deleted"


def test_another_users_alert_is_a_404(alice_client, bob, make_alert):
    alert = make_alert(bob)
    response = alice_client.get(f"/alerts/{alert.id}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Alert not found."}


@pytest.mark.parametrize("alert_id", ["0", "999999", "9223372036854775808", "9999999999999999999"])
def test_ids_that_do_not_exist_are_a_404_even_past_bigint(alice_client, alert_id):
    response = alice_client.get(f"/alerts/{alert_id}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Alert not found."}


@pytest.mark.parametrize("path", ["/alerts/abc", "/alerts/-1", "/alerts/99999999999999999999", "/alerts/1/x"])
def test_paths_that_are_not_an_id_are_a_json_404(alice_client, path):
    response = alice_client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_unauthenticated_is_401(anon_client, alice, make_alert):
    alert = make_alert(alice)
    assert anon_client.get(f"/alerts/{alert.id}").status_code == 401
