"""Per-user throttles of the alerts API's costly writes: creating alerts and channels, testing channels.

Each is counted per authenticated user (``api.throttling.UserThrottle``), so
neither new tokens nor new addresses buy a fresh budget; over it the answer is
the login throttles' 429 with ``Retry-After``. Both alert-create routes
(``POST /alerts/create`` and ``POST /alerts/``) share one scope, so one budget.
"""

from api.openapi import error
from api.throttling import UserThrottle


class AlertCreateThrottle(UserThrottle):
    scope = "alert_create"


class ChannelCreateThrottle(UserThrottle):
    scope = "channel_create"


class ChannelTestThrottle(UserThrottle):
    """Each test is a message sent now (an email, a request to the user's URL): a mail-bomb lever."""

    scope = "channel_test"


class ChannelRepointThrottle(UserThrottle):
    """Re-pointing a channel (a PATCH with a "url"): for an email channel each new address is sent a
    confirmation link, so it shares the confirmation re-sends' budget (THROTTLE_VERIFY_RESEND) and
    cannot mail-bomb a stranger's address."""

    scope = "verify_resend"
    counted_methods = frozenset({"PATCH"})

    def identity(self, request):
        data = getattr(request, "data", None)
        if not isinstance(data, dict) or "url" not in data:
            return None
        return super().identity(request)


def too_many(what: str, setting: str):
    """The 429 of a per-user throttle, for the schema."""
    return error(f"Too many {what} by this account (THROTTLE_{setting}); see Retry-After.")
