"""Celery entry points of the alerts app: thin wrappers that own scheduling.

- ``evaluate_alerts``: one engine tick (beat, every ALERTS_EVALUATE_INTERVAL),
  skipped while another tick holds the short Redis lock.
- ``requeue_stuck_notifications``: beat, every minute: re-enqueue pending
  notifications nobody has touched for ALERTS_NOTIFY_STUCK_SECONDS
  (``alerts.delivery.outbox.requeue_stuck``).
- ``requeue_expired_leases``: beat, every ALERTS_NOTIFY_LEASE_SWEEP_SECONDS (3 s):
  hand on what a dead delivery worker held (``alerts.delivery.outbox.requeue_expired_leases``).

The send tasks live in ``alerts.delivery.tasks``; importing them here is what
registers them with the worker (Celery autodiscovers ``<app>.tasks``).
"""

import logging

from celery import shared_task
from django.conf import settings
from redis.exceptions import LockError

from alerts import engine
from alerts.delivery import outbox
from alerts.delivery.tasks import send_notification, send_notifications
from feeds.store import redis_client

__all__ = [
    "evaluate_alerts",
    "requeue_expired_leases",
    "requeue_stuck_notifications",
    "send_notification",
    "send_notifications",
]

logger = logging.getLogger(__name__)

EVALUATE_LOCK_KEY = "alerts:evaluate:lock"


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


@shared_task(name="alerts.tasks.requeue_stuck_notifications", ignore_result=True)
def requeue_stuck_notifications(limit: int = 10_000) -> int:
    """Re-enqueue pending notifications that nobody sent, or was due to retry, for a while."""
    return outbox.requeue_stuck(limit)


@shared_task(name="alerts.tasks.requeue_expired_leases", ignore_result=True)
def requeue_expired_leases(limit: int = 10_000) -> int:
    """Re-enqueue the notifications a dead delivery worker held (its lease ran out unrenewed)."""
    return outbox.requeue_expired_leases(limit)
