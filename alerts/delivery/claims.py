"""Claiming and settling a notification's send: a compare-and-set with a lease.

However many task messages exist for one Notification (a retry, a sweeper
re-enqueue, a redelivery after a worker died), only one worker at a time may
send it, and a sent one is never sent again. Only the holder of the claim may
settle it (sent, retry, failed): nobody claimed it again since.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from alerts.models import Notification


def send_lease() -> timedelta:
    """How long a claim keeps other workers off: longer than any SMTP conversation can take."""
    return timedelta(seconds=max(settings.ALERTS_NOTIFY_LEASE_SECONDS, 6 * settings.EMAIL_TIMEOUT))


def claim_notification(
    notification_id: int, *, expected_attempts: int | None, now: datetime | None = None
) -> Notification | None:
    """Take the right to send one pending notification, or None if someone else has it.

    The claim counts the attempt and sets a lease. It succeeds when the
    notification is still pending and either nobody holds it (no lease, or the
    lease or retry time has passed) or this message is the one the last attempt
    scheduled (``expected_attempts`` equals the attempts so far: a compare-and-set,
    so of two messages carrying the same number only the first wins).
    """
    now = now or timezone.now()
    free = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    if expected_attempts is not None:
        free |= Q(attempts=expected_attempts)
    claimed = (
        Notification.objects.filter(free, id=notification_id, status=Notification.Status.PENDING)
        .filter(attempts__lt=settings.ALERTS_NOTIFY_MAX_ATTEMPTS)
        .update(attempts=F("attempts") + 1, next_attempt_at=now + send_lease())
    )
    if not claimed:
        return None
    return Notification.objects.select_related("alert", "via").filter(id=notification_id).first()


def _owned(notification: Notification):
    # Only the holder of the claim may settle it: nobody claimed it again since.
    return Notification.objects.filter(
        id=notification.id, status=Notification.Status.PENDING, attempts=notification.attempts
    )


def mark_notification_sent(notification: Notification, *, now: datetime | None = None) -> bool:
    return bool(
        Notification.objects.filter(id=notification.id, status=Notification.Status.PENDING).update(
            status=Notification.Status.SENT, sent_at=now or timezone.now(), next_attempt_at=None
        )
    )


def mark_notification_retry(notification: Notification, error: str, *, retry_at: datetime) -> bool:
    return bool(_owned(notification).update(last_error=error, next_attempt_at=retry_at))


def mark_notification_deferred(notification: Notification, reason: str, *, retry_at: datetime) -> bool:
    """Put back, unsent, for later; the attempt this claim counted is given back."""
    return bool(
        _owned(notification).update(attempts=F("attempts") - 1, last_error=reason, next_attempt_at=retry_at)
    )


def mark_notification_failed(notification: Notification, error: str) -> bool:
    return bool(
        _owned(notification).update(status=Notification.Status.FAILED, last_error=error, next_attempt_at=None)
    )
