"""Delivery: formatting and rendering a firing, sending its email over real SMTP, and the claim."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from alerts.delivery import claims, messages, send
from alerts.delivery.errors import NotificationError
from alerts.models import Notification


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("70000.01000000", "70,000.01"),
        ("70000.00000000", "70,000"),
        ("70000", "70,000"),
        ("0.00001234", "0.00001234"),
        ("0.00000001", "0.00000001"),
        ("1234567.5", "1,234,567.5"),
        ("999.90", "999.9"),
    ],
)
def test_prices_show_thousands_separators_and_only_significant_decimals(value, shown):
    assert messages.format_price(Decimal(value)) == shown


@pytest.mark.django_db
class TestRendering:
    def test_subject_says_what_moved_and_which_alert(self, alice, make_triggered_alert):
        rose = messages.render_alert_email(make_triggered_alert(alice))
        assert rose.subject == "BTCUSDT rose to 70,000.01 (your alert: above 70,000)"
        fell = messages.render_alert_email(
            make_triggered_alert(
                alice, symbol="ETHUSDT", direction="below", target_price="2000", price="1999.5"
            )
        )
        assert fell.subject == "ETHUSDT fell to 1,999.5 (your alert: below 2,000)"

    def test_body_has_symbol_direction_target_price_time_and_where_to_manage(
        self, alice, settings, make_triggered_alert
    ):
        settings.SITE_URL = "https://alerts.example.org"
        alert = make_triggered_alert(alice)
        email = messages.render_alert_email(alert)
        for body in (email.text, email.html):
            assert "BTCUSDT" in body
            assert "above 70,000" in body
            assert "70,000.01" in body
            assert "2026-09-21 14:13:20 UTC" in body
            assert "https://alerts.example.org/alerts/" in body
            assert "https://alerts.example.org/api/docs/" in body
            assert f"#{alert.pk}" in body
        assert "<table" in email.html

    def test_html_is_escaped_and_text_is_not(self, alice, make_triggered_alert):
        email = messages.render_alert_email(make_triggered_alert(alice, symbol="<b>X&Y</b>"))
        assert "&lt;b&gt;X&amp;Y&lt;/b&gt;" in email.html
        assert "<b>X&Y</b>" not in email.html
        assert "<b>X&Y</b>" in email.text
        assert email.subject.startswith("<b>X&Y</b> rose to")


@pytest.mark.django_db
class TestSending:
    def test_sends_text_and_html_over_smtp(self, alice, mail, settings, make_notification):
        settings.DEFAULT_FROM_EMAIL = "pricealert <alerts@example.org>"
        notification = make_notification(alice)
        send.send_notification_message(notification)
        [received] = mail.wait_for(1)
        assert received.rcpt_tos == ["alice@example.com"]
        assert received.subject == "BTCUSDT rose to 70,000.01 (your alert: above 70,000)"
        assert received.message["From"] == "pricealert <alerts@example.org>"
        assert received.message["Message-ID"] == f"<pricealert.notification.{notification.pk}@localhost>"
        assert "Price reached: 70,000.01" in received.part("text/plain")
        assert "<strong>70,000.01</strong>" in received.part("text/html")

    def test_a_temporary_refusal_is_a_transient_error(self, alice, mail, make_notification):
        mail.refuse(times=1, reply="451 4.3.0 Try again later")
        with pytest.raises(NotificationError) as caught:
            send.send_notification_message(make_notification(alice))
        assert not caught.value.permanent
        assert "451" in caught.value.message

    def test_a_refused_recipient_is_a_permanent_error(self, alice, mail, make_notification):
        mail.refuse(times=1, reply="550 5.1.1 No such user", stage="RCPT")
        with pytest.raises(NotificationError) as caught:
            send.send_notification_message(make_notification(alice))
        assert caught.value.permanent
        assert "550" in caught.value.message

    def test_a_rejected_message_is_a_permanent_error(self, alice, mail, make_notification):
        mail.refuse(times=1, reply="554 5.7.1 Message rejected")
        with pytest.raises(NotificationError) as caught:
            send.send_notification_message(make_notification(alice))
        assert caught.value.permanent

    def test_a_server_that_is_down_is_a_transient_error(
        self, alice, settings, make_notification, closed_port
    ):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port, 2
        with pytest.raises(NotificationError) as caught:
            send.send_notification_message(make_notification(alice))
        assert not caught.value.permanent


@pytest.mark.django_db
class TestClaim:
    def test_a_pending_notification_is_claimed_once(self, alice, make_notification):
        notification = make_notification(alice)
        claimed = claims.claim_notification(notification.pk, expected_attempts=0)
        assert claimed.attempts == 1
        assert claimed.next_attempt_at > timezone.now()
        # The same first message delivered twice, and a sweeper's copy: both wait.
        assert claims.claim_notification(notification.pk, expected_attempts=0) is None
        assert claims.claim_notification(notification.pk, expected_attempts=None) is None

    def test_the_scheduled_retry_may_claim_before_its_time_others_may_not(self, alice, make_notification):
        notification = make_notification(alice)
        claimed = claims.claim_notification(notification.pk, expected_attempts=0)
        claims.mark_notification_retry(claimed, "451", retry_at=timezone.now() + timedelta(minutes=5))
        assert claims.claim_notification(notification.pk, expected_attempts=None) is None
        retry = claims.claim_notification(notification.pk, expected_attempts=1)
        assert retry.attempts == 2
        assert claims.claim_notification(notification.pk, expected_attempts=1) is None

    def test_an_expired_lease_can_be_taken_over(self, alice, make_notification):
        notification = make_notification(alice)
        claims.claim_notification(notification.pk, expected_attempts=0)
        later = timezone.now() + claims.send_lease() + timedelta(seconds=1)
        taken = claims.claim_notification(notification.pk, expected_attempts=None, now=later)
        assert taken.attempts == 2

    @pytest.mark.parametrize("status", ["sent", "failed"])
    def test_settled_notifications_are_never_claimed(self, alice, status, make_notification):
        notification = make_notification(alice, status=status)
        assert claims.claim_notification(notification.pk, expected_attempts=0) is None
        assert claims.claim_notification(notification.pk, expected_attempts=None) is None

    def test_only_the_current_claim_may_settle_it(self, alice, make_notification):
        notification = make_notification(alice)
        first = claims.claim_notification(notification.pk, expected_attempts=0)
        later = timezone.now() + claims.send_lease() + timedelta(seconds=1)
        second = claims.claim_notification(notification.pk, expected_attempts=None, now=later)
        assert not claims.mark_notification_failed(first, "stale worker")
        assert claims.mark_notification_sent(second)
        assert Notification.objects.get(pk=notification.pk).status == "sent"
        assert not claims.mark_notification_sent(first)

    def test_the_sent_mark_records_when_and_lets_go_of_the_lease(self, alice, make_notification):
        notification = make_notification(alice)
        claimed = claims.claim_notification(notification.pk, expected_attempts=0)
        assert Notification.objects.get(pk=notification.pk).leased_until is not None
        at = timezone.now()

        assert claims.mark_notification_sent(claimed, now=at)

        row = Notification.objects.get(pk=notification.pk)
        assert (row.status, row.sent_at, row.next_attempt_at, row.leased_until) == ("sent", at, None, None)

    @pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite caches its statements itself")
    def test_the_sent_mark_is_parsed_and_planned_once_per_connection(self, alice, make_notification):
        for _ in range(3):
            claimed = claims.claim_notification(make_notification(alice).pk, expected_attempts=0)
            assert claims.mark_notification_sent(claimed)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                ["%SET status = 'sent', sent_at = $1%"],
            )
            assert cursor.fetchone() == (1,)
