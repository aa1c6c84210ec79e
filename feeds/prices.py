"""A symbol's current price for the alert service: the feeder's latest if fresh enough, else Binance REST.

A percent alert's reference and an inferred direction must come from the
price now, not from a ``price:{SYMBOL}`` the feeder wrote days ago when it
last followed the symbol: older than ``ALERTS_PRICE_MAX_AGE_SECONDS``, the
price is asked from ``GET /api/v3/ticker/price`` at ``BINANCE_API_URL``.
"""

import logging
from decimal import Decimal
from functools import lru_cache

import redis
from django.conf import settings

from feeds.rest import BinanceRest, RateLimited, RestError
from feeds.store import latest_price

logger = logging.getLogger(__name__)

# The API waits on this answer: a short timeout, then a 400 the user can retry.
REST_TIMEOUT_SECONDS = 3.0


class PriceUnavailable(Exception):
    """No price fresh enough is known and Binance REST did not give one; the message says why."""


@lru_cache(maxsize=2)
def _rest_for(base_url: str) -> BinanceRest:
    # One client per process: its request-weight count and any Retry-After are shared by every request.
    return BinanceRest(base_url, timeout=REST_TIMEOUT_SECONDS)


def current_price(symbol: str) -> Decimal:
    """The feeder's latest price if at most ``ALERTS_PRICE_MAX_AGE_SECONDS`` old, else Binance's ticker."""
    symbol = symbol.upper()
    try:
        latest = latest_price(symbol)
    except redis.RedisError:
        latest = None
    if latest is not None and latest.age_seconds <= settings.ALERTS_PRICE_MAX_AGE_SECONDS:
        return latest.price
    if latest is None:
        known = f"No price is known for {symbol} yet"
    else:
        known = f"The latest price of {symbol} is {latest.age_seconds:.0f} s old"
    try:
        return _rest_for(settings.BINANCE_API_URL).ticker_price(symbol)
    except RateLimited as exc:
        raise PriceUnavailable(f"{known} and Binance asks to wait {exc.wait:.0f} s.") from exc
    except RestError as exc:
        logger.warning("ticker price of %s unavailable: %s", symbol, exc)
        raise PriceUnavailable(f"{known} and Binance's REST API did not give the current one.") from exc
