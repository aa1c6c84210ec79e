"""Binance's REST market-data endpoints the feeder uses, answered from the fake market's trade history.

``GET /api/v3/aggTrades`` (weight 4; ``symbol``, ``fromId``, ``startTime``,
``endTime``, ``limit`` <= 1000, default 500), ``GET /api/v3/klines`` (weight 2;
``symbol``, ``interval``, ``startTime``, ``endTime``, ``limit``; candles built
from the kept trades, the quote volume rounded to 8 decimals as Binance prints
it) and ``GET /api/v3/ticker/price`` (weight 2 for one symbol), with Binance's
shapes (PROTOCOL.md section 6).
Every answer carries ``X-MBX-USED-WEIGHT-1M``: the weight used in the current
clock minute. Past ``weight_limit`` a request gets HTTP 429 with
``Retry-After`` (seconds to the next minute); a client that keeps asking while
told to wait gets HTTP 418 (banned) with a longer ``Retry-After``, as Binance
does. Tests can also queue answers (``queue_failure``) and read the request log.
"""

import itertools
import json
import math
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from urllib.parse import parse_qs, urlsplit

from devtools.fakebinance.market import Market
from devtools.fakebinance.wire import EIGHT_DECIMALS, format_decimal

AGG_TRADES_PATH = "/api/v3/aggTrades"
TICKER_PRICE_PATH = "/api/v3/ticker/price"
KLINES_PATH = "/api/v3/klines"
WEIGHTS = {AGG_TRADES_PATH: 4, TICKER_PRICE_PATH: 2, KLINES_PATH: 2}
# Binance's kline intervals (enums.md), in ms; months are left out (the fake has no calendar).
INTERVAL_MS = {
    "1s": 1000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
    "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000,
}  # fmt: skip
MAX_LIMIT = 1000
DEFAULT_LIMIT = 500
# Binance's ban for ignoring 429s starts at 2 minutes; the fake's is shorter so tests can see one end.
BAN_SECONDS = 120


@dataclass(frozen=True)
class RestAnswer:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)

    def response(self, connection):
        """The HTTP response a websockets ``process_request`` hook returns instead of a handshake."""
        response = connection.respond(self.status, self.body)
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json;charset=UTF-8"
        for name, value in self.headers.items():
            response.headers[name] = value
        return response


@dataclass(frozen=True)
class RestRequest:
    at: float  # time.time() when it arrived
    path: str
    params: dict[str, str]
    status: int


class RestApi:
    """The REST side of the fake: weight per clock minute, 429/418, and the answers."""

    def __init__(self, market: Market, weight_limit: int = 6000, ban_seconds: float = BAN_SECONDS):
        self.market = market
        self.weight_limit = weight_limit
        self.ban_seconds = ban_seconds
        self.requests: list[RestRequest] = []
        self._minute = 0
        self._used = 0
        self._blocked_until = 0.0
        self._queued: list[tuple[int, float]] = []

    def queue_failure(self, status: int = 429, retry_after: float = 1.0, count: int = 1) -> None:
        """The next ``count`` requests get ``status`` with ``Retry-After``; asking before it ends: 418."""
        self._queued += [(status, retry_after)] * count

    def answer(self, target: str, now: float | None = None) -> RestAnswer:
        now = time.time() if now is None else now
        parts = urlsplit(target)
        params = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        answer = self._answer(parts.path, params, now)
        self.requests.append(RestRequest(now, parts.path, params, answer.status))
        return answer

    def _answer(self, path: str, params: dict[str, str], now: float) -> RestAnswer:
        if path not in WEIGHTS:
            return _error(404, -1000, "Not found.", {})
        minute = int(now // 60)
        if minute != self._minute:
            self._minute, self._used = minute, 0
        if now < self._blocked_until:
            # Asking while told to wait: Binance bans the IP (418) for a growing time.
            self._blocked_until = max(self._blocked_until, now + self.ban_seconds)
            return self._refuse(418, now, "Way too many requests; IP banned.")
        if self._queued:
            status, retry_after = self._queued.pop(0)
            self._blocked_until = now + retry_after
            return self._refuse(status, now, "Too many requests; please use the websocket for live updates.")
        self._used += WEIGHTS[path]
        if self._used > self.weight_limit:
            self._blocked_until = (minute + 1) * 60
            return self._refuse(429, now, "Too many requests; please use the websocket for live updates.")
        headers = {"X-MBX-USED-WEIGHT-1M": str(self._used)}
        symbol = params.get("symbol", "")
        if not symbol:
            return _error(
                400,
                -1102,
                "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
                headers,
            )
        if path == TICKER_PRICE_PATH:
            return self._ticker_price(symbol, headers)
        if path == KLINES_PATH:
            return self._klines(symbol, params, headers, now)
        return self._agg_trades(symbol, params, headers)

    def _refuse(self, status: int, now: float, message: str) -> RestAnswer:
        retry_after = max(1, math.ceil(self._blocked_until - now))
        headers = {"Retry-After": str(retry_after), "X-MBX-USED-WEIGHT-1M": str(self._used)}
        return _error(status, -1003, message, headers)

    def _ticker_price(self, symbol: str, headers: dict[str, str]) -> RestAnswer:
        history = self.market.history.get(symbol)
        if not history:
            return _error(400, -1121, "Invalid symbol.", headers)
        body = json.dumps({"symbol": symbol, "price": format_decimal(history[-1][1])}, separators=(",", ":"))
        return RestAnswer(200, body, headers)

    def _agg_trades(self, symbol: str, params: dict[str, str], headers: dict[str, str]) -> RestAnswer:
        try:
            limit = int(params.get("limit", DEFAULT_LIMIT))
            from_id = int(params["fromId"]) if "fromId" in params else None
            start = int(params["startTime"]) if "startTime" in params else None
            end = int(params["endTime"]) if "endTime" in params else None
        except ValueError:
            return _error(400, -1100, "Illegal characters found in a parameter.", headers)
        if not 1 <= limit <= MAX_LIMIT:
            return _error(400, -1130, "Invalid data sent for a parameter.", headers)
        if start is not None and end is not None and end < start:
            return _error(400, -1127, "More than 1 hours between startTime and endTime.", headers)
        history = self.market.history.get(symbol, [])
        begin = 0
        if from_id is not None:
            begin = max(0, from_id - history[0][0]) if history else 0
        elif start is None and end is None:
            begin = max(0, len(history) - limit)
        matching = (
            t
            for t in itertools.islice(history, begin, None)
            if (start is None or t[4] >= start) and (end is None or t[4] <= end)
        )
        selected = list(itertools.islice(matching, limit))
        rows = [
            {
                "a": a,
                "p": format_decimal(p),
                "q": format_decimal(q),
                "f": t,
                "l": t,
                "T": ms,
                "m": m,
                "M": True,
            }
            for a, p, q, t, ms, m in selected
        ]
        return RestAnswer(200, json.dumps(rows, separators=(",", ":")), headers)

    def _klines(self, symbol: str, params: dict[str, str], headers: dict[str, str], now: float) -> RestAnswer:
        """Candles built from the kept trades, Binance's row shape; only intervals with a trade."""
        interval = INTERVAL_MS.get(params.get("interval", ""))
        if interval is None:
            return _error(400, -1120, "Invalid interval.", headers)
        try:
            limit = int(params.get("limit", DEFAULT_LIMIT))
            start = int(params["startTime"]) if "startTime" in params else None
            end = int(params["endTime"]) if "endTime" in params else None
        except ValueError:
            return _error(400, -1100, "Illegal characters found in a parameter.", headers)
        if not 1 <= limit <= MAX_LIMIT:
            return _error(400, -1130, "Invalid data sent for a parameter.", headers)
        candles: dict[int, dict] = {}
        for _, price, qty, _, ms, maker in self.market.history.get(symbol, []):
            open_ms = ms - ms % interval
            if (start is not None and open_ms < start) or (end is not None and open_ms > end):
                continue
            candle = candles.get(open_ms)
            if candle is None:
                zero = Decimal(0)
                candle = {
                    "o": price,
                    "h": price,
                    "l": price,
                    "v": zero,
                    "q": zero,
                    "n": 0,
                    "V": zero,
                    "Q": zero,
                }
                candles[open_ms] = candle
            candle.update(c=price, h=max(candle["h"], price), l=min(candle["l"], price))
            candle["v"] += qty
            candle["q"] += price * qty
            candle["n"] += 1
            if not maker:
                candle["V"] += qty
                candle["Q"] += price * qty
        opens = sorted(candles)
        # Without startTime Binance answers the most recent candles; with it, from there on.
        opens = opens[:limit] if start is not None else opens[-limit:]
        rows = [
            [open_ms, *(format_decimal(candles[open_ms][k]) for k in "ohlcv"), open_ms + interval - 1,
             _eight(candles[open_ms]["q"]), candles[open_ms]["n"], format_decimal(candles[open_ms]["V"]),
             _eight(candles[open_ms]["Q"]), "0"]
            for open_ms in opens
        ]  # fmt: skip
        return RestAnswer(200, json.dumps(rows, separators=(",", ":")), headers)


def _eight(value: Decimal) -> str:
    """A quote volume as Binance prints it: 8 decimals (price x quantity has up to 16)."""
    return f"{value.quantize(EIGHT_DECIMALS, rounding=ROUND_HALF_EVEN):f}"


def _error(status: int, code: int, message: str, headers: dict[str, str]) -> RestAnswer:
    return RestAnswer(status, json.dumps({"code": code, "msg": message}, separators=(",", ":")), headers)
