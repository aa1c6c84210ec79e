"""Deliveries held in quiet hours: released, when the hours end, as one digest per channel.

A delivery whose channel is in quiet hours when a worker claims it is marked
``held`` with ``held_until`` (the end of those hours, DST-correct:
``alerts.delivery.quiet``), its attempt given back, nothing sent. Every
``ALERTS_QUIET_RELEASE_SECONDS`` the engine worker runs ``release_held``:

- the held rows whose ``held_until`` has passed are grouped by channel;
- each group's oldest row becomes the digest's *carrier*: a conditional update
  turns it back to ``pending`` with ``digest`` = itself, and the others get
  ``digest`` = the carrier while staying ``held``, all in one transaction;
- the carriers are enqueued once it commits and go through the ordinary
  claim, lease, retry and sweeper machinery (``alerts.delivery.claims``): one
  send per digest, however many workers, retries or crashes;
- the carrier is settled with its rows in one transaction (sent or failed
  together, ``claims._settle_digest``), so a held row is delivered exactly once
  or, like any delivery, failed after its attempts: never dropped, never twice.

Why the carrier is a Notification row and not a new table: the outbox's
exactly-once rules (compare-and-set claims, leases, sweepers) then hold for
digests without a line of new delivery code. Every update here is conditional on
the row still being held and in no digest, so two releases running at once
(a slow one and the next beat) never put a row in two digests.

A change of the owner's time zone or quiet hours, or of the channel's, re-times
what is held (``retime_held``): released now if the new window no longer covers
it, else at the new end.
"""

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from alerts.delivery.holds import channel_quiet_until
from alerts.delivery.tasks import enqueue_notifications
from alerts.models import Channel, Notification

logger = logging.getLogger(__name__)


def release_held(*, now: datetime | None = None, limit: int = 10_000) -> list[int]:
    """Turn every channel's held deliveries whose quiet hours are over into one digest each;
    returns the carriers enqueued."""
    now = now or timezone.now()
    due = list(
        Notification.objects.filter(status=Notification.Status.HELD, held_until__lte=now, digest__isnull=True)
        .order_by("id")
        .values_list("id", "alert__user_id", "via_id", "channel", "to")[:limit]
    )
    groups: dict[tuple, list[int]] = {}
    for notification_id, user_id, via_id, kind, to in due:
        # A row without a channel (the account's address of a user without channels) groups by address.
        key = (user_id, via_id, kind, to if via_id is None else "")
        groups.setdefault(key, []).append(notification_id)
    carriers: list[int] = []
    with transaction.atomic():
        for ids in groups.values():
            carrier, rest = ids[0], ids[1:]
            took = Notification.objects.filter(
                id=carrier, status=Notification.Status.HELD, digest__isnull=True
            ).update(
                status=Notification.Status.PENDING,
                digest_id=carrier,
                held_until=None,
                next_attempt_at=None,
                leased_until=None,
                last_error="",
            )
            if not took:  # another release got there first
                continue
            if rest:
                Notification.objects.filter(
                    id__in=rest, status=Notification.Status.HELD, digest__isnull=True
                ).update(digest_id=carrier, held_until=None)
            carriers.append(carrier)
        if carriers:
            transaction.on_commit(lambda: enqueue_notifications(carriers))
    if carriers:
        logger.info("Released %d quiet-hours digests (%d held deliveries)", len(carriers), len(due))
    return carriers


def retime_held(*, user, channel: Channel | None = None, now: datetime | None = None) -> int:
    """After a change of quiet hours or time zone: re-time the user's held deliveries (one
    channel's, or all). Returns how many changed."""
    now = now or timezone.now()
    held = Notification.objects.filter(
        alert__user=user, status=Notification.Status.HELD, digest__isnull=True
    ).select_related("via")
    if channel is not None:
        held = held.filter(via_id=channel.pk)
    changed = 0
    for notification in held:
        try:
            via = notification.via
        except Channel.DoesNotExist:
            via = None
        until = channel_quiet_until(via, user, now) or now
        if until != notification.held_until:
            changed += Notification.objects.filter(
                pk=notification.pk, status=Notification.Status.HELD, digest__isnull=True
            ).update(held_until=until)
    return changed
