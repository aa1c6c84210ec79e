"""Celery tasks: the evaluation tick's lock, sending with retries, and the stuck-notification sweeper."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from alerts import engine, tasks
from alerts.delivery import send
from alerts.delivery import tasks as delivery_tasks
from alerts.models import Alert, EvaluationCheckpoint, Notification
from feeds import store
from feeds.windows import PriceWindow
from pricealert.celery import app
from tests.support.broker import queued_tasks

T0 = 1_790_000_000_000


def age(notification, *, created_ago: timedelta, next_attempt_in: timedelta | None = None):
    """Backdate a notification (auto_now_add) and set when its next attempt is due."""
    now = timezone.now()
    Notification.objects.filter(pk=notification.pk).update(
        created_at=now - created_ago,
        next_attempt_at=None if next_attempt_in is None else now + next_attempt_in,
    )


def test_the_beat_schedule_names_registered_tasks():
    for entry in django_settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks
    assert django_settings.CELERY_BEAT_SCHEDULE["evaluate-alerts"]["options"]["expires"] > 0
    assert app.tasks["alerts.tasks.send_notification"].acks_late


@pytest.mark.django_db
class TestEvaluateAlerts:
    def test_a_tick_evaluates_the_stream(self, alice):
        Alert.objects.create(user=alice, symbol="BTCUSDT", direction="above", target_price=Decimal("100"))
        store.write_windows([PriceWindow("BTCUSDT", Decimal("101"), Decimal("99"), Decimal("100"), 0, 1)])
        # The alert was created now: a window from now on crosses it.
        now_ms = int(timezone.now().timestamp() * 1000) + 1000
        store.write_windows(
            [PriceWindow("BTCUSDT", Decimal("101"), Decimal("99"), Decimal("100"), now_ms, now_ms)]
        )
        assert tasks.evaluate_alerts() == {
            "entries": 2,
            "fired": 1,
            "stream_id": store.read_windows("0")[-1][0],
        }

    def test_a_tick_is_skipped_while_another_holds_the_lock(self, alice, clean_redis):
        store.write_windows([PriceWindow("BTCUSDT", Decimal("1"), Decimal("1"), Decimal("1"), 0, 1)])
        other = clean_redis.lock(tasks.EVALUATE_LOCK_KEY, timeout=30)
        assert other.acquire(blocking=False)
        assert tasks.evaluate_alerts() is None
        assert EvaluationCheckpoint.objects.count() == 0
        other.release()
        assert tasks.evaluate_alerts()["entries"] == 1

    def test_the_lock_is_released_when_a_tick_fails_and_it_expires_anyway(self, clean_redis, monkeypatch):
        def fail(**kwargs):
            assert 0 < clean_redis.pttl(tasks.EVALUATE_LOCK_KEY) <= tasks.evaluate_lock_seconds() * 1000
            raise RuntimeError("database went away")

        monkeypatch.setattr(engine, "evaluate_pending", fail)
        with pytest.raises(RuntimeError):
            tasks.evaluate_alerts()
        assert not clean_redis.exists(tasks.EVALUATE_LOCK_KEY)


class TestRetryDelay:
    def test_doubles_with_jitter_and_is_capped(self, settings):
        settings.ALERTS_NOTIFY_RETRY_SECONDS = 10
        for attempts, base in [(1, 10), (2, 20), (3, 40), (7, 640), (8, 900), (20, 900)]:
            delays = [send.retry_delay(attempts) for _ in range(50)]
            assert all(base / 2 <= d <= base for d in delays)
            assert len(set(delays)) > 1


@pytest.mark.django_db
class TestSendNotification:
    def test_sends_once_and_marks_it_sent(self, alice, mail, make_notification):
        notification = make_notification(alice)
        assert delivery_tasks.send_notification.apply(args=(notification.pk, 0)).get() == "sent"
        mail.wait_for(1)
        notification.refresh_from_db()
        assert (notification.status, notification.attempts) == ("sent", 1)
        assert notification.sent_at is not None
        assert notification.next_attempt_at is None

    def test_smtp_refusing_then_accepting_delivers_exactly_once(self, alice, mail, make_notification):
        notification = make_notification(alice)
        mail.refuse(times=2, reply="451 4.3.0 Greylisted, try again later")
        # Eagerly applied, each retry runs at once (in a worker it waits its backoff).
        delivery_tasks.send_notification.apply(args=(notification.pk, 0))
        assert mail.refused == 2
        assert len(mail.wait_for(1)) == 1
        notification.refresh_from_db()
        assert (notification.status, notification.attempts) == ("sent", 3)
        assert "451" in notification.last_error  # kept: it took three tries, and why
        assert delivery_tasks.send_notification.apply(args=(notification.pk, 3)).get() == "skipped"
        assert delivery_tasks.send_notification.apply(args=(notification.pk, None)).get() == "skipped"
        assert len(mail.received) == 1

    def test_a_failed_attempt_schedules_its_retry_with_backoff(
        self, alice, mail, settings, make_notification
    ):
        settings.ALERTS_NOTIFY_RETRY_SECONDS = 30
        notification = make_notification(alice)
        mail.refuse(times=1)
        before = timezone.now()
        with pytest.raises(Exception, match="451"):  # called directly, retry re-raises the SMTP error
            delivery_tasks.send_notification(notification.pk, 0)
        notification.refresh_from_db()
        assert (notification.status, notification.attempts) == ("pending", 1)
        assert (
            before + timedelta(seconds=15)
            <= notification.next_attempt_at
            <= timezone.now() + timedelta(seconds=30)
        )
        # The scheduled retry carries the attempt count it follows, so it goes ahead.
        assert delivery_tasks.send_notification(notification.pk, 1) == "sent"
        assert len(mail.wait_for(1)) == 1

    def test_gives_up_after_the_configured_attempts_keeping_the_error(
        self, alice, mail, settings, make_notification
    ):
        settings.ALERTS_NOTIFY_MAX_ATTEMPTS = 3
        notification = make_notification(alice)
        mail.refuse(always=True, reply="421 4.7.0 Service not available")
        delivery_tasks.send_notification.apply(args=(notification.pk, 0))
        notification.refresh_from_db()
        assert (notification.status, notification.attempts) == ("failed", 3)
        assert "421" in notification.last_error
        assert mail.refused == 3
        mail.accept()
        assert delivery_tasks.send_notification.apply(args=(notification.pk, None)).get() == "skipped"
        assert mail.received == []

    def test_a_permanent_refusal_fails_at_once(self, alice, mail, make_notification):
        notification = make_notification(alice)
        mail.refuse(times=1, reply="550 5.1.1 Mailbox unavailable", stage="RCPT")
        assert delivery_tasks.send_notification.apply(args=(notification.pk, 0)).get() == "failed"
        notification.refresh_from_db()
        assert (notification.status, notification.attempts) == ("failed", 1)
        assert "550" in notification.last_error

    def test_an_alert_re_armed_before_its_email_fails_its_notification(self, alice, mail, make_notification):
        notification = make_notification(alice)
        Alert.objects.filter(pk=notification.alert_id).update(
            status="created", triggered_price=None, triggered_at=None
        )
        assert delivery_tasks.send_notification.apply(args=(notification.pk, 0)).get() == "failed"
        notification.refresh_from_db()
        assert notification.status == "failed"
        assert "re-armed" in notification.last_error
        assert mail.received == []

    def test_a_deleted_notification_is_skipped(self, alice):
        assert delivery_tasks.send_notification.apply(args=(123456, 0)).get() == "skipped"


@pytest.mark.django_db
class TestSendNotifications:
    def test_a_batch_is_sent_over_one_smtp_session(self, alice, bob, mail, make_notification):
        ids = [make_notification(user).pk for user in (alice, bob, alice)]
        assert delivery_tasks.send_notifications.apply(args=(ids, 0)).get() == {"sent": 3}
        received = mail.wait_for(3)
        assert len({r.peer for r in received}) == 1
        assert sorted(r.rcpt_tos[0] for r in received) == [
            "alice@example.com",
            "alice@example.com",
            "bob@example.com",
        ]
        assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}

    def test_a_failure_in_a_batch_is_retried_on_its_own(self, alice, mail, clean_redis, make_notification):
        first, second, third = (make_notification(alice).pk for _ in range(3))
        mail.refuse(times=1)
        assert delivery_tasks.send_notifications.apply(args=([first, second, third], 0)).get() == {
            "retry": 1,
            "sent": 2,
        }
        assert len(mail.wait_for(2)) == 2
        assert queued_tasks(clean_redis) == [("alerts.tasks.send_notification", [first, 1])]
        assert Notification.objects.get(pk=first).status == "pending"
        assert delivery_tasks.send_notification.apply(args=(first, 1)).get() == "sent"
        assert len(mail.wait_for(3)) == 3

    def test_a_batch_skips_what_was_sent_already(self, alice, mail, make_notification):
        sent = make_notification(alice, status="sent")
        pending = make_notification(alice)
        assert delivery_tasks.send_notifications.apply(args=([sent.pk, pending.pk], None)).get() == {
            "skipped": 1,
            "sent": 1,
        }
        assert len(mail.wait_for(1)) == 1

    def test_enqueue_sends_singles_alone_and_many_in_batches(self, clean_redis, settings):
        delivery_tasks.enqueue_notifications([7])
        delivery_tasks.enqueue_notifications(range(1, 10 * delivery_tasks.SEND_BATCH + 2))
        queued = queued_tasks(clean_redis)
        assert queued[0] == ("alerts.tasks.send_notification", [7, 0])
        assert [len(args[0]) for _, args in queued[1:-1]] == [delivery_tasks.SEND_BATCH] * 10
        assert queued[-1] == ("alerts.tasks.send_notification", [10 * delivery_tasks.SEND_BATCH + 1, 0])

    def test_a_small_burst_is_spread_so_every_worker_takes_a_share(self, clean_redis):
        delivery_tasks.enqueue_notifications(range(1, 41))
        batches = [args[0] for _, args in queued_tasks(clean_redis)]
        assert len(batches) == delivery_tasks.SEND_SPREAD
        assert [i for batch in batches for i in batch] == list(range(1, 41))


@pytest.mark.django_db
class TestRequeueStuckNotifications:
    def test_requeues_only_pending_ones_nobody_touched_for_a_while(
        self, alice, clean_redis, settings, make_notification
    ):
        settings.ALERTS_NOTIFY_STUCK_SECONDS = 300
        long_ago = timedelta(minutes=10)
        stuck = make_notification(alice)
        age(stuck, created_ago=long_ago)
        lost_retry = make_notification(alice)
        age(lost_retry, created_ago=long_ago, next_attempt_in=-timedelta(minutes=6))
        make_notification(alice)  # pending, but created just now
        waiting_retry = make_notification(alice)
        age(waiting_retry, created_ago=long_ago, next_attempt_in=timedelta(minutes=2))
        sent = make_notification(alice, status="sent", sent_at=timezone.now() - long_ago)
        age(sent, created_ago=long_ago)
        failed = make_notification(alice, status="failed", attempts=8)
        age(failed, created_ago=long_ago)

        assert tasks.requeue_stuck_notifications() == 2
        assert queued_tasks(clean_redis) == [
            ("alerts.tasks.send_notifications", [[stuck.pk, lost_retry.pk], None]),
        ]

    def test_the_sweeper_never_resends_a_sent_notification(
        self, alice, clean_redis, mail, settings, make_notification
    ):
        settings.ALERTS_NOTIFY_STUCK_SECONDS = 300
        notification = make_notification(alice)
        assert delivery_tasks.send_notification.apply(args=(notification.pk, 0)).get() == "sent"
        age(notification, created_ago=timedelta(hours=1))
        assert tasks.requeue_stuck_notifications() == 0
        assert queued_tasks(clean_redis) == []
        # Even a copy queued before it was sent (a sweep racing the first send) is dropped.
        assert delivery_tasks.send_notification.apply(args=(notification.pk, None)).get() == "skipped"
        assert len(mail.received) == 1

    def test_a_requeued_notification_is_delivered_once(
        self, alice, clean_redis, mail, settings, make_notification
    ):
        settings.ALERTS_NOTIFY_STUCK_SECONDS = 300
        notification = make_notification(alice)
        age(notification, created_ago=timedelta(minutes=10))
        assert tasks.requeue_stuck_notifications() == 1
        # Its first message turns up after all, next to the sweeper's copy.
        [(name, sweeper_args)] = queued_tasks(clean_redis)
        assert (name, sweeper_args) == ("alerts.tasks.send_notification", [notification.pk, None])
        for args in [[notification.pk, 0], sweeper_args]:
            delivery_tasks.send_notification.apply(args=args)
        assert len(mail.wait_for(1)) == 1
        notification.refresh_from_db()
        assert (notification.status, notification.attempts) == ("sent", 1)

    def test_marks_failed_those_whose_last_attempt_died_with_its_worker(
        self, alice, clean_redis, settings, make_notification
    ):
        settings.ALERTS_NOTIFY_MAX_ATTEMPTS = 3
        notification = make_notification(alice, attempts=3)
        age(notification, created_ago=timedelta(hours=1), next_attempt_in=-timedelta(minutes=30))
        assert tasks.requeue_stuck_notifications() == 0
        assert Notification.objects.get(pk=notification.pk).status == "failed"
        assert queued_tasks(clean_redis) == []
