"""Every new user starts with an email channel for the account's address; a change of a user's
time zone or quiet hours re-times the deliveries held for them (alerts.delivery.digests); an
account's deletion first locks its alerts (alerts.services.lock_for_hard_delete)."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.signals import deleting_accounts


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="alerts.email_channel_for_new_user")
def email_channel_for_new_user(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        from alerts.channels import email_channel_for

        email_channel_for(instance)


QUIET_FIELDS = frozenset({"time_zone", "quiet_hours"})


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="alerts.retime_held_for_user")
def retime_held_for_user(sender, instance, created, raw=False, update_fields=None, **kwargs):
    # Only a save that names the quiet-hours fields (accounts.services.user_update_preferences,
    # the admin saves every field: checked there too).
    if created or raw or (update_fields is not None and not QUIET_FIELDS & set(update_fields)):
        return
    from alerts.delivery.digests import retime_held

    retime_held(user=instance)


@receiver(deleting_accounts, dispatch_uid="alerts.lock_alerts_of_deleted_accounts")
def lock_alerts_of_deleted_accounts(sender, users, **kwargs):
    from alerts.models import Alert
    from alerts.services import lock_for_hard_delete

    lock_for_hard_delete(Alert.objects.filter(user__in=users))
