"""The alert admin: list by user email, filters, search, re-arm and soft-delete actions."""

from decimal import Decimal

import pytest

from alerts.models import Alert

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/alerts/alert/"


def test_the_list_shows_user_email_symbol_direction_target_and_status(admin_client, alice, make_alert):
    make_alert(alice, symbol="BTCUSDT", target_price="70000.5", direction="above")
    content = admin_client.get(CHANGELIST).content.decode()
    for text in ("alice@example.com", "BTCUSDT", "above", "70000.50000000", "created (waiting)"):
        assert text in content


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"status__exact": "triggered"}, {"ETHUSDT"}),
        ({"direction__exact": "below"}, {"ETHUSDT"}),
        ({"symbol": "BTCUSDT"}, {"BTCUSDT"}),
        ({"q": "bob@example"}, {"XRPUSDT"}),
        ({"q": "ethusdt"}, {"ETHUSDT"}),
    ],
)
def test_filters_and_search(admin_client, alice, bob, make_alert, params, expected):
    make_alert(alice, symbol="BTCUSDT")
    make_alert(alice, symbol="ETHUSDT", direction="below", status="triggered", target_price="3000")
    make_alert(bob, symbol="XRPUSDT", target_price="1")
    response = admin_client.get(CHANGELIST, params)
    assert response.status_code == 200
    shown = {alert.symbol for alert in response.context["cl"].result_list}
    assert shown == expected


def test_rearm_puts_triggered_and_deleted_alerts_back_to_waiting(
    admin_client, alice, alice_client, make_alert, django_capture_on_commit_callbacks
):
    fired = make_alert(alice, status="triggered", triggered_price=Decimal("70001"))
    gone = make_alert(alice, status="deleted")
    assert alice_client.get("/alerts/", {"status": "created"}).json()["count"] == 0

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST, {"action": "rearm", "_selected_action": [fired.pk, gone.pk]}, follow=True
        )

    assert "2 alert(s) re-armed." in response.content.decode()
    for alert in (fired, gone):
        alert.refresh_from_db()
        assert (alert.status, alert.triggered_at, alert.triggered_price) == ("created", None, None)
    # The owner's cached list saw the change.
    assert alice_client.get("/alerts/", {"status": "created"}).json()["count"] == 2


def test_soft_delete_action(
    admin_client, alice, alice_client, make_alert, django_capture_on_commit_callbacks
):
    alert = make_alert(alice)
    assert alice_client.get("/alerts/").json()["count"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST, {"action": "soft_delete", "_selected_action": [alert.pk]}, follow=True
        )

    assert "1 alert(s) deleted." in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == "deleted"
    assert alice_client.get("/alerts/").json()["count"] == 0


def test_saving_an_alert_in_the_admin_upper_cases_the_symbol(admin_client, alice):
    response = admin_client.post(
        "/admin/alerts/alert/add/",
        {
            "user": alice.pk,
            "symbol": "ethusdt",
            "direction": "above",
            "target_price": "3000",
            "status": "created",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Alert.objects.get().symbol == "ETHUSDT"


def test_change_page_renders(admin_client, alice, make_alert):
    alert = make_alert(alice)
    assert admin_client.get(f"/admin/alerts/alert/{alert.pk}/change/").status_code == 200
