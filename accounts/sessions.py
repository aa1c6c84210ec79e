"""JWT sessions that end: token families with an absolute lifetime, reuse detection, "log out everywhere".

Each login starts a ``SessionFamily``; its refresh token and every one rotated
from it carry the family id (``fam``) and the user's session generation
(``gen``), and so do the access tokens they mint. Then:

- a refresh token never outlives its family's ``expires_at`` (login time +
  JWT_SESSION_MAX_DAYS): rotation gives a new token with the usual lifetime,
  cut at that moment, so a token used once a week still ends;
- presenting a refresh token that was already rotated (or logged out) revokes
  its whole family: of a thief and a victim both holding copies, the one who
  comes second ends both sessions (RFC 6819 5.2.2.3 / OAuth 2.0 Security BCP
  "refresh token rotation" reuse detection);
- raising the user's ``session_generation`` (password change or reset, logout
  with ``"all": true``) refuses every token issued before, access tokens
  included (accounts.authentication checks ``gen`` on every request).

Tokens made before these claims existed (no ``fam``) are still refreshed once
and then join a new family (an upgrade path, not a loophole: their own
7-day expiry still applies).
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_to_epoch

from accounts.models import SessionFamily

User = get_user_model()

GENERATION_CLAIM = "gen"
FAMILY_CLAIM = "fam"

SESSION_ENDED = "This session has ended: log in again."
SESSION_EXPIRED = "This session is older than the longest a session may last: log in again."
REUSED = "Token is blacklisted"


class SessionRefused(TokenError):
    """A refresh token whose session is over (revoked, too old, or from before a password change)."""


def _family_lifetime() -> timedelta:
    return timedelta(days=settings.JWT_SESSION_MAX_DAYS)


def _cap_expiry(token: RefreshToken, family: SessionFamily) -> None:
    """The usual lifetime from now, never past the family's end."""
    token.set_exp()
    token["exp"] = min(token["exp"], datetime_to_epoch(family.expires_at))


def _new_family(user, now: datetime | None = None) -> SessionFamily:
    now = now or timezone.now()
    return SessionFamily.objects.create(user=user, created_at=now, expires_at=now + _family_lifetime())


def _pair(token: RefreshToken) -> dict[str, str]:
    token.outstand()
    return {"access": str(token.access_token), "refresh": str(token)}


def session_start(user) -> dict[str, str]:
    """A new session (family) for a user who just proved who they are: an access and a refresh token."""
    family = _new_family(user)
    token = RefreshToken()
    token[jwt_settings.USER_ID_CLAIM] = str(getattr(user, jwt_settings.USER_ID_FIELD))
    token[GENERATION_CLAIM] = user.session_generation
    token[FAMILY_CLAIM] = str(family.pk)
    _cap_expiry(token, family)
    return _pair(token)


def _claims_unverified(raw: str) -> dict | None:
    """The claims of a correctly signed, unexpired token, even if blacklisted; None otherwise."""
    try:
        return token_backend.decode(raw, verify=True)
    except (TokenBackendError, ValueError, TypeError):
        return None


def _revoke_on_reuse(raw: str) -> None:
    """A rotated or logged-out refresh token came back: end its whole family."""
    claims = _claims_unverified(raw)
    if claims and claims.get(jwt_settings.TOKEN_TYPE_CLAIM) == "refresh" and claims.get(FAMILY_CLAIM):
        family_revoke(claims[FAMILY_CLAIM], reason="refresh token reused")


def family_revoke(family_id: str, *, reason: str) -> int:
    """Revoke one family (its refresh tokens refused from now; its access tokens at their next use)."""
    try:
        return SessionFamily.objects.filter(pk=family_id, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_reason=reason[:100]
        )
    except (ValueError, TypeError, ValidationError):  # a family id that is not a UUID: nothing to revoke
        return 0


def _user_of(token: RefreshToken):
    user_id = token.payload.get(jwt_settings.USER_ID_CLAIM)
    return User.objects.filter(**{jwt_settings.USER_ID_FIELD: user_id}).first()


def _check_session(token: RefreshToken, user) -> SessionFamily | None:
    """The token's family if the session is still on; SessionRefused otherwise (None: a legacy token)."""
    if token.payload.get(GENERATION_CLAIM, 0) != user.session_generation:
        raise SessionRefused(SESSION_ENDED)
    family_id = token.payload.get(FAMILY_CLAIM)
    if family_id is None:
        return None
    family = SessionFamily.objects.filter(pk=family_id, user=user).first()
    if family is None or family.revoked_at is not None:
        raise SessionRefused(SESSION_ENDED)
    if family.expires_at <= timezone.now():
        raise SessionRefused(SESSION_EXPIRED)
    return family


def session_refresh(raw: str, *, user_is_allowed) -> dict[str, str]:
    """Rotate a refresh token: a new pair in the same family; the one sent is blacklisted.

    Raises TokenError (invalid, expired, blacklisted: reuse revokes the family;
    or its session is over) or ``LookupError`` when its user is gone or not
    allowed to log in (``user_is_allowed``).
    """
    try:
        token = RefreshToken(raw)
    except TokenError as exc:
        if str(exc.args[0]) == REUSED:
            _revoke_on_reuse(raw)
        raise
    user = _user_of(token)
    if user is None or not user_is_allowed(user):
        raise LookupError(user)
    family = _check_session(token, user)
    with transaction.atomic():
        _, created = token.blacklist()
        if not created:
            # A concurrent refresh with the same token won: that is a reuse too.
            transaction.on_commit(lambda: _revoke_on_reuse(raw))
            raise TokenError(REUSED)
    if family is None:
        family = _new_family(user)
        token[FAMILY_CLAIM] = str(family.pk)
    token.set_jti()
    token.set_iat()
    _cap_expiry(token, family)
    return _pair(token)


def session_end(raw: str) -> None:
    """Log out one session: the refresh token is blacklisted and its family revoked.

    Raises TokenError if the token is not a valid refresh token (a reused one
    also revokes its family, as at refresh).
    """
    try:
        token = RefreshToken(raw)
    except TokenError as exc:
        if str(exc.args[0]) == REUSED:
            _revoke_on_reuse(raw)
        raise
    _, created = token.blacklist()
    if not created:
        raise TokenError(REUSED)
    if family_id := token.payload.get(FAMILY_CLAIM):
        family_revoke(family_id, reason="logged out")


def sessions_end_all(user, *, reason: str) -> None:
    """End every session of the user: the generation goes up (every token issued so far is refused,
    access tokens included), every family is revoked and every outstanding refresh token blacklisted."""
    now = timezone.now()
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(session_generation=F("session_generation") + 1)
        user.refresh_from_db(fields=["session_generation"])
        SessionFamily.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=now, revoked_reason=reason[:100]
        )
        outstanding = OutstandingToken.objects.filter(user=user, expires_at__gt=now).exclude(
            blacklistedtoken__isnull=False
        )
        BlacklistedToken.objects.bulk_create(
            [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
        )


def access_allowed(token, user) -> str | None:
    """Why a validated access token may not be used by its user now, or None if it may."""
    if token.get(GENERATION_CLAIM, 0) != user.session_generation:
        return SESSION_ENDED
    family_id = token.get(FAMILY_CLAIM)
    if family_id is not None:
        try:
            live = SessionFamily.objects.filter(pk=family_id, user=user, revoked_at__isnull=True).exists()
        except (ValueError, TypeError, ValidationError):
            live = False
        if not live:
            return SESSION_ENDED
    return None
