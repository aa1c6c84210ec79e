"""Existing alerts were armed when they were created, notifications name their user, users get an email channel."""

from django.db import migrations
from django.db.models import F, OuterRef, Subquery


def armed_at_from_created_at(apps, schema_editor):
    Alert = apps.get_model("alerts", "Alert")
    # One set-based UPDATE, whatever the table size.
    Alert.objects.update(armed_at=F("created_at"))


def notification_users(apps, schema_editor):
    Alert = apps.get_model("alerts", "Alert")
    Notification = apps.get_model("alerts", "Notification")
    Notification.objects.filter(user__isnull=True).update(
        user=Subquery(Alert.objects.filter(id=OuterRef("alert_id")).values("user_id")[:1])
    )


def email_channels(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    Channel = apps.get_model("alerts", "Channel")
    have = Channel.objects.filter(kind="email").values("user_id")
    missing = list(User.objects.exclude(id__in=have).values_list("id", flat=True))
    Channel.objects.bulk_create(
        [Channel(user_id=user_id, kind="email", name="Email") for user_id in missing], batch_size=2000
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("alerts", "0003_channels_repeat_expiry_percent_armed_at"),
    ]

    operations = [
        migrations.RunPython(armed_at_from_created_at, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(notification_users, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(email_channels, migrations.RunPython.noop, elidable=True),
    ]
