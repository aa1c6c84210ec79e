"""A user's notification preferences: an IANA time zone and quiet hours ("23:00-07:00"), checked.

The alerts app reads them when it delivers (alerts.delivery.quiet); a channel may
have its own window in the same format, or "off".
"""

import re
from datetime import time
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError

OFF = "off"
WINDOW_FORMAT = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)\Z")
WINDOW_HELP = 'Quiet hours are "HH:MM-HH:MM" in 24-hour time, e.g. "23:00-07:00" (start and end differ).'


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def check_time_zone(name: str) -> str:
    """The IANA time zone name as given, or a ValidationError. Only names the tz database lists
    are accepted (zoneinfo would also read a file path)."""
    name = (name or "").strip()
    if name not in _zone_names():
        raise ValidationError(
            {"time_zone": f'Unknown time zone "{name[:64]}": use an IANA name, e.g. "Europe/Berlin".'}
        )
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError({"time_zone": f'Unknown time zone "{name}".'}) from exc
    return name


def parse_window(text: str) -> tuple[time, time] | None:
    """(start, end) of "HH:MM-HH:MM"; None for "" (no quiet hours). Raises ValueError otherwise."""
    if not text:
        return None
    match = WINDOW_FORMAT.match(text)
    if not match:
        raise ValueError(WINDOW_HELP)
    start = time(int(match[1]), int(match[2]))
    end = time(int(match[3]), int(match[4]))
    if start == end:
        raise ValueError(WINDOW_HELP)
    return start, end


def check_window(text: str | None, *, field: str = "quiet_hours", allow_off: bool = False) -> str:
    """The window as stored: "" (none; a channel's: the account's), "off" (channels), or "HH:MM-HH:MM"."""
    text = (text or "").strip()
    if allow_off and text.lower() == OFF:
        return OFF
    try:
        parse_window(text)
    except ValueError as exc:
        extra = ' "off" (never quiet) or "" (the account\'s).' if allow_off else ' "" for none.'
        raise ValidationError({field: str(exc) + extra}) from exc
    return text
