"""Alert notifications: render them, send them through their channel (SMTP here; webhooks and
Apprise in alerts.transports), and keep the outbox rows honest.

Sending is claimed with a conditional update, so however many task messages
exist for one Notification (a retry, a sweeper re-enqueue, a redelivery after
a worker died), only one worker at a time may send it and a sent one is never
sent again. Every failure is a NotificationError whose ``permanent`` flag tells
the task whether retrying can help (as in healthchecks' transports).
"""

import contextlib
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlparse

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from alerts import transports
from alerts.models import Alert, Channel, Notification
from alerts.transports import NotificationError


@dataclass(frozen=True, slots=True)
class AlertEmail:
    subject: str
    text: str
    html: str


def format_price(value: Decimal) -> str:
    """70000.01000000 -> "70,000.01", 70000 -> "70,000", 0.00001234 -> "0.00001234"."""
    return format(Decimal(value).normalize(), ",f")


def _message_id(notification: Notification) -> str:
    # Stable per notification: a resend after a crash between the SMTP server's
    # "250 OK" and our "sent" mark carries the same Message-ID, which mail
    # systems use to drop duplicates.
    domain = urlparse(settings.SITE_URL).hostname or "localhost"
    return f"<pricealert.notification.{notification.pk}@{domain}>"


def _context(alert: Alert, price: Decimal, at: datetime, firing: int) -> dict:
    above = alert.direction == Alert.Direction.ABOVE
    site = settings.SITE_URL.rstrip("/")
    return {
        "alert": alert,
        "symbol": alert.symbol,
        "direction": "cross" if alert.crossing else alert.direction,
        "side": alert.direction,
        "moved": "rose to" if above else "fell to",
        "price": format_price(price),
        "target": format_price(alert.target_price),
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
        raise NotificationError("the alert was re-armed before this email was sent", permanent=True)
    return alert.triggered_price, alert.triggered_at, notification.firing


def render_alert_email(
    alert: Alert, *, price: Decimal | None = None, at: datetime | None = None, firing: int = 1
) -> AlertEmail:
    """Subject, plain text and HTML of the email for a firing (default: the alert's last one)."""
    context = _context(alert, price or alert.triggered_price, at or alert.triggered_at, firing)
    subject = render_to_string("alerts/email/triggered_subject.txt", context)
    return AlertEmail(
        subject=" ".join(subject.split()),
        text=render_to_string("alerts/email/triggered.txt", context),
        html=render_to_string("alerts/email/triggered.html", context),
    )


def alert_message(notification: Notification) -> transports.Message:
    """The firing as a webhook payload and as Apprise title + text."""
    alert = notification.alert
    price, at, firing = _firing(notification)
    email = render_alert_email(alert, price=price, at=at, firing=firing)
    payload = {
        "event": "alert.triggered",
        "notification_id": notification.pk,
        "alert": {
            "id": alert.pk,
            "symbol": alert.symbol,
            "direction": "cross" if alert.crossing else alert.direction,
            "side": alert.direction,
            "target_price": format(alert.target_price, "f"),
            "reference_price": None if alert.reference_price is None else format(alert.reference_price, "f"),
            "change_percent": None if alert.change_percent is None else format(alert.change_percent, "f"),
            "repeat": alert.repeat,
            "cooldown_seconds": alert.cooldown_seconds,
            "note": alert.note,
        },
        "trigger": {
            "price": format(price, "f"),
            "at": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "firing": firing,
        },
    }
    return transports.Message(
        title=email.subject, body=email.text, payload=payload, delivery_id=str(notification.pk)
    )


def test_message(channel: Channel) -> transports.Message:
    """What ``POST /channels/<id>/test`` sends."""
    text = (
        "This is a test message from pricealert: this channel works. "
        "Your alerts will be delivered here when they fire."
    )
    payload = {
        "event": "test",
        "channel": {"id": channel.pk, "kind": channel.kind, "name": channel.name},
        "message": text,
        "at": timezone.now().astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    return transports.Message(
        title="pricealert test message", body=text, payload=payload, delivery_id=f"test-{channel.pk}"
    )


def _smtp_error(exc: Exception) -> NotificationError:
    """Classify a sending failure: only a 5xx refusal of this message is permanent."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        return NotificationError(f"recipient refused: {exc.recipients}", permanent=permanent)
    if isinstance(exc, smtplib.SMTPDataError):
        message = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc
        return NotificationError(
            f"message refused: {exc.smtp_code} {message}", permanent=500 <= exc.smtp_code < 600
        )
    # Everything else (server down, 4xx, a bad login, a timeout) may pass later,
    # or after the operator fixes the mail settings: retried a bounded number of times.
    return NotificationError(f"{type(exc).__name__}: {exc}")


def send_alert_email(notification: Notification, *, connection=None) -> None:
    """Send this notification's email now; raises NotificationError on failure.

    ``connection`` (from django.core.mail.get_connection) lets a batch send many
    emails over one SMTP session; it is opened here if needed and, after a
    failure, closed so that the next email starts a fresh session.
    """
    price, at, firing = _firing(notification)
    email = render_alert_email(notification.alert, price=price, at=at, firing=firing)
    _send_email(email, notification.to, _message_id(notification), connection=connection)


def _send_email(email: AlertEmail, to: str, message_id: str, *, connection=None) -> None:
    own_connection = connection is None
    connection = connection or get_connection(fail_silently=False)
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Message-ID": message_id},
        connection=connection,
    )
    message.attach_alternative(email.html, "text/html")
    try:
        connection.open()
        message.send()
    except (smtplib.SMTPException, OSError) as exc:  # socket errors and timeouts are OSError
        close_connection(connection)
        raise _smtp_error(exc) from exc
    if own_connection:
        close_connection(connection)


def disable_channel(channel_id: int, reason: str) -> bool:
    """Switch a channel off because delivery says it can never work; the owner sees why."""
    switched_off = Channel.objects.filter(pk=channel_id, enabled=True).update(
        enabled=False, disabled_reason=reason[:500]
    )
    return bool(switched_off)


def send_notification_message(notification: Notification, *, connection=None) -> None:
    """Deliver one notification through its channel; raises NotificationError on failure.

    A channel disabled or deleted after the firing is not used any more: the
    notification fails permanently, saying so. A permanent failure that means
    the endpoint is gone disables the channel.
    """
    try:
        channel = notification.via
    except Channel.DoesNotExist:  # deleted since: ``via`` keeps the id of a channel gone
        channel = None
    # Only an email row without a channel may go to the address it recorded (the
    # account's address of a user without channels).
    if channel is None and (notification.via_id is not None or notification.channel != Channel.Kind.EMAIL):
        raise NotificationError("the channel was deleted before this notification was sent", permanent=True)
    if channel is not None and not channel.enabled:
        raise NotificationError("the channel was disabled before this notification was sent", permanent=True)
    try:
        if channel is None or channel.kind == Channel.Kind.EMAIL:
            send_alert_email(notification, connection=connection)
        elif channel.kind == Channel.Kind.WEBHOOK:
            transports.send_webhook(channel.url, channel.secret, alert_message(notification))
        else:
            transports.send_apprise(channel.url, alert_message(notification))
    except NotificationError as exc:
        if exc.disable_channel and channel is not None:
            disable_channel(channel.pk, exc.message)
        raise


def send_test_message(channel: Channel) -> None:
    """Send a test message through a channel now (whether or not it is enabled); raises NotificationError."""
    message = test_message(channel)
    if channel.kind == Channel.Kind.EMAIL:
        email = AlertEmail(subject=message.title, text=message.body + "\n\n-- \npricealert\n", html="")
        domain = urlparse(settings.SITE_URL).hostname or "localhost"
        message_id = f"<pricealert.test.{channel.pk}.{int(timezone.now().timestamp() * 1000)}@{domain}>"
        _send_plain_email(email, channel.user.email, message_id)
    elif channel.kind == Channel.Kind.WEBHOOK:
        transports.send_webhook(channel.url, channel.secret, message)
    else:
        transports.send_apprise(channel.url, message)


def _send_plain_email(email: AlertEmail, to: str, message_id: str) -> None:
    connection = get_connection(fail_silently=False)
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Message-ID": message_id},
        connection=connection,
    )
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        raise _smtp_error(exc) from exc
    finally:
        close_connection(connection)


def close_connection(connection) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):  # the session is being dropped anyway
        connection.close()


def send_lease() -> timedelta:
    """How long a claim keeps other workers off: longer than any SMTP conversation can take."""
    return timedelta(seconds=max(settings.ALERTS_NOTIFY_LEASE_SECONDS, 6 * settings.EMAIL_TIMEOUT))


def claim_notification(
    notification_id: int, *, expected_attempts: int | None, now: datetime | None = None
) -> Notification | None:
    """Take the right to send one pending notification, or None if someone else has it.

    The claim counts the attempt and sets a lease. It succeeds when the
    notification is still pending and either nobody holds it (no lease, or the
    lease or retry time has passed) or this message is the one the last attempt
    scheduled (``expected_attempts`` equals the attempts so far: a compare-and-set,
    so of two messages carrying the same number only the first wins).
    """
    now = now or timezone.now()
    free = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    if expected_attempts is not None:
        free |= Q(attempts=expected_attempts)
    claimed = (
        Notification.objects.filter(free, id=notification_id, status=Notification.Status.PENDING)
        .filter(attempts__lt=settings.ALERTS_NOTIFY_MAX_ATTEMPTS)
        .update(attempts=F("attempts") + 1, next_attempt_at=now + send_lease())
    )
    if not claimed:
        return None
    return Notification.objects.select_related("alert", "via").filter(id=notification_id).first()


def _owned(notification: Notification):
    # Only the holder of the claim may settle it: nobody claimed it again since.
    return Notification.objects.filter(
        id=notification.id, status=Notification.Status.PENDING, attempts=notification.attempts
    )


def mark_notification_sent(notification: Notification, *, now: datetime | None = None) -> bool:
    return bool(
        Notification.objects.filter(id=notification.id, status=Notification.Status.PENDING).update(
            status=Notification.Status.SENT, sent_at=now or timezone.now(), next_attempt_at=None
        )
    )


def mark_notification_retry(notification: Notification, error: str, *, retry_at: datetime) -> bool:
    return bool(_owned(notification).update(last_error=error, next_attempt_at=retry_at))


def mark_notification_failed(notification: Notification, error: str) -> bool:
    return bool(
        _owned(notification).update(status=Notification.Status.FAILED, last_error=error, next_attempt_at=None)
    )
