"""Celery entry points of delivery: send one notification, or a batch over one SMTP session.

Thin: the attempt itself (claim, send, settle) is ``alerts.delivery.send.deliver``;
these own the Celery side (acks, retry messages, batching). Registered under
their historical names (``alerts.tasks.*``): queued messages carry those names.
``alerts.tasks`` imports this module, so the worker's autodiscovery registers them.

- ``send_notification``: one notification; a failure that may pass is retried
  with exponential backoff and jitter, up to ALERTS_NOTIFY_MAX_ATTEMPTS.
- ``send_notifications``: a batch over one SMTP session (a tick that fires many
  alerts); a failed one goes on with ``send_notification``.
"""

import logging
from collections.abc import Iterable

from celery import shared_task

from alerts.delivery.channel_test import run_test
from alerts.delivery.kinds.email import smtp_session
from alerts.delivery.send import deliver

logger = logging.getLogger(__name__)

# Notifications per send_notifications task: one SMTP session each; small enough
# that two or more workers share a burst.
SEND_BATCH = 20


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
    """Send a batch over one SMTP session; a failed one is retried on its own (send_notification)."""
    outcomes: dict[str, int] = {}
    with smtp_session() as connection:
        for notification_id in notification_ids:
            delivery = deliver(notification_id, expected_attempts, connection)
            if delivery.outcome == "retry":
                send_notification.apply_async(
                    (notification_id, delivery.attempts), countdown=delivery.retry_in
                )
            outcomes[delivery.outcome] = outcomes.get(delivery.outcome, 0) + 1
    return outcomes


@shared_task(name="alerts.tasks.test_channel", ignore_result=True)
def test_channel(channel_id: int, token: str) -> bool | None:
    """POST /channels/<id>/test, sent here rather than in the web request (see channel_test)."""
    outcome = run_test(channel_id, token)
    return None if outcome is None else outcome.delivered


def enqueue_notifications(notification_ids: Iterable[int], expected_attempts: int | None = 0) -> None:
    """Enqueue the sends over a single broker connection: alone, or in batches of SEND_BATCH.

    A tick that fires thousands of alerts then costs a few hundred messages and
    as many SMTP sessions, not one of each per email. A broker that is down
    only delays the sends: the rows stay pending and the sweeper enqueues them
    again.
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
