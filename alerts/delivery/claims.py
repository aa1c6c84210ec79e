"""Claiming and settling a notification's send: a compare-and-set with a lease.

However many task messages exist for one Notification (a retry, a sweeper
re-enqueue, a redelivery after a worker died), only one worker at a time may
send it, and a sent one is never sent again. Only the holder of the claim may
settle it (sent, retry, failed): nobody claimed it again since.

A batch claims its notifications in one statement, each row on its own terms
(the same compare-and-set as one claim), and settles each one as soon as it is
sent. The lease is short (ALERTS_NOTIFY_LEASE_SECONDS) and renewed by the
holder's heartbeat (``alerts.delivery.heartbeat``) while its process lives, so
a lease past its time means a dead holder (``take_expired_leases``).

Quiet hours (``alerts.delivery.digests``): the holder of a claim may also put the
notification on hold (``mark_notification_held``: ``held``, its attempt given
back, no lease); a digest's carrier is claimed like any notification, and
settling it settles the held rows it carries in the same transaction.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from alerts.dialect import dialect
from alerts.models import Notification

NOTIFICATION_TABLE = Notification._meta.db_table


def send_lease() -> timedelta:
    """How long a claim keeps other workers off unless its holder's heartbeat renews it."""
    return timedelta(seconds=settings.ALERTS_NOTIFY_LEASE_SECONDS)


# Timestamps no send reads, left out of the claimed rows' load: Django's psycopg loader parses
# each in Python, row by row (deferred, the load of 100 rows took a fifth less CPU; see
# docs/BENCHMARKS.md). One read anyway (a template showing ``alert.created_at``) costs a query.
UNREAD_BY_SENDS = (
    *("created_at", "sent_at", "next_attempt_at", "leased_until", "held_until", "failed_at"),
    *("alert__created_at", "alert__armed_at", "alert__last_triggered_at", "alert__expires_at"),
    *("alert__snoozed_until", "alert__user__last_login", "alert__user__date_joined"),
    "alert__user__email_verified_at",
)


def claim_notifications(
    notification_ids: Sequence[int], *, expected_attempts: int | None, now: datetime | None = None
) -> list[Notification]:
    """Take the right to send each of these pending notifications that nobody else has, in one statement.

    Each row's claim counts its attempt and sets a lease. It succeeds when the
    notification is still pending and either nobody holds it (no lease, or the
    lease or retry time has passed) or this message is the one the last attempt
    scheduled (``expected_attempts`` equals the attempts so far: a compare-and-set,
    so of two messages carrying the same number only the first wins). Returns the
    claimed ones, with their alert and channel, in the order asked.
    """
    if not notification_ids:
        return []
    now = now or timezone.now()
    until = connection.ops.adapt_datetimefield_value(now + send_lease())
    sql = dialect()
    match, params = sql.id_match("id", list(notification_ids))
    scheduled = "attempts = %s" if expected_attempts is not None else "1 = 0"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {NOTIFICATION_TABLE}
            SET attempts = attempts + 1, next_attempt_at = %s, leased_until = %s
            WHERE {match} AND status = 'pending' AND attempts < %s
              AND (next_attempt_at IS NULL OR next_attempt_at <= %s OR {scheduled})
            RETURNING id
            """,
            [
                until,
                until,
                *params,
                settings.ALERTS_NOTIFY_MAX_ATTEMPTS,
                connection.ops.adapt_datetimefield_value(now),
                *([expected_attempts] if expected_attempts is not None else []),
            ],
        )
        claimed = {row[0] for row in cursor.fetchall()}
    if not claimed:
        return []
    # The owner too: quiet hours are the account's time zone and window (alerts.delivery.digests).
    loaded = (
        Notification.objects.select_related("alert__user", "via").defer(*UNREAD_BY_SENDS).in_bulk(claimed)
    )
    return [loaded[i] for i in notification_ids if i in loaded]


def claim_notification(
    notification_id: int, *, expected_attempts: int | None, now: datetime | None = None
) -> Notification | None:
    """One notification's claim (``claim_notifications`` of one), or None if someone else has it."""
    claimed = claim_notifications([notification_id], expected_attempts=expected_attempts, now=now)
    return claimed[0] if claimed else None


def renew_leases(held: Mapping[int, int], *, now: datetime | None = None) -> int:
    """Push the lease of the claims still held (notification id -> attempts of the claim) a lease ahead."""
    if not held:
        return 0
    until = (now or timezone.now()) + send_lease()
    by_attempts: dict[int, list[int]] = {}
    for notification_id, attempts in held.items():
        by_attempts.setdefault(attempts, []).append(notification_id)
    ours = Q()
    for attempts, ids in by_attempts.items():
        ours |= Q(id__in=ids, attempts=attempts)
    # Settled meanwhile (sent, failed, or a retry scheduled: no lease) is not renewed.
    return Notification.objects.filter(
        ours, status=Notification.Status.PENDING, leased_until__isnull=False
    ).update(next_attempt_at=until, leased_until=until)


def take_expired_leases(*, now: datetime | None = None, limit: int = 10_000) -> list[tuple[int, int]]:
    """The (id, attempts) of pending notifications whose holder stopped renewing its lease: dead.

    Their lease is cleared in the same statement, so each is handed on once
    (a message lost again is found by the slower stuck sweeper).
    """
    now = connection.ops.adapt_datetimefield_value(now or timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {NOTIFICATION_TABLE} SET leased_until = NULL
            WHERE id IN (
                SELECT id FROM {NOTIFICATION_TABLE}
                WHERE status = 'pending' AND leased_until < %s ORDER BY id LIMIT %s
            ) AND status = 'pending' AND leased_until < %s
            RETURNING id, attempts
            """,
            [now, limit, now],
        )
        return sorted(cursor.fetchall())


def _owned(notification: Notification):
    # Only the holder of the claim may settle it: nobody claimed it again since.
    return Notification.objects.filter(
        id=notification.id, status=Notification.Status.PENDING, attempts=notification.attempts
    )


def _settle_digest(notification: Notification, **values) -> None:
    # A digest's carrier settles the held rows it carries in the same transaction: they were
    # sent (or failed) with it, exactly when it was.
    if notification.digest_id == notification.id:
        Notification.objects.filter(digest_id=notification.id, status=Notification.Status.HELD).exclude(
            id=notification.id
        ).update(**values, next_attempt_at=None, leased_until=None, held_until=None)


# A notification without a digest, marked sent (``mark_notification_sent``).
SENT_MARK = f"""
    UPDATE {NOTIFICATION_TABLE}
    SET status = 'sent', sent_at = %s, next_attempt_at = NULL, leased_until = NULL
    WHERE id = %s AND status = 'pending'
    RETURNING id
"""


def mark_notification_sent(notification: Notification, *, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    if notification.digest_id != notification.id:
        # Nothing carried with it: one statement, its own transaction. This runs once per email
        # sent, right after the SMTP server's reply: an ORM update inside ``atomic`` cost three
        # round trips (BEGIN, UPDATE, COMMIT) and a query compile each time. Prepared on
        # PostgreSQL (``fetch_prepared``): the server parses and plans it once per connection, not
        # once per email, which took about a third of its CPU for the statement (docs/BENCHMARKS.md).
        marked = dialect().fetch_prepared(
            SENT_MARK, [connection.ops.adapt_datetimefield_value(now), notification.id]
        )
        return len(marked) == 1
    with transaction.atomic():
        sent = bool(
            Notification.objects.filter(id=notification.id, status=Notification.Status.PENDING).update(
                status=Notification.Status.SENT,
                sent_at=now,
                next_attempt_at=None,
                leased_until=None,
            )
        )
        if sent:
            _settle_digest(notification, status=Notification.Status.SENT, sent_at=now)
    return sent


def mark_notification_retry(notification: Notification, error: str, *, retry_at: datetime) -> bool:
    return bool(_owned(notification).update(last_error=error, next_attempt_at=retry_at, leased_until=None))


def mark_notification_deferred(notification: Notification, reason: str, *, retry_at: datetime) -> bool:
    """Put back, unsent, for later; the attempt this claim counted is given back."""
    return bool(
        _owned(notification).update(
            attempts=F("attempts") - 1, last_error=reason, next_attempt_at=retry_at, leased_until=None
        )
    )


def mark_notification_held(notification: Notification, *, until: datetime) -> bool:
    """In quiet hours: held, unsent, until they end (then released in a digest); the attempt is given back."""
    return bool(
        _owned(notification).update(
            status=Notification.Status.HELD,
            attempts=F("attempts") - 1,
            held_until=until,
            last_error="",
            next_attempt_at=None,
            leased_until=None,
        )
    )


def mark_notification_failed(notification: Notification, error: str) -> bool:
    with transaction.atomic():
        failed = bool(
            _owned(notification).update(
                status=Notification.Status.FAILED,
                last_error=error,
                next_attempt_at=None,
                leased_until=None,
                failed_at=timezone.now(),
            )
        )
        if failed:
            _settle_digest(
                notification,
                status=Notification.Status.FAILED,
                last_error=f"digest failed: {error}",
                failed_at=timezone.now(),
            )
    return failed
