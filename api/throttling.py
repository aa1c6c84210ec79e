"""Fixed-window throttles counted in the cache: the machinery every app's throttles share.

A throttle counts requests per scope and identity in a fixed window of the
scope's period, with an atomic add + incr in the Django cache (Redis), so
parallel requests cannot slip past the limit the way a read-modify-write
history would let them. Rates come from
``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` and are read per request, so a
test can lower them with the ``settings`` fixture. When the cache is down the
request is let through (logged): an outage of Redis must not lock users out.

Over the limit the answer is a 429 with ``Retry-After`` (``TooManyAttempts``);
``UserThrottle`` counts the authenticated user, whoever the client is.
"""

import hashlib
import logging
import math
import time

import redis
from django.core.cache import cache
from django_redis.exceptions import ConnectionInterrupted
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
CACHE_ERRORS = (ConnectionInterrupted, redis.RedisError, OSError)
# The 429's header in the schema of every throttled operation.
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[429],
    required=True,
    description="Seconds to wait before trying again.",
)


class TooManyAttempts(Throttled):
    default_detail = "Too many attempts; please wait before trying again."


def parse_rate(rate: str | None) -> tuple[int | None, int | None]:
    """``"10/min"`` -> (10, 60); None (a disabled scope) -> (None, None). The period's first letter counts."""
    if rate is None:
        return None, None
    count, period = rate.split("/")
    return int(count), PERIODS[period.strip()[0]]


def _digest(identity: str) -> str:
    # Fixed-length keys, and no email addresses in plain text in the cache. JSON may carry
    # lone surrogates ("\ud800"), which strict UTF-8 cannot encode.
    return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class WindowThrottle(BaseThrottle):
    """At most N requests per identity per fixed window of the scope's period."""

    scope: str = ""
    # Only writes are counted: a stray GET is a 405 (or a read), not an attempt.
    counted_methods = frozenset({"POST"})
    timer = staticmethod(time.time)

    def __init__(self):
        self.rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        self.num_requests, self.duration = parse_rate(self.rate)
        self.retry_after: float | None = None

    def identity(self, request) -> str | None:
        """Who is counted; None leaves the request to the other throttles."""
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        if self.num_requests is None or request.method not in self.counted_methods:
            return True
        identity = self.identity(request)
        if identity is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        key = f"throttle:{self.scope}:{_digest(identity)}:{window}"
        try:
            # The key outlives its window by at most one period; the next window has its own key.
            cache.add(key, 0, timeout=self.duration)
            count = cache.incr(key)
        except ValueError:  # expired between add and incr: a fresh window
            count = 1
            cache.add(key, count, timeout=self.duration)
        except CACHE_ERRORS:
            logger.warning("Throttle %s not applied: the cache is unavailable", self.scope, exc_info=True)
            return True
        if count <= self.num_requests:
            return True
        self.retry_after = max(1.0, (window + 1) * self.duration - now)
        return False

    def wait(self) -> float | None:
        return math.ceil(self.retry_after) if self.retry_after is not None else None


class UserThrottle(WindowThrottle):
    """The authenticated user's id: one budget per account, from any address or token."""

    def identity(self, request) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return f"user:{user.pk}"


class TooManyAttemptsAnswer:
    """A view mixin: over a throttle the answer is ``TooManyAttempts`` (the API's 429 body)."""

    def throttled(self, request, wait):
        raise TooManyAttempts(wait)
