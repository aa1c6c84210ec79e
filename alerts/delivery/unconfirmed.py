"""Notifications held for an address nobody has confirmed yet, and their release once it is confirmed.

With ACCOUNT_EMAIL_VERIFICATION=mandatory, a firing for a user whose address is
not confirmed (or for an email channel whose own address is not) writes its
email row as "unconfirmed" (alerts.delivery.outbox), with the reason in
``last_error``: kept and visible, never sent to an address that may not be the
user's. When the address is confirmed (the accounts app sends
``address_verified``), every such row for that address becomes pending again
and is enqueued: the emails go out then, each saying when its alert fired.
Held rows count towards the hourly cap when written, as any delivery.
"""

from django.db import transaction
from django.db.models import Q
from django.dispatch import receiver

from accounts.signals import address_verified
from alerts.channels import channel_address_confirmed
from alerts.delivery.outbox import HELD_REASON  # noqa: F401  (where the reason is written)
from alerts.delivery.tasks import enqueue_notifications
from alerts.models import Channel, Notification


def release_unconfirmed(user, *, channel_ids: list[int] | None = None) -> list[int]:
    """Make unconfirmed email notifications pending and enqueue them (on commit); returns their ids.

    ``channel_ids``: those of these email channels (addresses of their own); None: those to the
    account's address (its own email channel, or none).
    """
    held = Notification.objects.filter(
        alert__user=user, status=Notification.Status.UNCONFIRMED, channel=Channel.Kind.EMAIL
    )
    if channel_ids is None:
        own = Channel.objects.filter(user=user, kind=Channel.Kind.EMAIL, url="").values_list("pk", flat=True)
        held = held.filter(Q(via__isnull=True) | Q(via_id__in=list(own)))
    else:
        held = held.filter(via_id__in=channel_ids)
    with transaction.atomic():
        ids = list(held.values_list("id", flat=True))
        if ids:
            Notification.objects.filter(id__in=ids, status=Notification.Status.UNCONFIRMED).update(
                status=Notification.Status.PENDING, last_error="", next_attempt_at=None, attempts=0
            )
            transaction.on_commit(lambda: enqueue_notifications(ids, expected_attempts=None))
    return ids


@receiver(address_verified, dispatch_uid="alerts.release_unconfirmed_on_verification")
def release_on_verification(sender, user, address, **kwargs) -> bool:
    """An address of the user was confirmed: the account's, and/or that of some of its email channels."""
    if address.lower() == user.email.lower():
        release_unconfirmed(user)
    if channel_ids := channel_address_confirmed(user=user, address=address):
        release_unconfirmed(user, channel_ids=channel_ids)
        return True
    return False
