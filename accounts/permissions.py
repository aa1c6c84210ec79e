"""What an API key may not do: manage keys, change the password, delete the account, verify addresses."""

from rest_framework.permissions import BasePermission

from accounts.models import ApiKey
from api.openapi import error

API_KEY_REFUSED = (
    "An API key cannot do this: log in with your password (POST /token) and use the access token."
)


class NotWithApiKey(BasePermission):
    message = API_KEY_REFUSED

    def has_permission(self, request, view):
        return not isinstance(request.auth, ApiKey)


FORBIDDEN_WITH_API_KEY = error("Not allowed with an API key: use a session's access token.")
