"""Which quiet hours a delivery falls in: its channel's own window, or its owner's (alerts.delivery.quiet).

Asked by the send attempt (``alerts.delivery.send``) after the claim and before
any network call: a delivery in quiet hours is held (``mark_notification_held``)
instead of sent, and released in its channel's digest when they end
(``alerts.delivery.digests``). A digest itself is never held again: it is what
the end of the quiet hours sends.
"""

from datetime import datetime

from alerts.delivery.quiet import effective_window, quiet_until
from alerts.models import Channel, Notification


def channel_quiet_until(channel: Channel | None, user, now: datetime) -> datetime | None:
    """When the quiet hours that ``now`` falls in end for this channel of ``user``; None: not quiet."""
    window = effective_window(channel.quiet_hours if channel is not None else "", user.quiet_hours)
    if not window:
        return None
    return quiet_until(window, user.time_zone, now)


def hold_until(notification: Notification, now: datetime) -> datetime | None:
    """When this claimed delivery may go, if its channel is in quiet hours now; None: send it now."""
    if notification.digest_id is not None:
        return None
    try:
        channel = notification.via
    except Channel.DoesNotExist:  # deleted since: the send fails it, no point holding it
        return None
    return channel_quiet_until(channel, notification.alert.user, now)
