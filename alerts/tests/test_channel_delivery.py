"""Firing to channels: which channels get a notification, webhook and Apprise delivery, the hourly cap."""

import hashlib
import hmac
import json
import sqlite3
from collections import Counter
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection

from alerts import engine
from alerts.delivery import messages, outbox, send
from alerts.models import Alert, Channel, Notification
from feeds.store import ms_to_datetime
from feeds.windows import PriceWindow
from tests.support.http import HookServer

# Their webhook and Apprise servers listen on 127.0.0.1: the operator allow-list lets them in.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_local_delivery")]
T0 = 1_790_000_000_000


@pytest.fixture
def sqlite_default_limit():
    """SQLite's default build: 32,766 bound parameters per statement (Debian's allows 250,000)."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's bound-parameter limit: PostgreSQL binds each list of ids as one array")
    connection.ensure_connection()
    raw = connection.connection
    before = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, min(before, 32_766))
    yield
    raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, before)


def make_alert(user, target_price=Decimal("70000"), **extra):
    return Alert.objects.create(
        user=user,
        symbol="BTCUSDT",
        direction="above",
        target_price=target_price,
        armed_at=ms_to_datetime(T0 - 60_000),
        **extra,
    )


def fire(at=T0, price="70000.5"):
    return engine.evaluate_windows(
        [PriceWindow("BTCUSDT", Decimal(price), Decimal(price), Decimal(price), at, at)]
    )


def webhook(user, url, **extra):
    return Channel.objects.create(user=user, kind="webhook", url=url, secret="k" * 64, name="hook", **extra)


def deliver_until_settled(notification, attempts=10):
    """Drive the real task logic (claim, send, settle) the way the retry messages would."""
    outcomes = []
    expected = 0
    for _ in range(attempts):
        delivery = send.deliver(notification.pk, expected)
        outcomes.append(delivery.outcome)
        if delivery.outcome != "retry":
            break
        expected = delivery.attempts
    notification.refresh_from_db()
    return outcomes


class TestWhichChannels:
    def test_all_enabled_channels_unless_the_alert_names_some(self, alice):
        hook = webhook(alice, "http://127.0.0.1:9/a")
        webhook(alice, "http://127.0.0.1:9/off", enabled=False)
        everywhere = make_alert(alice)
        named = make_alert(alice)
        named.channels.set([hook])
        assert fire() == 2
        assert sorted(Notification.objects.filter(alert=everywhere).values_list("channel", flat=True)) == [
            "email",
            "webhook",
        ]
        assert list(Notification.objects.filter(alert=named).values_list("via_id", flat=True)) == [hook.pk]

    def test_every_channel_disabled_records_one_failed_notification(self, alice):
        Channel.objects.filter(user=alice).update(enabled=False)
        alert = make_alert(alice)
        assert fire() == 1
        (notification,) = Notification.objects.filter(alert=alert)
        assert (notification.status, notification.last_error) == ("failed", "No enabled channel to notify.")
        assert notification.failed_at == notification.created_at  # counted by the operations page

    def test_a_user_without_any_channel_gets_email_to_the_account(self, alice):
        Channel.objects.filter(user=alice).delete()
        alert = make_alert(alice)
        fire()
        (notification,) = Notification.objects.filter(alert=alert)
        assert (notification.channel, notification.to, notification.status) == (
            "email",
            alice.email,
            "pending",
        )

    def test_notifications_record_the_channel_and_the_user(self, alice):
        alert = make_alert(alice)
        fire()
        (notification,) = Notification.objects.filter(alert=alert)
        assert notification.via == Channel.objects.get(user=alice, kind="email")
        assert notification.user_id == alice.pk

    def test_a_channel_deleted_before_sending_fails_its_notification_saying_so(self, alice):
        hook = webhook(alice, "http://127.0.0.1:9/gone")
        alert = make_alert(alice)
        alert.channels.set([hook])
        fire()
        (notification,) = Notification.objects.filter(alert=alert)
        hook_id = hook.pk
        hook.delete()
        notification.refresh_from_db()
        assert notification.via_id == hook_id  # kept, pointing at a channel gone
        assert not Channel.objects.filter(pk=hook_id).exists()
        assert deliver_until_settled(notification) == ["failed"]
        assert (notification.status, notification.channel) == ("failed", "webhook")
        assert "deleted" in notification.last_error
        assert not mail.outbox  # never sent anywhere else instead

    def test_deleting_a_user_deletes_their_notifications(self, alice, bob):
        make_alert(alice), make_alert(bob)
        fire()
        alice.delete()
        assert list(Notification.objects.values_list("user_id", flat=True)) == [bob.pk]


class TestHourlyCap:
    def test_deliveries_past_the_cap_are_recorded_as_suppressed_in_alert_then_channel_order(
        self, settings, alice, bob
    ):
        settings.ALERTS_MAX_NOTIFICATIONS_PER_HOUR = 3
        hook = webhook(alice, "http://127.0.0.1:9/a")  # two channels: a firing is two deliveries
        alices = [make_alert(alice) for _ in range(3)]
        bobs = make_alert(bob)
        assert fire() == 4
        statuses = [
            list(Notification.objects.filter(alert=a).order_by("via_id").values_list("via_id", "status"))
            for a in alices
        ]
        email = Channel.objects.get(user=alice, kind="email").pk
        assert statuses == [
            [(email, "pending"), (hook.pk, "pending")],
            [(email, "pending"), (hook.pk, "suppressed")],
            [(email, "suppressed"), (hook.pk, "suppressed")],
        ]
        assert Notification.objects.get(alert=bobs).status == "pending"
        assert "limit" in Notification.objects.filter(status="suppressed").first().last_error

    def test_fifteen_thousand_suppressed_firings_in_one_batch(self, settings, alice, sqlite_default_limit):
        # Each INSERT of a chunk of alerts once bound the whole batch's suppressed ids, twice:
        # past ~13,900 of them SQLite refused the statement and the tick could never commit.
        settings.ALERTS_MAX_NOTIFICATIONS_PER_HOUR = 1
        armed = ms_to_datetime(T0 - 60_000)
        Alert.objects.bulk_create(
            Alert(
                user=alice, symbol="BTCUSDT", direction="above", target_price=Decimal("70000"), armed_at=armed
            )
            for _ in range(15_001)
        )
        assert fire() == 15_001
        assert Counter(Notification.objects.values_list("status", flat=True)) == {
            "pending": 1,
            "suppressed": 15_000,
        }

    def test_the_cap_counts_earlier_firings_of_the_last_hour(self, settings, alice):
        settings.ALERTS_MAX_NOTIFICATIONS_PER_HOUR = 1
        first, second = make_alert(alice), make_alert(alice, target_price=Decimal("71000"))
        fire(price="70000")
        fire(at=T0 + 1000, price="71000")
        assert Notification.objects.get(alert=first).status == "pending"
        assert Notification.objects.get(alert=second).status == "suppressed"
        second.refresh_from_db()
        assert second.status == "triggered"  # the firing happened; only its message was held back

    def test_suppressed_ones_are_never_enqueued_or_sent(
        self, settings, alice, django_capture_on_commit_callbacks, monkeypatch
    ):
        settings.ALERTS_MAX_NOTIFICATIONS_PER_HOUR = 1
        make_alert(alice), make_alert(alice)
        sent = []
        with monkeypatch.context() as patch, django_capture_on_commit_callbacks(execute=True):
            patch.setattr(outbox, "enqueue_sends", sent.extend)
            fire()
        assert sent == list(Notification.objects.filter(status="pending").values_list("id", flat=True))
        assert len(sent) == 1
        suppressed = Notification.objects.get(status="suppressed")
        assert send.deliver(suppressed.pk, 0).outcome == "skipped"


class TestWebhookDelivery:
    def test_a_signed_json_post_with_the_alert_the_price_the_time_and_the_note(self, alice):
        with HookServer() as server:
            webhook(alice, server.url + "/pricealert")
            Channel.objects.filter(user=alice, kind="email").update(enabled=False)
            alert = make_alert(alice, note="sell <half> & relax")
            fire()
            notification = Notification.objects.get(alert=alert)
            assert deliver_until_settled(notification) == ["sent"]
        (request,) = server.received
        assert request.path == "/pricealert"
        timestamp = request.headers["X-Pricealert-Timestamp"]
        expected = hmac.new(b"k" * 64, timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Pricealert-Signature"] == f"sha256={expected}"
        assert request.headers["X-Pricealert-Delivery"] == str(notification.pk)
        payload = json.loads(request.body)
        assert payload["event"] == "alert.triggered"
        assert payload["alert"]["note"] == "sell <half> & relax"
        assert payload["alert"]["target_price"] == "70000.00000000"
        assert payload["trigger"] == {"price": "70000.50000000", "at": "2026-09-21T14:13:20Z", "firing": 1}

    def test_a_503_is_retried_with_backoff_until_it_is_accepted(self, settings, alice):
        settings.ALERTS_NOTIFY_RETRY_SECONDS = 0.01
        with HookServer(503, 503) as server:
            webhook(alice, server.url)
            Channel.objects.filter(user=alice, kind="email").update(enabled=False)
            alert = make_alert(alice)
            fire()
            notification = Notification.objects.get(alert=alert)
            assert deliver_until_settled(notification) == ["retry", "retry", "sent"]
        assert len(server.received) == 3
        assert (notification.status, notification.attempts) == ("sent", 3)

    def test_a_400_is_never_retried_and_the_channel_stays_enabled(self, alice):
        with HookServer(default=400) as server:
            hook = webhook(alice, server.url)
            alert = make_alert(alice)
            alert.channels.set([hook])
            fire()
            notification = Notification.objects.get(alert=alert)
            assert deliver_until_settled(notification) == ["failed"]
        assert len(server.received) == 1
        assert (notification.status, notification.attempts) == ("failed", 1)
        assert "400" in notification.last_error
        hook.refresh_from_db()
        assert hook.enabled

    @pytest.mark.parametrize("code", [404, 410])
    def test_a_gone_endpoint_disables_the_channel_with_the_reason(self, alice, alice_client, code):
        with HookServer(default=code) as server:
            hook = webhook(alice, server.url)
            alert = make_alert(alice)
            alert.channels.set([hook])
            fire()
            notification = Notification.objects.get(alert=alert)
            assert deliver_until_settled(notification) == ["failed"]
        hook.refresh_from_db()
        assert hook.enabled is False
        seen = alice_client.get(f"/channels/{hook.pk}").json()
        assert seen["enabled"] is False and str(code) in seen["disabled_reason"]
        # The next firing does not use it.
        second = make_alert(alice, target_price=Decimal("71000"))
        fire(at=T0 + 1000, price="71000")
        assert list(Notification.objects.filter(alert=second).values_list("channel", flat=True)) == ["email"]

    def test_a_timeout_is_retried(self, settings, alice):
        settings.ALERTS_WEBHOOK_TIMEOUT_SECONDS = 0.3
        settings.ALERTS_NOTIFY_RETRY_SECONDS = 0.01
        with HookServer(delay=2.0) as server:
            hook = webhook(alice, server.url)
            alert = make_alert(alice)
            alert.channels.set([hook])
            fire()
            notification = Notification.objects.get(alert=alert)
            assert send.deliver(notification.pk, 0).outcome == "retry"
        notification.refresh_from_db()
        assert "timed out" in notification.last_error

    def test_a_refused_connection_is_retried(self, alice):
        hook = webhook(alice, "http://127.0.0.1:9/")
        alert = make_alert(alice)
        alert.channels.set([hook])
        fire()
        assert send.deliver(Notification.objects.get(alert=alert).pk, 0).outcome == "retry"

    def test_a_channel_disabled_after_the_firing_is_not_used(self, alice):
        hook = webhook(alice, "http://127.0.0.1:9/")
        alert = make_alert(alice)
        alert.channels.set([hook])
        fire()
        Channel.objects.filter(pk=hook.pk).update(enabled=False)
        notification = Notification.objects.get(alert=alert)
        assert send.deliver(notification.pk, 0).outcome == "failed"
        notification.refresh_from_db()
        assert "disabled" in notification.last_error


class TestAppriseDelivery:
    def test_apprise_json_notifier_delivers_title_and_body_to_a_local_endpoint(self, alice):
        with HookServer() as server:
            address = server.url.replace("http://", "json://") + "/apprise"
            channel = Channel.objects.create(user=alice, kind="apprise", url=address, name="chat")
            alert = make_alert(alice, note="from apprise")
            alert.channels.set([channel])
            fire()
            notification = Notification.objects.get(alert=alert)
            assert (notification.channel, notification.to) == ("apprise", "chat")
            assert deliver_until_settled(notification) == ["sent"]
        (request,) = server.received
        assert request.path == "/apprise"
        payload = json.loads(request.body)
        assert payload["title"].startswith("BTCUSDT rose to 70,000.5")
        assert "from apprise" in payload["message"]

    def test_a_failing_apprise_service_is_retried(self, settings, alice):
        with HookServer(default=500) as server:
            address = server.url.replace("http://", "json://")
            channel = Channel.objects.create(user=alice, kind="apprise", url=address)
            alert = make_alert(alice)
            alert.channels.set([channel])
            fire()
            assert send.deliver(Notification.objects.get(alert=alert).pk, 0).outcome == "retry"


class TestEmailShowsTheNote:
    def test_the_note_is_in_the_text_and_escaped_in_the_html(self, alice):
        alert = make_alert(alice, note='<script>alert("x")</script> & co')
        fire()
        notification = Notification.objects.get(alert=alert)
        assert deliver_until_settled(notification) == ["sent"]
        (message,) = mail.outbox
        html = message.alternatives[0][0]
        assert '<script>alert("x")</script> & co' in message.body
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in html
        assert "<script>" not in html

    def test_a_repeating_alert_email_says_which_firing(self, alice):
        alert = make_alert(alice, repeat="every", cooldown_seconds=300, rearm_price=Decimal("69930"))
        fire()
        email = messages.render_alert_email(Alert.objects.get(pk=alert.pk), firing=1)
        assert "repeats: this is firing 1" in email.text
        assert "300 seconds" in email.html
