"""Deliveries in quiet hours: held, then sent once as one digest per channel; real SMTP and real HTTP.

The quiet hours here are set around the real clock (an hour either side of
now, in UTC) so that the send attempts, which read the clock, fall in them;
releases are asked for at chosen moments. The DST case drives the hold with a
chosen "now" through the same functions the attempt uses.
"""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts import engine
from alerts.delivery import claims, digests, holds, outbox, send
from alerts.delivery.kinds.webhook import sign
from alerts.models import Alert, Channel, Notification
from feeds.store import ms_to_datetime
from feeds.windows import PriceWindow
from tests.support.http import HookServer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_local_delivery")]


def now_ms() -> int:
    return int(timezone.now().timestamp() * 1000)


def around_now(minutes: int = 60) -> str:
    """A UTC window from ``minutes`` ago to ``minutes`` ahead."""
    now = timezone.now().astimezone(UTC)
    start, end = now - timedelta(minutes=minutes), now + timedelta(minutes=minutes)
    return f"{start:%H:%M}-{end:%H:%M}"


def quiet(user, window: str, zone: str = "UTC"):
    user.time_zone, user.quiet_hours = zone, window
    user.save(update_fields=["time_zone", "quiet_hours"])


def make_alerts(user, count=3, note=""):
    armed = ms_to_datetime(now_ms() - 60_000)
    return [
        Alert.objects.create(
            user=user,
            symbol="BTCUSDT",
            direction="above",
            target_price=Decimal("70000") + index,
            armed_at=armed,
            note=note,
        )
        for index in range(count)
    ]


def fire(price="70010"):
    at = now_ms()
    return engine.evaluate_windows(
        [PriceWindow("BTCUSDT", Decimal(price), Decimal(price), Decimal(price), at, at)]
    )


def attempt_all() -> list[str]:
    ids = list(Notification.objects.filter(status="pending").order_by("id").values_list("id", flat=True))
    return [send.deliver(i, 0).outcome for i in ids]


def statuses() -> list[str]:
    return sorted(Notification.objects.values_list("status", flat=True))


def webhook(user, url, **extra):
    return Channel.objects.create(user=user, kind="webhook", url=url, secret="k" * 64, name="hook", **extra)


def test_firings_in_quiet_hours_are_held_and_sent_as_one_digest_per_channel_exactly_once(alice, mail):
    quiet(alice, around_now())
    with HookServer() as server:
        webhook(alice, server.url + "/in")
        make_alerts(alice, 3, note='say "hi"')
        assert fire() == 3
        assert attempt_all() == ["held"] * 6
        assert mail.received == [] and server.received == []
        held = Notification.objects.filter(status="held")
        assert held.count() == 6
        (end,) = set(held.values_list("held_until", flat=True))
        assert timezone.now() < end <= timezone.now() + timedelta(minutes=61)
        assert set(held.values_list("attempts", flat=True)) == {0}  # a hold spends no attempt

        assert digests.release_held(now=end - timedelta(seconds=1)) == []
        carriers = digests.release_held(now=end)
        assert len(carriers) == 2
        assert digests.release_held(now=end) == []  # released once

        for carrier in carriers:
            assert send.deliver(carrier, 0).outcome == "sent"
            assert send.deliver(carrier, 0).outcome == "skipped"  # a redelivered message: nothing twice
            assert send.deliver(carrier, None).outcome == "skipped"

        [email] = mail.wait_for(1)
        assert email.subject == "pricealert: 3 alerts fired during your quiet hours"
        text = email.part("text/plain")
        assert text.count("BTCUSDT rose to 70,010") == 3
        assert 'Note: say "hi"' in text
        [request] = server.received
    timestamp = request.headers["X-Pricealert-Timestamp"]
    assert request.headers["X-Pricealert-Signature"] == sign("k" * 64, timestamp, request.body)
    body = json.loads(request.body)
    assert (body["event"], body["count"]) == ("alert.digest", 3)
    assert [n["alert"]["target_price"] for n in body["notifications"]] == [
        "70000.00000000",
        "70001.00000000",
        "70002.00000000",
    ]
    assert statuses() == ["sent"] * 6
    assert len(mail.received) == 1 and len(server.received) == 1


def test_a_single_held_delivery_is_sent_as_its_ordinary_message(alice, mail):
    quiet(alice, around_now())
    make_alerts(alice, 1)
    fire()
    assert attempt_all() == ["held"]
    (carrier,) = digests.release_held(now=timezone.now() + timedelta(hours=2))
    assert send.deliver(carrier, 0).outcome == "sent"
    [email] = mail.wait_for(1)
    assert email.subject.startswith("BTCUSDT rose to 70,010")


def test_a_channel_with_quiet_hours_off_delivers_while_the_others_are_held(alice, mail):
    quiet(alice, around_now())
    with HookServer() as server:
        webhook(alice, server.url, quiet_hours="off")
        make_alerts(alice, 1)
        fire()
        outcomes = {
            n.channel: send.deliver(n.pk, 0).outcome for n in Notification.objects.filter(status="pending")
        }
        assert outcomes == {"webhook": "sent", "email": "held"}
        assert len(server.received) == 1
    assert mail.received == []


def test_a_channel_of_its_own_quiet_hours_holds_when_the_account_has_none(alice, mail):
    with HookServer() as server:
        webhook(alice, server.url, quiet_hours=around_now())
        make_alerts(alice, 1)
        fire()
        outcomes = {
            n.channel: send.deliver(n.pk, 0).outcome for n in Notification.objects.filter(status="pending")
        }
        assert outcomes == {"webhook": "held", "email": "sent"}
        assert server.received == []
    assert len(mail.wait_for(1)) == 1


def test_the_sweepers_never_send_a_held_delivery(alice, mail, settings):
    quiet(alice, around_now())
    make_alerts(alice, 2)
    fire()
    attempt_all()
    Notification.objects.update(created_at=timezone.now() - timedelta(hours=1))
    settings.ALERTS_NOTIFY_STUCK_SECONDS = 1
    assert outbox.requeue_stuck() == 0
    assert outbox.requeue_expired_leases() == 0
    assert statuses() == ["held", "held"]
    assert mail.received == []


def test_a_digest_that_fails_fails_every_delivery_it_carries(alice):
    quiet(alice, around_now())
    with HookServer(default=400) as server:
        hook = webhook(alice, server.url)
        Channel.objects.filter(kind="email").update(enabled=False)
        make_alerts(alice, 2)
        fire()
        assert attempt_all() == ["held", "held"]
        (carrier,) = digests.release_held(now=timezone.now() + timedelta(hours=2))
        assert send.deliver(carrier, 0).outcome == "failed"
        assert len(server.received) == 1
    rows = Notification.objects.filter(via=hook)
    assert sorted(rows.values_list("status", flat=True)) == ["failed", "failed"]
    assert {r.last_error for r in rows} == {"HTTP 400", "digest failed: HTTP 400"}


def test_a_worker_that_dies_holding_a_digest_hands_it_on_and_it_is_sent_once(alice, mail):
    quiet(alice, around_now())
    make_alerts(alice, 3)
    fire()
    attempt_all()
    (carrier,) = digests.release_held(now=timezone.now() + timedelta(hours=2))
    # A worker claims it and dies; another message for it cannot claim beside the live lease.
    claims.claim_notifications([carrier], expected_attempts=0)
    assert send.deliver(carrier, 0).outcome == "skipped"
    # Its lease runs out unrenewed: the lease sweeper hands it on, once.
    past = timezone.now() - timedelta(seconds=1)
    Notification.objects.filter(pk=carrier).update(leased_until=past, next_attempt_at=past)
    assert outbox.requeue_expired_leases() == 1
    assert send.deliver(carrier, 1).outcome == "sent"
    assert outbox.requeue_expired_leases() == 0
    assert len(mail.wait_for(1)) == 1
    assert statuses() == ["sent"] * 3


def test_ending_quiet_hours_releases_what_they_held(alice, alice_client, mail):
    quiet(alice, around_now())
    make_alerts(alice, 2)
    fire()
    attempt_all()
    response = alice_client.patch("/user", {"quiet_hours": ""}, format="json")
    assert response.status_code == 200, response.json()
    (carrier,) = digests.release_held()  # due now, not at the old end
    assert send.deliver(carrier, 0).outcome == "sent"
    assert "2 alerts fired" in mail.wait_for(1)[0].subject


def test_moving_a_channels_quiet_hours_retimes_what_it_holds(alice, alice_client):
    with HookServer() as server:
        hook = webhook(alice, server.url, quiet_hours=around_now(60))
        make_alerts(alice, 1)
        fire()
        Notification.objects.filter(channel="email").delete()
        assert attempt_all() == ["held"]
        before = Notification.objects.get().held_until
        response = alice_client.patch(f"/channels/{hook.pk}", {"quiet_hours": around_now(90)}, format="json")
        assert response.status_code == 200, response.json()
        assert Notification.objects.get().held_until == before + timedelta(minutes=30)


def test_a_hold_across_the_spring_forward_night_is_released_at_seven_local(alice):
    """Berlin, 29 March 2026: a firing at 00:00 local (23:00 UTC) waits until 07:00 CEST, 05:00 UTC."""
    quiet(alice, "23:00-07:00", "Europe/Berlin")
    make_alerts(alice, 2)
    fire()
    at = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    claimed = claims.claim_notifications(
        list(Notification.objects.values_list("id", flat=True)), expected_attempts=0, now=at
    )
    for notification in claimed:
        until = holds.hold_until(notification, at)
        assert until == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)
        assert claims.mark_notification_held(notification, until=until)
    assert digests.release_held(now=datetime(2026, 3, 29, 4, 59, 59, tzinfo=UTC)) == []
    assert len(digests.release_held(now=datetime(2026, 3, 29, 5, 0, tzinfo=UTC))) == 1


def test_a_hold_across_the_fall_back_night_waits_the_extra_hour(alice):
    """Berlin, 25 October 2026: 07:00 CET is 06:00 UTC, nine real hours after 23:00 CEST."""
    quiet(alice, "23:00-07:00", "Europe/Berlin")
    make_alerts(alice, 1)
    fire()
    at = datetime(2026, 10, 24, 21, 0, tzinfo=UTC)
    (notification,) = claims.claim_notifications(
        list(Notification.objects.values_list("id", flat=True)), expected_attempts=0, now=at
    )
    assert holds.hold_until(notification, at) == datetime(2026, 10, 25, 6, 0, tzinfo=UTC)


class TestPreferencesApi:
    def test_the_user_sets_a_time_zone_and_quiet_hours(self, alice_client):
        response = alice_client.patch(
            "/user", {"time_zone": "America/New_York", "quiet_hours": "22:30-06:45"}, format="json"
        )
        assert response.status_code == 200
        assert (response.json()["time_zone"], response.json()["quiet_hours"]) == (
            "America/New_York",
            "22:30-06:45",
        )
        assert alice_client.get("/user").json()["quiet_hours"] == "22:30-06:45"

    @pytest.mark.parametrize(
        "body, field",
        [
            ({"time_zone": "Europe/Atlantis"}, "time_zone"),
            ({"time_zone": "/etc/passwd"}, "time_zone"),
            ({"quiet_hours": "23-7"}, "quiet_hours"),
            ({"quiet_hours": "off"}, "quiet_hours"),
            ({"quiet_hours": "07:00-07:00"}, "quiet_hours"),
        ],
    )
    def test_bad_values_are_a_400_naming_the_field(self, alice_client, body, field):
        response = alice_client.patch("/user", body, format="json")
        assert response.status_code == 400
        assert set(response.json()["errors"]) == {field}

    def test_a_channel_takes_its_own_window_or_off(self, alice_client):
        created = alice_client.post(
            "/channels/",
            {"kind": "apprise", "url": "ntfys://topic", "quiet_hours": "12:00-13:00"},
            format="json",
        )
        assert created.status_code == 201, created.json()
        assert created.json()["quiet_hours"] == "12:00-13:00"
        channel_id = created.json()["id"]
        changed = alice_client.patch(f"/channels/{channel_id}", {"quiet_hours": "off"}, format="json")
        assert changed.json()["quiet_hours"] == "off"
        bad = alice_client.patch(f"/channels/{channel_id}", {"quiet_hours": "noon"}, format="json")
        assert bad.status_code == 400 and set(bad.json()["errors"]) == {"quiet_hours"}
