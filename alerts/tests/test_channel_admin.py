"""The admin shows channels, repeating and expiring alerts, and notifications per channel."""

from decimal import Decimal

import pytest

from alerts.models import Alert, Channel, Notification

pytestmark = pytest.mark.django_db


def test_channels_are_listed_with_why_delivery_disabled_them(admin_client, alice):
    Channel.objects.create(
        user=alice,
        kind="webhook",
        url="http://x.test/",
        secret="s",
        enabled=False,
        disabled_reason="HTTP 410 Gone",
    )
    content = admin_client.get("/admin/alerts/channel/").content.decode()
    for text in ("alice@example.com", "webhook", "email", "HTTP 410 Gone"):
        assert text in content


def test_a_repeating_alert_page_shows_its_repeat_state_and_notifications(admin_client, alice):
    alert = Alert.objects.create(
        user=alice,
        symbol="BTCUSDT",
        direction="above",
        target_price=Decimal("70000"),
        repeat="every",
        cooldown_seconds=120,
        status="rearming",
        trigger_count=3,
        note="a note",
    )
    Notification.objects.create(alert=alert, to="alice@example.com", status="suppressed", firing=3)
    page = admin_client.get(f"/admin/alerts/alert/{alert.pk}/change/").content.decode()
    for text in ("fired, re-arming", "120", "a note", "suppressed", "Armed at"):
        assert text in page
    listed = admin_client.get("/admin/alerts/alert/", {"status__exact": "rearming"}).content.decode()
    assert "BTCUSDT" in listed


def test_saving_a_changed_target_in_the_admin_re_arms_it_from_now(admin_client, alice):
    alert = Alert.objects.create(
        user=alice, symbol="BTCUSDT", direction="above", target_price=Decimal("70000")
    )
    Alert.objects.filter(pk=alert.pk).update(armed_at=alert.created_at.replace(year=2020))
    response = admin_client.post(
        f"/admin/alerts/alert/{alert.pk}/change/",
        {
            "user": alice.pk,
            "symbol": "BTCUSDT",
            "direction": "above",
            "target_price": "71000",
            "status": "created",
            "repeat": "once",
            "rearm_percent": "0.1",
            "note": "",
            "notifications-TOTAL_FORMS": "0",
            "notifications-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    alert.refresh_from_db()
    assert alert.armed_at.year != 2020
    assert alert.rearm_price == Decimal("70929")
