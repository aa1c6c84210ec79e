"""Per-user limits, from outside through the API: throttles on creating alerts and channels and on
channel tests (real Redis), the channel cap, and the hourly cap counted in deliveries."""

import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection, connections

from alerts import engine
from alerts.models import Channel, Notification
from conftest import client_for
from feeds.windows import PriceWindow
from tests.security.test_throttling import assert_throttled

pytestmark = pytest.mark.django_db


def create_alert(client, path="/alerts/create", target="70000"):
    return client.post(
        path, {"symbol": "BTCUSDT", "target_price": target, "direction": "above"}, format="json"
    )


def create_webhook(client, n=0):
    return client.post(
        "/channels/", {"kind": "webhook", "url": f"https://example.com/hook/{n}"}, format="json"
    )


def email_channel(user):
    return Channel.objects.get(user=user, kind="email")


class TestAlertCreateThrottle:
    def test_both_create_paths_share_one_budget_per_user(
        self, alice, alice_client, bob_client, throttle_rates, clock
    ):
        throttle_rates(alert_create="3/min")
        assert [create_alert(alice_client, path).status_code for path in ("/alerts/create", "/alerts/")] == [
            201,
            201,
        ]
        assert create_alert(alice_client, "/alerts").status_code == 201

        assert_throttled(create_alert(alice_client, "/alerts/"), retry_after=50)  # 10 s into the minute
        assert_throttled(create_alert(alice_client, "/alerts/create"), retry_after=50)
        # A new token is the same user: no fresh budget.
        assert create_alert(client_for(alice), target="71000").status_code == 429
        assert alice.alerts.count() == 3
        assert create_alert(bob_client).status_code == 201

    def test_listing_is_not_counted_and_the_window_ends_when_retry_after_says(
        self, alice_client, throttle_rates, clock
    ):
        throttle_rates(alert_create="1/min")
        for _ in range(3):
            assert alice_client.get("/alerts/").status_code == 200
        assert create_alert(alice_client).status_code == 201
        response = create_alert(alice_client)
        assert response.status_code == 429

        clock.advance(int(response["Retry-After"]))
        assert create_alert(alice_client).status_code == 201

    def test_a_refused_create_spends_the_budget_too(self, alice_client, throttle_rates):
        """The limit is on attempts: invalid bodies (each one validated, each a 400) are counted."""
        throttle_rates(alert_create="2/min")
        for _ in range(2):
            assert alice_client.post("/alerts/create", {"symbol": "NOPE"}, format="json").status_code == 400
        assert create_alert(alice_client).status_code == 429

    def test_without_a_token_it_is_a_401_not_a_429(self, anon_client, throttle_rates):
        throttle_rates(alert_create="1/min")
        assert [create_alert(anon_client).status_code for _ in range(3)] == [401, 401, 401]


class TestChannelThrottles:
    def test_creating_channels_per_user(self, alice, alice_client, bob_client, throttle_rates, clock):
        throttle_rates(channel_create="2/hour")
        assert [create_webhook(alice_client, n).status_code for n in range(2)] == [201, 201]
        assert alice_client.get("/channels/").status_code == 200  # listing is free

        assert_throttled(create_webhook(alice_client, 3), retry_after=3590)  # 10 s into the hour
        assert Channel.objects.filter(user=alice).count() == 3  # the email one and two webhooks
        assert create_webhook(bob_client).status_code == 201

    def test_channel_tests_per_user_and_a_throttled_test_sends_nothing(
        self, alice, alice_client, bob, bob_client, throttle_rates, clock
    ):
        throttle_rates(channel_test="2/hour")
        mine = email_channel(alice).pk
        for _ in range(2):
            assert alice_client.post(f"/channels/{mine}/test").status_code in (200, 202)
        sent = len(mail.outbox)

        assert_throttled(alice_client.post(f"/channels/{mine}/test"), retry_after=3590)
        # Another of her channels is the same budget: the limit is the account's, not the channel's.
        hook = create_webhook(alice_client).json()["id"]
        assert alice_client.post(f"/channels/{hook}/test").status_code == 429
        assert len(mail.outbox) == sent
        assert bob_client.post(f"/channels/{email_channel(bob).pk}/test").status_code in (200, 202)


def test_the_429s_are_documented_with_their_retry_after_header(anon_client):
    schema = anon_client.get("/api/schema/", {"format": "json"}).json()
    operations = [
        ("/alerts", "post"),
        ("/channels", "post"),
        ("/channels/{channel_id}/test", "post"),
    ]
    for path, method in operations:
        response = schema["paths"][path][method]["responses"]["429"]
        assert response["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
        assert response["headers"]["Retry-After"]["schema"]["type"] == "integer"
        assert "THROTTLE_" in response["description"]
    # Reads are not throttled, so they document no 429.
    assert "429" not in schema["paths"]["/alerts"]["get"]["responses"]


class TestChannelCap:
    def test_the_eleventh_channel_is_a_409_counting_the_email_one(self, alice, alice_client, bob_client):
        statuses = [create_webhook(alice_client, n).status_code for n in range(9)]
        assert statuses == [201] * 9

        refused = create_webhook(alice_client, 9)

        assert refused.status_code == 409
        assert refused.json() == {
            "detail": "You have 10 channels, the most allowed: delete one (or re-point it) to add another."
        }
        assert Channel.objects.filter(user=alice).count() == 10
        assert create_webhook(bob_client).status_code == 201

    def test_a_disabled_channel_still_counts_and_deleting_one_frees_a_slot(
        self, alice, alice_client, settings
    ):
        settings.ALERTS_MAX_CHANNELS_PER_USER = 2
        alice_client.patch(f"/channels/{email_channel(alice).pk}", {"enabled": False}, format="json")
        hook = create_webhook(alice_client, 1).json()["id"]
        assert create_webhook(alice_client, 2).status_code == 409

        assert alice_client.delete(f"/channels/{hook}").status_code == 204
        assert create_webhook(alice_client, 3).status_code == 201

    def test_a_cap_of_zero_is_no_cap(self, alice, alice_client, settings):
        settings.ALERTS_MAX_CHANNELS_PER_USER = 0
        assert {create_webhook(alice_client, n).status_code for n in range(12)} == {201}
        assert Channel.objects.filter(user=alice).count() == 13

    def test_the_409_is_documented(self, anon_client):
        schema = anon_client.get("/api/schema/", {"format": "json"}).json()
        assert (
            "ALERTS_MAX_CHANNELS_PER_USER"
            in schema["paths"]["/channels"]["post"]["responses"]["409"]["description"]
        )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite serialises writers, so the creates cannot overlap there",
)
def test_concurrent_creates_cannot_pass_the_channel_cap_together(alice, settings):
    """Eight creates at once with room for three: exactly three are made, the others are 409s."""
    settings.ALERTS_MAX_CHANNELS_PER_USER = 4
    start = threading.Barrier(8)
    statuses = []

    def create():
        try:
            client = client_for(alice)
            start.wait(timeout=30)
            statuses.append(create_webhook(client).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [201] * 3 + [409] * 5
    assert Channel.objects.filter(user=alice).count() == 4


class TestHourlyCapCountsDeliveries:
    def fire(self, price):
        at = int(time.time() * 1000) + 1000
        return engine.evaluate_windows(
            [PriceWindow("BTCUSDT", Decimal(price), Decimal(price), Decimal(price), at, at)]
        )

    def statuses(self, alert_id):
        return sorted(Notification.objects.filter(alert_id=alert_id).values_list("channel", "status"))

    def test_a_second_firing_to_three_channels_is_cut_at_the_fourth_delivery(
        self, settings, alice, alice_client
    ):
        settings.ALERTS_MAX_NOTIFICATIONS_PER_HOUR = 4
        for n in range(2):
            assert create_webhook(alice_client, n).status_code == 201  # with the email one: three
        first = create_alert(alice_client, target="70000").json()["id"]
        second = create_alert(alice_client, target="71000").json()["id"]

        assert self.fire("70000.5") == 1
        assert self.fire("71000.5") == 1

        assert self.statuses(first) == [("email", "pending"), ("webhook", "pending"), ("webhook", "pending")]
        # The fourth delivery of the hour (the email channel, the lowest id) goes; the rest are held back.
        assert self.statuses(second) == [
            ("email", "pending"),
            ("webhook", "suppressed"),
            ("webhook", "suppressed"),
        ]
        suppressed = Notification.objects.filter(alert_id=second, status="suppressed")
        assert {n.last_error for n in suppressed} == {"Over the notifications-per-hour limit."}

    def test_once_spent_every_later_delivery_of_the_hour_is_suppressed_and_others_keep_theirs(
        self, settings, alice, alice_client, bob, bob_client
    ):
        settings.ALERTS_MAX_NOTIFICATIONS_PER_HOUR = 2
        for client in (alice_client, bob_client):
            for n in range(2):
                create_webhook(client, n)
        for target in ("70000", "71000", "72000"):
            create_alert(alice_client, target=target)
        create_alert(bob_client, target="70000")

        self.fire("70000.5")  # alice's first and bob's: three deliveries each
        self.fire("72000.5")  # alice's two others, in one tick

        mine = Counter(Notification.objects.filter(user=alice).values_list("status", flat=True))
        assert mine == {"pending": 2, "suppressed": 7}
        theirs = Counter(Notification.objects.filter(user=bob).values_list("status", flat=True))
        assert theirs == {"pending": 2, "suppressed": 1}
