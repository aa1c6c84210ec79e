"""Writes of user accounts and their JWT sessions: register, log in, refresh, log out."""

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import update_last_login
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.selectors import user_email_taken, user_for_login, username_taken

User = get_user_model()

EMAIL_TAKEN = "A user with this email already exists."
USERNAME_TAKEN = "A user with this username already exists."
NO_ACTIVE_ACCOUNT = "No active account found with the given credentials"
NO_ACTIVE_ACCOUNT_FOR_TOKEN = "No active account found for the given token."


class LoginFailed(Exception):
    """Wrong credentials or an inactive account: deliberately one error for both."""


def user_register(*, email: str, password: str, username: str | None = None) -> User:
    email = User.objects.normalize_email(email.strip())
    username = (username or "").strip() or None
    if user_email_taken(email):
        raise ValidationError({"email": EMAIL_TAKEN})
    if username is not None and username_taken(username):
        raise ValidationError({"username": USERNAME_TAKEN})
    # The validators compare the password with the email and username too.
    try:
        validate_password(password, user=User(email=email, username=username))
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, username=username)
    except IntegrityError:
        # A concurrent registration won the race past the checks above.
        if user_email_taken(email):
            raise ValidationError({"email": EMAIL_TAKEN}) from None
        raise ValidationError({"username": USERNAME_TAKEN}) from None


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
