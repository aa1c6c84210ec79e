"""Celery entry points of the accounts app: sending account emails off the request path.

Registering must answer in the same time whether or not the address already
has an account, so the email (welcome or "someone tried to register") is
queued on commit and sent by a worker, retried a few times with backoff if
the SMTP server is unavailable.
"""

import logging
import smtplib

from celery import shared_task
from django.contrib.auth import get_user_model

from accounts.emails import send_account_email

logger = logging.getLogger(__name__)


@shared_task(
    name="accounts.tasks.send_account_email",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=900,
    retry_jitter=True,
    max_retries=5,
)
def send_account_email_task(user_id: int, kind: str, to: str | None = None) -> str:
    """Email the user (looked up now: an account deleted meanwhile gets nothing), at the account's
    address or at ``to`` (an address being verified). Returns sent or skipped."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return "skipped"
    send_account_email(kind, to=to or user.email, user=user)
    return "sent"
