"""Alert emails: render them from templates, send them over SMTP, and keep the outbox rows honest.

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

from alerts.models import Alert, Notification


class NotificationError(Exception):
    """Sending failed; ``permanent`` when the same message can never succeed."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


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


def render_alert_email(alert: Alert) -> AlertEmail:
    """Subject, plain text and HTML of the email for a triggered alert."""
    above = alert.direction == Alert.Direction.ABOVE
    site = settings.SITE_URL.rstrip("/")
    context = {
        "alert": alert,
        "symbol": alert.symbol,
        "direction": alert.direction,
        "moved": "rose to" if above else "fell to",
        "price": format_price(alert.triggered_price),
        "target": format_price(alert.target_price),
        "triggered_at": alert.triggered_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "alerts_url": f"{site}/alerts/",
        "docs_url": f"{site}/api/docs/",
    }
    subject = render_to_string("alerts/email/triggered_subject.txt", context)
    return AlertEmail(
        subject=" ".join(subject.split()),
        text=render_to_string("alerts/email/triggered.txt", context),
        html=render_to_string("alerts/email/triggered.html", context),
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
    alert = notification.alert
    if alert.triggered_price is None or alert.triggered_at is None:
        # Re-armed in the admin before its email went out: the trigger it reports is gone.
        raise NotificationError("the alert was re-armed before this email was sent", permanent=True)
    email = render_alert_email(alert)
    own_connection = connection is None
    connection = connection or get_connection(fail_silently=False)
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.to],
        headers={"Message-ID": _message_id(notification)},
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


def close_connection(connection) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):  # the session is being dropped anyway
        connection.close()


def send_lease() -> timedelta:
    """How long a claim keeps other workers off: longer than any SMTP conversation can take."""
    return timedelta(seconds=max(60, 6 * settings.EMAIL_TIMEOUT))


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
    return Notification.objects.select_related("alert").filter(id=notification_id).first()


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
