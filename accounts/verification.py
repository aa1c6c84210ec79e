"""Proof that an address belongs to the account: signed, expiring tokens for the emailed links.

A token names the user and the address (the account's own, or an email
channel's) and is signed with SECRET_KEY (django.core.signing, salted for this
use only); it expires after ACCOUNT_VERIFICATION_LINK_DAYS. Confirming twice is
harmless, so no one-time state is kept; a token for an address the account no
longer uses confirms nothing.
"""

from django.conf import settings
from django.core import signing

SALT = "accounts.verification.address"


def verification_token(user, address: str) -> str:
    return signing.dumps({"u": user.pk, "a": address.strip().lower()}, salt=SALT, compress=True)


def read_verification_token(token: str) -> tuple[int, str] | None:
    """(user id, address) of a valid, unexpired token; None otherwise."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.ACCOUNT_VERIFICATION_LINK_DAYS * 86400)
    except (signing.BadSignature, ValueError, TypeError, UnicodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("a"), str):
        return None
    return data["u"], data["a"]
