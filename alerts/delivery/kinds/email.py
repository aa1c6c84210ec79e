"""Email over SMTP (Django's email backend), the one SMTP sender: to the account's address, or to
the channel's own address once confirmed.

Only a 5xx refusal of this message is permanent; everything else (server down,
a 4xx, a bad login, a timeout) may pass later, or once the operator fixes the
mail settings, and is retried a bounded number of times.
"""

import contextlib
import smtplib
from collections.abc import Iterator
from dataclasses import replace

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.core.validators import validate_email

from alerts.delivery.errors import NotificationError, failure_category
from alerts.delivery.messages import Email, Message
from alerts.delivery.mime import AlertEmail


def check_url(url: str) -> str:
    """Empty: the account's own address. Otherwise another address (confirmed before it gets anything)."""
    address = url.strip()
    if not address:
        return ""
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationError(
            {"url": "An email channel's url is an email address (or empty: yours)."}
        ) from None
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def new_secret() -> str:
    return ""


def send(channel, message: Message, *, connection=None) -> None:
    """Send the message's email to its address: the channel's own address if it has one, else the
    account's (or the row's recorded one)."""
    email = message.email
    if channel is not None and channel.url:
        email = replace(email, to=channel.url)
    send_email(email, connection=connection)


def send_email(email: Email, *, connection=None) -> None:
    """Send one email now; raises NotificationError on failure.

    ``connection`` (from ``session``) lets a batch send many emails over
    one SMTP session; it is opened here if needed and, after a failure, closed
    so that the next email starts a fresh session. Without one, the email has a
    session of its own.
    """
    own_connection = connection is None
    connection = connection or get_connection(fail_silently=False)
    message = AlertEmail(
        subject=email.subject,
        body=email.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers={"Message-ID": email.message_id},
        connection=connection,
    )
    if email.html:
        message.attach_alternative(email.html, "text/html")
    try:
        connection.open()
        message.send()
    except (smtplib.SMTPException, OSError) as exc:  # socket errors and timeouts are OSError
        close_connection(connection)
        raise _smtp_error(exc) from exc
    if own_connection:
        close_connection(connection)


@contextlib.contextmanager
def session() -> Iterator:
    """One SMTP connection for a batch of emails, opened at the first send, closed at the end."""
    connection = get_connection(fail_silently=False)
    try:
        yield connection
    finally:
        close_connection(connection)


def close_connection(connection) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):  # the session is being dropped anyway
        connection.close()


def _smtp_error(exc: Exception) -> NotificationError:
    """Classify a sending failure: only a 5xx refusal of this message is permanent."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        category = f"recipient refused (SMTP {codes[0]})" if codes else "recipient refused"
        return NotificationError(
            f"recipient refused: {exc.recipients}", permanent=permanent, category=category
        )
    if isinstance(exc, smtplib.SMTPDataError):
        message = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc
        return NotificationError(
            f"message refused: {exc.smtp_code} {message}",
            permanent=500 <= exc.smtp_code < 600,
            category=f"message refused (SMTP {exc.smtp_code})",
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        category = "mail server login failed"
    elif isinstance(exc, smtplib.SMTPResponseException):
        category = f"mail server error (SMTP {exc.smtp_code})"
    else:
        category = failure_category(exc)
    # Everything else may pass later: retried a bounded number of times.
    return NotificationError(f"{type(exc).__name__}: {exc}", category=category)
