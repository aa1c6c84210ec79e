"""PATCH /alerts/<id>: change the target or direction of a waiting alert."""

from decimal import Decimal

import pytest

from alerts.models import Alert
from feeds.models import Symbol

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("slash", ["", "/"])
def test_patch_changes_the_target_and_keeps_the_direction(alice_client, alice, make_alert, slash):
    alert = make_alert(alice, target_price="70000", direction="above")

    response = alice_client.patch(f"/alerts/{alert.id}{slash}", {"target_price": "71000.25"})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["target_price"], body["direction"], body["symbol_status"]) == (
        "71000.25000000",
        "above",
        "TRADING",
    )
    alert.refresh_from_db()
    assert (alert.target_price, alert.direction, alert.status) == (Decimal("71000.25"), "above", "created")


def test_patch_changes_the_direction(alice_client, alice, make_alert):
    alert = make_alert(alice, direction="above")
    assert alice_client.patch(f"/alerts/{alert.id}", {"direction": "below"}).json()["direction"] == "below"
    alert.refresh_from_db()
    assert alert.direction == "below"


def test_an_empty_patch_changes_nothing(alice_client, alice, make_alert):
    alert = make_alert(alice, target_price="70000")
    response = alice_client.patch(f"/alerts/{alert.id}", {"symbol": "ETHUSDT", "status": "triggered"})
    assert response.status_code == 200
    alert.refresh_from_db()
    assert (alert.symbol, alert.status, alert.target_price) == ("BTCUSDT", "created", Decimal("70000"))


@pytest.mark.parametrize("status", ["triggered", "deleted"])
def test_only_a_waiting_alert_can_be_changed_409(alice_client, alice, make_alert, status):
    alert = make_alert(alice, status=status, target_price="70000")

    response = alice_client.patch(f"/alerts/{alert.id}", {"target_price": "1"})

    assert response.status_code == 409
    assert response.json() == {"detail": f"Only a waiting alert can be changed; this one is {status}."}
    alert.refresh_from_db()
    assert (alert.status, alert.target_price) == (status, Decimal("70000"))


def test_an_alert_that_triggers_between_read_and_write_is_not_re_armed(alice, make_alert):
    # The engine fires the alert after the view loaded it: the conditional write must lose.
    from alerts.services import AlertNotEditable, alert_update

    alert = make_alert(alice, target_price="70000")
    Alert.objects.filter(pk=alert.pk).update(status="triggered", triggered_price=Decimal("70000"))

    with pytest.raises(AlertNotEditable):
        alert_update(alert=alert, target_price=Decimal("80000"))

    alert.refresh_from_db()
    assert (alert.status, alert.target_price) == ("triggered", Decimal("70000"))


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"target_price": "0"}, "target_price: Must be greater than 0."),
        ({"target_price": "1e-9"}, "target_price: Ensure that there are no more than 8 decimal places."),
        ({"target_price": "2000000"}, "target_price: Must be at most 1000000 for BTCUSDT."),
        ({"direction": "up"}, 'direction: Must be "above", "below" or "cross".'),
        ({"direction": None}, "direction: This field may not be null."),
    ],
)
def test_bad_values_are_400(alice_client, alice, make_alert, payload, message):
    alert = make_alert(alice, target_price="70000")
    response = alice_client.patch(f"/alerts/{alert.id}", payload)
    assert response.status_code == 400
    assert response.json()["detail"] == message
    alert.refresh_from_db()
    assert alert.target_price == Decimal("70000")


def test_a_new_target_needs_the_symbol_to_be_trading(alice_client, alice, make_alert):
    alert = make_alert(alice)
    Symbol.objects.filter(symbol="BTCUSDT").update(status="BREAK")
    response = alice_client.patch(f"/alerts/{alert.id}", {"target_price": "71000"})
    assert response.status_code == 400
    assert "not trading" in response.json()["detail"]


def test_another_users_alert_is_a_404(alice_client, bob, make_alert):
    alert = make_alert(bob, target_price="70000")
    response = alice_client.patch(f"/alerts/{alert.id}", {"target_price": "1"})
    assert response.status_code == 404
    alert.refresh_from_db()
    assert alert.target_price == Decimal("70000")


def test_put_is_not_allowed(alice_client, alice, make_alert):
    alert = make_alert(alice)
    response = alice_client.put(f"/alerts/{alert.id}", {"target_price": "1"})
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "PUT" not allowed.'}


def test_unauthenticated_is_401(anon_client, alice, make_alert):
    alert = make_alert(alice)
    assert anon_client.patch(f"/alerts/{alert.id}", {"direction": "below"}).status_code == 401
