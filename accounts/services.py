"""Writes of user accounts and their JWT sessions: register, log in, refresh, log out."""

import logging
from dataclasses import dataclass

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import update_last_login
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.emails import ALREADY_REGISTERED, WELCOME
from accounts.selectors import user_for_login, user_with_email, username_taken
from accounts.tasks import send_account_email_task

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
                    user = User.objects.create_user(email=email, password=password, username=username)
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


def _queue_account_email(user_id: int, kind: str) -> None:
    def enqueue():
        try:
            send_account_email_task.delay(user_id, kind)
        except Exception:
            # The registration is committed; a broker outage costs the courtesy email only.
            logger.warning("Could not queue the %s email for user %s", kind, user_id, exc_info=True)

    transaction.on_commit(enqueue)


def token_obtain(*, login: str, password: str, request=None) -> dict[str, str]:
    """A fresh access/refresh pair for the account ``login`` names (email or username)."""
    user = user_for_login(login)
    # authenticate() runs the password hasher even for unknown accounts, so the
    # answer takes as long whether or not the account exists.
    authenticated = authenticate(request, email=user.email if user else login, password=password)
    if authenticated is None or not jwt_settings.USER_AUTHENTICATION_RULE(authenticated):
        raise LoginFailed(NO_ACTIVE_ACCOUNT)
    refresh = RefreshToken.for_user(authenticated)
    if jwt_settings.UPDATE_LAST_LOGIN:
        update_last_login(None, authenticated)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def token_refresh(*, refresh: str) -> dict[str, str]:
    """A new access token (and, with rotation, a new refresh token) for a valid refresh token.

    Raises TokenError for an invalid, expired or blacklisted token and
    LoginFailed when its account is gone or inactive. With rotation, a refresh
    token is good for exactly one refresh: of two concurrent uses, only the one
    that blacklists it first wins.
    """
    token = RefreshToken(refresh)
    user_id = token.payload.get(jwt_settings.USER_ID_CLAIM)
    user = User.objects.filter(**{jwt_settings.USER_ID_FIELD: user_id}).first()
    if user is None or not jwt_settings.USER_AUTHENTICATION_RULE(user):
        raise LoginFailed(NO_ACTIVE_ACCOUNT_FOR_TOKEN)
    tokens = {"access": str(token.access_token)}
    if jwt_settings.ROTATE_REFRESH_TOKENS:
        if jwt_settings.BLACKLIST_AFTER_ROTATION:
            _blacklist_once(token)
        token.set_jti()
        token.set_exp()
        token.set_iat()
        token.outstand()
        tokens["refresh"] = str(token)
    return tokens


def token_blacklist(*, refresh: str) -> None:
    """Log out: the refresh token can never be used again. Raises TokenError if it is not valid."""
    _blacklist_once(RefreshToken(refresh))


def _blacklist_once(token: RefreshToken) -> None:
    _, created = token.blacklist()
    if not created:
        raise TokenError("Token is blacklisted")


def user_authenticate(*, login: str, password: str, request=None):
    """The active account ``login`` names (email or username) if the password is right; else LoginFailed.

    The web app's session login; the same lookup, password-hashing time and
    single error as ``token_obtain``.
    """
    user = user_for_login(login)
    authenticated = authenticate(request, email=user.email if user else login, password=password)
    if authenticated is None or not jwt_settings.USER_AUTHENTICATION_RULE(authenticated):
        raise LoginFailed(NO_ACTIVE_ACCOUNT)
    return authenticated
