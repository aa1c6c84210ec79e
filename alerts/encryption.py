"""Secrets at rest: channel URLs and webhook secrets encrypted in the database with Fernet.

Fernet (from ``cryptography``: AES-128-CBC + HMAC-SHA256, authenticated) is
used through MultiFernet over FIELD_ENCRYPTION_KEY, a comma-separated key list,
newest first: new values are encrypted with the first key, and any key of the
list decrypts, so a key is rotated by putting a new one in front
(``manage.py rotate_field_encryption`` then re-encrypts every row with it, and
the old key can go). A key is a Fernet key (32 url-safe base64 bytes) or any
long random string (docker compose generates one like SECRET_KEY), which is
stretched to one with SHA-256. Without FIELD_ENCRYPTION_KEY (only allowed with
DEBUG, and in the tests) the key is derived from SECRET_KEY.

The alternative was django-fernet-encrypted-fields / django-cryptography; a
field of our own is some 50 lines over the same library, and keeps the
empty-string rule the channel table's constraints need ('' is stored as '').

A value that is not a Fernet token (a row written before encryption, or by
raw SQL) is read as it is; the migration that added encryption encrypted every
existing row.
"""

import base64
import binascii
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

# Every Fernet token starts with its version byte 0x80, base64-encoded: "gAAAAA".
TOKEN_PREFIX = "gAAAAA"


def _fernet(key: str) -> Fernet:
    try:
        raw = base64.urlsafe_b64decode(key.encode())
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        # Any other string (a generated token_urlsafe(50), a passphrase): stretched to a Fernet key.
        raw = hashlib.sha256(key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(raw))


@functools.lru_cache(maxsize=4)
def _keyring(keys: str, secret_key: str) -> MultiFernet:
    listed = [key.strip() for key in keys.split(",") if key.strip()]
    if not listed:
        listed = ["derived-from-SECRET_KEY:" + secret_key]
    return MultiFernet([_fernet(key) for key in listed])


def keyring() -> MultiFernet:
    return _keyring(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt(text: str) -> str:
    if not text:
        return text
    return keyring().encrypt(text.encode("utf-8")).decode("ascii")


def is_encrypted(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX)


def decrypt(value: str) -> str:
    if not value or not is_encrypted(value):
        return value
    try:
        return keyring().decrypt(value.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with any key in FIELD_ENCRYPTION_KEY: "
            "was a key removed (or SECRET_KEY changed, when no FIELD_ENCRYPTION_KEY is set)?"
        ) from None


def rotate(value: str) -> str:
    """The value re-encrypted with the newest key (plain text is encrypted)."""
    if not value:
        return value
    if not is_encrypted(value):
        return encrypt(value)
    return keyring().rotate(value.encode("ascii")).decode("ascii")


class EncryptedTextField(models.TextField):
    """Text stored encrypted; reads give the plain text. Not searchable: equal values differ in the table."""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else value
