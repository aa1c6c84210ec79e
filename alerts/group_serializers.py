"""Input and output shapes of watchlists (/alert-groups/) and of the snooze (POST /alerts/<id>/snooze)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alerts.models import Alert
from alerts.selectors import alerts_with_details
from alerts.serializers import (
    MAX_PER_PAGE,
    AlertOutputSerializer,
    AlertUpdateInputSerializer,
    ChangePercentField,
)


class AlertGroupOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    symbols = serializers.SerializerMethodField(help_text="The symbols of its alerts, in creation order.")
    statuses = serializers.SerializerMethodField(
        help_text='How many of its alerts are in each status, e.g. {"created": 9, "triggered": 1}.'
    )
    paused = serializers.SerializerMethodField(
        help_text="Whether its unfinished alerts are paused (not evaluated, not followed)."
    )
    alerts = serializers.SerializerMethodField(help_text="Its alerts (deleted ones included), oldest first.")

    def _alerts(self, group) -> list[Alert]:
        # As each alert's own answer: its channels and its symbol's catalogue status.
        return alerts_with_details(sorted(group.alerts.all(), key=lambda alert: alert.pk))

    def get_symbols(self, group) -> list[str]:
        return [alert.symbol for alert in self._alerts(group)]

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_statuses(self, group) -> dict:
        counts: dict[str, int] = {}
        for alert in self._alerts(group):
            counts[alert.status] = counts.get(alert.status, 0) + 1
        return counts

    def get_paused(self, group) -> bool:
        unfinished = [a for a in self._alerts(group) if a.status in Alert.EDITABLE_STATUSES]
        return bool(unfinished) and all(a.status == Alert.Status.PAUSED for a in unfinished)

    @extend_schema_field(AlertOutputSerializer(many=True))
    def get_alerts(self, group) -> list[dict]:
        return AlertOutputSerializer(self._alerts(group), many=True).data


class AlertGroupPageOutputSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AlertGroupOutputSerializer(many=True)


class AlertGroupListQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, default=1, help_text="Page number, from 1.")
    per_page = serializers.IntegerField(
        min_value=1,
        max_value=MAX_PER_PAGE,
        default=20,
        help_text=f"Watchlists per page, 1 to {MAX_PER_PAGE}.",
    )


class AlertGroupUpdateInputSerializer(AlertUpdateInputSerializer):
    """PATCH /alert-groups/<id>: the fields of PATCH /alerts/<id>, for every unfinished alert of it."""

    change_percent = ChangePercentField(
        required=False,
        help_text="A new percent target, resolved for each symbol from its own latest price now "
        "(re-arms them from now; a 400 names the first symbol without a price).",
    )
    paused = serializers.BooleanField(
        required=False,
        help_text="true: pause every waiting alert of it (not evaluated, not followed, not counted by the "
        "cap); false: resume them, re-armed from now (a 409 if that would pass the per-user cap).",
    )
    snoozed_until = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Snooze every alert of it until then (firings recorded, not delivered); null ends it.",
    )

    def validate(self, attrs):
        if attrs.get("target_price") is not None and attrs.get("change_percent") is not None:
            raise serializers.ValidationError(
                {"change_percent": "Send target_price or change_percent, not both."}
            )
        return attrs


class AlertSnoozeInputSerializer(serializers.Serializer):
    until = serializers.DateTimeField(
        allow_null=True,
        help_text="ISO 8601, in the future (at most 366 days ahead): no notification of this alert is "
        "delivered before it; null ends the snooze now.",
    )
