"""The message a delivery sends: one firing or a quiet-hours digest, in the channel's template if it has one.

``alerts.delivery.messages`` renders the built-in forms (email, Apprise text,
webhook JSON); this module chooses what a notification carries and fills the
channel's templates (``alerts.delivery.templates``):

- a webhook with a ``body_template`` posts the rendered JSON (values JSON-escaped);
- an Apprise channel with a ``title_template`` / ``body_template`` sends those;
- a digest (a carrier released at the end of quiet hours with other held rows:
  ``alerts.delivery.digests``) is one message listing every firing it carries:
  for a webhook ``{"event": "alert.digest", "notification_id", "count",
  "notifications": [...]}`` with each firing's own payload (or its rendered
  template); for Apprise and email a title naming the count and one entry per
  firing (the body template per firing, if any). A digest of one is that
  firing's ordinary message.
"""

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings

from alerts.delivery.errors import NotificationError
from alerts.delivery.messages import (
    SIGNATURE,
    Email,
    Message,
    _direction,
    _firing,
    _message_id,
    alert_message,
    format_price,
    test_message,
)
from alerts.delivery.templates import SAMPLE_VALUES, render_json, render_json_object, substitute
from alerts.models import Alert, Channel, Notification


def _plain(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f")


def firing_values(alert: Alert, price: Decimal, at: datetime) -> dict[str, str]:
    """The placeholders' values for one firing."""
    site = settings.SITE_URL.rstrip("/")
    return {
        "symbol": alert.symbol,
        "price": _plain(price),
        "target": _plain(alert.target_price),
        "direction": _direction(alert),
        "time": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "note": alert.note,
        "alert_id": str(alert.pk),
        "url": f"{site}/alerts/{alert.pk}",
    }


def sample_values() -> dict[str, str]:
    """What a channel test renders the templates with: an example firing."""
    site = settings.SITE_URL.rstrip("/")
    return {**SAMPLE_VALUES, "url": f"{site}/alerts/1"}


def templated(message: Message, channel: Channel | None, values: dict[str, str]) -> Message:
    """The message in the channel's templates, where it has them."""
    if channel is None:
        return message
    if channel.kind == Channel.Kind.WEBHOOK and channel.body_template:
        return replace(message, json_body=render_json(channel.body_template, values))
    if channel.kind == Channel.Kind.APPRISE:
        title = substitute(channel.title_template, values) if channel.title_template else message.title
        body = substitute(channel.body_template, values) if channel.body_template else message.body
        return replace(message, title=title, body=body)
    return message


def _channel(notification: Notification) -> Channel | None:
    try:
        return notification.via
    except Channel.DoesNotExist:
        return None


def message_for(notification: Notification) -> Message:
    """What this notification sends: its firing, or the digest it carries."""
    channel = _channel(notification)
    if notification.digest_id == notification.pk:
        rows = list(
            Notification.objects.filter(digest_id=notification.pk).select_related("alert").order_by("id")
        )
        if len(rows) > 1:
            return digest_message(notification, rows, channel)
    message = alert_message(notification)
    if channel is None or channel.kind == Channel.Kind.EMAIL:
        return message  # no template of the channel's own: the placeholders' values are not needed
    price, at, _ = _firing(notification)
    return templated(message, channel, firing_values(notification.alert, price, at))


def _summary(alert: Alert, price: Decimal, at: datetime) -> str:
    moved = "rose to" if alert.direction == Alert.Direction.ABOVE else "fell to"
    line = (
        f"{alert.symbol} {moved} {format_price(price)} (target {format_price(alert.target_price)}, "
        f"{_direction(alert)}) at {at.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S UTC')}"
    )
    return f"{line}. Note: {alert.note}" if alert.note else line


def digest_message(carrier: Notification, rows: list[Notification], channel: Channel | None) -> Message:
    """One message for every firing held in this channel's quiet hours."""
    items, payloads, lines = [], [], []
    for row in rows:
        try:
            price, at, _ = _firing(row)
        except NotificationError:  # its alert was re-armed in the admin since: nothing left to report
            continue
        values = firing_values(row.alert, price, at)
        items.append(values)
        if channel is not None and channel.kind == Channel.Kind.WEBHOOK and channel.body_template:
            payloads.append(render_json_object(channel.body_template, values))
        else:
            payloads.append(alert_message(row).payload)
        if channel is not None and channel.kind == Channel.Kind.APPRISE and channel.body_template:
            lines.append(substitute(channel.body_template, values))
        else:
            lines.append(_summary(row.alert, price, at))
    count = len(items)
    title = f"pricealert: {count} alert{'s' if count != 1 else ''} fired during your quiet hours"
    site = settings.SITE_URL.rstrip("/")
    text = "\n\n".join(lines)
    payload = {
        "event": "alert.digest",
        "notification_id": carrier.pk,
        "count": count,
        "notifications": payloads,
    }
    return Message(
        title=title,
        body=text,
        payload_of=lambda: payload,
        delivery_id=str(carrier.pk),
        email=Email(
            subject=title,
            text=f"{text}\n\nYour alerts: {site}/alerts/{SIGNATURE}",
            html="",
            to=carrier.to,
            message_id=_message_id(f"notification.{carrier.pk}"),
        ),
        json_body=json.dumps(payload, ensure_ascii=False)
        if channel is not None and channel.body_template
        else "",
    )


def test_message_for(channel: Channel) -> Message:
    """What POST /channels/<id>/test sends: the channel's templates filled with an example firing."""
    return templated(test_message(channel), channel, sample_values())


def preview(channel: Channel) -> dict[str, str]:
    """The title and body a channel test sends, as text (a webhook's body is its JSON)."""
    message = test_message_for(channel)
    if channel.kind == Channel.Kind.WEBHOOK:
        body = message.json_body or json.dumps(message.payload, separators=(",", ":"), sort_keys=True)
        return {"title": "", "body": body}
    if channel.kind == Channel.Kind.EMAIL:
        return {"title": message.email.subject, "body": message.email.text}
    return {"title": message.title, "body": message.body}
