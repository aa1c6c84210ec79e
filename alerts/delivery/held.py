"""Notifications held for an address nobody has confirmed yet, and their release once it is confirmed.

With ACCOUNT_EMAIL_VERIFICATION=mandatory, a firing for a user whose address is
not confirmed writes its email row as "held" (alerts.delivery.outbox), with the
reason in ``last_error``: kept and visible, never sent to an address that may
not be the user's. When the address is confirmed (the accounts app sends
``address_verified``), every held row of that user's address becomes pending
again and is enqueued: the emails go out then, each saying when its alert
fired. Held rows count towards the hourly cap when written, as any delivery.
"""

from django.db import transaction
from django.dispatch import receiver

from accounts.signals import address_verified
from alerts.delivery.tasks import enqueue_notifications
from alerts.models import Channel, Notification

HELD_REASON = "Held: the address is not confirmed yet; sent once it is."


def release_held(user) -> list[int]:
    """Make the user's held email notifications pending and enqueue them (on commit); returns their ids."""
    with transaction.atomic():
        ids = list(
            Notification.objects.filter(
                alert__user=user, status=Notification.Status.HELD, channel=Channel.Kind.EMAIL
            ).values_list("id", flat=True)
        )
        if ids:
            Notification.objects.filter(id__in=ids, status=Notification.Status.HELD).update(
                status=Notification.Status.PENDING, last_error="", next_attempt_at=None, attempts=0
            )
            transaction.on_commit(lambda: enqueue_notifications(ids, expected_attempts=None))
    return ids


@receiver(address_verified, dispatch_uid="alerts.release_held_on_verification")
def release_on_verification(sender, user, address, **kwargs):
    if address.lower() == user.email.lower():
        release_held(user)
