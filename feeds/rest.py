"""Binance's REST market data (aggregate trades, klines, the ticker price) within its weight limit.

Binance counts request weight per IP and clock minute and reports the count
in every response's ``X-MBX-USED-WEIGHT-1M`` header; past the limit it answers
429, and 418 (a ban) to a client that keeps asking, both with ``Retry-After``
in seconds (PROTOCOL.md section 6). ``BinanceRest`` keeps the header's count,
refuses to send a request that would take its share of the limit past
``weight_share`` or that comes before a ``Retry-After`` ends (raising
``RateLimited`` with the wait: the caller decides whether to wait), and never
sends anything while told to wait.
"""

import threading
import time
from decimal import Decimal
from typing import NamedTuple

import requests

AGG_TRADES_WEIGHT = 4
TICKER_PRICE_WEIGHT = 2
KLINES_WEIGHT = 2
MAX_AGG_TRADES = 1000
MAX_KLINES = 1000
# Binance's spot REQUEST_WEIGHT limit per minute (exchangeInfo.rateLimits, at the time of writing).
WEIGHT_LIMIT = 6000


class AggTrade(NamedTuple):
    agg_id: int
    price: Decimal
    time_ms: int
    quantity: Decimal = Decimal(0)


class Kline(NamedTuple):
    """One closed 1-minute candle of ``GET /api/v3/klines``."""

    open_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    quote_volume: Decimal
    trades: int


class RestError(Exception):
    """Binance could not be asked or answered with an error."""


class RateLimited(RestError):
    """No request may be sent for ``wait`` seconds (a Retry-After, or this minute's share is used)."""

    def __init__(self, wait: float, reason: str):
        super().__init__(f"{reason}: {wait:.1f}s to wait")
        self.wait = wait


class BinanceRest:
    """A thread-safe client of Binance's REST market data, paced under a share of the weight limit."""

    def __init__(
        self,
        base_url: str,
        *,
        weight_limit: int = WEIGHT_LIMIT,
        weight_share: float = 0.5,
        timeout: float = 10.0,
        clock=time.time,
    ):
        self.base_url = base_url.rstrip("/")
        self.budget = max(AGG_TRADES_WEIGHT, int(weight_limit * weight_share))
        self.timeout = timeout
        self.clock = clock
        self._session = requests.Session()
        self._lock = threading.Lock()
        self._minute = 0
        self.used_weight = 0  # this clock minute, as Binance last reported it (plus what we sent since)
        self.blocked_until = 0.0  # no request before this (unix time): a Retry-After
        self.requests_sent = 0
        self.refusals = 0  # 429 and 418 answers

    def agg_trades(
        self,
        symbol: str,
        *,
        from_id: int | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = MAX_AGG_TRADES,
    ) -> list[AggTrade]:
        """``GET /api/v3/aggTrades``: oldest first; ``from_id``, ``start_ms`` and ``end_ms`` are inclusive."""
        params: dict[str, object] = {"symbol": symbol, "limit": limit}
        for name, value in (("fromId", from_id), ("startTime", start_ms), ("endTime", end_ms)):
            if value is not None:
                params[name] = value
        rows = self._get("/api/v3/aggTrades", params, AGG_TRADES_WEIGHT)
        try:
            return [
                AggTrade(int(row["a"]), Decimal(row["p"]), int(row["T"]), Decimal(row["q"])) for row in rows
            ]
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise RestError(f"aggTrades for {symbol}: unexpected answer ({exc!r})") from exc

    def minute_klines(
        self, symbol: str, *, start_ms: int, end_ms: int, limit: int = MAX_KLINES
    ) -> list[Kline]:
        """``GET /api/v3/klines``, ``interval=1m`` (weight 2): the candles opening in [start, end]."""
        params = {
            "symbol": symbol,
            "interval": "1m",
            "startTime": start_ms,
            "endTime": end_ms,
            "limit": limit,
        }
        rows = self._get("/api/v3/klines", params, KLINES_WEIGHT)
        try:
            return [
                Kline(
                    int(row[0]),
                    Decimal(row[1]),
                    Decimal(row[2]),
                    Decimal(row[3]),
                    Decimal(row[4]),
                    Decimal(row[7]),
                    int(row[8]),
                )
                for row in rows
            ]
        except (IndexError, TypeError, ValueError, ArithmeticError) as exc:
            raise RestError(f"klines for {symbol}: unexpected answer ({exc!r})") from exc

    def ticker_price(self, symbol: str) -> Decimal:
        """``GET /api/v3/ticker/price`` for one symbol."""
        answer = self._get("/api/v3/ticker/price", {"symbol": symbol}, TICKER_PRICE_WEIGHT)
        try:
            return Decimal(answer["price"])
        except (KeyError, TypeError, ArithmeticError) as exc:
            raise RestError(f"ticker/price for {symbol}: unexpected answer ({exc!r})") from exc

    def wait_needed(self, weight: int = AGG_TRADES_WEIGHT) -> float:
        """Seconds before a request of ``weight`` may be sent (0: now)."""
        with self._lock:
            return self._wait_needed(weight, self.clock())

    def _wait_needed(self, weight: int, now: float) -> float:
        if now < self.blocked_until:
            return self.blocked_until - now
        minute = int(now // 60)
        if minute != self._minute:
            self._minute, self.used_weight = minute, 0
        if self.used_weight + weight > self.budget:
            return (minute + 1) * 60 - now
        return 0.0

    def _get(self, path: str, params: dict, weight: int):
        with self._lock:
            now = self.clock()
            wait = self._wait_needed(weight, now)
            if wait > 0:
                reason = "Retry-After" if now < self.blocked_until else "request-weight share used"
                raise RateLimited(wait, reason)
            self.used_weight += weight  # counted before the answer: concurrent callers see it
            self.requests_sent += 1
        try:
            response = self._session.get(self.base_url + path, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RestError(f"{path}: {exc}") from exc
        with self._lock:
            self._note_answer(response)
        if response.status_code in (429, 418):
            raise RateLimited(self.blocked_until - self.clock(), f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise RestError(f"{path}: HTTP {response.status_code} {response.text[:200]}")
        try:
            return response.json()
        except ValueError as exc:
            raise RestError(f"{path}: invalid JSON") from exc

    def _note_answer(self, response: requests.Response) -> None:
        now = self.clock()
        used = response.headers.get("X-MBX-USED-WEIGHT-1M")
        if used is not None and used.isdigit():
            self._minute, self.used_weight = int(now // 60), int(used)
        if response.status_code in (429, 418):
            self.refusals += 1
            retry_after = response.headers.get("Retry-After", "")
            # No Retry-After: wait for the next minute, when Binance's count starts again.
            seconds = float(retry_after) if retry_after.isdigit() else (int(now // 60) + 1) * 60 - now
            self.blocked_until = max(self.blocked_until, now + seconds)
