"""Per-user cache of alert-list pages, invalidated by bumping a version.

Every read key embeds the user's current version; a change of the user's
alerts bumps it after the transaction commits, so the next read can never see
a page computed before the change (old keys simply expire).

The cache holds JSON, never pickles (docs/SECURITY.md, "No code from data"): a
caller hands in how its page becomes JSON values and back, and an entry that
does not read back as a page (planted by whoever could write to Redis, or of an
older layout) is a miss, recomputed and overwritten.
"""

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

VERSION_KEY = "alerts:list:version:{user_id}"
PAGE_KEY = "alerts:list:{user_id}:{version}:{query}"

# What reading back a value that is not one of our pages can raise: bytes that are not
# JSON (UnicodeDecodeError, JSONDecodeError), or JSON of another shape.
NOT_A_PAGE = (ValueError, TypeError, KeyError, AttributeError, ArithmeticError)

logger = logging.getLogger(__name__)


def _version(user_id: int) -> int:
    key = VERSION_KEY.format(user_id=user_id)
    version = cache.get(key)
    if version is None:
        cache.add(key, 1, timeout=None)
        version = cache.get(key, 1)
    return version


def _as_is(value: Any) -> Any:
    return value


def cached_alert_page(
    user_id: int,
    query: str,
    compute: Callable[[], Any],
    *,
    dump: Callable[[Any], Any] = _as_is,
    load: Callable[[Any], Any] = _as_is,
) -> Any:
    """The cached page for this user and normalised query string, computed on a miss.

    ``dump`` turns a computed page into JSON values for the cache, ``load`` turns
    them back into a page. ALERT_LIST_CACHE_SECONDS = 0 turns the cache off: every
    read computes the page and Redis is not asked. Changes still bump the version,
    so pages cached before the cache was turned off can never be served once it is
    back on.
    """
    if settings.ALERT_LIST_CACHE_SECONDS <= 0:
        return compute()
    try:
        version = _version(user_id)
    except NOT_A_PAGE:
        # Not overwritten: resetting a version could serve pages cached under it before.
        logger.warning(
            "Alert-list cache version of user %s is unreadable; not cached", user_id, exc_info=True
        )
        return compute()
    key = PAGE_KEY.format(user_id=user_id, version=version, query=query)
    try:
        stored = cache.get(key)
        if stored is not None:
            return load(stored)
    except NOT_A_PAGE:
        logger.warning("Alert-list cache entry of user %s is unreadable; recomputed", user_id, exc_info=True)
    page = compute()
    cache.set(key, dump(page), timeout=settings.ALERT_LIST_CACHE_SECONDS)
    return page


# INCR of every key given: one command for thousands of users. A pipeline of one INCR per user
# cost the client more than the server (10,000 users: 39 ms of a crash-day tick's 490 ms).
INCR_EACH = "for _, key in ipairs(KEYS) do redis.call('INCR', key) end return #KEYS"
# Keys per script call: each call holds the server for a moment only.
KEYS_PER_CALL = 2000


def _bump(user_ids: Iterable[int]) -> None:
    # One round trip however many users (the engine may trigger alerts of thousands
    # at once). INCR creates a missing version as 1 without expiry, as
    # add(key, 1, timeout=None) did; django-redis stores and reads integers raw.
    # make_key, not make_and_validate_key: these keys are ours, and validating each
    # one (a memcached rule) cost more than the round trip.
    keys = _version_keys(set(user_ids))
    if not keys:
        return
    try:
        client = cache.client.get_client(write=True)
        incr_each = client.register_script(INCR_EACH)
        pipe = client.pipeline(transaction=False)
        for start in range(0, len(keys), KEYS_PER_CALL):
            incr_each(keys=keys[start : start + KEYS_PER_CALL], client=pipe)
        pipe.execute()
    except Exception:
        # The change is committed; failing the request now would invite a retry
        # that duplicates it. Pages cached before the outage expire on their own.
        logger.warning("Could not invalidate the alert-list cache of %d user(s)", len(keys), exc_info=True)


def _version_keys(user_ids: set[int]) -> list[str]:
    """The cache keys of these users' list versions, as ``cache.make_key`` makes them.

    Thousands at once on a crash day: the key function runs once for a marker
    and the rest is string formatting, when the configured key function puts
    the key last (Django's default: ``prefix:version:key``); otherwise it runs per key.
    """
    marker = "\x00user\x00"
    made = cache.make_key(VERSION_KEY.format(user_id=marker))
    if made.count(marker) != 1 or not made.endswith(VERSION_KEY.format(user_id=marker)):
        return [cache.make_key(VERSION_KEY.format(user_id=user_id)) for user_id in user_ids]
    head = made[: -len(VERSION_KEY.format(user_id=marker))]
    return [head + VERSION_KEY.format(user_id=user_id) for user_id in user_ids]


def invalidate_alert_lists(user_ids: Iterable[int]) -> None:
    """Drop the cached alert lists of these users once the current transaction commits."""
    ids = list(user_ids)
    transaction.on_commit(lambda: _bump(ids))
