"""What a channel delivers: a firing (or a channel test) rendered once, in every form a kind needs.

A ``Message`` carries a title and plain text for people (Apprise), a JSON
payload for machines (webhooks, built only when asked for) and an ``Email`` for
mailboxes (subject, text and HTML parts, and a Message-ID that stays the same
for a resend of one notification, so mail systems drop the duplicate).
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from urllib.parse import urlparse

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from alerts.delivery.errors import NotificationError
from alerts.models import Alert, Channel, Notification

TEST_TEXT = (
    "This is a test message from pricealert: this channel works. "
    "Your alerts will be delivered here when they fire."
)
SIGNATURE = "\n\n-- \npricealert\n"
# The template engine of the emails (settings.TEMPLATES: Jinja2, templates in alerts/jinja2/).
EMAIL_TEMPLATES = "emails"


@dataclass(frozen=True, slots=True)
class Email:
    subject: str
    text: str
    html: str  # empty: a plain text email
    to: str = ""
    message_id: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """What a channel delivers: a title and plain text for people, a JSON payload for machines."""

    title: str
    body: str
    # Builds ``payload`` when a kind asks for it: an email never does, and a crash day's
    # thousands of emails need not build a webhook's JSON each.
    payload_of: Callable[[], dict]
    delivery_id: str
    email: Email
    # A webhook body the channel's template rendered (alerts.delivery.compose); empty: ``payload``.
    json_body: str = ""

    @property
    def payload(self) -> dict:
        return self.payload_of()


def format_price(value: Decimal) -> str:
    """70000.01000000 -> "70,000.01", 70000 -> "70,000", 0.00001234 -> "0.00001234"."""
    return format(Decimal(value).normalize(), ",f")


def _direction(alert: Alert) -> str:
    return Alert.CROSS if alert.crossing else alert.direction


def _utc_iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _message_id(local_part: str) -> str:
    domain = urlparse(settings.SITE_URL).hostname or "localhost"
    return f"<pricealert.{local_part}@{domain}>"


def _context(alert: Alert, price: Decimal, at: datetime, firing: int) -> dict:
    above = alert.direction == Alert.Direction.ABOVE
    site = settings.SITE_URL.rstrip("/")
    window_kind = alert.kind in Alert.WINDOW_KINDS
    return {
        "alert": alert,
        "symbol": alert.symbol,
        # Window kinds: what was asked ("up 5% within 1h"), no target price.
        "window_kind": window_kind,
        "direction": alert.describe() if window_kind else _direction(alert),
        "side": alert.direction,
        "moved": "traded at" if window_kind else "rose to" if above else "fell to",
        "price": format_price(price),
        "target": "" if window_kind else format_price(alert.target_price),
        "triggered_at": at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "note": alert.note,
        "repeating": alert.repeat == Alert.Repeat.EVERY,
        "cooldown_seconds": alert.cooldown_seconds,
        "rearm_percent": format_price(alert.rearm_percent),
        "firing": firing,
        "change_percent": None if alert.change_percent is None else format_price(alert.change_percent),
        "reference_price": None if alert.reference_price is None else format_price(alert.reference_price),
        "alerts_url": f"{site}/alerts/",
        "docs_url": f"{site}/api/docs/",
    }


def _firing(notification: Notification) -> tuple[Decimal, datetime, int]:
    """The price, time and number of the firing this notification reports.

    Rows written before notifications carried their firing read it from the
    alert; an alert re-armed in the admin since then has none left to report.
    """
    alert = notification.alert
    if notification.triggered_price is not None and notification.triggered_at is not None:
        return notification.triggered_price, notification.triggered_at, notification.firing
    if alert.triggered_price is None or alert.triggered_at is None:
        raise NotificationError("the alert was re-armed before this notification was sent", permanent=True)
    return alert.triggered_price, alert.triggered_at, notification.firing


def render_alert_email(
    alert: Alert, *, price: Decimal | None = None, at: datetime | None = None, firing: int = 1
) -> Email:
    """Subject, plain text and HTML of the email for a firing (default: the alert's last one)."""
    context = _context(alert, price or alert.triggered_price, at or alert.triggered_at, firing)
    subject = render_to_string("alerts/email/triggered_subject.txt", context, using=EMAIL_TEMPLATES)
    return Email(
        subject=" ".join(subject.split()),
        text=render_to_string("alerts/email/triggered.txt", context, using=EMAIL_TEMPLATES),
        html=render_to_string("alerts/email/triggered.html", context, using=EMAIL_TEMPLATES),
    )


def alert_message(notification: Notification) -> Message:
    """The firing this notification reports, for any channel kind."""
    alert = notification.alert
    price, at, firing = _firing(notification)
    email = render_alert_email(alert, price=price, at=at, firing=firing)
    return Message(
        title=email.subject,
        body=email.text,
        payload_of=partial(_alert_payload, notification.pk, alert, price, at, firing),
        delivery_id=str(notification.pk),
        # Stable per notification: a resend after a crash between the SMTP server's
        # "250 OK" and our "sent" mark carries the same Message-ID.
        email=replace(email, to=notification.to, message_id=_message_id(f"notification.{notification.pk}")),
    )


def _alert_payload(notification_id: int, alert: Alert, price: Decimal, at: datetime, firing: int) -> dict:
    """A firing's JSON payload (a webhook's body unless its channel has a template)."""
    return {
        "event": "alert.triggered",
        "notification_id": notification_id,
        "alert": {
            "id": alert.pk,
            "symbol": alert.symbol,
            "direction": _direction(alert),
            "side": alert.direction,
            "target_price": None if alert.target_price is None else format(alert.target_price, "f"),
            "kind": alert.kind,
            "window": alert.window,
            "move_percent": None if alert.move_percent is None else format(alert.move_percent, "f"),
            "move_direction": alert.move_direction,
            "volume_quote": None if alert.volume_quote is None else format(alert.volume_quote, "f"),
            "reference_price": None if alert.reference_price is None else format(alert.reference_price, "f"),
            "change_percent": None if alert.change_percent is None else format(alert.change_percent, "f"),
            "repeat": alert.repeat,
            "cooldown_seconds": alert.cooldown_seconds,
            "note": alert.note,
        },
        "trigger": {"price": format(price, "f"), "at": _utc_iso(at), "firing": firing},
    }


def test_message(channel: Channel) -> Message:
    """What ``POST /channels/<id>/test`` sends."""
    now = timezone.now()
    title = "pricealert test message"
    payload = {
        "event": "test",
        "channel": {"id": channel.pk, "kind": channel.kind, "name": channel.name},
        "message": TEST_TEXT,
        "at": _utc_iso(now),
    }
    return Message(
        title=title,
        body=TEST_TEXT,
        payload_of=lambda: payload,
        delivery_id=f"test-{channel.pk}",
        email=Email(
            title,
            TEST_TEXT + SIGNATURE,
            html="",
            to=channel.user.email,
            message_id=_message_id(f"test.{channel.pk}.{int(now.timestamp() * 1000)}"),
        ),
    )
