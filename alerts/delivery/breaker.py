"""One account's slow destinations cost that account's deliveries only.

A destination that accepts a connection and never answers holds a delivery
process for the whole send deadline. Unbounded, one account with ten such
channels would hold every delivery process for a minute per firing while other
accounts' notifications wait in the queue. So a webhook or Apprise send that
times out puts its owner on hold for ALERTS_SLOW_OWNER_HOLD_SECONDS: meanwhile
that owner's other webhook and Apprise notifications are not attempted but
deferred to the end of the hold, without spending an attempt. One stalled
destination then costs one deadline per hold period, whoever else is waiting.

Email is never held: it goes to the operator's own mail server, not to a place
the user chose. The hold lives in Redis; if Redis cannot say, nothing is held.
"""

import logging

import redis
from django.conf import settings

from feeds.store import redis_client

logger = logging.getLogger(__name__)

HOLD_KEY = "delivery:hold:user:{user_id}"


def held_for(user_id: int) -> float:
    """Seconds this user's webhook and Apprise sends are still on hold (0: not held)."""
    try:
        remaining_ms = redis_client().pttl(HOLD_KEY.format(user_id=user_id))
    except redis.RedisError:
        return 0.0
    return max(remaining_ms, 0) / 1000


def hold(user_id: int) -> None:
    """A send of this user's timed out: hold their other sends for a while."""
    seconds = settings.ALERTS_SLOW_OWNER_HOLD_SECONDS
    if seconds <= 0:
        return
    try:
        redis_client().set(HOLD_KEY.format(user_id=user_id), 1, px=int(seconds * 1000))
    except redis.RedisError:
        logger.warning("Could not hold the sends of user %s", user_id, exc_info=True)
