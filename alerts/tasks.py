"""Celery entry points of the alerts app: thin wrappers that own scheduling and retry policy.

- ``evaluate_alerts``: one engine tick (beat, every ALERTS_EVALUATE_INTERVAL),
  skipped while another tick holds the short Redis lock.
- ``send_notification``: send one alert email; SMTP and network failures are
  retried with exponential backoff and jitter, up to ALERTS_NOTIFY_MAX_ATTEMPTS.
  ``send_notifications`` sends a batch over one SMTP session (a tick that
  fires many alerts); a failed one goes on with ``send_notification``.
- ``requeue_stuck_notifications``: beat, every minute: re-enqueue pending
  notifications nobody has touched for ALERTS_NOTIFY_STUCK_SECONDS.
"""

import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import LockError

from alerts import engine, notify
from alerts.models import Notification
from feeds.store import redis_client

logger = logging.getLogger(__name__)

EVALUATE_LOCK_KEY = "alerts:evaluate:lock"
RETRY_DELAY_CAP_SECONDS = 900.0
# Emails per send_notifications task: one SMTP session each; small enough that
# two or more workers share a burst.
SEND_BATCH = 20


def evaluate_lock_seconds() -> float:
    """A few ticks long: covers a slow tick, yet a crashed holder blocks evaluation only briefly."""
    return max(5.0, 5 * settings.ALERTS_EVALUATE_INTERVAL)


@shared_task(name="alerts.tasks.evaluate_alerts", ignore_result=True)
def evaluate_alerts() -> dict | None:
    lock_seconds = evaluate_lock_seconds()
    lock = redis_client().lock(EVALUATE_LOCK_KEY, timeout=lock_seconds, blocking=False)
    if not lock.acquire():
        logger.debug("Evaluation skipped: another tick is running")
        return None
    try:
        # Stop well inside the lock's lifetime; the next tick goes on from the checkpoint.
        result = engine.evaluate_pending(max_seconds=lock_seconds / 2)
    finally:
        try:
            lock.release()
        except LockError:  # expired: a later tick may already hold it, and is not ours to drop
            logger.warning("Evaluation lock expired before the tick finished")
    if result.fired:
        logger.info("Evaluation fired %d alerts from %d stream entries", result.fired, result.entries)
    return {"entries": result.entries, "fired": result.fired, "stream_id": result.stream_id}


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones: doubling, capped, jittered."""
    base = min(settings.ALERTS_NOTIFY_RETRY_SECONDS * 2 ** (attempts - 1), RETRY_DELAY_CAP_SECONDS)
    # Full jitter on the upper half: retries of a burst spread out instead of
    # hitting a recovering SMTP server together.
    return base / 2 + random.uniform(0, base / 2)


@dataclass(frozen=True, slots=True)
class Delivery:
    outcome: str  # sent | failed | skipped | retry
    attempts: int = 0
    retry_in: float = 0.0
    error: BaseException | None = None


def deliver(notification_id: int, expected_attempts: int | None, connection=None) -> Delivery:
    """One attempt at one notification: claim, send, settle (sent, failed, or due for a retry)."""
    notification = notify.claim_notification(notification_id, expected_attempts=expected_attempts)
    if notification is None:
        return Delivery("skipped")  # sent already, failed, gone, or another worker holds it
    try:
        notify.send_notification_message(notification, connection=connection)
    except Exception as exc:
        error = exc if isinstance(exc, notify.NotificationError) else notify.NotificationError(repr(exc))
        attempts = notification.attempts
        if error.permanent or attempts >= settings.ALERTS_NOTIFY_MAX_ATTEMPTS:
            notify.mark_notification_failed(notification, error.message)
            logger.warning(
                "Notification %s failed after %d attempts: %s", notification_id, attempts, error.message
            )
            return Delivery("failed", attempts, error=exc)
        delay = retry_delay(attempts)
        notify.mark_notification_retry(
            notification, error.message, retry_at=timezone.now() + timedelta(seconds=delay)
        )
        logger.info(
            "Notification %s attempt %d failed, retrying in %.0f s: %s",
            notification_id,
            attempts,
            delay,
            error.message,
        )
        return Delivery("retry", attempts, delay, exc)
    notify.mark_notification_sent(notification)
    return Delivery("sent", notification.attempts)


@shared_task(
    name="alerts.tasks.send_notification",
    bind=True,
    acks_late=True,
    ignore_result=True,
    max_retries=None,  # bounded by Notification.attempts, which survives re-enqueues
)
def send_notification(self, notification_id: int, expected_attempts: int | None = 0) -> str:
    """Send one notification's email; returns sent, failed or skipped, or retries with backoff."""
    delivery = deliver(notification_id, expected_attempts)
    if delivery.outcome == "retry":
        # The retry carries the attempt count it follows: it may claim before anyone else.
        raise self.retry(
            args=(notification_id, delivery.attempts), countdown=delivery.retry_in, exc=delivery.error
        )
    return delivery.outcome


@shared_task(name="alerts.tasks.send_notifications", acks_late=True, ignore_result=True)
def send_notifications(notification_ids: list[int], expected_attempts: int | None = 0) -> dict[str, int]:
    """Send a batch over one SMTP session; a failed one is retried on its own (send_notification)."""
    outcomes: dict[str, int] = {}
    connection = get_connection(fail_silently=False)
    try:
        for notification_id in notification_ids:
            delivery = deliver(notification_id, expected_attempts, connection)
            if delivery.outcome == "retry":
                send_notification.apply_async(
                    (notification_id, delivery.attempts), countdown=delivery.retry_in
                )
            outcomes[delivery.outcome] = outcomes.get(delivery.outcome, 0) + 1
    finally:
        notify.close_connection(connection)
    return outcomes


def enqueue_notifications(notification_ids: Iterable[int], expected_attempts: int | None = 0) -> None:
    """Enqueue the sends over a single broker connection: alone, or in batches of SEND_BATCH.

    A tick that fires thousands of alerts then costs a few hundred messages and
    as many SMTP sessions, not one of each per email. Called on commit; a
    broker that is down only delays the emails: the rows stay pending and the
    sweeper enqueues them again.
    """
    ids = list(notification_ids)
    try:
        with send_notification.app.producer_or_acquire() as producer:
            for start in range(0, len(ids), SEND_BATCH):
                batch = ids[start : start + SEND_BATCH]
                if len(batch) == 1:
                    send_notification.apply_async((batch[0], expected_attempts), producer=producer)
                else:
                    send_notifications.apply_async((batch, expected_attempts), producer=producer)
    except Exception:
        logger.exception("Could not enqueue notifications; the sweeper will re-enqueue them")


def retry_notifications(notification_ids: Iterable[int]) -> int:
    """Send these notifications again (the admin's "retry"); returns how many were enqueued.

    Failed ones get a fresh set of attempts. Pending ones are enqueued only if
    nobody holds them (no lease, no retry due later), so a retry can never run
    beside a send in progress. Sent ones are never sent again.
    """
    ids = list(notification_ids)
    now = timezone.now()
    with transaction.atomic():
        failed = list(
            Notification.objects.filter(id__in=ids, status=Notification.Status.FAILED).values_list(
                "id", flat=True
            )
        )
        Notification.objects.filter(id__in=failed, status=Notification.Status.FAILED).update(
            status=Notification.Status.PENDING, attempts=0, next_attempt_at=None
        )
        idle = list(
            Notification.objects.filter(id__in=ids, status=Notification.Status.PENDING)
            .exclude(id__in=failed)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .values_list("id", flat=True)
        )
        retried = sorted(failed + idle)
        # No expected attempts: the claim still waits out any lease taken meanwhile.
        transaction.on_commit(lambda: enqueue_notifications(retried, expected_attempts=None))
    return len(retried)


@shared_task(name="alerts.tasks.requeue_stuck_notifications", ignore_result=True)
def requeue_stuck_notifications(limit: int = 10_000) -> int:
    """Re-enqueue pending notifications that nobody sent, or was due to retry, for a while."""
    cutoff = timezone.now() - timedelta(seconds=settings.ALERTS_NOTIFY_STUCK_SECONDS)
    stuck = Notification.objects.filter(status=Notification.Status.PENDING, created_at__lt=cutoff).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=cutoff)
    )
    # A worker that died while sending its last allowed attempt leaves it pending for ever.
    exhausted = stuck.filter(attempts__gte=settings.ALERTS_NOTIFY_MAX_ATTEMPTS).update(
        status=Notification.Status.FAILED, next_attempt_at=None
    )
    ids = list(
        stuck.filter(attempts__lt=settings.ALERTS_NOTIFY_MAX_ATTEMPTS)
        .order_by("created_at")
        .values_list("id", flat=True)[:limit]
    )
    if ids:
        logger.warning("Re-enqueuing %d stuck notifications", len(ids))
        # No expected attempts: the claim then waits out any lease still running.
        enqueue_notifications(ids, expected_attempts=None)
    if exhausted:
        logger.warning("Marked %d notifications failed: attempts exhausted", exhausted)
    return len(ids)
