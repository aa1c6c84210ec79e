"""Readers of environment values that need more than django-environ: checked at startup.

settings.py reads every variable; these turn a raw value into the setting or
stop the process with a message saying which variable is wrong and why.
"""

import re
from ipaddress import ip_network
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured


def redis_url_with_password(url: str, password: str) -> str:
    """REDIS_URL with REDIS_PASSWORD in it (kept when the URL already carries the same one)."""
    parts = urlsplit(url)
    if parts.password is not None and unquote(parts.password) != password:
        raise ImproperlyConfigured("REDIS_URL carries a password other than REDIS_PASSWORD: set one of them.")
    user = quote(unquote(parts.username or ""), safe="")
    address = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{address}"))


_THROTTLE_RATE = re.compile(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)")


def throttle_rate(name: str, rate: str) -> str | None:
    """A throttle rate such as "10/min", read from the variable ``name``; "off" disables that throttle."""
    rate = rate.strip()
    if rate.lower() in ("off", "none", ""):
        return None
    if not _THROTTLE_RATE.fullmatch(rate):
        raise ImproperlyConfigured(
            f"{name}={rate!r} is not a throttle rate: use requests/period such as 10/min "
            "(period: s, min, hour or day), or off."
        )
    return rate


def check_networks(name: str, value: str) -> None:
    """A comma-separated CIDR list such as OUTBOUND_ALLOW_NETWORKS; a bad entry stops startup."""
    try:
        [ip_network(cidr.strip(), strict=False) for cidr in value.split(",") if cidr.strip()]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r}: {exc}") from None
