"""Output and query shapes of the delivery log (GET /notifications, GET /alerts/<id>/notifications)."""

from rest_framework import serializers

from alerts.models import PRICE_DECIMALS, PRICE_DIGITS, Channel, Notification
from alerts.serializers import PageQuerySerializer, per_page_field


class NotificationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    alert = serializers.IntegerField(source="alert_id", help_text="The alert that fired.")
    symbol = serializers.CharField(source="alert.symbol")
    firing = serializers.IntegerField(
        help_text="Which firing of the alert this delivery reports (1, 2, ...)."
    )
    channel = serializers.IntegerField(
        source="via_id", allow_null=True, help_text="The channel's id (null: the account's address)."
    )
    kind = serializers.ChoiceField(
        source="channel", choices=Channel.Kind.values, help_text="email, webhook or apprise."
    )
    to = serializers.CharField(help_text="Where it went: the email address or the channel's URL.")
    status = serializers.ChoiceField(
        choices=Notification.Status.values,
        help_text="pending (being sent or waiting for a retry), sent, failed (gave up) or suppressed "
        "(over the hourly cap: recorded, never sent).",
    )
    attempts = serializers.IntegerField()
    last_error = serializers.CharField(help_text="Why the last attempt failed; empty otherwise.")
    triggered_price = serializers.DecimalField(
        max_digits=PRICE_DIGITS,
        decimal_places=PRICE_DECIMALS,
        allow_null=True,
        help_text="The firing's price.",
    )
    triggered_at = serializers.DateTimeField(allow_null=True, help_text="The firing's market time.")
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)


class NotificationListQuerySerializer(PageQuerySerializer):
    per_page = per_page_field("Notifications")


class NotificationPageOutputSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Notifications matching the filters, over all pages.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = NotificationOutputSerializer(many=True)
