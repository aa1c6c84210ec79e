"""Reads of the delivery log: a user's notifications, filtered, and an alert's firings with their deliveries.

One notification is one delivery of one firing to one channel; the API's
``GET /notifications`` and ``GET /alerts/<id>/notifications`` and the web
app's alert page read them here. Another user's alert or channel is never
matched: the log is always the caller's own.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from alerts.models import MAX_DB_ID, Alert, Channel, Notification

STATUSES = ", ".join(Notification.Status.values)
KINDS = ", ".join(Channel.Kind.values)


class NotificationFilter(django_filters.FilterSet):
    alert = django_filters.NumberFilter(
        field_name="alert_id",
        min_value=1,
        max_value=MAX_DB_ID,
        error_messages={"invalid": "Must be an alert id."},
    )
    status = django_filters.ChoiceFilter(
        choices=Notification.Status.choices,
        error_messages={"invalid_choice": f'Unknown status "%(value)s": use one of {STATUSES}.'},
    )
    channel = django_filters.NumberFilter(
        field_name="via_id",
        min_value=1,
        max_value=MAX_DB_ID,
        error_messages={"invalid": "Must be a channel id."},
    )
    kind = django_filters.ChoiceFilter(
        field_name="channel",
        choices=Channel.Kind.choices,
        error_messages={"invalid_choice": f'Unknown channel kind "%(value)s": use one of {KINDS}.'},
    )

    class Meta:
        model = Notification
        fields = []


def notification_list(*, user, filters: Mapping | None = None) -> QuerySet[Notification]:
    """The user's notifications, newest first; ``filters``: alert, status, channel (id), kind.

    Raises ValidationError for a malformed filter (an unknown status, an id that is not a number).
    """
    mine = Notification.objects.filter(alert__user=user).select_related("alert", "via")
    filterset = NotificationFilter(filters or {}, queryset=mine)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs.order_by("-created_at", "-id")


@dataclass(frozen=True, slots=True)
class Firing:
    """One firing of an alert (its number, price and time) and the deliveries it made."""

    number: int
    price: Decimal | None
    at: datetime | None
    deliveries: list[Notification]


def alert_firings(*, alert: Alert) -> list[Firing]:
    """The alert's firings, latest first, each with its deliveries (one per channel it notified)."""
    notifications = Notification.objects.filter(alert=alert).select_related("via").order_by("-firing", "id")
    firings: dict[int, Firing] = {}
    for notification in notifications:
        firing = firings.get(notification.firing)
        if firing is None:
            firing = firings[notification.firing] = Firing(
                notification.firing, notification.triggered_price, notification.triggered_at, []
            )
        firing.deliveries.append(notification)
    return list(firings.values())
