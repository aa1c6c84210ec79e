"""Every new user starts with an email channel for the account's address."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="alerts.email_channel_for_new_user")
def email_channel_for_new_user(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        from alerts.channels import email_channel_for

        email_channel_for(instance)
