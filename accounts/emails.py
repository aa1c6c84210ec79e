"""Account emails: the welcome after registering, and the notice that an address was registered twice.

Registering answers the same whether the address is new or already has an
account (see accounts.services.user_register); only the address's owner
learns which, from one of these emails.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

WELCOME = "welcome"
ALREADY_REGISTERED = "already_registered"
KINDS = (WELCOME, ALREADY_REGISTERED)


@dataclass(frozen=True, slots=True)
class AccountEmail:
    subject: str
    text: str


def render_account_email(kind: str, *, email: str) -> AccountEmail:
    if kind not in KINDS:
        raise ValueError(f"Unknown account email {kind!r}")
    site = settings.SITE_URL.rstrip("/")
    context = {
        "email": email,
        "token_url": f"{site}/token",
        "alerts_url": f"{site}/alerts/",
        "docs_url": f"{site}/api/docs/",
    }
    subject = render_to_string(f"accounts/email/{kind}_subject.txt", context)
    return AccountEmail(
        subject=" ".join(subject.split()), text=render_to_string(f"accounts/email/{kind}.txt", context)
    )


def send_account_email(kind: str, *, to: str) -> None:
    """Send one account email now (SMTP errors propagate: the task retries)."""
    email = render_account_email(kind, email=to)
    EmailMessage(
        subject=email.subject, body=email.text, from_email=settings.DEFAULT_FROM_EMAIL, to=[to]
    ).send()
