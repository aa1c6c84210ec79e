"""How a request proves who it is: a JWT from a live session, or an API key (``pa_...``).

Both come as ``Authorization: Bearer <credential>``; the prefix tells them
apart. ``request.auth`` is then the validated JWT or the ``ApiKey``, which
``accounts.permissions.NotWithApiKey`` uses to keep keys away from managing
keys, the password and the account itself.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from accounts.apikeys import api_key_authenticate, is_api_key
from accounts.sessions import access_allowed

INVALID_KEY = "Invalid, revoked or expired API key."


def _bearer(request) -> str | None:
    header = authentication.get_authorization_header(request).split()
    if len(header) != 2 or header[0].decode("latin-1") not in jwt_settings.AUTH_HEADER_TYPES:
        return None
    try:
        return header[1].decode("utf-8")
    except UnicodeDecodeError:
        return None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw = _bearer(request)
        if raw is None or not is_api_key(raw):
            return None  # a JWT, or nothing: the next class decides
        api_key = api_key_authenticate(raw)
        if api_key is None or not api_key.user.is_active:
            raise AuthenticationFailed(INVALID_KEY, code="invalid_api_key")
        return api_key.user, api_key

    def authenticate_header(self, request):
        return f'{jwt_settings.AUTH_HEADER_TYPES[0]} realm="api"'


class SessionJWTAuthentication(JWTAuthentication):
    """simplejwt's access-token check, plus: the token's session must still be on."""

    def authenticate(self, request):
        raw = _bearer(request)
        if raw is not None and is_api_key(raw):
            return None
        return super().authenticate(request)

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        reason = access_allowed(validated_token, user)
        if reason is not None:
            raise AuthenticationFailed(_(reason), code="session_ended")
        return user
