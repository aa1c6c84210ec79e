"""The outbox: Notification rows written in the firing transaction, sends enqueued once it commits.

The engine calls ``write_notifications`` with what it fired, inside its
transaction: one row per channel to notify, set-based (thousands of firings
cost one statement, not thousands of model instances), over-the-cap firings
recorded as "suppressed", and the sends enqueued by ``transaction.on_commit``
(so a rolled-back tick sends nothing, and no network call happens inside the
transaction), users taking turns (``fair_order``). Rows that lose their message
on the way are found again by the sweeper (``requeue_stuck``), rows a dead
worker held within seconds (``requeue_expired_leases``: the rows it claimed, and
the messages it had taken and not claimed yet, ``requeue_orphaned``); the admin's
"retry" is ``retry_notifications``.
"""

import logging
from collections.abc import Collection, Iterable, Sequence
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from alerts.cache import invalidate_alert_lists
from alerts.delivery.claims import take_expired_leases
from alerts.delivery.tasks import enqueue_notifications, waiting_sends
from alerts.dialect import dialect
from alerts.models import Alert, Channel, Notification

logger = logging.getLogger(__name__)

ALERT_TABLE = Alert._meta.db_table
NOTIFICATION_TABLE = Notification._meta.db_table
USER_TABLE = get_user_model()._meta.db_table
CHANNEL_TABLE = Channel._meta.db_table
# Why an email notification is "unconfirmed" (alerts.delivery.unconfirmed releases it).
HELD_REASON = "Held: the address is not confirmed yet; sent once it is."
ALERT_CHANNELS_TABLE = Alert.channels.through._meta.db_table


def write_notifications(fired: Sequence[tuple[int, int]]) -> list[int]:
    """Notification rows for these (alert id, user id) firings, in this transaction; their sends
    are enqueued once it commits. Returns the ids of the rows to send."""
    return notifications_written(insert_notifications(fired), {user_id for _, user_id in fired})


def notifications_written(sends: Sequence[tuple[int, int]], users: Iterable[int]) -> list[int]:
    """After Notification rows were written in this transaction (``write_notifications``, or a
    firing statement carrying ``insert_from_fired``): the owners' alert lists change, and the
    (id, user id) rows to send are enqueued once it commits, users taking turns. Returns their ids."""
    ids = fair_order(sends)
    invalidate_alert_lists(users)
    if ids:
        transaction.on_commit(lambda: enqueue_sends(ids))
    return ids


def enqueue_sends(notification_ids: list[int]) -> None:
    """Hand the rows to the send tasks (a benchmark times the tick without the broker by replacing this)."""
    enqueue_notifications(notification_ids)


# POST /alerts/<id>/snooze: a firing before the alert's ``snoozed_until`` is recorded, never sent.
# ``clock.at`` is the statement's one "now" (a derived table, so every use shares one parameter).
SNOOZED = "(a.snoozed_until IS NOT NULL AND a.snoozed_until > clock.at)"


def _over_the_cap(users_match: str, users_params: list) -> tuple[str, str, list]:
    """SQL pieces that mark a row over its owner's deliveries-per-hour cap: (condition, join, params).

    The cap counts deliveries, one per channel of a firing (a firing notifying
    three channels is three), excluding suppressed ones, over the last hour:
    the owner's earlier rows (those of this tick's earlier statements too, in
    the same transaction) plus the rows before this one in the statement, in
    (alert id, channel id) order. So a firing may be cut short: its first
    channels notified, the rest "suppressed". ``users_match`` picks the
    statement's alerts' owners (``n.user_id``), whose recent rows are counted
    once each (by notification_user_created_idx; the owners come from the
    caller, so the alerts are not looked up a second time).
    """
    cap = settings.ALERTS_MAX_NOTIFICATIONS_PER_HOUR
    if cap <= 0:
        return "1 = 0", "", []
    since = connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(hours=1))
    join = f"""
        LEFT JOIN (
            SELECT n.user_id, COUNT(*) AS used FROM {NOTIFICATION_TABLE} n
            WHERE {users_match} AND n.created_at > %s AND n.status NOT IN ('suppressed', 'snoozed')
            GROUP BY n.user_id
        ) recent ON recent.user_id = a.user_id"""
    over = (
        # Rows before this one in the statement, snoozed ones left out (they are never sent).
        f"COALESCE(recent.used, 0) + SUM(CASE WHEN {SNOOZED} THEN 0 ELSE 1 END) OVER "
        f"(PARTITION BY a.user_id ORDER BY a.id, c.id ROWS UNBOUNDED PRECEDING) > {cap:d}"
    )
    return over, join, [*users_params, since]


def insert_notifications(fired: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Notification rows for these (alert id, user id) firings, in this transaction; returns the
    (id, user id) of those to send (see ``_insert``). Pass them on to ``notifications_written``."""
    sql = dialect()
    alert_ids = sorted({alert_id for alert_id, _ in fired})
    owners = dict(fired)
    sends: list[tuple[int, int]] = []
    with connection.cursor() as cursor:
        for chunk in sql.id_chunks(alert_ids):
            # The chunk bound twice: a statement binds two chunks' worth whatever the batch
            # (binding the whole batch overflowed SQLite's bound-parameter limit).
            cursor.execute(
                *_insert(
                    ALERT_TABLE,
                    sql.id_match("a.id", chunk),
                    sql.id_match("n.user_id", sorted({owners[alert_id] for alert_id in chunk})),
                )
            )
            sends += [(row_id, user) for row_id, status, user in cursor.fetchall() if status == "pending"]
    return sends


# What a firing statement's CTE of fired alerts must return for ``insert_from_fired``.
FIRED_COLUMNS = ("id", "user_id", "trigger_count", "triggered_price", "triggered_at", "snoozed_until")


def insert_from_fired(fired: str) -> tuple[str, list]:
    """The Notification INSERT for the alerts a data-modifying CTE named ``fired`` returned (with
    ``FIRED_COLUMNS``), to run in that same statement (PostgreSQL): the firing and its rows in one
    round trip, the alerts not looked up again. Returns ``id, status, user_id`` of each row."""
    return _insert(fired, ("1 = 1", []), (f"n.user_id IN (SELECT f2.user_id FROM {fired} f2)", []))


def _insert(source: str, alerts: tuple[str, list], owners: tuple[str, list]) -> tuple[str, list]:
    """SQL: the Notification rows of the alerts ``alerts`` picks (as ``a``) from ``source``.

    One row per enabled channel the alert notifies (the ones it names, else all
    of its owner's), carrying the firing's number, price and time as the alert
    row holds them now. A user without any channel (made outside the API) gets
    email to the account's address; a user whose channels are all disabled gets
    one "failed" row saying so, deliveries over the hourly cap are
    "suppressed" rows, and email to an address not confirmed yet is an
    "unconfirmed" row (sent once it is confirmed): a firing is never silently
    lost. A firing of a snoozed alert is "snoozed" rows: recorded, never sent
    (and not counted by the cap). ``owners`` picks those alerts' owners
    (``n.user_id``) for the cap. Returns ``id, status, user_id`` of each row.
    """
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    qn = connection.ops.quote_name
    has_channels = f"EXISTS (SELECT 1 FROM {CHANNEL_TABLE} c2 WHERE c2.user_id = a.user_id)"
    snoozed = SNOOZED
    # Email to an account address nobody has confirmed is kept, not sent (alerts.delivery.unconfirmed).
    # An email channel with an address of its own waits for that address's confirmation instead.
    unconfirmed = (
        "(COALESCE(c.kind, 'email') = 'email' AND COALESCE(c.url, '') = '' AND u.email_verified_at IS NULL"
        " OR c.kind = 'email' AND c.url <> '' AND c.verified_at IS NULL)"
        if settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory"
        else "1 = 0"
    )
    match, params = alerts
    over, recent, recent_params = _over_the_cap(*owners)
    # ``to``: the account's address for its email (and for a user without channels), the
    # channel's name for the others (an email channel's own address is encrypted in the
    # table: the sender reads it from the channel).
    sql = f"""
        INSERT INTO {NOTIFICATION_TABLE}
            (alert_id, user_id, via_id, channel, {qn("to")}, status, attempts, last_error,
             created_at, firing, triggered_price, triggered_at, failed_at)
        SELECT a.id, a.user_id, c.id, COALESCE(c.kind, 'email'),
            CASE WHEN c.kind <> 'email' OR c.url <> '' THEN c.name ELSE u.email END,
            CASE WHEN c.id IS NULL AND {has_channels} THEN 'failed'
                 WHEN {snoozed} THEN 'snoozed'
                 WHEN {over} THEN 'suppressed'
                 WHEN {unconfirmed} THEN 'unconfirmed' ELSE 'pending' END,
            0,
            CASE WHEN c.id IS NULL AND {has_channels} THEN 'No enabled channel to notify.'
                 WHEN {snoozed} THEN 'The alert was snoozed when it fired: recorded, not sent.'
                 WHEN {over} THEN 'Over the notifications-per-hour limit.'
                 WHEN {unconfirmed} THEN '{HELD_REASON}' ELSE '' END,
            %s, a.trigger_count, a.triggered_price, a.triggered_at,
            CASE WHEN c.id IS NULL AND {has_channels} THEN %s END
        FROM {source} a
        JOIN {USER_TABLE} u ON u.id = a.user_id
        CROSS JOIN (SELECT %s AS at) clock
        LEFT JOIN {CHANNEL_TABLE} c ON c.user_id = a.user_id AND c.enabled = %s AND (
            NOT EXISTS (SELECT 1 FROM {ALERT_CHANNELS_TABLE} ac WHERE ac.alert_id = a.id)
            OR EXISTS (SELECT 1 FROM {ALERT_CHANNELS_TABLE} ac
                       WHERE ac.alert_id = a.id AND ac.channel_id = c.id)){recent}
        WHERE {match}
        RETURNING id, status, user_id
    """
    return sql, [now, now, now, True, *recent_params, *params]  # created_at, failed_at, the clock


def fair_order(sends: Iterable[tuple[int, int]]) -> list[int]:
    """Notification ids, (id, user id) given, with users taking turns: every user's first, then second...

    On a crash day one user's fifty alerts must not all go before the next
    user's first; within a user, oldest first.
    """
    per_user: dict[int, list[int]] = {}
    for notification_id, user_id in sorted(sends):
        per_user.setdefault(user_id, []).append(notification_id)
    queues = list(per_user.values())
    turns = max(map(len, queues), default=0)
    return [queue[turn] for turn in range(turns) for queue in queues if turn < len(queue)]


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
            status=Notification.Status.PENDING, attempts=0, next_attempt_at=None, failed_at=None
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


def requeue_expired_leases(limit: int = 10_000) -> int:
    """Hand on the notifications whose worker died holding them (its heartbeat stopped renewing the lease).

    Each is enqueued with the attempts it has, so its claim succeeds at once;
    one whose last allowed attempt died with its worker is marked failed, as in
    ``requeue_stuck``. Returns how many were enqueued.
    """
    expired = take_expired_leases(limit=limit)
    exhausted = [i for i, attempts in expired if attempts >= settings.ALERTS_NOTIFY_MAX_ATTEMPTS]
    if exhausted:
        Notification.objects.filter(id__in=exhausted, status=Notification.Status.PENDING).update(
            status=Notification.Status.FAILED, next_attempt_at=None, failed_at=timezone.now()
        )
        logger.warning("Marked %d notifications failed: attempts exhausted", len(exhausted))
    handed_on = _enqueue_by_attempts(
        [(i, attempts) for i, attempts in expired if attempts < settings.ALERTS_NOTIFY_MAX_ATTEMPTS],
        "Re-enqueuing %d notifications whose worker stopped holding them",
    )
    return handed_on + requeue_orphaned(limit=limit, handed_on={i for i, _ in expired})


def requeue_orphaned(*, limit: int = 10_000, handed_on: Collection[int] = ()) -> int:
    """Re-enqueue the pending notifications whose message is gone with a dead worker, before any claim.

    A worker takes a message before it claims the rows: one SIGKILLed in
    between (a batch it had prefetched, a retry waiting in its memory for its
    time) leaves rows with no lease, which no lease can time out, and a message
    Redis hands back only after the broker's visibility timeout (an hour). So:
    when the delivery queue is empty (nothing is waiting to be taken), a pending
    row unclaimed a lease (ALERTS_NOTIFY_LEASE_SECONDS) after it was due has lost
    its message, and is enqueued again with the attempts it has. Should its
    message still be alive somewhere, both carry the same expected attempts and
    only one claim can succeed: never two sends. With a backlog in the queue
    nothing is decided (the rows may be in it); ``requeue_stuck`` still catches
    them later. ``handed_on``: rows this sweep just enqueued from expired leases.
    """
    if waiting_sends() != 0:
        return 0
    cutoff = timezone.now() - timedelta(seconds=settings.ALERTS_NOTIFY_LEASE_SECONDS)
    orphaned = (
        Notification.objects.filter(
            status=Notification.Status.PENDING,
            created_at__lt=cutoff,
            leased_until__isnull=True,
            attempts__lt=settings.ALERTS_NOTIFY_MAX_ATTEMPTS,
        )
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=cutoff))
        .exclude(id__in=handed_on)
        .order_by("created_at", "id")
        .values_list("id", "attempts")[:limit]
    )
    return _enqueue_by_attempts(list(orphaned), "Re-enqueuing %d notifications whose message was lost")


def _enqueue_by_attempts(rows: Sequence[tuple[int, int]], log_message: str) -> int:
    """Enqueue (id, attempts) rows, each with the attempts it has (so its claim succeeds at once)."""
    by_attempts: dict[int, list[int]] = {}
    for notification_id, attempts in rows:
        by_attempts.setdefault(attempts, []).append(notification_id)
    for attempts, ids in sorted(by_attempts.items()):
        logger.warning(log_message, len(ids))
        enqueue_notifications(ids, expected_attempts=attempts)
    return len(rows)


def requeue_stuck(limit: int = 10_000) -> int:
    """Re-enqueue pending notifications that nobody sent, or was due to retry, for a while.

    "A while" is ALERTS_NOTIFY_STUCK_SECONDS. Returns how many were enqueued.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.ALERTS_NOTIFY_STUCK_SECONDS)
    stuck = Notification.objects.filter(status=Notification.Status.PENDING, created_at__lt=cutoff).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=cutoff)
    )
    # A worker that died while sending its last allowed attempt leaves it pending for ever.
    exhausted = stuck.filter(attempts__gte=settings.ALERTS_NOTIFY_MAX_ATTEMPTS).update(
        status=Notification.Status.FAILED, next_attempt_at=None, failed_at=timezone.now()
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
