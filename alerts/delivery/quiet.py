"""Quiet hours: whether a delivery falls in its channel's quiet hours now, and when they end.

A window is wall-clock time in the owner's time zone ("23:00-07:00": from 23:00
to 07:00 the next morning; "09:00-17:00": within one day), start included, end
excluded. A channel has its own window, "off" (never quiet), or follows the
account's (empty). Times are compared on the local wall clock, so a window means
the same hours in summer and winter; across a DST change:

- an end time that does not exist that day (the clocks jump past it, e.g.
  02:30 in Europe/Berlin on the last Sunday of March) ends quiet hours at the
  first moment after the jump (03:00 local, 01:00 UTC);
- an end time that happens twice (clocks turned back) ends them at its next
  occurrence after now: a delivery held in the first 02:00-03:00 hour is
  released at the first 02:30, one held in the repeated hour at the second.

Pure functions of (window, time zone, now): no database, no clock of their own. The
formats themselves (and their checks) are the account's: ``accounts.preferences``.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from accounts.preferences import OFF, check_time_zone, check_window, parse_window

__all__ = ["OFF", "check_time_zone", "check_window", "effective_window", "next_wall_time", "quiet_until"]


def effective_window(channel_window: str, account_window: str) -> str:
    """The window a channel keeps: its own, none ("off"), or the account's."""
    if channel_window == OFF:
        return ""
    return channel_window or account_window


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None, fold=0)


def next_wall_time(zone: ZoneInfo, day: date, at: time, *, after: datetime) -> datetime:
    """The first instant after ``after`` at which the wall clock in ``zone`` shows ``day`` ``at``,
    or, if that wall time does not exist (a DST jump skips it), the first instant after the jump."""
    naive = datetime.combine(day, at)
    candidates = []
    for fold in (0, 1):
        instant = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if _wall(instant, zone) == naive and instant > after:
            candidates.append(instant)
    if candidates:
        return min(candidates)
    # In a gap: the two readings straddle the jump; the jump is the first instant whose wall
    # clock reads at or past ``naive``. Bisect to the second (a gap is an hour or so).
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    low, high = min(low, high), max(low, high)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _wall(middle, zone) >= naive:
            high = middle
        else:
            low = middle
    return max(high.replace(microsecond=0), after + timedelta(microseconds=1))


def quiet_until(window: str, time_zone: str, now: datetime) -> datetime | None:
    """When the quiet hours ``now`` falls in end (aware, UTC); None when ``now`` is not in them."""
    try:
        parsed = parse_window(window)
    except ValueError:
        return None  # stored before validation could refuse it: never hold on a window we cannot read
    if parsed is None:
        return None
    start, end = parsed
    try:
        zone = ZoneInfo(time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None, fold=0)
    today = local.date()
    if start < end:
        if not start <= clock < end:
            return None
        end_day = today
    elif clock >= start:
        end_day = today + timedelta(days=1)
    elif clock < end:
        end_day = today
    else:
        return None
    return next_wall_time(zone, end_day, end, after=now)
