"""Celery entry points of the alerts app: thin wrappers that own scheduling.

- ``evaluate_alerts``: one engine tick, queued by beat every
  ALERTS_EVALUATE_INTERVAL and by the feeder right after a trade crossed an
  alert's frontier (a wake-up: the same task, an extra tick). Skipped while
  another tick holds the Redis lock, which its holder renews for as long as it
  runs, so two ticks never overlap however long one takes.
- ``requeue_stuck_notifications``: beat, every minute: re-enqueue pending
  notifications nobody has touched for ALERTS_NOTIFY_STUCK_SECONDS
  (``alerts.delivery.outbox.requeue_stuck``).
- ``requeue_expired_leases``: beat, every ALERTS_NOTIFY_LEASE_SWEEP_SECONDS (3 s):
  hand on what a dead delivery worker held (``alerts.delivery.outbox.requeue_expired_leases``).
- ``release_held_notifications``: beat, every ALERTS_QUIET_RELEASE_SECONDS (15 s): deliveries
  held in quiet hours that have ended go out as one digest per channel
  (``alerts.delivery.digests.release_held``).

The send tasks live in ``alerts.delivery.tasks``; importing them here is what
registers them with the worker (Celery autodiscovers ``<app>.tasks``).
"""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from celery import shared_task
from django.conf import settings
from redis.exceptions import LockError

from alerts import engine
from alerts.delivery import digests, outbox
from alerts.delivery.tasks import send_notification, send_notifications
from feeds import store
from feeds.store import redis_client

__all__ = [
    "evaluate_alerts",
    "release_held_notifications",
    "requeue_expired_leases",
    "requeue_stuck_notifications",
    "send_notification",
    "send_notifications",
]

logger = logging.getLogger(__name__)

EVALUATE_LOCK_KEY = "alerts:evaluate:lock"
# Rounds one task runs while wake-ups keep arriving during its ticks; past them
# the wake-up's own queued task (or the next beat) goes on.
MAX_ROUNDS = 5


def evaluate_lock_seconds() -> float:
    """The lock's lifetime between renewals: a crashed holder blocks evaluation this long at most."""
    return max(5.0, 5 * settings.ALERTS_EVALUATE_INTERVAL)


@contextmanager
def renewed_lock(client: redis.Redis, key: str, seconds: float) -> Iterator[bool]:
    """Take the lock without waiting; yields whether it was taken, and renews it until the block ends.

    A thread puts the lock's lifetime back to ``seconds`` every third of it, so
    a long tick (a big firing, a slow database) keeps it to the end, while a
    holder that died stops renewing and its lock lapses within ``seconds``.
    """
    # thread_local=False: the renewing thread must see the token the acquiring thread got.
    lock = client.lock(key, timeout=seconds, blocking=False, thread_local=False)
    if not lock.acquire():
        yield False
        return
    done = threading.Event()

    def renew() -> None:
        while not done.wait(seconds / 3):
            try:
                lock.reacquire()
            except (LockError, redis.RedisError) as exc:
                logger.error("Evaluation lock could not be renewed (%s): another tick may start", exc)
                return

    renewer = threading.Thread(target=renew, name="evaluate-lock-renewer", daemon=True)
    renewer.start()
    try:
        yield True
    finally:
        done.set()
        renewer.join()
        try:
            lock.release()
        except LockError:  # lost (Redis restarted, renewal failed): a later tick may hold it now
            logger.warning("Evaluation lock expired before the tick finished")


@shared_task(name="alerts.tasks.evaluate_alerts", ignore_result=True)
def evaluate_alerts() -> dict | None:
    """One tick, whether beat or a wake-up queued it; again while a wake-up came during it."""
    client = redis_client()
    lock_seconds = evaluate_lock_seconds()
    result = None
    entries = fired = 0
    for _ in range(MAX_ROUNDS):
        with renewed_lock(client, EVALUATE_LOCK_KEY, lock_seconds) as held:
            if not held:
                # The holder looks at the wake-up flag after it lets go: a wake-up skipped here is not lost.
                logger.debug("Evaluation skipped: another tick is running")
                break
            # Lowered before the stream is read: a crossing written after this raises it again.
            store.clear_wake(client)
            # Same bound as ever: a backlog is read in slices, the next tick goes on from the checkpoint.
            result = engine.evaluate_pending(max_seconds=lock_seconds / 2)
            entries, fired = entries + result.entries, fired + result.fired
            if result.fired:
                logger.info("Evaluation fired %d alerts from %d stream entries", result.fired, result.entries)
        if not store.wake_requested(client):
            break
    if result is None:
        return None
    return {"entries": entries, "fired": fired, "stream_id": result.stream_id}


@shared_task(name="alerts.tasks.requeue_stuck_notifications", ignore_result=True)
def requeue_stuck_notifications(limit: int = 10_000) -> int:
    """Re-enqueue pending notifications that nobody sent, or was due to retry, for a while."""
    return outbox.requeue_stuck(limit)


@shared_task(name="alerts.tasks.requeue_expired_leases", ignore_result=True)
def requeue_expired_leases(limit: int = 10_000) -> int:
    """Re-enqueue the notifications a dead delivery worker held (its lease ran out unrenewed)."""
    return outbox.requeue_expired_leases(limit)


@shared_task(name="alerts.tasks.release_held_notifications", ignore_result=True)
def release_held_notifications(limit: int = 10_000) -> int:
    """Send, as one digest per channel, the deliveries held in quiet hours that have ended."""
    return len(digests.release_held(limit=limit))
