"""Celery entry points of delivery: send one notification, or a batch sharing its connections.

Thin: the attempt itself (claim, send, settle) is ``alerts.delivery.send.deliver``;
these own the Celery side (acks, retry messages, batching). Registered under
their historical names (``alerts.tasks.*``): queued messages carry those names.
``alerts.tasks`` imports this module, so the worker's autodiscovery registers them.

- ``send_notification``: one notification; a failure that may pass is retried
  with exponential backoff and jitter, up to ALERTS_NOTIFY_MAX_ATTEMPTS.
- ``send_notifications``: a batch (a tick that fires many alerts): one SMTP
  connection for its emails, one HTTP session for its webhooks; a failed one
  goes on with ``send_notification``.
"""

import logging
import math
from collections.abc import Iterable

from celery import shared_task
from kombu.exceptions import ChannelError

from alerts.delivery.probe import run_test
from alerts.delivery.send import deliver, deliver_many

logger = logging.getLogger(__name__)

# Notifications per send_notifications task, at most: one SMTP connection each, and
# its claims in one statement. A crash day's thousands go in batches this size.
SEND_BATCH = 100
# A smaller burst is cut into about this many batches (of at least SEND_BATCH_MIN),
# so that every delivery process takes a share at once instead of one sending it all.
SEND_SPREAD = 8
SEND_BATCH_MIN = 5


@shared_task(
    name="alerts.tasks.send_notification",
    bind=True,
    acks_late=True,
    ignore_result=True,
    max_retries=None,  # bounded by Notification.attempts, which survives re-enqueues
)
def send_notification(self, notification_id: int, expected_attempts: int | None = 0) -> str:
    """Send one notification; returns sent, failed or skipped, or retries with backoff."""
    delivery = deliver(notification_id, expected_attempts)
    if delivery.outcome == "retry":
        # The retry carries the attempt count it follows: it may claim before anyone else.
        raise self.retry(
            args=(notification_id, delivery.attempts), countdown=delivery.retry_in, exc=delivery.error
        )
    return delivery.outcome


@shared_task(name="alerts.tasks.send_notifications", acks_late=True, ignore_result=True)
def send_notifications(notification_ids: list[int], expected_attempts: int | None = 0) -> dict[str, int]:
    """Send a batch over shared connections; a failed one is retried on its own (send_notification)."""
    outcomes: dict[str, int] = {}
    for notification_id, delivery in deliver_many(notification_ids, expected_attempts):
        if delivery.outcome == "retry":
            send_notification.apply_async((notification_id, delivery.attempts), countdown=delivery.retry_in)
        outcomes[delivery.outcome] = outcomes.get(delivery.outcome, 0) + 1
    return outcomes


@shared_task(name="alerts.tasks.test_channel", ignore_result=True)
def test_channel(channel_id: int, token: str) -> bool | None:
    """POST /channels/<id>/test, sent here rather than in the web request (see alerts.delivery.probe)."""
    outcome = run_test(channel_id, token)
    return None if outcome is None else outcome.delivered


def waiting_sends() -> int | None:
    """Messages waiting in the delivery queue, not yet taken by a worker; None if the broker cannot say."""
    app = send_notification.app
    try:
        with app.connection_for_read() as connection:
            queue = app.conf.task_default_queue
            return connection.default_channel.queue_declare(queue=queue, passive=True).message_count
    except ChannelError:  # no such queue (Redis drops an empty list): nothing waits
        return 0
    except Exception:
        logger.warning("Could not read the delivery queue's length", exc_info=True)
        return None


def batch_size(count: int) -> int:
    """Notifications per task for a burst of ``count``: SEND_SPREAD batches, at most SEND_BATCH each."""
    return min(SEND_BATCH, max(SEND_BATCH_MIN, math.ceil(count / SEND_SPREAD)))


def enqueue_notifications(notification_ids: Iterable[int], expected_attempts: int | None = 0) -> None:
    """Enqueue the sends over a single broker connection, in the order given: alone, or in batches.

    The order is the outbox's fair one (users round-robin), so the first
    batches carry every user's first notification. A tick that fires thousands
    of alerts costs a hundred messages and as many SMTP sessions, not one of
    each per email. A broker that is down only delays the sends: the rows stay
    pending and the sweeper enqueues them again.
    """
    ids = list(notification_ids)
    size = batch_size(len(ids))
    try:
        with send_notification.app.producer_or_acquire() as producer:
            for start in range(0, len(ids), size):
                batch = ids[start : start + size]
                if len(batch) == 1:
                    send_notification.apply_async((batch[0], expected_attempts), producer=producer)
                else:
                    send_notifications.apply_async((batch, expected_attempts), producer=producer)
    except Exception:
        logger.exception("Could not enqueue notifications; the sweeper will re-enqueue them")
