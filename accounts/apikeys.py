"""API keys for scripts: made, listed, revoked, and looked up by the authentication class.

A key is ``pa_<prefix>_<secret>``: ``pa_`` tells it from a JWT (which starts
with ``eyJ``) in the same ``Authorization: Bearer`` header; ``prefix`` (8
characters) is kept in clear to tell keys apart in lists; the database stores
only the SHA-256 digest of the whole key, so a leaked dump yields no usable key.
The plain key is returned once, by ``api_key_create``.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiKey

KEY_PREFIX = "pa_"
MAX_KEYS_PER_USER = 20
# last_used_at is written at most this often per key: every request would be a write.
LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    api_key: ApiKey
    key: str  # the only time the plain key exists outside its owner's hands


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def is_api_key(raw: str) -> bool:
    return raw.startswith(KEY_PREFIX)


def api_key_create(*, user, name: str, expires_at: datetime | None = None) -> NewApiKey:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the key a name (what uses it)."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    if ApiKey.objects.filter(user=user).count() >= MAX_KEYS_PER_USER:
        raise ValidationError(
            {"name": f"You have {MAX_KEYS_PER_USER} API keys, the most allowed: revoke one to add another."}
        )
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        user=user, name=name, prefix=f"{KEY_PREFIX}{prefix}", key_hash=key_digest(key), expires_at=expires_at
    )
    return NewApiKey(api_key=api_key, key=key)


def api_key_list(*, user):
    return ApiKey.objects.filter(user=user).order_by("-created_at", "-id")


def api_key_revoke(*, user, key_id: int) -> bool:
    """Delete one of the user's keys; False if there is no such key of theirs (a 404)."""
    if not 0 < key_id <= 2**63 - 1:
        return False
    deleted, _ = ApiKey.objects.filter(user=user, pk=key_id).delete()
    return bool(deleted)


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The live key this plain key is, with its user; None for an unknown, revoked or expired key.

    Records the use (``last_used_at``, at most once a minute per key).
    """
    now = timezone.now()
    api_key = (
        ApiKey.objects.select_related("user")
        .filter(key_hash=key_digest(raw))
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
    if api_key is None:
        return None
    if api_key.last_used_at is None or api_key.last_used_at <= now - LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key
