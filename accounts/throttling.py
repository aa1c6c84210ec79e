"""Throttles of the public credential endpoints: per client address and per account.

Login, register and token refresh are the endpoints an attacker hammers
(password guessing, credential stuffing, mass sign-ups, mail bombing through
"someone tried to register" emails), so each is limited twice over:

- per client address (``*_ip`` scopes): REMOTE_ADDR, or the address the
  trusted proxies put in X-Forwarded-For when NUM_PROXIES says there are any;
  an IPv6 client is counted per /64, the block one subscriber usually holds;
- per account (``*_account`` scopes): the login or email typed in the body,
  lower-cased, whether or not such an account exists, so a throttled answer
  never tells an attacker which accounts are real; for a refresh, the user id
  of a correctly signed refresh token.

Counting is ``api.throttling.WindowThrottle``'s: a fixed window per scope and
identity in the cache, atomic, let through (logged) when Redis is down, so
logging in does not fail with Redis.
"""

import functools
import ipaddress
from collections.abc import Mapping

from django.http import HttpResponse
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.state import token_backend

from accounts.selectors import user_for_login
from api.openapi import error
from api.throttling import UserThrottle, WindowThrottle

# The 429's documentation, shared by every throttled credential operation's schema.
TOO_MANY_REQUESTS = error("Too many attempts from this address or for this account; see Retry-After.")


class ClientAddressThrottle(WindowThrottle):
    def identity(self, request) -> str | None:
        address = self.get_ident(request)
        if not address:
            return "unknown"
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return address
        if ip.version == 6:
            if ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped)
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
        return str(ip)


def _body_value(request, *names: str) -> str | None:
    """The first non-empty string among these body fields (JSON, or a form), trimmed and lower-cased."""
    data = request.data if hasattr(request, "data") else request.POST
    if not isinstance(data, Mapping):
        return None
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip().lower()
    return None


class LoginAddressThrottle(ClientAddressThrottle):
    scope = "login_ip"


class LoginAccountThrottle(WindowThrottle):
    """The login as typed (email, or username), the same precedence as the login serializer."""

    scope = "login_account"

    def identity(self, request) -> str | None:
        return _body_value(request, "email", "username")


class LoginUserThrottle(WindowThrottle):
    """The account the login resolves to: its email and its username share one budget.

    Counted beside the as-typed throttle, at the same rate (THROTTLE_LOGIN_ACCOUNT), so
    alternating between an account's email and username does not double the guesses.
    """

    scope = "login_user"

    def identity(self, request) -> str | None:
        typed = _body_value(request, "email", "username")
        if typed is None or len(typed) > 254 or not typed.isprintable():
            return None
        try:
            typed.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no account has it, and the database refuses it
            return None
        user = user_for_login(typed)
        return f"user:{user.pk}" if user is not None else None


class RegisterAddressThrottle(ClientAddressThrottle):
    scope = "register_ip"


class RegisterAccountThrottle(WindowThrottle):
    """The email address being registered: bounds the emails its owner can be sent."""

    scope = "register_account"

    def identity(self, request) -> str | None:
        return _body_value(request, "email")


class RefreshAddressThrottle(ClientAddressThrottle):
    scope = "refresh_ip"


class RefreshAccountThrottle(WindowThrottle):
    """The user of a correctly signed refresh token (a forged one cannot spend someone else's quota)."""

    scope = "refresh_account"

    def identity(self, request) -> str | None:
        data = request.data
        token = data.get("refresh") if isinstance(data, Mapping) else None
        if not isinstance(token, str) or len(token) > 4096:
            return None
        try:
            payload = token_backend.decode(token, verify=True)
        except (TokenBackendError, ValueError, TypeError):
            # Garbage (bad signature, expired, undecodable text) is the view's 401 to give.
            return None
        user_id = payload.get(jwt_settings.USER_ID_CLAIM)
        if payload.get(jwt_settings.TOKEN_TYPE_CLAIM) != "refresh" or user_id is None:
            return None
        return f"user:{user_id}"


class PasswordResetAddressThrottle(ClientAddressThrottle):
    scope = "password_reset_ip"


class PasswordResetAccountThrottle(WindowThrottle):
    """The address a reset is asked for, as typed: bounds the reset emails its owner can be sent."""

    scope = "password_reset_account"

    def identity(self, request) -> str | None:
        return _body_value(request, "email")


class TokenConfirmAddressThrottle(ClientAddressThrottle):
    """Reset confirmations and address confirmations per client: bounds guessing of tokens."""

    scope = "token_confirm_ip"


class _UserWriteThrottle(UserThrottle):
    counted_methods = frozenset({"POST", "DELETE"})


class PasswordChangeThrottle(_UserWriteThrottle):
    scope = "password_change"


class AccountDeleteThrottle(_UserWriteThrottle):
    # The account endpoint's reads are free; only deletion (a password check) counts.
    counted_methods = frozenset({"DELETE"})
    scope = "account_delete"


class VerifyResendThrottle(_UserWriteThrottle):
    scope = "verify_resend"


class ApiKeyCreateThrottle(_UserWriteThrottle):
    counted_methods = frozenset({"POST"})
    scope = "api_key_create"


LOGIN_THROTTLES = [LoginAddressThrottle, LoginAccountThrottle, LoginUserThrottle]
REGISTER_THROTTLES = [RegisterAddressThrottle, RegisterAccountThrottle]
REFRESH_THROTTLES = [RefreshAddressThrottle, RefreshAccountThrottle]
PASSWORD_RESET_THROTTLES = [PasswordResetAddressThrottle, PasswordResetAccountThrottle]


def throttle_login_form(view):
    """The API's login throttles on a login form (the admin's): same budgets, a plain-text 429 over them.

    Without it, /admin/login/ would be a way around the limits on guessing
    passwords (of staff accounts, the ones it answers for).
    """

    @functools.wraps(view)
    def throttled_view(request, *args, **kwargs):
        if request.method == "POST":
            throttles = [throttle() for throttle in LOGIN_THROTTLES]
            waits = [throttle.wait() for throttle in throttles if not throttle.allow_request(request, None)]
            if waits:
                wait = max(waits)
                response = HttpResponse(
                    f"Too many login attempts; try again in {wait} seconds.\n",
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str(wait)
                return response
        return view(request, *args, **kwargs)

    return throttled_view
