"""Attempts at notifications: claim them, send each through its channel kind, settle each.

A channel disabled or deleted after the firing is not used any more; a
permanent failure that means the endpoint is gone disables the channel.
"""

import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from alerts.delivery import breaker
from alerts.delivery.claims import (
    claim_notifications,
    mark_notification_deferred,
    mark_notification_failed,
    mark_notification_held,
    mark_notification_retry,
    mark_notification_sent,
)
from alerts.delivery.compose import message_for
from alerts.delivery.errors import NotificationError
from alerts.delivery.heartbeat import Heartbeat
from alerts.delivery.holds import hold_until
from alerts.delivery.kinds import KINDS, Sessions
from alerts.delivery.redact import redact
from alerts.models import Channel, Notification

logger = logging.getLogger(__name__)

RETRY_DELAY_CAP_SECONDS = 900.0
HELD = "deferred: another destination of this account timed out"


@dataclass(frozen=True, slots=True)
class Delivery:
    outcome: str  # sent | failed | skipped | retry | held
    attempts: int = 0
    retry_in: float = 0.0
    error: BaseException | None = None


def deliver(notification_id: int, expected_attempts: int | None) -> Delivery:
    """One attempt at one notification: claim, send, settle (sent, failed, or due for a retry)."""
    return dict(deliver_many([notification_id], expected_attempts))[notification_id]


def deliver_many(
    notification_ids: Sequence[int], expected_attempts: int | None
) -> Iterator[tuple[int, Delivery]]:
    """One attempt at each of these notifications, in this order: (id, Delivery) as each is settled.

    The batch claims them all in one statement, its heartbeat keeps the claims
    alive while it sends, and each one is settled as soon as its send returns
    (so a crash can leave at most the one in flight sent but not marked sent).
    Sends of one kind share a session (one SMTP connection, one HTTP session).
    """
    with Heartbeat() as heartbeat, Sessions() as sessions:
        claimed = claim_notifications(notification_ids, expected_attempts=expected_attempts)
        heartbeat.hold(claimed)
        if any(_sent_under_egress_guard(notification) for notification in claimed):
            heartbeat.connect()  # before the guard is up (alerts.delivery.heartbeat)
        held = {notification.id for notification in claimed}
        for notification_id in notification_ids:
            if notification_id not in held:
                # Sent already, failed, gone, or another worker holds it.
                yield notification_id, Delivery("skipped")
        for notification in claimed:
            delivery = _attempt(notification, sessions)
            heartbeat.release(notification)
            yield notification.id, delivery


def _channel_of(notification: Notification) -> Channel | None:
    """The channel it goes through, or None (none, or deleted since: ``via`` keeps a gone id)."""
    try:
        return notification.via
    except Channel.DoesNotExist:
        return None


def _kind_of(notification: Notification, channel: Channel | None) -> str:
    return notification.channel if channel is None else channel.kind


def _sent_under_egress_guard(notification: Notification) -> bool:
    """Whether its send connects under the egress guard: every kind but email (alerts.delivery.egress)."""
    return _kind_of(notification, _channel_of(notification)) != Channel.Kind.EMAIL


def _attempt(notification: Notification, sessions: Sessions) -> Delivery:
    """Send one claimed notification and settle it."""
    # In its channel's quiet hours: held (nothing sent, the attempt given back) and sent in
    # the channel's digest when they end (alerts.delivery.digests).
    if until := hold_until(notification, timezone.now()):
        mark_notification_held(notification, until=until)
        return Delivery("held", notification.attempts - 1)
    holdable = notification.channel != Channel.Kind.EMAIL
    if holdable and (hold_left := breaker.held_for(notification.user_id)):
        mark_notification_deferred(notification, HELD, retry_at=timezone.now() + timedelta(seconds=hold_left))
        return Delivery("retry", notification.attempts - 1, hold_left)
    try:
        send_notification_message(notification, sessions=sessions)
    except Exception as exc:
        error = exc if isinstance(exc, NotificationError) else NotificationError(repr(exc))
        # What is recorded never holds the destination's credentials (alerts.delivery.redact).
        error.message = redact(error.message, *_secrets_of(notification))
        if holdable and error.category == "timed out":
            breaker.hold(notification.user_id)
        attempts = notification.attempts
        if error.permanent or attempts >= settings.ALERTS_NOTIFY_MAX_ATTEMPTS:
            mark_notification_failed(notification, error.message)
            logger.warning(
                "Notification %s failed after %d attempts: %s", notification.id, attempts, error.message
            )
            return Delivery("failed", attempts, error=exc)
        delay = retry_delay(attempts)
        mark_notification_retry(
            notification, error.message, retry_at=timezone.now() + timedelta(seconds=delay)
        )
        logger.info(
            "Notification %s attempt %d failed, retrying in %.0f s: %s",
            notification.id,
            attempts,
            delay,
            error.message,
        )
        return Delivery("retry", attempts, delay, exc)
    mark_notification_sent(notification)
    return Delivery("sent", notification.attempts)


def _secrets_of(notification: Notification) -> tuple[str, ...]:
    channel = _channel_of(notification)
    return (channel.url, channel.secret) if channel is not None else ()


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones: doubling, capped, jittered."""
    base = min(settings.ALERTS_NOTIFY_RETRY_SECONDS * 2 ** (attempts - 1), RETRY_DELAY_CAP_SECONDS)
    # Full jitter on the upper half: retries of a burst spread out instead of
    # hitting a recovering server together.
    return base / 2 + random.uniform(0, base / 2)


def send_notification_message(notification: Notification, *, sessions: Sessions | None = None) -> None:
    """Deliver one notification through its channel; raises NotificationError on failure.

    A channel disabled or deleted after the firing is not used any more: the
    notification fails permanently, saying so. A permanent failure that means
    the endpoint is gone disables the channel.
    """
    channel = _channel_of(notification)
    # Only an email row without a channel may go to the address it recorded (the
    # account's address of a user without channels).
    if channel is None and (notification.via_id is not None or notification.channel != Channel.Kind.EMAIL):
        raise NotificationError("the channel was deleted before this notification was sent", permanent=True)
    if channel is not None and not channel.enabled:
        raise NotificationError("the channel was disabled before this notification was sent", permanent=True)
    kind_name = _kind_of(notification, channel)
    connection = sessions.get(kind_name) if sessions is not None else None
    try:
        KINDS[kind_name].send(channel, message_for(notification), connection=connection)
    except NotificationError as exc:
        if exc.disable_channel and channel is not None:
            disable_channel(channel.pk, redact(exc.message, channel.url, channel.secret))
        raise


def disable_channel(channel_id: int, reason: str) -> bool:
    """Switch a channel off because delivery says it can never work; the owner sees why."""
    switched_off = Channel.objects.filter(pk=channel_id, enabled=True).update(
        enabled=False, disabled_reason=reason[:500]
    )
    return bool(switched_off)
