"""POST /alerts/<id>/snooze: firings while snoozed are recorded and visible, never delivered."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts import engine
from alerts.delivery import send
from alerts.models import Alert, Notification
from feeds.store import ms_to_datetime
from feeds.windows import PriceWindow

pytestmark = pytest.mark.django_db


def now_ms() -> int:
    return int(timezone.now().timestamp() * 1000)


def waiting(user, **extra) -> Alert:
    return Alert.objects.create(
        user=user,
        symbol="BTCUSDT",
        direction="above",
        target_price=Decimal("70000"),
        armed_at=ms_to_datetime(now_ms() - 60_000),
        **extra,
    )


def fire(price="70010", at=None):
    at = at or now_ms()
    return engine.evaluate_windows(
        [PriceWindow("BTCUSDT", Decimal(price), Decimal(price), Decimal(price), at, at)]
    )


def later(**delta) -> str:
    return (timezone.now() + timedelta(**delta)).isoformat()


def test_a_snoozed_alert_fires_and_records_it_but_sends_nothing(alice, alice_client, mail):
    alert = waiting(alice)
    response = alice_client.post(f"/alerts/{alert.pk}/snooze", {"until": later(hours=1)}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["snoozed_until"] is not None

    assert fire() == 1
    rows = Notification.objects.filter(alert=alert)
    assert list(rows.values_list("status", flat=True)) == ["snoozed"]
    assert send.deliver(rows.get().pk, 0).outcome == "skipped"  # not pending: never sent
    assert mail.received == []

    body = alice_client.get(f"/alerts/{alert.pk}").json()
    assert (body["status"], body["trigger_count"]) == ("triggered", 1)
    snoozed = rows.get()
    assert (snoozed.firing, snoozed.triggered_price) == (1, Decimal("70010"))


def test_after_the_snooze_ends_firings_are_delivered_again(alice, alice_client, mail):
    alert = waiting(
        alice, repeat="every", cooldown_seconds=60, rearm_percent=Decimal("0"), rearm_price=Decimal("70000")
    )
    alice_client.post(f"/alerts/{alert.pk}/snooze", {"until": later(hours=1)}, format="json")
    fire()
    assert Notification.objects.get().status == "snoozed"
    response = alice_client.post(f"/alerts/{alert.pk}/snooze", {"until": None}, format="json")
    assert response.json()["snoozed_until"] is None
    # Back below the target after the cooldown, then above again: a second firing, delivered.
    fire("69000", at=now_ms() + 61_000)
    fire("70020", at=now_ms() + 62_000)
    second = Notification.objects.get(firing=2)
    assert second.status == "pending"
    assert send.deliver(second.pk, 0).outcome == "sent"
    [email] = mail.wait_for(1)
    assert "70,020" in email.subject
    assert Notification.objects.get(firing=1).status == "snoozed"  # the snoozed one is never sent late


def test_a_snooze_does_not_count_toward_the_hourly_cap(alice, alice_client, settings):
    settings.ALERTS_MAX_NOTIFICATIONS_PER_HOUR = 1
    snoozed, loud = waiting(alice), waiting(alice)
    alice_client.post(f"/alerts/{snoozed.pk}/snooze", {"until": later(hours=1)}, format="json")
    fire()
    assert Notification.objects.get(alert=snoozed).status == "snoozed"
    assert Notification.objects.get(alert=loud).status == "pending"


@pytest.mark.parametrize(
    "body",
    [{}, {"until": "yesterday"}, {"until": "2020-01-01T00:00:00Z"}, {"until": "2099-01-01T00:00:00Z"}],
)
def test_a_bad_until_is_a_400(alice, alice_client, body):
    alert = waiting(alice)
    response = alice_client.post(f"/alerts/{alert.pk}/snooze", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"until"}


def test_a_finished_alert_cannot_be_snoozed(alice, alice_client):
    alert = waiting(alice, status="triggered")
    response = alice_client.post(f"/alerts/{alert.pk}/snooze", {"until": later(hours=1)}, format="json")
    assert response.status_code == 409


def test_someone_elses_alert_is_a_404_and_stays_unsnoozed(alice, bob_client):
    alert = waiting(alice)
    response = bob_client.post(f"/alerts/{alert.pk}/snooze", {"until": later(hours=1)}, format="json")
    assert response.status_code == 404
    alert.refresh_from_db()
    assert alert.snoozed_until is None
