"""Account emails: welcome, "already registered", password reset and change, address verification.

Registering answers the same whether the address is new or already has an
account (see accounts.services.user_register); only the address's owner
learns which, from one of these emails. Links carrying a token (reset,
verification) are made when the email is rendered, in the worker, so no
token ever sits in the broker. They open the web app's pages (SITE_URL +
/app/verify, /app/password/reset/confirm), which call the same services as
the API endpoints; the text also shows the API call, for REST clients.
"""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.verification import verification_token

WELCOME = "welcome"
ALREADY_REGISTERED = "already_registered"
PASSWORD_RESET = "password_reset"
PASSWORD_CHANGED = "password_changed"
VERIFY_ADDRESS = "verify_address"
# The web app's pages the links open (web/urls.py); the API endpoints stay as they are.
VERIFY_PAGE = "/app/verify"
RESET_PAGE = "/app/password/reset/confirm"
KINDS = (WELCOME, ALREADY_REGISTERED, PASSWORD_RESET, PASSWORD_CHANGED, VERIFY_ADDRESS)


@dataclass(frozen=True, slots=True)
class AccountEmail:
    subject: str
    text: str


def _link(path: str, **params) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{path}?{urlencode(params)}"


def render_account_email(kind: str, *, email: str, user=None, address: str | None = None) -> AccountEmail:
    """One email. ``user`` is needed for the reset and verification links; ``address`` is the one
    being verified (the account's own, or an email channel's)."""
    if kind not in KINDS:
        raise ValueError(f"Unknown account email {kind!r}")
    site = settings.SITE_URL.rstrip("/")
    context = {
        "email": email,
        "token_url": f"{site}/token",
        "alerts_url": f"{site}/alerts/",
        "docs_url": f"{site}/api/docs/",
        "reset_minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
        "verify_days": settings.ACCOUNT_VERIFICATION_LINK_DAYS,
    }
    if kind == PASSWORD_RESET:
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
        context.update(uid=uid, token=token, reset_url=_link(RESET_PAGE, uid=uid, token=token))
    if kind in (VERIFY_ADDRESS, WELCOME) and user is not None:
        address = address or user.email
        token = verification_token(user, address)
        context.update(address=address, verify_token=token, verify_url=_link(VERIFY_PAGE, token=token))
        context["needs_verification"] = settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory" and (
            kind == VERIFY_ADDRESS or user.email_verified_at is None
        )
    subject = render_to_string(f"accounts/email/{kind}_subject.txt", context)
    return AccountEmail(
        subject=" ".join(subject.split()), text=render_to_string(f"accounts/email/{kind}.txt", context)
    )


def send_account_email(kind: str, *, to: str, user=None) -> None:
    """Send one account email now (SMTP errors propagate: the task retries)."""
    email = render_account_email(kind, email=to, user=user, address=to)
    EmailMessage(
        subject=email.subject, body=email.text, from_email=settings.DEFAULT_FROM_EMAIL, to=[to]
    ).send()
