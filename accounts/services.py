"""Writes of user accounts: register, log in, refresh, log out, passwords, deletion, verified addresses.

The API views (accounts.apis) and the web pages call these; no account logic lives in a view.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import update_last_login
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.emails import ALREADY_REGISTERED, PASSWORD_CHANGED, PASSWORD_RESET, VERIFY_ADDRESS, WELCOME
from accounts.preferences import check_time_zone, check_window
from accounts.selectors import user_for_login, user_with_email, username_taken
from accounts.sessions import (
    GENERATION_CLAIM,
    SESSION_ENDED,
    session_end,
    session_refresh,
    session_start,
    sessions_end_all,
)
from accounts.signals import address_verified, deleting_accounts
from accounts.tasks import send_account_email_task
from accounts.verification import read_verification_token

User = get_user_model()
logger = logging.getLogger(__name__)

USERNAME_TAKEN = "A user with this username already exists."
NO_ACTIVE_ACCOUNT = "No active account found with the given credentials"
NO_ACTIVE_ACCOUNT_FOR_TOKEN = "No active account found for the given token."


class LoginFailed(Exception):
    """Wrong credentials or an inactive account: deliberately one error for both."""


@dataclass(frozen=True, slots=True)
class Registration:
    """What a registration did. Only ``email`` and ``username`` may be shown to the client."""

    email: str
    username: str | None
    user: User
    created: bool


def user_register(*, email: str, password: str, username: str | None = None) -> Registration:
    """Create an account, or, if the address already has one, email its owner instead.

    The caller cannot tell the two apart: both answer the same, after the same
    password hashing, and both queue one email to the address (a welcome, or
    "someone tried to register with your address"). Only the inputs decide
    errors: a username that is taken (checked first, so it never depends on
    the email) and a weak password are a ValidationError either way.
    """
    email = User.objects.normalize_email(email.strip())
    username = (username or "").strip() or None
    if username is not None and username_taken(username):
        raise ValidationError({"username": USERNAME_TAKEN})
    # The validators compare the password with the email and username too.
    try:
        validate_password(password, user=User(email=email, username=username))
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    with transaction.atomic():
        owner = user_with_email(email)
        if owner is None:
            try:
                with transaction.atomic():
                    user = User.objects.create_user(
                        email=email,
                        password=password,
                        username=username,
                        # A closed install trusts addresses as typed (ACCOUNT_EMAIL_VERIFICATION=none).
                        email_verified_at=None
                        if settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory"
                        else timezone.now(),
                    )
            except IntegrityError:
                # A concurrent registration won the race past the checks above.
                owner = user_with_email(email)
                if owner is None:
                    raise ValidationError({"username": USERNAME_TAKEN}) from None
        if owner is not None:
            # As long as creating an account takes: the time must not tell either.
            make_password(password)
            user = owner
        created = owner is None
        _queue_account_email(user.pk, WELCOME if created else ALREADY_REGISTERED)
    return Registration(email=email, username=username, user=user, created=created)


def _queue_account_email(user_id: int, kind: str, to: str | None = None) -> None:
    def enqueue():
        try:
            send_account_email_task.delay(user_id, kind, *([to] if to else []))
        except Exception:
            # The registration is committed; a broker outage costs the courtesy email only.
            logger.warning("Could not queue the %s email for user %s", kind, user_id, exc_info=True)

    transaction.on_commit(enqueue)


def token_obtain(*, login: str, password: str, request=None) -> dict[str, str]:
    """A fresh access/refresh pair (a new session) for the account ``login`` names (email or username)."""
    authenticated = user_authenticate(login=login, password=password, request=request)
    tokens = session_start(authenticated)
    if jwt_settings.UPDATE_LAST_LOGIN:
        update_last_login(None, authenticated)
    return tokens


def token_refresh(*, refresh: str) -> dict[str, str]:
    """A new token pair for a valid refresh token of a live session (accounts.sessions).

    Raises TokenError for an invalid, expired, blacklisted (a reuse: its whole
    session is revoked) or ended-session token, and LoginFailed when its account
    is gone or inactive. A refresh token is good for exactly one refresh: of two
    concurrent uses, only the one that blacklists it first wins.
    """
    try:
        return session_refresh(refresh, user_is_allowed=jwt_settings.USER_AUTHENTICATION_RULE)
    except LookupError:
        raise LoginFailed(NO_ACTIVE_ACCOUNT_FOR_TOKEN) from None


def token_blacklist(*, refresh: str, all: bool = False) -> None:
    """Log out: this session (its refresh token blacklisted, its family revoked), or with ``all``
    every session of the account. Raises TokenError if the token is not valid."""
    if not all:
        session_end(refresh)
        return
    token = RefreshToken(refresh)
    user = User.objects.filter(
        **{jwt_settings.USER_ID_FIELD: token.payload.get(jwt_settings.USER_ID_CLAIM)}
    ).first()
    if user is None:
        raise TokenError(NO_ACTIVE_ACCOUNT_FOR_TOKEN)
    if token.payload.get(GENERATION_CLAIM, 0) != user.session_generation:
        raise TokenError(SESSION_ENDED)
    sessions_end_all(user, reason="logged out everywhere")


def sessions_end_everywhere(*, user) -> None:
    """End every session of a signed-in user (the web app's "log out everywhere"), as ``POST /logout``
    with ``"all": true`` does: every token issued so far is refused, access tokens included."""
    sessions_end_all(user, reason="logged out everywhere")


# --- Passwords -----------------------------------------------------------------------------

WRONG_PASSWORD = "The password is not correct."
# The answer to every reset request (the API's 202 and the page), whether or not the address has an account.
RESET_REQUESTED = (
    "If an account has this address, a link to reset its password is on its way; it works once, for a "
    "limited time."
)
RESET_LINK_INVALID = "This reset link is invalid, expired or already used: ask for a new one."


def _checked_new_password(password: str, user) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from exc


def _set_password(user, password: str, *, reason: str) -> None:
    """Store the new password and end every session of the account (tokens issued before are refused)."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        sessions_end_all(user, reason=reason)
        _queue_account_email(user.pk, PASSWORD_CHANGED)


def password_change(*, user, old_password: str, new_password: str) -> None:
    """Change the password of a signed-in user who knows the current one; every session ends."""
    if not user.check_password(old_password):
        raise ValidationError({"old_password": WRONG_PASSWORD})
    _checked_new_password(new_password, user)
    _set_password(user, new_password, reason="password changed")


def password_reset_request(*, email: str) -> None:
    """Email a one-time reset link to the account with this address, if there is one.

    The caller is told nothing either way (no enumeration): the email is queued
    on commit and sent by a worker, so the answer takes as long for an unknown
    address as for a known one.
    """
    user = user_with_email(User.objects.normalize_email(email.strip()))
    if user is None or not user.is_active:
        return
    with transaction.atomic():
        _queue_account_email(user.pk, PASSWORD_RESET)


def user_from_uid(uid: str):
    try:
        user_id = int(force_str(urlsafe_base64_decode(uid)))
    except (ValueError, TypeError, OverflowError, UnicodeDecodeError):
        return None
    if not 0 < user_id <= 2**63 - 1:
        return None
    return User.objects.filter(pk=user_id).first()


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> None:
    """Set a new password with a reset link's uid and token (Django's token generator).

    The token is bound to the current password hash and last login, so it works
    once: after the reset (or any login or password change) it is refused. The
    reset also proves the address, so an unverified one becomes verified.
    """
    user = user_from_uid(uid)
    if user is None or not user.is_active or not default_token_generator.check_token(user, token):
        raise ValidationError({"token": RESET_LINK_INVALID})
    _checked_new_password(new_password, user)
    _set_password(user, new_password, reason="password reset")
    if user.email_verified_at is None:
        _mark_verified(user, user.email)


# --- The account itself ---------------------------------------------------------------------


def account_delete(*, user, password: str) -> None:
    """Delete the account and everything of it: alerts, channels, notifications, sessions, API keys.

    Asks for the password again, so a stolen access token alone cannot do it.
    """
    if not user.check_password(password):
        raise ValidationError({"password": WRONG_PASSWORD})
    with transaction.atomic():
        # simplejwt keeps issued tokens with the user set to NULL on delete: remove them outright.
        OutstandingToken.objects.filter(user=user).delete()
        deleting_accounts.send(sender=User, users=[user])
        user.delete()


# --- Verified addresses ---------------------------------------------------------------------

VERIFY_LINK_INVALID = "This confirmation link is invalid or has expired: ask for a new one."
ALREADY_VERIFIED = "Your address is already confirmed."
VERIFIED = "Address confirmed: notifications to it are sent from now on, held ones included."
RESENT = "A new confirmation link is on its way to your address."


def email_verified(user) -> bool:
    """Whether things may be delivered to the account's own address."""
    return settings.ACCOUNT_EMAIL_VERIFICATION == "none" or user.email_verified_at is not None


def _mark_verified(user, address: str) -> bool:
    """Confirm ``address`` for the user (their account's, and/or their email channels'); whether it
    named anything of theirs."""
    now = timezone.now()
    confirmed = address.lower() == user.email.lower()
    if confirmed:
        User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(email_verified_at=now)
        user.email_verified_at = user.email_verified_at or now
    # Other apps act on it in this transaction: alerts confirms the user's email channels with
    # this address (a receiver returns True when it did) and sends what was held, on commit.
    answers = address_verified.send(sender=User, user=user, address=address.lower())
    return confirmed or any(answer is True for _, answer in answers)


def address_verify(*, token: str):
    """Confirm an address with the token of an emailed link; returns (user, address).

    Confirming again is harmless; a token for an address the account (or its
    channels) no longer uses is refused by whoever handles the address.
    """
    read = read_verification_token(token)
    user = User.objects.filter(pk=read[0], is_active=True).first() if read else None
    if user is None:
        raise ValidationError({"token": VERIFY_LINK_INVALID})
    _, address = read
    with transaction.atomic():
        if not _mark_verified(user, address):
            # The account and its channels no longer use this address.
            raise ValidationError({"token": VERIFY_LINK_INVALID})
    return user, address


def verification_resend(*, user, address: str | None = None) -> None:
    """Email the account's address (or ``address``, one of its email channels' as the caller checked)
    a new confirmation link. Raises ValidationError when there is nothing to confirm."""
    if address is None:
        if user.email_verified_at is not None:
            raise ValidationError(ALREADY_VERIFIED)
        address = user.email
    with transaction.atomic():
        _queue_account_email(user.pk, VERIFY_ADDRESS, to=address)


# --- Preferences ---------------------------------------------------------------------------


def user_update_preferences(*, user, time_zone: str | None = None, quiet_hours: str | None = None):
    """Change the account's time zone and/or quiet hours ("23:00-07:00"; "" for none), checked.

    Saved with ``update_fields`` naming what changed: the alerts app re-times the
    deliveries it holds for this user on that signal (alerts.signals).
    """
    changed = []
    if time_zone is not None:
        user.time_zone = check_time_zone(time_zone)
        changed.append("time_zone")
    if quiet_hours is not None:
        user.quiet_hours = check_window(quiet_hours)
        changed.append("quiet_hours")
    if changed:
        user.save(update_fields=changed)
    return user


def user_authenticate(*, login: str, password: str, request=None):
    """The active account ``login`` names (email or username) if the password is right; else LoginFailed.

    The web app's session login; the same lookup, password-hashing time and
    single error as ``token_obtain``.
    """
    user = user_for_login(login)
    # authenticate() runs the password hasher even for unknown accounts, so the
    # answer takes as long whether or not the account exists.
    authenticated = authenticate(request, email=user.email if user else login, password=password)
    if authenticated is None or not jwt_settings.USER_AUTHENTICATION_RULE(authenticated):
        raise LoginFailed(NO_ACTIVE_ACCOUNT)
    return authenticated
